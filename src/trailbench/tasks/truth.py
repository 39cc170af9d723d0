"""Truth lookups the scorers share: where people lived on a date, and who lived at a door."""

from __future__ import annotations

import polars as pl

from trailbench.world import World


def person_spells(world: World) -> pl.DataFrame:
    """person_id, unit_id, start, end (null while ongoing)."""
    return (
        world.people.select("person_id", "household_id").join(world.residences, on="household_id").drop("household_id")
    )


def unit_at(world: World, asks: pl.DataFrame) -> pl.DataFrame:
    """For rows with ``person_id`` and ``as_of``, add ``true_unit``: the unit lived in on ``as_of``."""
    sp = person_spells(world)
    j = (
        asks.select("case_id", "person_id", "as_of")
        .join(sp, on="person_id")
        .filter((pl.col("start") <= pl.col("as_of")) & (pl.col("end").is_null() | (pl.col("end") > pl.col("as_of"))))
    )
    return asks.join(j.select("case_id", true_unit="unit_id"), on="case_id", how="left")


def past_units(world: World, asks: pl.DataFrame) -> pl.DataFrame:
    """case_id, unit_id: every unit the subject left before ``as_of``."""
    sp = person_spells(world)
    j = asks.select("case_id", "person_id", "as_of").join(sp, on="person_id")
    return (
        j.filter(pl.col("end").is_not_null() & (pl.col("end") <= pl.col("as_of"))).select("case_id", "unit_id").unique()
    )


def residents_at(world: World, doors: pl.DataFrame) -> pl.DataFrame:
    """For rows (case_id, unit_id, as_of): one row per resident of that unit on ``as_of``,
    with the resident's group and whether they were a child (under 18)."""
    res = world.residences.join(world.people.select("person_id", "household_id", "group", "dob"), on="household_id")
    j = (
        doors.select("case_id", "unit_id", "as_of")
        .join(res, on="unit_id")
        .filter((pl.col("start") <= pl.col("as_of")) & (pl.col("end").is_null() | (pl.col("end") > pl.col("as_of"))))
    )
    return j.select(
        "case_id",
        "person_id",
        "unit_id",
        "group",
        child=(pl.col("as_of") - pl.col("dob")).dt.total_days() < 18 * 365.25,
    )


def building_residents(world: World, asks: pl.DataFrame) -> pl.DataFrame:
    """For (case_id, building_id, as_of, own_unit): residents of the building's other occupied
    units on as_of, each weighted 1/k (k occupied units other than the subject's own): who is
    behind a door when a multi-unit building is named without its unit."""
    res = residents_at(
        world,
        asks.join(world.units.select("unit_id", "building_id"), on="building_id").select("case_id", "unit_id", "as_of"),
    )
    res = res.join(asks.select("case_id", "own_unit"), on="case_id").filter(
        pl.col("own_unit").is_null() | (pl.col("unit_id") != pl.col("own_unit"))
    )
    return res.with_columns(weight=1.0 / pl.col("unit_id").n_unique().over("case_id")).drop("own_unit")


def ties_at(world: World, asks: pl.DataFrame) -> pl.DataFrame:
    """case_id, other (person), kind: ties of the subject in force on ``as_of`` (begun by then and
    not ended before it). A tie that ended before the as-of date is no tie."""
    t = world.ties
    both = pl.concat(
        [
            t.select("person_a", other="person_b", kind="kind", start="start", end="end"),
            t.select(person_a="person_b", other="person_a", kind="kind", start="start", end="end"),
        ]
    )
    return (
        asks.select("case_id", "person_id", "as_of")
        .join(both, left_on="person_id", right_on="person_a")
        .filter((pl.col("start") <= pl.col("as_of")) & (pl.col("end").is_null() | (pl.col("end") > pl.col("as_of"))))
        .select("case_id", "other", "kind")
        .sort("case_id", "other", "kind")
        .unique(["case_id", "other"], keep="first", maintain_order=True)
    )


def _canonical_given() -> dict[str, str]:
    """Every nickname and transliteration spelling -> one canonical form of its family."""
    from trailbench.world.names import load_variants

    nicks, families = load_variants()
    out: dict[str, str] = {}
    for formal, short in nicks.items():
        for v in [formal, *short]:
            out.setdefault(v, formal)
    for fam in families:
        for v in fam:
            out.setdefault(v.upper(), fam[0].upper())
    return out


def name_keys(people: pl.DataFrame) -> pl.DataFrame:
    """person_id, gkey (given name, nickname and transliteration families folded), skey (each
    surname a person is known by: the full surname and each of its parts), one row per skey."""
    canon = _canonical_given()
    letters = pl.col("given").str.to_uppercase().str.replace_all(r"[^A-Z]", "")
    g = people.select("person_id", gkey=letters.replace(canon))
    parts = people.select(
        "person_id",
        skey=pl.concat_list(
            pl.col("surname").str.to_uppercase().str.replace_all(r"[^A-Z]", ""),
            pl.col("surname").str.to_uppercase().str.split_exact("-", 1).struct[0].str.replace_all(r"[^A-Z]", ""),
            pl.col("surname").str.to_uppercase().str.split(" ").list.first().str.replace_all(r"[^A-Z]", ""),
        ),
    ).explode("skey")
    return g.join(parts.filter(pl.col("skey").str.len_chars() > 0).unique(), on="person_id").sort("person_id", "skey")


def namesakes(world: World, asks: pl.DataFrame) -> pl.DataFrame:
    """case_id, other: people who share the subject's name, or a variant of it (the same given
    name up to nicknames and transliterations, and a surname in common)."""
    keys = name_keys(world.people.select("person_id", "given", "surname"))
    subj = asks.select("case_id", "person_id").join(keys, on="person_id")
    return (
        subj.join(keys.rename({"person_id": "other"}), on=["gkey", "skey"])
        .filter(pl.col("other") != pl.col("person_id"))
        .select("case_id", "other")
        .unique()
        .sort("case_id", "other")
    )


def units_lived_by_others(world: World, pairs: pl.DataFrame) -> pl.DataFrame:
    """For (case_id, other, as_of): every unit ``other`` lived in on or before ``as_of``."""
    sp = person_spells(world)
    return (
        pairs.join(sp.rename({"person_id": "other"}), on="other")
        .filter(pl.col("start") <= pl.col("as_of"))
        .select("case_id", "unit_id")
        .unique()
    )


def one_digit_apart(a: str | None, b: str | None) -> bool:
    """Same length, exactly one differing character, a digit in both: a house number or unit
    keyed one digit wrong."""
    if a is None or b is None or len(a) != len(b):
        return False
    diff = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    return len(diff) == 1 and diff[0][0].isdigit() and diff[0][1].isdigit()
