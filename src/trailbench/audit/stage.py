"""The audit stage: score every system's answers, then build the scorecard."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from trailbench.audit.cases import case_table, subject_attributes
from trailbench.audit.scorecard import build_scorecard
from trailbench.io import write_parquet, write_table_json
from trailbench.rng import stream
from trailbench.scenario import Scenario
from trailbench.tasks import registry
from trailbench.tasks.declare import ScoreContext
from trailbench.trails import Trails
from trailbench.world import World


def _answers(run: Path, system: str, task: str) -> pl.DataFrame | None:
    path = run / "answers" / system / f"{task}.parquet"
    return pl.read_parquet(path) if path.exists() else None


@dataclass
class SystemScore:
    """One system's answers to every task, scored."""

    cases: pl.DataFrame
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    drawn: pl.DataFrame | None = None
    error_types: list[dict[str, Any]] = field(default_factory=list)
    explained: list[dict[str, Any]] = field(default_factory=list)
    curves: list[dict[str, Any]] = field(default_factory=list)


def score_system(
    system: str,
    run: Path,
    sc: Scenario,
    world: World,
    trails: Trails,
    docket_truth: pl.DataFrame,
    subjects: pl.DataFrame,
) -> SystemScore:
    """Every registered task's scorer over this system's answers (a task it did not answer is
    scored as no answer); the per-case counts joined into one case table."""
    counts = []
    out = SystemScore(pl.DataFrame())
    drawn = []
    for task in registry.tasks():
        ctx = ScoreContext(system, sc, world, trails, docket_truth, stream(sc.seed, "audit", "explain", system))
        scored = task.score(ctx, _answers(run, system, task.name))
        counts.append(scored.counts)
        for name, df in scored.tables.items():
            out.tables[name] = df if "system" in df.columns else df.with_columns(pl.lit(system).alias("system"))
        if scored.drawn is not None:
            drawn.append(scored.drawn)
        out.error_types += scored.error_types
        out.explained += scored.explained
        out.curves += scored.curves
    out.cases = case_table(subjects, counts)
    out.drawn = pl.concat(drawn).unique(maintain_order=True) if len(drawn) > 1 else (drawn[0] if drawn else None)
    return out


def audit(
    run: Path,
    sc: Scenario,
    world: World,
    trails: Trails,
    docket_truth: pl.DataFrame,
    statuses: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    subjects = subject_attributes(world, docket_truth)
    # systems are scored independently (threads: Polars releases the GIL); merged in scenario order
    with ThreadPoolExecutor(max_workers=min(4, max(1, len(sc.systems.run)))) as pool:
        scored = list(
            pool.map(lambda s: score_system(s, run, sc, world, trails, docket_truth, subjects), sc.systems.run)
        )
    names = [n for n in registry.outcome_tables() if n != "cases"]
    for name in names:
        parts = [r.tables[name] for r in scored if name in r.tables]
        if parts:
            df = pl.concat(parts, how="diagonal_relaxed")
            write_parquet(
                df.select("system", *[c for c in df.columns if c != "system"]), run / "outcomes" / f"{name}.parquet"
            )
    cases_by_system = dict(zip(sc.systems.run, (r.cases for r in scored), strict=True))
    exposure = {s: r.drawn for s, r in zip(sc.systems.run, scored, strict=True) if r.drawn is not None}
    error_types = [e for r in scored for e in r.error_types]
    explained = [e for r in scored for e in r.explained]
    curves = [c for r in scored for c in r.curves]
    cases = pl.concat([t.with_columns(system=pl.lit(s)) for s, t in cases_by_system.items()])
    write_parquet(cases, run / "outcomes" / "cases.parquet")
    card = build_scorecard(sc, cases_by_system, statuses, world.people, exposure, error_types, explained, curves)
    write_table_json(card, run / "scorecard.json")
    return card
