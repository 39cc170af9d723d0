"""Render source events into records: the names, dates, addresses and identifiers a system reads."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from trailbench.assumptions import pair, value
from trailbench.rng import stream
from trailbench.scenario import Scenario
from trailbench.trails import errors
from trailbench.trails.errors import BIT, Rates
from trailbench.trails.shared import cached
from trailbench.world import World
from trailbench.world.geography import STATE
from trailbench.world.ids import KeyedPermutation

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
# Truth of each record; ``person_id`` is null for a record of no person (a page or brand) and for
# a background person's, whose ``background_no`` is their index in ``truth/background.parquet``.
TRUTH_COLUMNS = {
    "record_id": pl.String,
    "source": pl.String,
    "person_id": pl.Int64,
    "unit_id": pl.Int64,
    "error_bits": pl.Int64,
    "stale": pl.Boolean,
    "background_no": pl.Int64,
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


# the people's name columns, in the order ``errors.render_name_codes`` takes them
NAME_COLUMNS = ("given", "surname", "surname_paternal", "surname_maternal", "alias_given")


def world_names(world: World) -> tuple[errors.NameBook, dict[str, np.ndarray]]:
    """The book of the world's names, and the number of each person's names in it (-1: none)."""

    def make() -> tuple[errors.NameBook, dict[str, np.ndarray]]:
        people = world.people
        book = errors.NameBook(pl.concat([people[c].cast(pl.String).rename("name") for c in NAME_COLUMNS]))
        codes, n = book.codes(), people.height
        return book, {c: codes[k * n : (k + 1) * n] for k, c in enumerate(NAME_COLUMNS)}

    return cached(world, "names", make)


SSN_AREAS = ("000", "666")  # never issued (DESIGN §9)
SSN_SPACE = len(SSN_AREAS) * 99 * 9999  # area x group 01-99 x serial 0001-9999
LICENCE_SPACE = 10**9  # ZZ + nine digits


def identifiers(world: World, seed: int) -> pl.DataFrame:
    """Per-person licence and social-security numbers in never-issued ranges (fixed per person).

    Each is a keyed permutation of the person index with its own stream
    (``trails/identifiers/ssn``, ``.../licence``): neither is computable from the other, nor from
    person or household order. SSNs are unique up to ``SSN_SPACE`` people (about two million, all
    the never-issued areas allow); in a larger world each is shared by at most
    ``ceil(people / SSN_SPACE)`` people, who are chosen by the permutation, not by their order.
    """
    n = world.people.height
    idx = np.arange(n, dtype=np.int64)
    laps = -(-n // SSN_SPACE)
    code = KeyedPermutation(SSN_SPACE * laps, stream(seed, "trails", "identifiers", "ssn"))(idx) % SSN_SPACE
    lic = KeyedPermutation(LICENCE_SPACE, stream(seed, "trails", "identifiers", "licence"))(idx)
    area = np.asarray(SSN_AREAS, dtype=object)[code % len(SSN_AREAS)]
    rest = code // len(SSN_AREAS)
    return pl.DataFrame(
        {
            "person_id": world.people["person_id"],
            "area": pl.Series(area.tolist(), dtype=pl.String),
            "g": rest % 99 + 1,
            "s": rest // 99 + 1,
            "c": lic,
        }
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
SOCIAL_NICKNAME = value("social_nickname")
SOCIAL_ALIAS = value("social_alias")
SOCIAL_GIVEN_INITIAL = value("social_given_initial")
PSEUDONYM = value("social_pseudonym_handle")
HANDLE_DIGITS = value("social_handle_digits")
_CONSONANTS = np.array(list("bcdfghjklmnprstvz"))
_VOWELS = np.array(list("aeiou"))


def invented_words(rng: np.random.Generator, n: int) -> pl.Series:
    """Pronounceable invented words of two or three consonant-vowel syllables (``velora``)."""
    c = _CONSONANTS[rng.integers(0, len(_CONSONANTS), (n, 3))]
    v = _VOWELS[rng.integers(0, len(_VOWELS), (n, 3))]
    syl = np.char.add(c, v)
    word = np.char.add(np.char.add(syl[:, 0], syl[:, 1]), syl[:, 2])
    length = 2 * rng.integers(2, 4, n)
    return pl.Series(word.tolist(), dtype=pl.String).str.slice(0, pl.Series(length))


def _letters(s: pl.Series) -> pl.Series:
    return s.str.to_lowercase().str.replace_all(r"[^a-z]", "")


def handles(rng: np.random.Generator, given: pl.Series, surname: pl.Series, person: np.ndarray) -> pl.Series:
    """Profile ids in the synthetic namespace ``tb:``, unique, drawn from their own stream.

    A person's handle is a pseudonym (an invented word, ``social_pseudonym_handle``) or made from
    the name the profile was rendered with (errors, nicknames and aliases included, never the true
    name behind them) in one of six common patterns; some end in digits
    (``social_handle_digits``). A page's handle is its name. Duplicates get digits until unique.
    """
    n = len(given)
    pseudo = rng.random(n) < PSEUDONYM
    pattern = rng.integers(0, 6, n)
    with_digits = rng.random(n) < HANDLE_DIGITS
    width = rng.integers(1, 5, n)
    digits = pl.Series(rng.integers(10 ** (width - 1), 10**width)).cast(pl.String)
    word = invented_words(rng, n)
    g = _letters(given).str.slice(0, 10)
    s = _letters(surname.fill_null("")).str.slice(0, 10)
    frame = pl.DataFrame({"g": g, "s": s, "p": pattern, "w": word})
    named = frame.select(
        pl.when(pl.col("p") == 0)
        .then(pl.col("g") + pl.col("s"))
        .when(pl.col("p") == 1)
        .then(pl.col("g") + "." + pl.col("s"))
        .when(pl.col("p") == 2)
        .then(pl.col("g") + "_" + pl.col("s"))
        .when(pl.col("p") == 3)
        .then(pl.col("g").str.slice(0, 1) + pl.col("s"))
        .when(pl.col("p") == 4)
        .then(pl.col("g") + pl.col("s").str.slice(0, 1))
        .otherwise(pl.col("g"))
    ).to_series()
    body = pl.select(
        pl.when(pl.Series(~person))
        .then(_letters(given).str.slice(0, 20))
        .when(pl.Series(pseudo) | (named.str.len_chars() < 2))
        .then(word)
        .otherwise(named)
    ).to_series()
    body = pl.select(pl.when(pl.Series(with_digits & person)).then(body + digits).otherwise(body)).to_series()
    out = "tb:" + body
    while True:  # a platform refuses a taken handle: later holders add a digit
        again = ~out.is_first_distinct().to_numpy()
        if not again.any():
            return out
        extra = pl.Series(rng.integers(0, 10, n)).cast(pl.String)
        out = pl.select(pl.when(pl.Series(again)).then(out + extra).otherwise(out)).to_series()


def profile_fields(
    rng: np.random.Generator,
    handle_rng: np.random.Generator,
    given: pl.Series,
    surname: pl.Series,
    person: np.ndarray,
) -> dict[str, pl.Series]:
    """What a profile shows: the given name (sometimes only its initial), the surname in full,
    as an initial or not at all (``social_surname``), and a handle. Pages show their name."""
    n = len(given)
    u = rng.random(n)
    initial_only = (rng.random(n) < SOCIAL_GIVEN_INITIAL) & person
    full, initial = SOCIAL_SURNAME[0], SOCIAL_SURNAME[0] + SOCIAL_SURNAME[1]
    shown = pl.select(
        pl.when(pl.Series(u < full)).then(surname).when(pl.Series(u < initial)).then(surname.str.slice(0, 1))
    ).to_series()
    shown_given = pl.select(pl.when(pl.Series(initial_only)).then(given.str.slice(0, 1)).otherwise(given)).to_series()
    return {
        "given": shown_given,
        "surname": pl.select(pl.when(pl.Series(person)).then(shown)).to_series(),
        "handle": handles(handle_rng, given, surname, person),
    }


# An event source's rows (its ``events`` function's frame): always EVENT_COLUMNS (``unit_id``
# may be null, ``stale`` marks an out-of-date address); ``phone`` when the source carries one; a
# boolean ``carries_<field>`` keeps a MASKABLE field on some rows only; ``stale_owner`` marks a
# listing under a number since passed to someone else. ``person_id`` may be null for a record of
# no person (a page, a business): its name as written is then in ``given`` and ``surname``, and
# it carries no date of birth, sex, middle name, phone or identifier. Other columns are ignored.
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
    if ev["person_id"].null_count() and not {"given", "surname"} <= set(ev.columns):
        problems.append("rows of no person (null person_id) need their name in given and surname")
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
    date of birth, address, phone, case numbers; a profile's handle comes from a stream of its own
    (``trails/<source>/handles``). Rows of no person (null ``person_id``) keep the name the events
    give and carry no personal field.
    """
    check_events(source, ev)
    fields = set(source.fields)
    r = rates_for(sc, source.settings(sc).error_scale)
    if source.name_style == "profile":  # people present themselves by the names they go by
        r = replace(r, nickname=max(r.nickname, SOCIAL_NICKNAME), alias=max(r.alias, SOCIAL_ALIAS))
    n = ev.height
    person = ev["person_id"].is_not_null().to_numpy()
    pid = ev["person_id"].fill_null(0).to_numpy()
    P = world.people
    book, codes = world_names(world)
    given, surname, bits = errors.render_name_codes(
        rng, r, book, [codes[c][pid] for c in NAME_COLUMNS], P["family_name_first"].to_numpy()[pid]
    )
    bits = np.where(person, bits, 0)
    out: dict[str, pl.Series] = {
        "source": pl.Series([source.name] * n, dtype=pl.String),
        "observed_at": ev["observed_at"],
        "given": given,
        "surname": surname,
    }
    if not person.all():
        for c in ("given", "surname"):
            out[c] = pl.select(pl.when(pl.Series(person)).then(out[c]).otherwise(ev[c].cast(pl.String))).to_series()
    if source.name_style == "profile":
        handle_rng = stream(sc.seed, "trails", source.name, "handles")
        out.update(profile_fields(rng, handle_rng, out["given"], out["surname"], person))
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
            U["number"].gather(uidx),
            U["street"].gather(uidx),
            U["unit"].gather(uidx),
            U["town"].gather(uidx),
            U["zip"].gather(uidx),
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
    if not person.all():
        for c in ("middle", "dob", "sex", "phone", "licence_number", "ssn"):
            if c in out:
                out[c] = pl.select(pl.when(pl.Series(person)).then(out[c])).to_series()
        bits = np.where(person, bits, 0)
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
