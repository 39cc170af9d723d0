"""The Python API, for notebooks and scripts.

>>> import trailbench
>>> res = trailbench.run("county-10k", overrides={"names.structure": "flat"})   # doctest: +SKIP
>>> res.metric("wrong_door_rate").by_group                                        # doctest: +SKIP
>>> trailbench.load("runs/demo").compare(res)                                     # doctest: +SKIP

Every table is a Polars DataFrame with a fixed column order (``.to_pandas()`` for pandas).
Names of metrics and outcome tables are checked: a wrong one raises :class:`UnknownName`
listing the nearest declared names.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from trailbench.pipeline import Progress, default_run_dir, run_all
from trailbench.report.compare import comparison
from trailbench.scenario import Scenario, load_scenario
from trailbench.tasks import registry
from trailbench.tasks.registry import UnknownName, suggest

METRIC_SCHEMA = {
    "system": pl.String,
    "metric": pl.String,
    "task": pl.String,
    "slice": pl.String,
    "level": pl.String,
    "value": pl.Float64,
    "lo": pl.Float64,
    "hi": pl.Float64,
    "denominator": pl.Float64,
    "cases": pl.Int64,
    "estimable": pl.Boolean,  # False: too few cases in the slice to estimate (audit.min_group_cases)
}
DISPARITY_SCHEMA = {
    "system": pl.String,
    "metric": pl.String,
    "slice": pl.String,
    "level": pl.String,
    "reference": pl.String,
    "ratio": pl.Float64,
    "lo": pl.Float64,
    "hi": pl.Float64,
    "p": pl.Float64,  # two-sided, log scale, bootstrap standard error
    "p_holm": pl.Float64,  # Holm-adjusted over every disparity of the system
    "detected": pl.Boolean,  # p_holm below 1 - confidence: the only gaps the summary names
}


def _frame(rows: list[dict[str, Any]], schema: Mapping[str, Any]) -> pl.DataFrame:
    return pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=dict(schema), orient="row")


@dataclass(frozen=True)
class MetricResult:
    """One metric of one run: its values overall, by group and by stratum, and its disparities."""

    name: str
    definition: str
    rows: pl.DataFrame
    disparities: pl.DataFrame

    def __repr__(self) -> str:
        return f"MetricResult({self.name!r}: {self.definition}; {self.rows.height} rows)"

    @property
    def overall(self) -> pl.DataFrame:
        """One row per system."""
        return self.rows.filter(pl.col("slice") == "overall")

    @property
    def by_group(self) -> pl.DataFrame:
        """By the subject's group (for harm metrics, by the bystander's own group)."""
        return self.rows.filter(pl.col("slice").is_in(["group", "bystander_group"]))

    @property
    def by_stratum(self) -> pl.DataFrame:
        return self.rows.filter(~pl.col("slice").is_in(["overall", "group", "bystander_group"]))

    def ratio(self) -> pl.DataFrame:
        """Each group's rate over the reference group's, with its interval (the reference's own
        rows, always 1, left out)."""
        return self.disparities.filter(pl.col("level") != pl.col("reference"))


@dataclass(frozen=True, repr=False)
class Results:
    """A finished audit: its run directory, scorecard, and tables as DataFrames."""

    run_dir: Path
    scorecard: dict[str, Any]

    def __repr__(self) -> str:
        c = self.scorecard
        states = ", ".join(f"{s} {c['systems'][s]['state']}" for s in c["scenario"]["systems"]["run"])
        return (
            f"<trailbench Results: {c['scenario_name']}, seed {c['seed']}, {c.get('worlds', 1)} world(s), "
            f"{c['docket']['cases']:,} cases; "
            f"systems: {states}; run {self.run_dir}; report {self.report_path}>"
        )

    def _systems(self) -> list[tuple[str, dict[str, Any]]]:
        """Systems in the scenario's order (scorecard.json stores them sorted by name)."""
        return [(s, self.scorecard["systems"][s]) for s in self.scorecard["scenario"]["systems"]["run"]]

    @property
    def report_path(self) -> Path:
        return self.run_dir / "report.html"

    @property
    def metrics(self) -> pl.DataFrame:
        """One row per (system, metric, slice, level): value, interval, denominator, cases."""
        return _frame(self.scorecard["metrics"], METRIC_SCHEMA)

    @property
    def worlds(self) -> pl.DataFrame:
        """Each replicate world's seed (world 0 has the scenario's)."""
        seeds = self.scorecard.get("world_seeds", [self.scorecard["seed"]])
        return pl.DataFrame(
            {"world": list(range(len(seeds))), "seed": seeds}, schema={"world": pl.Int32, "seed": pl.Int64}
        )

    @property
    def by_world(self) -> pl.DataFrame:
        """Every metric in each world on its own (point estimates; ``outcomes/world_metrics.parquet``)."""
        return self.outcomes("world_metrics")

    @property
    def disparities(self) -> pl.DataFrame:
        """Every group's ratio to the reference group (the reference's own rows left out)."""
        return _frame(self.scorecard["disparities"], DISPARITY_SCHEMA).filter(pl.col("level") != pl.col("reference"))

    def metric(self, name: str) -> MetricResult:
        """One metric by name (``trailbench.metrics()`` lists them)."""
        defs = self.scorecard["definitions"]
        if name not in defs:
            raise suggest("metric", name, list(defs))
        return MetricResult(
            name,
            defs[name],
            self.metrics.filter(pl.col("metric") == name),
            _frame(self.scorecard["disparities"], DISPARITY_SCHEMA).filter(pl.col("metric") == name),
        )

    def overall(self, metric: str = "wrong_door_rate") -> pl.DataFrame:
        """Shorthand for ``metric(name).overall``."""
        return self.metric(metric).overall

    def outcomes(self, name: str) -> pl.DataFrame:
        """A per-case outcome table (``outcomes/<name>.parquet``); the names are the declared ones."""
        known = list(registry.outcome_tables())
        path = self.run_dir / "outcomes" / f"{name}.parquet"
        if name not in known:
            raise suggest("outcome table", name, known)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no system answered the task that writes it")
        return pl.read_parquet(path)

    @property
    def exposure(self) -> pl.DataFrame:
        """Distinct people outside the docket drawn into any case file, per system."""
        schema = {"system": pl.String, "people": pl.Int64, "share": pl.Float64, "lo": pl.Float64, "hi": pl.Float64}
        return _frame(self.scorecard["exposure"], schema)

    @property
    def error_types(self) -> pl.DataFrame:
        schema = {"system": pl.String, "cause": pl.String, "count": pl.Int64, "share": pl.Float64}
        return _frame(self.scorecard["error_types"], schema)

    @property
    def explained_cases(self) -> list[dict[str, Any]]:
        """The explained cases, each with its chain of records (nested, so kept as dicts)."""
        return list(self.scorecard["explained_cases"])

    @property
    def status(self) -> pl.DataFrame:
        """Each system's state, the reason for anything but ok, and its isolation."""
        rows = [
            {
                "system": s,
                "state": st["state"],
                "reason": st["reason"],
                "isolation": st.get("isolation", {}).get("kind"),
            }
            for s, st in self._systems()
        ]
        schema = {"system": pl.String, "state": pl.String, "reason": pl.String, "isolation": pl.String}
        return _frame(rows, schema)

    @property
    def provenance(self) -> pl.DataFrame:
        """Where each system came from: reference, plug-in (distribution and version) or command line."""
        cols = ("kind", "distribution", "version", "entry_point", "command")
        rows = [{"system": s, **{k: st.get("provenance", {}).get(k) for k in cols}} for s, st in self._systems()]
        return _frame(rows, {"system": pl.String, **dict.fromkeys(cols, pl.String)})

    def compare(self, other: Results) -> pl.DataFrame:
        """This run (A) against ``other`` (B): every metric overall and the headline disparities,
        side by side, B − A, and whether the intervals overlap."""
        rows = comparison(self.scorecard, other.scorecard)
        cols = ("system", "metric", "level", "a", "a_ci", "b", "b_ci", "diff", "overlap")
        return _frame(rows, dict.fromkeys(cols, pl.String))

    @classmethod
    def open(cls, run_dir: str | Path) -> Results:
        return load(run_dir)


def load(run_dir: str | Path) -> Results:
    """Reopen a finished run from its directory."""
    run = Path(run_dir)
    path = run / "scorecard.json"
    if not path.exists():
        raise FileNotFoundError(f"{run}: no scorecard.json; run `trailbench run` into this directory first")
    return Results(run, json.loads(path.read_text()))


def _printer(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(
    scenario: str | Path | Scenario = "county-10k",
    *,
    out: str | Path | None = None,
    seed: int | None = None,
    systems: list[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    progress: bool | Callable[[str], None] = True,
    sandbox: bool = True,
) -> Results:
    """Run the whole audit (reusing cached stages) and return its results.

    ``scenario`` is a preset name, a TOML file or a :class:`Scenario`; ``overrides`` sets dotted
    keys (``{"names.structure": "flat", "world.people": 20000}``), validated like a TOML file.
    ``progress`` prints each stage as it starts (or pass a callable to receive the notes).
    ``sandbox=False`` runs every system without isolation (the scorecard and report say so)."""
    over = dict(overrides or {})
    if seed is not None:
        over["seed"] = seed
    if systems is not None:
        over["systems.run"] = list(systems)
    sc = load_scenario(scenario, overrides=over)
    run_dir = Path(out) if out is not None else default_run_dir(sc)
    note: Progress = progress if callable(progress) else (_printer if progress else (lambda s: None))
    card = run_all(sc, run_dir, note=note, use_sandbox=sandbox)
    return Results(run_dir, card)


def metrics() -> pl.DataFrame:
    """Every declared metric."""
    rows = [
        {
            "metric": m.name,
            "task": m.task,
            "numerator": m.numerator,
            "denominator": m.denominator,
            "scale": m.scale,
            "unit": m.unit,
            "higher_is_better": m.higher_is_better,
            "headline": m.headline,
            "version": m.version,
            "definition": m.definition,
        }
        for m in registry.metrics().values()
    ]
    schema = {
        "metric": pl.String,
        "task": pl.String,
        "numerator": pl.String,
        "denominator": pl.String,
        "scale": pl.Float64,
        "unit": pl.String,
        "higher_is_better": pl.Boolean,
        "headline": pl.Boolean,
        "version": pl.Int64,
        "definition": pl.String,
    }
    return _frame(rows, schema)


def tasks() -> pl.DataFrame:
    """Every declared task."""
    rows = [
        {
            "task": t.name,
            "version": t.version,
            "answer_columns": ", ".join(t.answer_schema),
            "metrics": len(t.metrics),
            "strata": ", ".join(t.strata),
            "description": t.description,
        }
        for t in registry.tasks()
    ]
    schema = {
        "task": pl.String,
        "version": pl.Int64,
        "answer_columns": pl.String,
        "metrics": pl.Int64,
        "strata": pl.String,
        "description": pl.String,
    }
    return _frame(rows, schema)


__all__ = ["MetricResult", "Results", "UnknownName", "load", "metrics", "run", "tasks"]
