"""The case table: one row per (system, case) with the subject's group and strata and every count
the metrics are ratios of; the strata each task may be sliced by are computed here."""

from __future__ import annotations

import polars as pl

from trailbench.world import World
from trailbench.world.signal_world import SignalWorld

# computed for every case; the pattern strata describe the audit window (null where they do not
# apply: a case without a device clue has no shared_device or ping_density)
PATTERN_STRATA = ("shift", "multiple_jobs", "building_density", "shared_device", "ping_density")
STRATA = ("tenure", "household_form", "moved_last_year", "informal_work", *PATTERN_STRATA)
STRATA_LABELS = {
    "tenure": "tenure",
    "household_form": "household form",
    "moved_last_year": "moved in the last year",
    "informal_work": "informal work",
    "shift": "usual shift",
    "multiple_jobs": "more than one job",
    "building_density": "home building",
    "shared_device": "clue phone shared",
    "ping_density": "clue phone's pings a day",
}
BUILDING_WORDS = {"house": "house", "small": "small multi-unit", "large": "large multi-unit"}
PING_BANDS = ((10.0, "under 10"), (100.0, "10 to 100"), (float("inf"), "100 or more"))  # pings a day


def pattern_strata(signals: SignalWorld | None, world: World, docket_truth: pl.DataFrame) -> pl.DataFrame:
    """case_id and the pattern strata: the subject's usual shift in the window (``no job``),
    whether they hold more than one job, the kind of building they live in at the window's
    start, whether the clue phone is carried by anyone else in the window, and its pings a day."""
    c = docket_truth.select("case_id", "person_id", "device_key", "clue_pings")
    if signals is None:
        return c.select("case_id", *(pl.lit(None, dtype=pl.String).alias(s) for s in PATTERN_STRATA))
    sch = signals.schedules.select("person_id", "shift", "multiple_jobs")
    start = signals.window.start.astype("datetime64[D]").item()
    home = (
        world.people.select("person_id", "household_id")
        .join(world.residences, on="household_id")
        .filter((pl.col("start") <= start) & (pl.col("end").is_null() | (pl.col("end") > start)))
        .join(world.units.select("unit_id", "kind"), on="unit_id")
        .select("person_id", building=pl.col("kind").replace_strict(BUILDING_WORDS))
        .unique("person_id")
    )
    carriers = signals.device_holders.group_by("device_key").agg(holders=pl.col("person_id").n_unique())
    band = pl.lit(None, dtype=pl.String)
    per_day = pl.col("clue_pings").cast(pl.Float64) / signals.window.days
    for hi, word in reversed(PING_BANDS):
        band = pl.when(per_day < hi).then(pl.lit(word)).otherwise(band)
    return (
        c.join(sch, on="person_id", how="left")
        .join(home, on="person_id", how="left")
        .join(carriers, on="device_key", how="left")
        .select(
            "case_id",
            shift=pl.col("shift").fill_null("no job"),
            multiple_jobs=pl.when(pl.col("multiple_jobs")).then(pl.lit("yes")).otherwise(pl.lit("no")),
            building_density=pl.col("building"),
            shared_device=pl.when(pl.col("device_key").is_null())
            .then(None)
            .when(pl.col("holders") > 1)
            .then(pl.lit("shared"))
            .otherwise(pl.lit("not shared")),
            ping_density=pl.when(pl.col("device_key").is_not_null()).then(band),
        )
    )


def subject_attributes(world: World, docket_truth: pl.DataFrame, signals: SignalWorld | None = None) -> pl.DataFrame:
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
        .join(pattern_strata(signals, world, _with_device(docket_truth)), on="case_id", how="left")
        .select("case_id", "person_id", "group", "foreign_born", *STRATA)
        .sort("case_id")
    )


def _with_device(docket_truth: pl.DataFrame) -> pl.DataFrame:
    """The docket's truth with the device-clue columns (null in a run from before they existed)."""
    missing = {"device_key": pl.Int64, "clue_pings": pl.UInt32}
    return docket_truth.with_columns(
        pl.lit(None, dtype=t).alias(c) for c, t in missing.items() if c not in docket_truth.columns
    )


def case_table(subjects: pl.DataFrame, counts: list[pl.DataFrame]) -> pl.DataFrame:
    """One row per case for one system: the subject's attributes and every task's counts."""
    t = subjects.with_columns(cases=pl.lit(1, dtype=pl.Int64))
    for c in counts:
        t = t.join(c, on="case_id", how="left")
    return t.sort("case_id")
