"""``route_anomaly``: travel-pattern flags by anomaly detection over plate reads.

A reconstruction of the "predictive" half of public descriptions of CMPRS (FACTS, AP Nov 2025):
scikit-learn's IsolationForest over per-plate travel features, flagging the plates it isolates
most easily. No agency has published its model; this one is the textbook unsupervised choice.
It reads only ``trails/plate_reads/`` and ``trails/cameras.parquet`` and answers ``flag`` only
(it raises no hotlist alerts).

Features per plate as read (:func:`trailbench.systems.route_reads.features`): reads, days seen,
cameras seen, share of reads at ``odd_hours``, corridor reads, one-day round trips along the
corridor, odd-hour round trips, the most days one camera read it at odd hours, and mean reader
confidence; plates read fewer than ``min_reads`` times are left out. The forest is fitted on every
remaining plate with ``contamination`` (the share flagged) and a fixed ``random_state``.

**flag** (plate, state, score): the plates the forest calls outliers; state: the one read most
often; score: the negated ``score_samples`` (higher: more anomalous).

Parameters: :class:`trailbench.scenario.schema.RouteAnomalyConfig` (``config.json``:
``{"route_anomaly": {...}}``), each with its source.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from trailbench.scenario.schema import RouteAnomalyConfig
from trailbench.systems.protocol import read_config, write_answer
from trailbench.systems.route_reads import answer_state, features, read_reads

FEATURES = (
    "reads",
    "days",
    "cameras",
    "odd_share",
    "corridor_reads",
    "round_trips",
    "odd_round_trips",
    "odd_route_days",
    "confidence",
)
PASS_GAP_MIN = 20.0  # corridor reads further apart are separate passes (as route_rules' default)


def anomaly_flags(reads: pl.DataFrame, cfg: RouteAnomalyConfig) -> pl.DataFrame:
    """plate, state, score of every plate the forest isolates as an outlier."""
    from sklearn.ensemble import IsolationForest

    f = features(reads, PASS_GAP_MIN, cfg.odd_hours).filter(pl.col("reads") >= cfg.min_reads)
    empty = pl.DataFrame(schema={"plate": pl.String, "state": pl.String, "score": pl.Float64})
    if f.height < 2:
        return empty
    x = f.select(FEATURES).to_numpy().astype(np.float64)
    forest = IsolationForest(
        n_estimators=cfg.n_estimators, contamination=cfg.contamination, random_state=cfg.random_state
    ).fit(x)
    out = f.select("key").with_columns(
        outlier=pl.Series(forest.predict(x) == -1), score=pl.Series(-forest.score_samples(x))
    )
    return (
        out.filter(pl.col("outlier"))
        .join(answer_state(reads), on="key")
        .select("plate", "state", "score")
        .unique(["plate", "state"], keep="first")
        .sort("plate", "state")
    )


class RouteAnomalySystem:
    name = "route_anomaly"

    def run(self, workdir: Path) -> None:
        config = read_config(workdir)
        if "flag" not in config.get("tasks", ("flag",)):
            return
        cfg = RouteAnomalyConfig.model_validate(config.get("route_anomaly", {}))
        write_answer(workdir, self.name, "flag", anomaly_flags(read_reads(workdir, False), cfg))
