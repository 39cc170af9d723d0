"""The ``pattern`` system's co-location: the devices that met each clue device.

A meeting is a ping of another device within ``colocation_m`` and ``colocation_min`` of a ping of
the clue device (the default of ArcGIS Pro's "Find Meeting Locations"); the meetings of a pair
are counted as the distinct time slots (``colocation_min`` long) of the clue device's pings that
met one. Every ping of the window accurate enough for the test takes part
(:data:`~trailbench.systems.pattern_link.PROXIMITY_ACCURACY`): the clue devices' pings are looked
up in a grid of ``colocation_m`` squares and ``colocation_min`` slots over all of them
(:func:`~trailbench.systems.pattern_link.near_pairs`), a day at a time.
"""

from __future__ import annotations

import polars as pl

from trailbench.systems.pattern_link import Signals, near_pairs

CHUNK_MS = 86_400_000
"""The clue devices' pings are matched a day at a time (with the pings within a slot either side
of the day): the same meetings, a day's candidate pairs in memory at once."""


def meetings(sig: Signals, metres: float, window_ms: int) -> pl.DataFrame:
    """(a, o, b, same): for each clue device ``a``, every other device ``o`` that met it and every
    ``window_ms`` slot ``b`` of ``a``'s pings in which it did; ``same``: whether (in that slot) a
    ping of ``o`` from the same slot was within ``metres`` (what co-travel counts)."""
    schema = {"a": pl.UInt32, "o": pl.UInt32, "b": pl.Int64, "same": pl.Boolean}
    clue = sig.clue_pings()
    if clue.is_empty():
        return pl.DataFrame(schema=schema)
    slot = pl.col("t") // window_ms
    left = clue.select(a="d", b=slot, t="t", x="x", y="y")
    right = sig.fine.select(o="d", b=slot, t="t", x="x", y="y")
    t0, t1 = int(left["t"].min()), int(left["t"].max()) + 1  # type: ignore[arg-type]
    step = max(window_ms, CHUNK_MS // window_ms * window_ms)  # whole slots
    parts = []
    for lo in range(t0 // step * step, t1, step):
        hi = lo + step
        day = left.filter((pl.col("t") >= lo) & (pl.col("t") < hi))
        if day.is_empty():
            continue
        near = right.filter((pl.col("t") >= lo - 2 * window_ms) & (pl.col("t") < hi + 2 * window_ms))
        parts.append(
            near_pairs(day, near, metres, spread=1, window_ms=window_ms)
            .filter(pl.col("a") != pl.col("o"))
            .select("a", "o", "b", same=pl.col("b") == pl.col("t_r") // window_ms)
            .group_by("a", "o", "b")
            .agg(pl.col("same").any())
            .collect()
        )
    met = pl.concat(parts).group_by("a", "o", "b").agg(pl.col("same").any()) if parts else pl.DataFrame(schema=schema)
    return met.select(list(schema)).sort("a", "o", "b")


def met_counts(met: pl.DataFrame) -> pl.DataFrame:
    """(a, o, meetings): the distinct slots of each pair's meetings."""
    return met.group_by("a", "o").agg(meetings=pl.len().cast(pl.Int64)).sort("a", "o")


def colocation_answers(
    sig: Signals,
    met: pl.DataFrame,
    wifi: pl.DataFrame,
    linked: pl.DataFrame,
    max_entities: int,
) -> pl.DataFrame:
    """case_id, rank, entity, score: per case, one entity per advertising ID that met the clue
    device and one per MAC seen with it at a Wi-Fi sensor, less the identifiers device_link
    attributes to the subject (``linked``: case_id, device_id), ranked by meetings (the score),
    at most ``max_entities``.

    ``met``: a, o, meetings (:func:`met_counts`); ``wifi``: a, mac, meetings
    (:func:`~trailbench.systems.pattern_link.wifi_contacts`)."""
    ads = sig.clues.join(met.rename({"a": "d"}), on="d").select("case_id", device_id=sig.name("o"), meetings="meetings")
    macs = sig.clues.join(wifi.rename({"a": "d"}), on="d").select("case_id", device_id="mac", meetings="meetings")
    ents = pl.concat([ads, macs]).join(linked.select("case_id", "device_id"), on=["case_id", "device_id"], how="anti")
    ents = ents.group_by("case_id", "device_id").agg(pl.col("meetings").max())
    ents = ents.sort(["case_id", "meetings", "device_id"], descending=[False, True, False])
    ents = ents.with_columns(rank=pl.int_range(1, pl.len() + 1).over("case_id")).filter(pl.col("rank") <= max_entities)
    return ents.select("case_id", "rank", entity=pl.concat_list("device_id"), score=pl.col("meetings").cast(pl.Float64))
