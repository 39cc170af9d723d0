"""The case table: one row per (system, case) with every count the metrics are ratios of."""

from __future__ import annotations

import polars as pl

from trailbench.scenario import GROUPS
from trailbench.tasks.locate import WRONG_DOOR
from trailbench.world import World

CAUSES = ("stale", "namesake", "digit-error", "unit-missing", "other")
STRATA = ("tenure", "household_form", "moved_last_year", "informal_work")


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


def case_table(
    subjects: pl.DataFrame, locate: pl.DataFrame | None, residents: pl.DataFrame | None, associates: pl.DataFrame | None
) -> pl.DataFrame:
    """Counts per case for one system; a missing task gives no-answer / zero rows."""
    t = subjects.with_columns(cases=pl.lit(1, dtype=pl.Int64))
    if locate is not None:
        o = locate.select("case_id", "outcome", "cause", "residents", "children")
        t = t.join(o, on="case_id", how="left")
    else:
        t = t.with_columns(
            outcome=pl.lit("no-answer"),
            cause=pl.lit(None, dtype=pl.String),
            residents=pl.lit(0, dtype=pl.Int64),
            children=pl.lit(0, dtype=pl.Int64),
        )
    t = t.with_columns(
        answered=(pl.col("outcome") != "no-answer").cast(pl.Int64),
        correct=(pl.col("outcome") == "correct").cast(pl.Int64),
        wrong_door=pl.col("outcome").is_in(list(WRONG_DOOR)).cast(pl.Int64),
        no_such=(pl.col("outcome") == "no-such-address").cast(pl.Int64),
        no_answer=(pl.col("outcome") == "no-answer").cast(pl.Int64),
        wrong_any=pl.col("outcome").is_in([*WRONG_DOOR, "no-such-address"]).cast(pl.Int64),
        **{
            f"out_{o.replace('-', '_')}": (pl.col("outcome") == o).cast(pl.Int64)
            for o in (*WRONG_DOOR, "no-such-address")
        },
        **{f"cause_{c.replace('-', '_')}": (pl.col("cause") == c).fill_null(False).cast(pl.Int64) for c in CAUSES},
    )
    by_group = pl.DataFrame({"case_id": t["case_id"]})
    for g in GROUPS:
        col = f"bystanders_{g}"
        if residents is not None and residents.height:
            n = residents.filter(pl.col("group") == g).group_by("case_id").agg(pl.len().cast(pl.Int64).alias(col))
            by_group = by_group.join(n, on="case_id", how="left")
        else:
            by_group = by_group.with_columns(pl.lit(0, dtype=pl.Int64).alias(col))
    t = t.join(by_group.fill_null(0), on="case_id")
    acols = ("entities", "true_ties", "false_links", "mixed", "duplicates", "ties_found", "ties_total", "people_drawn")
    if associates is not None:
        t = t.join(associates.select("case_id", *acols), on="case_id", how="left")
    else:
        t = t.with_columns(*(pl.lit(0, dtype=pl.Int64).alias(c) for c in acols))
    return t.with_columns(pl.col(c).fill_null(0) for c in acols).sort("case_id")
