"""The case table: one row per (system, case) with the subject's group and strata and every count
the metrics are ratios of; the strata each task may be sliced by are computed here."""

from __future__ import annotations

import polars as pl

from trailbench.world import World

STRATA = ("tenure", "household_form", "moved_last_year", "informal_work")  # computed for every case
STRATA_LABELS = {
    "tenure": "tenure",
    "household_form": "household form",
    "moved_last_year": "moved in the last year",
    "informal_work": "informal work",
}


def subject_attributes(world: World, docket_truth: pl.DataFrame) -> pl.DataFrame:
    """case_id, group, foreign_born and the strata of each subject at the as-of date."""
    p = world.people.select("person_id", "household_id", "group", "foreign_born")
    h = world.households.select("household_id", tenure="tenure", household_form="form")
    c = docket_truth.select("case_id", "person_id", "as_of").join(p, on="person_id").join(h, on="household_id")
    moved = (
        c.select("case_id", "household_id", "as_of")
        .join(world.residences, on="household_id")
        .filter(
            (pl.col("start") <= pl.col("as_of"))
            & (pl.col("start") > pl.col("as_of") - pl.duration(days=365))
            & (pl.col("start") > world.residences["start"].min())
        )
        .select("case_id")
        .unique()
    )
    informal = (
        c.select("case_id", "person_id", "as_of")
        .join(world.jobs, on="person_id")
        .filter(
            pl.col("informal")
            & (pl.col("start") <= pl.col("as_of"))
            & (pl.col("end").is_null() | (pl.col("end") > pl.col("as_of")))
        )
        .select("case_id")
        .unique()
    )
    return (
        c.with_columns(
            moved_last_year=pl.when(pl.col("case_id").is_in(moved["case_id"].implode()))
            .then(pl.lit("yes"))
            .otherwise(pl.lit("no")),
            informal_work=pl.when(pl.col("case_id").is_in(informal["case_id"].implode()))
            .then(pl.lit("yes"))
            .otherwise(pl.lit("no")),
        )
        .select("case_id", "person_id", "group", "foreign_born", *STRATA)
        .sort("case_id")
    )


def case_table(subjects: pl.DataFrame, counts: list[pl.DataFrame]) -> pl.DataFrame:
    """One row per case for one system: the subject's attributes and every task's counts."""
    t = subjects.with_columns(cases=pl.lit(1, dtype=pl.Int64))
    for c in counts:
        t = t.join(c, on="case_id", how="left")
    return t.sort("case_id")
