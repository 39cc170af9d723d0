"""The audit stage: score every system's answers, then build the scorecard."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from trailbench import realism
from trailbench.audit.cases import case_table, subject_attributes
from trailbench.audit.scorecard import WORLD, build_scorecard, world_figures, world_spread
from trailbench.audit.units import UNITS, unit_table
from trailbench.io import write_parquet, write_table_json
from trailbench.rng import stream
from trailbench.scenario import Scenario
from trailbench.systems.runner import NOT_ANSWERED
from trailbench.tasks import registry
from trailbench.tasks.declare import ScoreContext
from trailbench.tasks.plate_truth import PlateWorld, plate_world
from trailbench.trails import Trails
from trailbench.world import World
from trailbench.world.signal_world import SignalWorld, signal_world


def _answers(run: Path, system: str, task: str) -> pl.DataFrame | None:
    path = run / "answers" / system / f"{task}.parquet"
    return pl.read_parquet(path) if path.exists() else None


@dataclass
class SystemScore:
    """One system's answers to every task in one world, scored."""

    cases: pl.DataFrame
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    drawn: pl.DataFrame | None = None
    error_types: list[dict[str, Any]] = field(default_factory=list)
    explained: list[dict[str, Any]] = field(default_factory=list)
    units: dict[str, pl.DataFrame] = field(default_factory=dict)  # unit name -> one row per unit


def unit_columns() -> dict[str, list[str]]:
    """Every unit some registered task counts over, and the count columns of all those tasks."""
    out: dict[str, list[str]] = {}
    for t in registry.tasks():
        for unit, cols in t.unit_counts.items():
            out.setdefault(unit, [])
            out[unit] += [c for c in cols if c not in out[unit]]
    return out


def unit_attributes(
    plates: PlateWorld | None, world: World, sc: Scenario, signals: SignalWorld | None
) -> dict[str, pl.DataFrame]:
    """Each unit's attributes (group, strata) in one world, computed once for every system."""
    if plates is None:
        return {}
    return {u: UNITS[u].attributes(plates, world, sc, plates.window.start) for u in unit_columns()}


@dataclass
class WorldRun:
    """One replicate world as the audit reads it: where it lives, its scenario (the run's, with the
    world's seed), its systems' statuses, and how to load what the scorers read."""

    index: int
    dir: Path
    scenario: Scenario
    statuses: dict[str, dict[str, Any]]
    load: Callable[[], tuple[World, Trails, pl.DataFrame]]  # world, trails, the docket's truth


def score_system(
    system: str,
    run: Path,
    sc: Scenario,
    world: World,
    trails: Trails,
    docket_truth: pl.DataFrame,
    subjects: pl.DataFrame,
    signals: SignalWorld | None = None,
    plates: PlateWorld | None = None,
    units: dict[str, pl.DataFrame] | None = None,
) -> SystemScore:
    """Every registered task's scorer over this system's answers (a task it did not answer is
    scored as no answer); the per-case counts joined into one case table, the per-unit counts
    onto each unit's attributes (``units``)."""
    counts = []
    out = SystemScore(pl.DataFrame())
    drawn = []
    per_unit: dict[str, list[pl.DataFrame]] = {}
    for task in registry.tasks():
        ctx = ScoreContext(
            system,
            sc,
            world,
            trails,
            docket_truth,
            stream(sc.seed, "audit", "explain", system, task.name),
            signals,
            plates,
        )
        scored = task.score(ctx, _answers(run, system, task.name))
        counts.append(scored.counts)
        for unit, df in scored.units.items():
            per_unit.setdefault(unit, []).append(df)
        for name, df in scored.tables.items():
            out.tables[name] = df if "system" in df.columns else df.with_columns(pl.lit(system).alias("system"))
        if scored.drawn is not None:
            drawn.append(scored.drawn)
        out.error_types += scored.error_types
        out.explained += scored.explained
    out.cases = case_table(subjects, counts)
    cols = unit_columns()
    out.units = {u: unit_table(attrs, UNITS[u], per_unit.get(u, []), cols[u]) for u, attrs in (units or {}).items()}
    out.drawn = pl.concat(drawn).unique(maintain_order=True) if len(drawn) > 1 else (drawn[0] if drawn else None)
    return out


def _in_world(df: pl.DataFrame, k: int) -> pl.DataFrame:
    return df.with_columns(pl.lit(k, dtype=pl.Int32).alias(WORLD))


def score_world(
    wr: WorldRun, systems: tuple[str, ...]
) -> tuple[list[SystemScore], pl.DataFrame, list[tuple[float, float]]]:
    """Every system's answers in one world, scored (each table with a ``world`` column); the
    world's population by group; and its realism measurements."""
    world, trails, truth = wr.load()
    signals = signal_world(wr.dir, wr.scenario)
    plates = plate_world(wr.dir, wr.scenario)
    subjects = subject_attributes(world, truth, signals)
    units = unit_attributes(plates, world, wr.scenario, signals)
    # systems are scored independently (threads: Polars releases the GIL); kept in scenario order
    with ThreadPoolExecutor(max_workers=min(4, max(1, len(systems)))) as pool:
        scored = list(
            pool.map(
                lambda s: score_system(s, wr.dir, wr.scenario, world, trails, truth, subjects, signals, plates, units),
                systems,
            )
        )
    for r in scored:
        r.cases = _in_world(r.cases, wr.index)
        r.units = {u: _in_world(df, wr.index) for u, df in r.units.items()}
        r.tables = {name: _in_world(df, wr.index) for name, df in r.tables.items()}
        r.drawn = None if r.drawn is None else _in_world(r.drawn, wr.index)
        for row in r.explained:
            row[WORLD] = wr.index
    return scored, world.people.group_by("group").len(), realism.measurements(world)


def pooled_error_types(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each system's wrong answers to each task by cause, counted over every world."""
    count: Counter[tuple[str, str, str]] = Counter()
    wrong: Counter[tuple[str, str]] = Counter()
    for r in rows:
        task = r.get("task", "locate")
        count[(r["system"], task, r["cause"])] += int(r["count"])
        wrong[(r["system"], task)] += int(r["count"])
    return [
        {"system": system, "task": task, "cause": cause, "count": k, "share": round(k / wrong[(system, task)], 6)}
        for (system, task, cause), k in count.items()
    ]


def answered_tasks(worlds: list[WorldRun]) -> dict[str, tuple[str, ...]]:
    """The tasks each system takes part in: those it wrote an answer file for in some world. A
    system that did not finish in some world takes part in every task (what it left undone is
    scored as no answer); one that finished without writing a task's file does not take part in
    it; one that wrote no answer file at all takes part in every task, scored as no answer (so
    abstaining from everything is never a way out of the scorecard)."""
    out = {}
    for name in worlds[0].statuses:
        done = set()
        for wr in worlds:
            st = wr.statuses[name]
            finished = st.get("state") in ("ok", "partial")
            per_task = st.get("tasks", {})
            for t in registry.tasks():
                if not finished or per_task.get(t.name, {}).get("state", "ok") != NOT_ANSWERED:
                    done.add(t.name)
        out[name] = tuple(t.name for t in registry.tasks() if t.name in done or not done)
    return out


def audit(run: Path, sc: Scenario, worlds: list[WorldRun]) -> dict[str, Any]:
    """Score every world's answers, pool them, and write the outcomes and the scorecard."""
    systems = sc.systems.run
    per_world = []
    people = []
    measured = []
    for wr in worlds:  # one world in memory at a time
        scored, by_group, realism_values = score_world(wr, systems)
        per_world.append(scored)
        people.append(by_group)
        measured.append(realism_values)
    population = pl.concat(people).group_by("group").agg(pl.col("len").sum()).sort("group")
    names = [n for n in registry.outcome_tables() if n not in registry.AUDIT_TABLES]
    for name in names:
        parts = [r.tables[name] for scored in per_world for r in scored if name in r.tables]
        if parts:
            df = pl.concat(parts, how="diagonal_relaxed")
            first = ["system", WORLD]
            write_parquet(
                df.select(*first, *[c for c in df.columns if c not in first]), run / "outcomes" / f"{name}.parquet"
            )
    pooled: dict[str, SystemScore] = {}
    for i, s in enumerate(systems):
        mine = [scored[i] for scored in per_world]
        drawn = [r.drawn for r in mine if r.drawn is not None]
        tables = {
            name: pl.concat([r.tables[name] for r in mine if name in r.tables], how="diagonal_relaxed")
            for name in names
            if any(name in r.tables for r in mine)
        }
        pooled[s] = SystemScore(
            pl.concat([r.cases for r in mine]),
            tables,
            pl.concat(drawn) if drawn else None,
            pooled_error_types([e for r in mine for e in r.error_types]),
            [e for r in mine for e in r.explained],
            {u: pl.concat([r.units[u] for r in mine]) for u in mine[0].units},
        )
    curves = [
        c for s, p in pooled.items() for t in registry.tasks() if t.curves for c in t.curves(s, p.cases, p.tables)
    ]
    cases = pl.concat([p.cases.with_columns(system=pl.lit(s)) for s, p in pooled.items()])
    front = ("system", WORLD)
    write_parquet(
        cases.select(*front, *[c for c in cases.columns if c not in front]), run / "outcomes" / "cases.parquet"
    )
    for u in pooled[systems[0]].units:
        t = pl.concat([p.units[u].with_columns(system=pl.lit(s)) for s, p in pooled.items()])
        write_parquet(t.select(*front, *[c for c in t.columns if c not in front]), run / "outcomes" / f"{u}.parquet")
    cases_by_system = {s: p.cases for s, p in pooled.items()}
    units_by_system = {s: p.units for s, p in pooled.items()}
    answered = answered_tasks(worlds)
    world_metrics, world_disparities = world_figures(sc, cases_by_system, people, answered, units_by_system)
    write_parquet(world_metrics, run / "outcomes" / "world_metrics.parquet")
    write_parquet(world_disparities, run / "outcomes" / "world_disparities.parquet")
    card = build_scorecard(
        sc,
        cases_by_system,
        merged_statuses(worlds),
        population,
        {s: p.drawn for s, p in pooled.items() if p.drawn is not None},
        [e for p in pooled.values() for e in p.error_types],
        explained_sample(sc, [e for p in pooled.values() for e in p.explained]),
        curves,
        [wr.scenario.seed for wr in worlds],
        world_spread(world_metrics),
        realism.realism_rows(measured),
        answered,
        units_by_system,
    )
    write_table_json(card, run / "scorecard.json")
    return card


def explained_sample(sc: Scenario, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most ``audit.explained_cases`` per system, task and cause, taken from the worlds in order."""
    kept: dict[tuple[str, str, str], int] = {}
    out = []
    for r in rows:
        key = (r["system"], r.get("task", "locate"), r["cause"])
        if kept.get(key, 0) < sc.audit.explained_cases:
            kept[key] = kept.get(key, 0) + 1
            out.append(r)
    return out


def merged_statuses(worlds: list[WorldRun]) -> dict[str, dict[str, Any]]:
    """One status per system over the worlds: world 0's, with the first world where it did not
    finish ok (its state and reason, naming the world), and every world's state when there are
    several."""
    out = {}
    for name, first in worlds[0].statuses.items():
        st = dict(first)
        for wr in worlds:
            own = wr.statuses[name]
            if own["state"] != "ok":
                where = f"world {wr.index}: " if len(worlds) > 1 else ""
                st |= {"state": own["state"], "reason": where + str(own.get("reason", ""))}
                break
        if len(worlds) > 1:
            st["worlds"] = [{"world": wr.index, "state": wr.statuses[name]["state"]} for wr in worlds]
        out[name] = st
    return out
