"""Python API: ``trailbench.run(...)`` for notebooks and scripts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from trailbench.pipeline import Progress, default_run_dir, run_all
from trailbench.scenario import Scenario, load_scenario, parse_scenario


@dataclass(frozen=True)
class Results:
    """A finished audit: the run directory, its scorecard, and its tables as DataFrames."""

    run_dir: Path
    scorecard: dict[str, Any]

    @property
    def metrics(self) -> pl.DataFrame:
        """One row per (system, metric, slice, level) with value and interval."""
        return pl.DataFrame(self.scorecard["metrics"], infer_schema_length=None)

    @property
    def disparities(self) -> pl.DataFrame:
        return pl.DataFrame(self.scorecard["disparities"], infer_schema_length=None)

    def outcomes(self, name: str = "locate") -> pl.DataFrame:
        """``locate``, ``associates``, ``cases``, ``locate_chains``, ``locate_residents``, ``associates_cases``."""
        return pl.read_parquet(self.run_dir / "outcomes" / f"{name}.parquet")

    def overall(self, metric: str = "wrong_door_rate") -> pl.DataFrame:
        return self.metrics.filter((pl.col("metric") == metric) & (pl.col("slice") == "overall"))

    @classmethod
    def open(cls, run_dir: str | Path) -> Results:
        run = Path(run_dir)
        return cls(run, json.loads((run / "scorecard.json").read_text()))


def with_overrides(sc: Scenario, seed: int | None = None, systems: list[str] | None = None) -> Scenario:
    data = sc.model_dump(mode="json")
    if seed is not None:
        data["seed"] = seed
    if systems is not None:
        data["systems"]["run"] = list(systems)
    return parse_scenario(data)


def run(
    scenario: str | Path | Scenario = "county-10k",
    out: str | Path | None = None,
    seed: int | None = None,
    systems: list[str] | None = None,
    note: Progress = lambda s: None,
    sandbox: bool = True,
) -> Results:
    """Run the whole audit (reusing cached stages) and return its results.

    ``sandbox=False`` runs every system without isolation (where bubblewrap cannot be used and
    command systems or plug-ins must run anyway); the scorecard and the report say so."""
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    sc = with_overrides(sc, seed, systems)
    run_dir = Path(out) if out is not None else default_run_dir(sc)
    card = run_all(sc, run_dir, note=note, use_sandbox=sandbox)
    return Results(run_dir, card)
