"""The ``flag`` task (travel patterns): vehicles, as their plates were read, flagged as suspicious
in the audit window (issue 12; CMPRS-style route flags).

A system answers plates as read (``plate``, ``state``; every plate must have been read at least
once). An officer acting on a flag looks the plate up: the car stopped is the vehicle that truly
carries that plate and state (the *registered* vehicle), whatever produced the reads behind the
flag. Each flag is therefore scored by two vehicles from the truth:

- the registered vehicle (none when no vehicle carries that plate and state);
- the source: the vehicle most of the reads of that plate and state came from (of that plate in
  any state where none was read in that state).

Outcomes: ``target`` (the registered vehicle is a planted target), ``own-travel`` (an innocent
vehicle flagged on its own reads), ``wrong-car`` (an innocent vehicle flagged on reads of another:
misreads or wrong states; the stop of the wrong car) and ``no-such-plate`` (no vehicle carries
it: a wasted flag, counted at its source). Counts are per vehicle and per driver
(audit/units): precision at the planted base rate, innocent vehicles and drivers flagged per
10,000, and wrong-car stops, by the driver's group, neighbourhood, trip purpose and vehicle sharing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import polars as pl

from trailbench.tasks.declare import Metric, ScoreContext, Scored, Task
from trailbench.tasks.pattern_truth import error_types, pick_explained
from trailbench.tasks.plate_truth import PLATE_STRATA, PlateWorld
from trailbench.tasks.plate_view import read_timeline

VEHICLE_COUNTS = ("targets", "innocent", "flags", "true_flags", "innocent_flags", "false_flags", "wrong_car_stops")
DRIVER_COUNTS = ("innocent_drivers", "innocent_drivers_flagged")
OUTCOMES = {
    "target": "the registered vehicle is a planted target",
    "own-travel": "an innocent vehicle, flagged on reads of its own travel",
    "wrong-car": "an innocent vehicle, flagged on reads of another vehicle (misreads or wrong states): the stop "
    "of the wrong car",
    "no-such-plate": "no vehicle carries the plate and state flagged (counted at the vehicle its reads came from)",
}


def flag_outcomes(pw: PlateWorld, answers: pl.DataFrame) -> pl.DataFrame:
    """One row per distinct (plate, state) flagged: score, registered and source vehicle, outcome."""
    a = (
        answers.select("plate", "state", "score")
        .group_by("plate", "state")
        .agg(pl.col("score").max())
        .sort("plate", "state")
    )
    v = pw.vehicles.select("plate", "state", registered="vehicle_key", registered_target="target")
    reads = pw.reads.select("plate_as_read", "state_as_read", "vehicle_key")
    by_pair = (
        reads.group_by("plate_as_read", "state_as_read", "vehicle_key")
        .len()
        .sort("plate_as_read", "state_as_read", "len", "vehicle_key", descending=[False, False, True, False])
        .unique(["plate_as_read", "state_as_read"], keep="first")
        .select(plate="plate_as_read", state="state_as_read", pair_source="vehicle_key", reads="len")
    )
    by_plate = (
        reads.group_by("plate_as_read", "vehicle_key")
        .len()
        .sort("plate_as_read", "len", "vehicle_key", descending=[False, True, False])
        .unique("plate_as_read", keep="first")
        .select(plate="plate_as_read", plate_source="vehicle_key")
    )
    targets = pw.vehicles.select(source="vehicle_key", source_target="target")
    out = (
        a.join(v, on=["plate", "state"], how="left")
        .join(by_pair, on=["plate", "state"], how="left")
        .join(by_plate, on="plate", how="left")
        .with_columns(source=pl.coalesce("pair_source", "plate_source"), reads=pl.col("reads").fill_null(0))
        .join(targets, on="source", how="left")
    )
    outcome = (
        pl.when(pl.col("registered").is_null())
        .then(pl.lit("no-such-plate"))
        .when(pl.col("registered_target"))
        .then(pl.lit("target"))
        .when(pl.col("source") == pl.col("registered"))
        .then(pl.lit("own-travel"))
        .otherwise(pl.lit("wrong-car"))
    )
    return out.select(
        "plate",
        "state",
        "score",
        "reads",
        "registered",
        "source",
        pl.col("source_target").fill_null(False),
        outcome=outcome,
        vehicle_key=pl.coalesce("registered", "source"),
    )


def vehicle_counts(table: pl.DataFrame) -> pl.DataFrame:
    """vehicle_key and the flag counts (only vehicles some flag is counted at)."""
    o = pl.col("outcome")
    return (
        table.filter(pl.col("vehicle_key").is_not_null())
        .group_by("vehicle_key")
        .agg(
            flags=pl.len(),
            true_flags=(o == "target").sum(),
            innocent_flags=(o != "target").sum(),
            false_flags=o.is_in(["own-travel", "wrong-car"]).any().cast(pl.Int64),
            wrong_car_stops=((o == "wrong-car").any() & ~(o == "own-travel").any()).cast(pl.Int64),
        )
        .with_columns(pl.col("flags", "true_flags", "innocent_flags").cast(pl.Int64))
    )


def driver_counts(pw: PlateWorld, table: pl.DataFrame) -> pl.DataFrame:
    """person_id and innocent_drivers_flagged: innocent drivers (no target run) who drove a flagged
    vehicle (its plate flagged; the registered vehicle) in the window."""
    flagged = table.filter(pl.col("registered").is_not_null()).select(vehicle_key="registered").unique()
    ran = pw.trips.filter(pl.col("purpose") == "target_run").select("person_id").unique()
    return (
        pw.trips.select("person_id", "vehicle_key")
        .unique()
        .join(flagged, on="vehicle_key", how="semi")
        .join(ran, on="person_id", how="anti")
        .select("person_id")
        .unique()
        .with_columns(innocent_drivers_flagged=pl.lit(1, dtype=pl.Int64))
    )


def base_counts(pw: PlateWorld) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The denominators, from the truth alone: targets and innocent vehicles (every vehicle);
    innocent drivers (every person who drove in the window and made no target run)."""
    v = pw.vehicles.select(
        "vehicle_key",
        targets=pl.col("target").cast(pl.Int64),
        innocent=(~pl.col("target")).cast(pl.Int64),
    )
    ran = pw.trips.filter(pl.col("purpose") == "target_run").select("person_id").unique()
    d = (
        pw.trips.select("person_id")
        .unique()
        .join(ran.with_columns(r=pl.lit(1)), on="person_id", how="left")
        .select("person_id", innocent_drivers=pl.col("r").is_null().cast(pl.Int64))
    )
    return v, d


def explained(ctx: ScoreContext, pw: PlateWorld, table: pl.DataFrame) -> list[dict[str, Any]]:
    """A few wrong flags per outcome: the plate as flagged, the reads behind it, the car stopped and
    its true trips, drawn as the vehicle's reads against its trips."""
    wrong = table.filter(pl.col("outcome") != "target").with_columns(
        case_id=pl.format("{} {}", "state", "plate"), cause=pl.col("outcome")
    )
    out = []
    for cause, key in pick_explained(wrong, ctx.scenario.audit.explained_cases, ctx.rng):
        row = wrong.filter(pl.col("case_id") == key).row(0, named=True)
        car = row["registered"] if row["registered"] is not None else row["source"]
        behind = pw.reads.filter((pl.col("plate_as_read") == row["plate"]) & (pl.col("state_as_read") == row["state"]))
        own = int((behind["vehicle_key"] == car).sum())
        misread = int(behind["misread"].sum()) if behind.height else 0
        trips = pw.trips.filter(pl.col("vehicle_key") == car)
        purposes = trips["purpose"].value_counts().sort("count", "purpose", descending=[True, False])
        chain = [
            {"step": "flagged", "value": f"plate {row['plate']}, state {row['state']}"},
            {
                "step": "reads behind the flag",
                "value": f"{behind.height} reads of that plate and state: {own} of the car stopped, "
                f"{behind.height - own} of other vehicles ({misread} misread)",
            },
            {
                "step": "the car stopped",
                "value": "none: no vehicle carries that plate"
                if row["registered"] is None
                else ("a planted target" if row["outcome"] == "target" else "an innocent vehicle"),
            },
            {
                "step": "its true trips in the window",
                "value": ", ".join(f"{p.replace('_', ' ')} {n}" for p, n in purposes.iter_rows()) or "none",
            },
            {"step": "outcome", "value": OUTCOMES[row["outcome"]]},
        ]
        out.append(
            {
                "system": ctx.system,
                "task": "flag",
                "case_id": key,
                "outcome": row["outcome"],
                "cause": cause,
                "chain": chain,
                "vehicle_timeline": read_timeline(pw, car, behind),
            }
        )
    return out


def score(ctx: ScoreContext, answers: pl.DataFrame | None) -> Scored:
    pw = ctx.plates
    empty = pl.DataFrame(schema={"case_id": pl.String})
    if pw is None:
        return Scored(empty)
    a = answers if answers is not None else pl.DataFrame(schema={"plate": pl.String, "state": pl.String})
    if "score" not in a.columns:
        a = a.with_columns(score=pl.lit(None, dtype=pl.Float64))
    v, d = base_counts(pw)
    if answers is None:  # takes no part: the denominators only (every count of a flag is 0)
        return Scored(empty, units={"vehicles": v, "drivers": d})
    table = flag_outcomes(pw, a)
    out = Scored(empty)
    out.units = {
        "vehicles": v.join(vehicle_counts(table), on="vehicle_key", how="left"),
        "drivers": d.join(driver_counts(pw, table), on="person_id", how="left"),
    }
    out.tables = {"flags": table.drop("vehicle_key")}
    out.error_types = error_types(ctx.system, "flag", table.filter(pl.col("outcome") != "target")["outcome"])
    out.explained = explained(ctx, pw, table)
    return out


def _m(name: str, num: str, den: str, text: str, **kw: Any) -> Metric:
    return replace(Metric(name, "flag", num, den, text, over="vehicles"), **kw)


METRICS = (
    _m(
        "flag_precision",
        "true_flags",
        "flags",
        "flags whose plate and state belong to a planted target, of all distinct plates flagged: precision at the "
        "planted base rate (plates.target_share)",
        higher_is_better=True,
        headline=True,
        summary=True,
        short="flag prec.",
        disparity=False,
    ),
    _m(
        "flag_recall",
        "true_flags",
        "targets",
        "planted targets whose plate and state were flagged",
        higher_is_better=True,
        short="targets found",
        disparity=False,
    ),
    _m(
        "innocent_per_10k_flagged",
        "innocent_flags",
        "flags",
        "of every 10,000 plates flagged, those that do not belong to a target (innocent vehicles, or no vehicle)",
        unit="per_10k",
        scale=10_000.0,
        disparity=False,
    ),
    _m(
        "false_flags_per_10k_innocent_vehicles",
        "false_flags",
        "innocent",
        "innocent vehicles (not planted targets) whose plate and state were flagged, per 10,000 innocent vehicles",
        unit="per_10k",
        scale=10_000.0,
        headline=True,
        summary=True,
        short="false flags/10k",
    ),
    _m(
        "wrong_car_stops_per_10k_innocent_vehicles",
        "wrong_car_stops",
        "innocent",
        "innocent vehicles flagged only on reads of other vehicles (misreads, wrong states), per 10,000 innocent "
        "vehicles: the stop of the wrong car",
        unit="per_10k",
        scale=10_000.0,
    ),
    _m(
        "innocent_drivers_flagged_per_10k",
        "innocent_drivers_flagged",
        "innocent_drivers",
        "people who drove in the window and made no target run, who drove a vehicle whose plate was flagged, per "
        "10,000 such drivers (by the driver's own group)",
        over="drivers",
        unit="per_10k",
        scale=10_000.0,
        headline=True,
        summary=True,
        short="drivers flagged/10k",
    ),
)

TASK = Task(
    name="flag",
    description="travel-pattern flags: vehicles, as their plates were read (plate and state), flagged as "
    "suspicious in the audit window",
    answer_schema={"plate": pl.String(), "state": pl.String()},
    id_columns=("plate",),
    id_space="plates",
    optional_columns={"score": pl.Float64()},
    score=score,
    counts=(),
    unit_counts={"vehicles": VEHICLE_COUNTS, "drivers": DRIVER_COUNTS},
    metrics=METRICS,
    strata=PLATE_STRATA,
    outcome_tables={
        "flags": "one row per (system, world, plate and state flagged): its score, the reads of it, the vehicle that "
        "carries it (registered), the vehicle its reads came from (source) and the outcome (target, own-travel, "
        "wrong-car, no-such-plate)",
    },
    explained_chain="the plate flagged, the reads behind it, the car an officer would stop and its true trips, "
    "drawn as the vehicle's reads against its trips",
)
