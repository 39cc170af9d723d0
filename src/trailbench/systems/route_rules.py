"""``route_rules``: travel-pattern flags and hotlist alerts from plate reads, by rules.

A reconstruction from public reporting on Border Patrol's Conveyance Monitoring and Predictive
Recognition System, which flags drivers "by origin, destination and route" (FACTS, AP Nov 2025):
not any agency's or vendor's rule set. It reads only ``trails/plate_reads/``,
``trails/cameras.parquet`` and ``trails/hotlist.parquet`` and answers the two plate tasks.

**flag** (plate, state, score). Reads are grouped by plate as read (``match_state``: and state).
A plate is flagged when any rule fires:

- ``round_trips`` or more one-day round trips to the port zone: days with two or more passes
  along the corridor (a pass: the corridor reads within ``pass_gap_min`` of each other);
- with ``odd_round_trip``, one such round trip with a corridor read at ``odd_hours``;
- a repeated route at odd hours: one camera read it at ``odd_hours`` on ``odd_route_days`` or
  more distinct days.

The state answered is the one the plate was read in most often. score = round trips + odd-hour
round trips + odd-hour route days / ``odd_route_days``.

**hotlist** (read_id): every read whose plate and state as read match a hotlist entry exactly
and whose confidence is at least ``hotlist_min_confidence``, as a deployed reader's alert fires.

Parameters: :class:`trailbench.scenario.schema.RouteRulesConfig` (``config.json``:
``{"route_rules": {...}}``), each with its source.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from trailbench.scenario.schema import RouteRulesConfig
from trailbench.systems.protocol import read_config, write_answer
from trailbench.systems.route_reads import answer_state, features, read_reads

TASKS = ("flag", "hotlist")


def flags(reads: pl.DataFrame, cfg: RouteRulesConfig) -> pl.DataFrame:
    """plate, state, score of every plate a rule fires for."""
    f = features(reads, cfg.pass_gap_min, cfg.odd_hours)
    fired = (
        (pl.col("round_trips") >= cfg.round_trips)
        | ((pl.col("odd_round_trips") >= 1) & pl.lit(cfg.odd_round_trip))
        | (pl.col("odd_route_days") >= cfg.odd_route_days)
    )
    score = pl.col("round_trips") + pl.col("odd_round_trips") + pl.col("odd_route_days") / cfg.odd_route_days
    return (
        f.filter(fired)
        .select("key", score=score.cast(pl.Float64))
        .join(answer_state(reads), on="key")
        .select("plate", "state", "score")
        .unique(["plate", "state"], keep="first")
        .sort("plate", "state")
    )


def hotlist_alerts(workdir: Path, reads: pl.DataFrame, min_confidence: float) -> pl.DataFrame:
    """read_id of every read matching a hotlist entry exactly (plate and state)."""
    hot = pl.read_parquet(workdir / "trails" / "hotlist.parquet", columns=["plate", "state"]).with_columns(
        pl.col(pl.Categorical).cast(pl.String)
    )
    return (
        reads.filter(pl.col("confidence") >= min_confidence)
        .join(hot.unique(), left_on=["plate_as_read", "state_as_read"], right_on=["plate", "state"], how="semi")
        .select("read_id")
        .sort("read_id")
    )


class RouteRulesSystem:
    name = "route_rules"

    def run(self, workdir: Path) -> None:
        config = read_config(workdir)
        wanted = [t for t in TASKS if t in config.get("tasks", TASKS)]
        if not wanted:
            return
        cfg = RouteRulesConfig.model_validate(config.get("route_rules", {}))
        reads = read_reads(workdir, cfg.match_state)
        if "flag" in wanted:
            write_answer(workdir, self.name, "flag", flags(reads, cfg))
        if "hotlist" in wanted:
            write_answer(workdir, self.name, "hotlist", hotlist_alerts(workdir, reads, cfg.hotlist_min_confidence))
