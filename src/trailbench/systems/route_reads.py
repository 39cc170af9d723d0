"""What the route systems read and derive: plate reads with their camera's kind, corridor passes
and round trips, and per-plate travel features. Only the working directory's trails are read
(``trails/plate_reads/``, ``trails/cameras.parquet``, ``trails/hotlist.parquet``)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

MS_MIN = 60_000


def read_reads(workdir: Path, match_state: bool) -> pl.DataFrame:
    """Every read with its camera's kind, its day and hour, and ``key``: the plate as read (with
    the state as read when ``match_state``), what the system takes for one vehicle."""
    parts = sorted((workdir / "trails" / "plate_reads").glob("part-*.parquet"))
    if not parts:
        return pl.DataFrame(
            schema={
                "read_id": pl.String,
                "camera_id": pl.String,
                "t": pl.Datetime("ms"),
                "plate_as_read": pl.String,
                "state_as_read": pl.String,
                "confidence": pl.Float32,
                "kind": pl.String,
                "day": pl.Date,
                "hour": pl.Int8,
                "key": pl.String,
            }
        )
    cams = pl.read_parquet(workdir / "trails" / "cameras.parquet", columns=["camera_id", "kind"])
    reads = pl.read_parquet(parts).with_columns(pl.col(pl.Categorical).cast(pl.String))
    key = pl.format("{}|{}", "plate_as_read", "state_as_read") if match_state else pl.col("plate_as_read")
    return reads.join(cams, on="camera_id", how="left").with_columns(
        day=pl.col("t").dt.date(), hour=pl.col("t").dt.hour().cast(pl.Int8), key=key
    )


def odd(hours: tuple[int, int]) -> pl.Expr:
    lo, hi = hours
    return (pl.col("hour") >= lo) & (pl.col("hour") < hi)


def corridor_passes(reads: pl.DataFrame, gap_min: float, odd_hours: tuple[int, int]) -> pl.DataFrame:
    """key, day, passes, odd: each plate's passes along the corridor per day (reads of one pass lie
    within ``gap_min`` of each other) and whether any corridor read that day was at odd hours."""
    c = reads.filter(pl.col("kind") == "corridor").sort("key", "t")
    gap = (pl.col("t").diff().over("key").dt.total_milliseconds() > gap_min * MS_MIN).fill_null(True)
    return (
        c.with_columns(new=gap | (pl.col("key") != pl.col("key").shift(1)).fill_null(True))
        .group_by("key", "day")
        .agg(passes=pl.col("new").sum(), odd=odd(odd_hours).any())
        .sort("key", "day")
    )


def answer_state(reads: pl.DataFrame) -> pl.DataFrame:
    """key, plate, state: for each key the plate and the state it was read in most often."""
    return (
        reads.group_by("key", "plate_as_read", "state_as_read")
        .len()
        .sort("key", "len", "state_as_read", descending=[False, True, False])
        .unique("key", keep="first")
        .select("key", plate="plate_as_read", state="state_as_read")
    )


def features(reads: pl.DataFrame, gap_min: float, odd_hours: tuple[int, int]) -> pl.DataFrame:
    """Per key: reads, days seen, cameras seen, share of reads at odd hours, corridor reads and
    round trips (days with two or more corridor passes), odd-hour round trips, the most days one
    camera read it at odd hours, mean reader confidence."""
    passes = corridor_passes(reads, gap_min, odd_hours)
    trips = passes.group_by("key").agg(
        round_trips=(pl.col("passes") >= 2).sum().cast(pl.Int64),
        odd_round_trips=((pl.col("passes") >= 2) & pl.col("odd")).sum().cast(pl.Int64),
        corridor_days=pl.len().cast(pl.Int64),
    )
    o = odd(odd_hours)
    odd_route = (
        reads.filter(o)
        .group_by("key", "camera_id")
        .agg(days=pl.col("day").n_unique())
        .group_by("key")
        .agg(odd_route_days=pl.col("days").max().cast(pl.Int64))
    )
    base = reads.group_by("key").agg(
        reads=pl.len().cast(pl.Int64),
        days=pl.col("day").n_unique().cast(pl.Int64),
        cameras=pl.col("camera_id").n_unique().cast(pl.Int64),
        odd_share=o.mean(),
        corridor_reads=(pl.col("kind") == "corridor").sum().cast(pl.Int64),
        confidence=pl.col("confidence").cast(pl.Float64).mean(),
    )
    return (
        base.join(trips, on="key", how="left")
        .join(odd_route, on="key", how="left")
        .with_columns(pl.col("round_trips", "odd_round_trips", "corridor_days", "odd_route_days").fill_null(0))
        .sort("key")
    )
