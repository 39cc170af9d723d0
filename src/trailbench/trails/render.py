"""Render source events into records: the names, dates, addresses and identifiers a system reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from trailbench.assumptions import pair
from trailbench.scenario import Scenario
from trailbench.trails import errors
from trailbench.trails.errors import BIT, Rates
from trailbench.world import World
from trailbench.world.geography import STATE

if TYPE_CHECKING:
    from trailbench.trails.catalog import Source

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


def profile_fields(
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


# An event source's rows (its ``events`` function's frame): always EVENT_COLUMNS (``unit_id``
# may be null, ``stale`` marks an out-of-date address); ``phone`` when the source carries one; a
# boolean ``carries_<field>`` keeps a MASKABLE field on some rows only; ``stale_owner`` marks a
# listing under a number since passed to someone else. Other columns are ignored.
EVENT_COLUMNS = ("person_id", "observed_at", "unit_id", "stale")
MASKABLE = ("dob", "licence_number", "ssn")


def check_events(source: Source, ev: pl.DataFrame) -> None:
    """The events frame holds what the declaration says the source writes, and nothing it does not."""
    problems = [f"no column {c!r}" for c in EVENT_COLUMNS if c not in ev.columns]
    if ("phone" in ev.columns) != ("phone" in source.fields):
        problems.append("a phone column exactly when phone is in fields")
    for c in ev.columns:
        f = c.removeprefix("carries_")
        if c.startswith("carries_") and (f not in MASKABLE or f not in source.fields):
            problems.append(f"{c}: {f} is not in fields or cannot be kept per row (only {list(MASKABLE)})")
    if problems:
        raise ValueError(f"source {source.name!r} events: " + "; ".join(problems))


def _masked(values: pl.Series, ev: pl.DataFrame, field: str) -> pl.Series:
    """``values`` kept on the rows whose ``carries_<field>`` is true (all rows if there is no such column)."""
    mask = f"carries_{field}"
    if mask not in ev.columns:
        return values
    return pl.select(pl.when(pl.Series(ev[mask])).then(values)).to_series()


def render(
    source: Source, ev: pl.DataFrame, world: World, sc: Scenario, rng: np.random.Generator, ids: pl.DataFrame
) -> pl.DataFrame:
    """Records and their truth columns (``person_id``, ``unit_id``, ``error_bits``, ``stale``).

    What is written follows the declaration: ``source.fields`` (which record columns it fills),
    ``source.middle`` and ``source.name_style``; a ``carries_<field>`` column in ``ev`` keeps a
    field on some rows only. Random draws are made in a fixed order: names, profile display,
    date of birth, address, phone, case numbers.
    """
    check_events(source, ev)
    fields = set(source.fields)
    r = rates_for(sc, source.settings(sc).error_scale)
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
        "source": pl.Series([source.name] * n, dtype=pl.String),
        "observed_at": ev["observed_at"],
        "given": pl.Series(given.tolist(), dtype=pl.String),
        "surname": pl.Series(surname.tolist(), dtype=pl.String),
    }
    if source.name_style == "profile":
        out.update(profile_fields(rng, out["given"], out["surname"], _arr(P, "given", pid), _arr(P, "surname", pid)))
    if "middle" in fields:
        mid = P["middle"].gather(pid)
        out["middle"] = mid if source.middle == "full" else mid.str.slice(0, 1)
    if "dob" in fields:
        dob, dbits = errors.render_dob(rng, r, P["dob"].to_numpy()[pid])
        if "carries_dob" in ev.columns:
            dob = _masked(dob, ev, "dob")
            dbits = np.where(ev["carries_dob"].to_numpy(), dbits, 0)
        out["dob"] = dob
        bits |= dbits
    if "sex" in fields:
        out["sex"] = P["sex"].gather(pid)
    unit = ev["unit_id"]
    has_unit = unit.is_not_null().to_numpy()
    U = world.units
    uidx = unit.fill_null(0).to_numpy()
    if "address_text" in fields:
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
    if "city" in fields:
        out["city"] = pl.select(pl.when(pl.Series(has_unit)).then(U["town"].gather(uidx))).to_series()
    if "phone" in fields:
        miss = rng.random(n) < r.missing
        out["phone"] = pl.select(pl.when(~pl.Series(miss)).then(ev["phone"])).to_series()
        bits[miss & ev["phone"].is_not_null().to_numpy()] |= BIT["phone_missing"]
    pid_ids = ids.gather(pid)
    if "licence_number" in fields:
        out["licence_number"] = _masked(pid_ids["licence_number"], ev, "licence_number")
    if "ssn" in fields:
        out["ssn"] = _masked(pid_ids["ssn"], ev, "ssn")
    if "case_number" in fields:
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
        if "address_text" in fields
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
