"""What the report draws for an explained flag: one vehicle's true trips against the reads."""

from __future__ import annotations

from typing import Any

import polars as pl

from trailbench.tasks.plate_truth import PlateWorld

TIMELINE_READS = 400  # at most this many reads drawn for one vehicle


def _minutes(col: str, t0: Any) -> pl.Expr:
    return ((pl.col(col) - pl.lit(t0)).dt.total_milliseconds() / 60_000.0).round(1)


def read_timeline(pw: PlateWorld, vehicle_key: int | None, behind: pl.DataFrame) -> dict[str, Any]:
    """The vehicle's true trips (start and end minute into the window, purpose) and two series of
    reads (minute, camera kind, misread): every read of the vehicle, and every read behind the
    flag (the plate and state flagged) that came from another vehicle; minutes from the window's
    start."""
    t0 = pw.t0
    kinds = pw.cameras.select("camera_id", "kind")
    trips = pw.trips.filter(pl.col("vehicle_key") == vehicle_key).sort("depart")
    own = pw.reads.filter(pl.col("vehicle_key") == vehicle_key).join(kinds, on="camera_id", how="left").sort("t")
    others = behind.filter(pl.col("vehicle_key") != vehicle_key).join(kinds, on="camera_id", how="left").sort("t")

    def reads(df: pl.DataFrame) -> list[list[Any]]:
        df = df.head(TIMELINE_READS)
        return [list(r) for r in df.select(_minutes("t", t0), "kind", "misread").iter_rows()]

    return {
        "trips": [list(r) for r in trips.select(_minutes("depart", t0), _minutes("arrive", t0), "purpose").iter_rows()],
        "reads": reads(own),
        "others": reads(others),
    }
