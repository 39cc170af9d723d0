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
        "group",
        child=(pl.col("as_of") - pl.col("dob")).dt.total_days() < 18 * 365.25,
    )


def ties_by_as_of(world: World, asks: pl.DataFrame) -> pl.DataFrame:
    """case_id, other (person), kind: ties of the subject begun on or before ``as_of``."""
    t = world.ties
    both = pl.concat(
        [
            t.select("person_a", other="person_b", kind="kind", start="start"),
            t.select(person_a="person_b", other="person_a", kind="kind", start="start"),
        ]
    )
    return (
        asks.select("case_id", "person_id", "as_of")
        .join(both, left_on="person_id", right_on="person_a")
        .filter(pl.col("start") <= pl.col("as_of"))
        .select("case_id", "other", "kind")
        .unique(["case_id", "other"], keep="first", maintain_order=True)
    )
