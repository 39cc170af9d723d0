"""The ``hotlist`` task: plate reads a system reports as hits on the hotlist (issue 12).

A system answers ``read_id``s of trails/plate_reads. The car an officer stops on a hit is the car
the camera saw: the vehicle the read truly came from. Each reported read is scored from the truth
(trails/plate_reads' truth, truth/hotlist), in this order:

- ``true``: the read is right (plate and state) and matches an entry meant for that vehicle that
  is neither stale nor keyed wrong;
- ``misread``: the read is wrong (a character or the state) and matches an entry: a different,
  innocent car;
- ``stale``: the read is right and matches an entry for that vehicle that is no longer valid;
- ``keyed-wrong``: the read is right and matches an entry keyed wrong (meant for another vehicle);
- ``unlisted``: the read matches no entry at all.

Counts are per vehicle (the vehicle read): reads, reported hits by outcome, and whether an
innocent vehicle (one with no valid entry) was stopped; rates per 10,000 reads and per 10,000
vehicles, by the driver's group and the plate strata.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import polars as pl

from trailbench.tasks.declare import Metric, ScoreContext, Scored, Task
from trailbench.tasks.pattern_truth import error_types, pick_explained
from trailbench.tasks.plate_truth import PLATE_STRATA, PlateWorld

HIT_OUTCOMES = {
    "true": "a right read matching a valid entry for the vehicle read",
    "misread": "a misread plate or state matching an entry: a different, innocent car",
    "stale": "a right read matching an entry for the vehicle that is no longer valid",
    "keyed-wrong": "a right read matching an entry keyed wrong (meant for another vehicle)",
    "unlisted": "a read matching no hotlist entry",
}
COUNTS = (
    "reads",
    "wanted_reads",
    "not_wanted",
    "hits",
    "true_hits",
    "misread_hits",
    "stale_hits",
    "keyed_wrong_hits",
    "unlisted_hits",
    "innocent_stopped",
)


def wanted(pw: PlateWorld) -> pl.DataFrame:
    """vehicle_key of every vehicle with a valid entry (neither stale nor keyed wrong)."""
    h = pw.hotlist
    return h.filter(~pl.col("stale") & ~pl.col("keyed_wrong")).select("vehicle_key").unique()


def hit_outcomes(pw: PlateWorld, answers: pl.DataFrame) -> pl.DataFrame:
    """One row per distinct read reported: the read, the vehicle it came from, the best matching
    entry and the outcome."""
    reported = answers.select("read_id").unique()
    r = pw.reads.join(reported, on="read_id", how="semi")
    h = pw.hotlist.select(
        plate_as_read="plate", state_as_read="state", entry_vehicle="vehicle_key", stale="stale", keyed="keyed_wrong"
    )
    right = ~pl.col("misread") & ~pl.col("wrong_state")
    rank = (
        pl.when(pl.col("entry_vehicle").is_null())
        .then(pl.lit(4))
        .when(right & (pl.col("entry_vehicle") == pl.col("vehicle_key")) & ~pl.col("stale") & ~pl.col("keyed"))
        .then(pl.lit(0))
        .when(~right)
        .then(pl.lit(1))
        .when(pl.col("entry_vehicle") == pl.col("vehicle_key"))
        .then(pl.lit(2))
        .otherwise(pl.lit(3))
    )
    words = ["true", "misread", "stale", "keyed-wrong", "unlisted"]
    return (
        r.join(h, on=["plate_as_read", "state_as_read"], how="left")
        .with_columns(rank=rank)
        .sort("read_id", "rank")
        .unique("read_id", keep="first")
        .select(
            "read_id",
            "camera_id",
            "t",
            "plate_as_read",
            "state_as_read",
            "confidence",
            "vehicle_key",
            "misread",
            "wrong_state",
            "entry_vehicle",
            outcome=pl.col("rank").replace_strict(list(range(5)), words, return_dtype=pl.String),
        )
        .sort("read_id")
    )


def vehicle_counts(pw: PlateWorld, table: pl.DataFrame) -> pl.DataFrame:
    """Every vehicle: its reads, its reads that a valid entry wants, whether it is wanted, and the
    reported hits on its reads by outcome."""
    want = wanted(pw).with_columns(w=pl.lit(1))
    base = (
        pw.vehicles.select("vehicle_key")
        .join(want, on="vehicle_key", how="left")
        .with_columns(not_wanted=pl.col("w").is_null().cast(pl.Int64))
    )
    reads = pw.reads_by_vehicle
    o = pl.col("outcome")
    hits = table.group_by("vehicle_key").agg(
        hits=pl.len().cast(pl.Int64),
        true_hits=(o == "true").sum().cast(pl.Int64),
        misread_hits=(o == "misread").sum().cast(pl.Int64),
        stale_hits=(o == "stale").sum().cast(pl.Int64),
        keyed_wrong_hits=(o == "keyed-wrong").sum().cast(pl.Int64),
        unlisted_hits=(o == "unlisted").sum().cast(pl.Int64),
    )
    return (
        base.join(reads, on="vehicle_key", how="left")
        .join(hits, on="vehicle_key", how="left")
        .with_columns(pl.col(c).fill_null(0) for c in ("reads", "right", "hits"))
        .with_columns(
            wanted_reads=pl.when(pl.col("w").is_not_null()).then(pl.col("right")).otherwise(0),
            innocent_stopped=((pl.col("not_wanted") == 1) & (pl.col("hits") > 0)).cast(pl.Int64),
        )
        .drop("w", "right")
    )


def explained(ctx: ScoreContext, pw: PlateWorld, table: pl.DataFrame) -> list[dict[str, Any]]:
    wrong = table.filter(pl.col("outcome") != "true").with_columns(case_id=pl.col("read_id"), cause=pl.col("outcome"))
    plates = pw.vehicles.select("vehicle_key", "plate", "state")
    entries = pw.hotlist.select("plate", "state", "entered", "stale", "keyed_wrong")
    out = []
    for cause, read_id in pick_explained(wrong, ctx.scenario.audit.explained_cases, ctx.rng):
        row = wrong.filter(pl.col("read_id") == read_id).row(0, named=True)
        true = plates.filter(pl.col("vehicle_key") == row["vehicle_key"]).row(0, named=True)
        entry = entries.filter((pl.col("plate") == row["plate_as_read"]) & (pl.col("state") == row["state_as_read"]))
        e = entry.row(0, named=True) if entry.height else None
        chain = [
            {
                "step": "read",
                "value": f"{row['camera_id']} at {row['t']}: {row['state_as_read']} {row['plate_as_read']} "
                f"(confidence {row['confidence']:.2f})",
            },
            {
                "step": "hotlist entry matched",
                "value": "none"
                if e is None
                else f"{e['state']} {e['plate']}, entered {e['entered']:%Y-%m-%d}"
                + ("; no longer valid" if e["stale"] else "")
                + ("; keyed wrong" if e["keyed_wrong"] else ""),
            },
            {"step": "the car the camera saw", "value": f"{true['state']} {true['plate']}"},
            {"step": "outcome", "value": HIT_OUTCOMES[row["outcome"]]},
        ]
        out.append(
            {
                "system": ctx.system,
                "task": "hotlist",
                "case_id": read_id,
                "outcome": row["outcome"],
                "cause": cause,
                "chain": chain,
            }
        )
    return out


def score(ctx: ScoreContext, answers: pl.DataFrame | None) -> Scored:
    pw = ctx.plates
    empty = pl.DataFrame(schema={"case_id": pl.String})
    if pw is None:
        return Scored(empty)
    a = answers if answers is not None else pl.DataFrame(schema={"read_id": pl.String})
    table = hit_outcomes(pw, a)
    out = Scored(empty)
    out.units = {"vehicles": vehicle_counts(pw, table)}
    out.tables = {"hotlist_hits": table}
    out.error_types = error_types(ctx.system, "hotlist", table.filter(pl.col("outcome") != "true")["outcome"])
    out.explained = explained(ctx, pw, table) if answers is not None else []
    return out


def _m(name: str, num: str, den: str, text: str, **kw: Any) -> Metric:
    return replace(Metric(name, "hotlist", num, den, text, over="vehicles", unit="per_10k", scale=1e4), **kw)


METRICS = (
    _m(
        "hit_precision",
        "true_hits",
        "hits",
        "reported hits that are right reads of a vehicle with a valid entry",
        unit="share",
        scale=1.0,
        higher_is_better=True,
        headline=True,
        summary=True,
        short="hit prec.",
        disparity=False,
    ),
    _m(
        "hit_recall",
        "true_hits",
        "wanted_reads",
        "right reads of vehicles with a valid entry that were reported as hits",
        unit="share",
        scale=1.0,
        higher_is_better=True,
        disparity=False,
    ),
    _m("true_hits_per_10k_reads", "true_hits", "reads", "true hits reported per 10,000 reads", higher_is_better=True),
    _m(
        "misread_hits_per_10k_reads",
        "misread_hits",
        "reads",
        "hits reported on misread reads (a different, innocent car) per 10,000 reads",
        short="misread hits/10k",
    ),
    _m("stale_hits_per_10k_reads", "stale_hits", "reads", "hits reported on stale entries per 10,000 reads"),
    _m(
        "keyed_wrong_hits_per_10k_reads",
        "keyed_wrong_hits",
        "reads",
        "hits reported on entries keyed wrong per 10,000 reads",
    ),
    _m(
        "innocent_vehicles_stopped_per_10k",
        "innocent_stopped",
        "not_wanted",
        "vehicles without a valid entry with at least one reported hit on their reads, per 10,000 such vehicles "
        "(by the group of the person who drove the vehicle most)",
        headline=True,
        summary=True,
        short="innocent stopped/10k",
    ),
)

TASK = Task(
    name="hotlist",
    description="hotlist hits: plate reads (read_id) that match the hotlist",
    answer_schema={"read_id": pl.String()},
    id_columns=("read_id",),
    id_space="reads",
    score=score,
    counts=(),
    unit_counts={"vehicles": COUNTS},
    metrics=METRICS,
    strata=PLATE_STRATA,
    outcome_tables={
        "hotlist_hits": "one row per (system, world, read reported as a hit): the read, the vehicle it came from, the "
        "entry it matched and the outcome (true, misread, stale, keyed-wrong, unlisted)",
    },
    explained_chain="the read reported, the hotlist entry it matched and the car the camera saw",
)
