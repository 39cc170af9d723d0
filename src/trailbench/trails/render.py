"""Render source events into records: the names, dates, addresses and identifiers a system reads."""

from __future__ import annotations

import numpy as np
import polars as pl

from trailbench.assumptions import pair
from trailbench.scenario import Scenario
from trailbench.trails import errors
from trailbench.trails.errors import BIT, Rates
from trailbench.world import World
from trailbench.world.geography import STATE

RECORD_COLUMNS = {
    "record_id": pl.String,
    "source": pl.String,
    "observed_at": pl.Date,
    "given": pl.String,
    "middle": pl.String,
    "surname": pl.String,
    "dob": pl.String,
    "sex": pl.String,
    "address_text": pl.String,
    "city": pl.String,
    "phone": pl.String,
    "handle": pl.String,
    "licence_number": pl.String,
    "ssn": pl.String,
    "case_number": pl.String,
    "group_key": pl.String,
}
TRUTH_COLUMNS = {
    "record_id": pl.String,
    "source": pl.String,
    "person_id": pl.Int64,
    "unit_id": pl.Int64,
    "error_bits": pl.Int64,
    "stale": pl.Boolean,
}
# What each source writes (assumption: typical contents of such records).
MIDDLE = {"dmv": "full", "court": "initial", "lease_property": "initial"}
CARRIES_DOB = {"dmv", "court"}  # leases carry one too (per record: ``carries_dob``)
CARRIES_ADDRESS = {"utility", "lease_property", "dmv", "court", "phone_directory", "broker"}


def rates_for(sc: Scenario, scale: float) -> Rates:
    e = sc.errors

    def r(x: float) -> float:
        return min(1.0, x * scale)

    return Rates(
        name_typo=r(e.name_typo),
        typo_kinds=e.typo_kinds,
        nickname=r(e.nickname),
        alias=e.alias,
        transliteration=r(e.transliteration),
        compound_first_only=e.compound_first_only,
        compound_reformat=e.compound_reformat,
        order_swap=r(e.order_swap),
        order_swap_convention=r(e.order_swap_convention),
        dob_swap=r(e.dob_swap),
        dob_digit=r(e.dob_digit),
        dob_partial=r(e.dob_partial),
        address_format=r(e.address_format),
        address_digit=r(e.address_digit),
        unit_missing=r(e.unit_missing),
        zip_digit=r(e.zip_digit),
        missing=r(e.missing),
    )


def _arr(df: pl.DataFrame, col: str, idx: np.ndarray) -> np.ndarray:
    return np.asarray(df[col].to_numpy(), dtype=object)[idx]


def identifiers(world: World, rng: np.random.Generator) -> pl.DataFrame:
    """Per-person licence and social-security numbers in never-issued ranges (fixed per person)."""
    n = world.people.height
    code = rng.permutation(n).astype(np.int64)
    area = np.where(code % 2 == 0, "666", "000")
    group = (code // 2) % 99 + 1
    serial = (code // 198) % 9999 + 1
    return pl.DataFrame(
        {"person_id": world.people["person_id"], "area": area, "g": group, "s": serial, "c": code}
    ).select(
        "person_id",
        ssn=pl.format(
            "{}-{}-{}",
            "area",
            pl.col("g").cast(pl.String).str.zfill(2),
            pl.col("s").cast(pl.String).str.zfill(4),
        ),
        licence_number=pl.format("ZZ{}", pl.col("c").cast(pl.String).str.zfill(9)),
    )


SOCIAL_SURNAME = pair("social_surname")


def social_fields(
    rng: np.random.Generator,
    given: pl.Series,
    surname: pl.Series,
    true_given: np.ndarray,
    true_surname: np.ndarray,
) -> dict[str, pl.Series]:
    """A partial display name and a handle in the synthetic namespace ``tb:``."""
    n = len(given)
    u = rng.random(n)
    full, initial = SOCIAL_SURNAME[0], SOCIAL_SURNAME[0] + SOCIAL_SURNAME[1]
    shown = pl.select(
        pl.when(pl.Series(u < full)).then(surname).when(pl.Series(u < initial)).then(surname.str.slice(0, 1))
    ).to_series()
    g = pl.Series(true_given.tolist(), dtype=pl.String).str.to_lowercase().str.replace_all(r"[^a-z]", "")
    sn = pl.Series(true_surname.tolist(), dtype=pl.String).str.to_lowercase().str.replace_all(r"[^a-z]", "")
    num = pl.Series(rng.integers(1, 100, n)).cast(pl.String).str.zfill(2)
    handle = "tb:" + g.str.slice(0, 8) + "." + sn.str.slice(0, 1) + num
    return {"surname": shown, "handle": handle}


def render(
    source: str, ev: pl.DataFrame, world: World, sc: Scenario, rng: np.random.Generator, ids: pl.DataFrame
) -> pl.DataFrame:
    """Records and their truth columns (``person_id``, ``unit_id``, ``error_bits``, ``stale``)."""
    cfg = getattr(sc.sources, source)
    r = rates_for(sc, cfg.error_scale)
    n = ev.height
    pid = ev["person_id"].to_numpy()
    P = world.people
    given, surname, bits = errors.render_names(
        rng,
        r,
        _arr(P, "given", pid),
        _arr(P, "surname", pid),
        _arr(P, "surname_paternal", pid),
        _arr(P, "surname_maternal", pid),
        _arr(P, "alias_given", pid),
        P["family_name_first"].to_numpy()[pid],
    )
    out: dict[str, pl.Series] = {
        "source": pl.Series([source] * n, dtype=pl.String),
        "observed_at": ev["observed_at"],
        "given": pl.Series(given.tolist(), dtype=pl.String),
        "surname": pl.Series(surname.tolist(), dtype=pl.String),
    }
    if source == "social":
        out.update(social_fields(rng, out["given"], out["surname"], _arr(P, "given", pid), _arr(P, "surname", pid)))
    style = MIDDLE.get(source)
    mid = P["middle"].gather(pid)
    out["middle"] = (
        mid
        if style == "full"
        else (mid.str.slice(0, 1) if style == "initial" else pl.Series([None] * n, dtype=pl.String))
    )
    if source in CARRIES_DOB or "carries_dob" in ev.columns:
        dob, dbits = errors.render_dob(rng, r, P["dob"].to_numpy()[pid])
        if "carries_dob" in ev.columns:
            keep = ev["carries_dob"].to_numpy()
            dob = pl.select(pl.when(pl.Series(keep)).then(dob)).to_series()
            dbits = np.where(keep, dbits, 0)
        out["dob"] = dob
        bits |= dbits
    out["sex"] = P["sex"].gather(pid) if source == "dmv" else pl.Series([None] * n, dtype=pl.String)
    unit = ev["unit_id"]
    has_unit = unit.is_not_null().to_numpy()
    U = world.units
    uidx = unit.fill_null(0).to_numpy()
    if source in CARRIES_ADDRESS:
        addr, abits = errors.render_address(
            rng,
            r,
            U["number"].to_numpy()[uidx],
            _arr(U, "street", uidx),
            _arr(U, "unit", uidx),
            _arr(U, "town", uidx),
            _arr(U, "zip", uidx),
            STATE,
        )
        out["address_text"] = pl.select(pl.when(pl.Series(has_unit)).then(addr)).to_series()
        bits |= np.where(has_unit, abits, 0)
    else:
        out["city"] = pl.select(pl.when(pl.Series(has_unit)).then(U["town"].gather(uidx))).to_series()
    if "phone" in ev.columns:
        miss = rng.random(n) < r.missing
        out["phone"] = pl.select(pl.when(~pl.Series(miss)).then(ev["phone"])).to_series()
        bits[miss & ev["phone"].is_not_null().to_numpy()] |= BIT["phone_missing"]
    pid_ids = ids.gather(pid)
    if source == "dmv":
        out["licence_number"] = pid_ids["licence_number"]
    if "carries_ssn" in ev.columns:
        out["ssn"] = pl.select(pl.when(pl.Series(ev["carries_ssn"])).then(pid_ids["ssn"])).to_series()
    if source == "court":
        year = ev["observed_at"].dt.year().cast(pl.String)
        seq = pl.Series(rng.permutation(n) + 1).cast(pl.String).str.zfill(6)
        out["case_number"] = "ZZ-CR-" + year + "-" + seq
    stale = ev["stale"].to_numpy()
    bits[stale] |= BIT["stale_address"]
    if "stale_owner" in ev.columns:
        bits[ev["stale_owner"].to_numpy()] |= BIT["stale_phone_owner"]
    frame = pl.DataFrame(out)
    frame = frame.with_columns(
        person_id=ev["person_id"],
        unit_id=pl.Series(np.where(has_unit, uidx, -1)).replace(-1, None)
        if source in CARRIES_ADDRESS
        else pl.lit(None, dtype=pl.Int64),
        error_bits=pl.Series(bits),
        stale=ev["stale"],
    )
    return conform(frame)


def conform(frame: pl.DataFrame) -> pl.DataFrame:
    """Every record column in schema order, missing ones null; truth columns kept at the end."""
    cols = {**RECORD_COLUMNS, **{k: v for k, v in TRUTH_COLUMNS.items() if k not in RECORD_COLUMNS}}
    return frame.select(
        [pl.col(c).cast(t) if c in frame.columns else pl.lit(None, dtype=t).alias(c) for c, t in cols.items()]
    )
