"""Stages and the run directory (DESIGN §2): each stage writes atomically and is cached by hash."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from trailbench.audit.stage import audit
from trailbench.docket import Docket, build_docket
from trailbench.io import write_json, write_parquet, write_text
from trailbench.report.html import render_report
from trailbench.scenario import Scenario, ScenarioError
from trailbench.systems.registry import python_systems
from trailbench.systems.runner import clean_orphan_sandboxes, run_system
from trailbench.trails import Trails, build_trails, error_counts
from trailbench.world import TABLES, World, build_world

Progress = Callable[[str], None]


def default_run_dir(sc: Scenario, root: Path = Path("runs")) -> Path:
    return root / f"{sc.name}-{sc.hash8}"


def _marker(run: Path, stage: str) -> Path:
    return run / ".stages" / f"{stage}.json"


def stage_done(run: Path, sc: Scenario, stage: str) -> bool:
    m = _marker(run, stage)
    if not m.exists():
        return False
    return bool(json.loads(m.read_text()).get("hash") == sc.stage_hash(stage))


def _mark(run: Path, sc: Scenario, stage: str, extra: dict[str, Any] | None = None) -> None:
    write_json({"stage": stage, "hash": sc.stage_hash(stage), **(extra or {})}, _marker(run, stage))


def _prepare(run: Path, sc: Scenario) -> None:
    run.mkdir(parents=True, exist_ok=True)
    write_text(sc.to_toml(), run / "scenario.toml")


def world_stage(run: Path, sc: Scenario, note: Progress = lambda s: None) -> World:
    if stage_done(run, sc, "world"):
        note("world: cached")
        return load_world(run)
    note("world: generating")
    _marker(run, "world").unlink(missing_ok=True)
    w = build_world(sc)
    for name, df in w.tables().items():
        write_parquet(df, run / "world" / f"{name}.parquet")
    _mark(run, sc, "world")
    return w


def load_world(run: Path) -> World:
    return World(**{name: pl.read_parquet(run / "world" / f"{name}.parquet") for name in TABLES})


def trails_stage(run: Path, sc: Scenario, world: World, workers: int = 1, note: Progress = lambda s: None) -> Trails:
    if stage_done(run, sc, "trails"):
        note("trails: cached")
        return load_trails(run)
    note("trails: emitting records")
    _marker(run, "trails").unlink(missing_ok=True)
    t = build_trails(world, sc, workers=workers)
    write_parquet(t.records, run / "trails" / "records.parquet")
    write_parquet(t.record_links, run / "trails" / "record_links.parquet")
    write_parquet(t.address_register, run / "trails" / "address_register.parquet")
    write_parquet(t.truth_records, run / "truth" / "records.parquet")
    _mark(run, sc, "trails")
    return t


def load_trails(run: Path) -> Trails:
    return Trails(
        records=pl.read_parquet(run / "trails" / "records.parquet"),
        record_links=pl.read_parquet(run / "trails" / "record_links.parquet"),
        address_register=pl.read_parquet(run / "trails" / "address_register.parquet"),
        truth_records=pl.read_parquet(run / "truth" / "records.parquet"),
    )


def docket_stage(run: Path, sc: Scenario, world: World, trails: Trails, note: Progress = lambda s: None) -> Docket:
    if stage_done(run, sc, "docket"):
        note("docket: cached")
        return Docket(
            pl.read_parquet(run / "docket" / "cases.parquet"), pl.read_parquet(run / "truth" / "cases.parquet")
        )
    note("docket: sampling cases")
    _marker(run, "docket").unlink(missing_ok=True)
    d = build_docket(sc, world, trails)
    write_parquet(d.cases, run / "docket" / "cases.parquet")
    write_parquet(d.truth, run / "truth" / "cases.parquet")
    _mark(run, sc, "docket")
    return d


def systems_stage(run: Path, sc: Scenario, note: Progress = lambda s: None) -> dict[str, dict[str, Any]]:
    """Run each system not already answered for this configuration; return every status."""
    clean_orphan_sandboxes()
    statuses = {}
    for name in sc.systems.run:
        stage = f"system-{name}"
        marker = _marker(run, stage)
        if marker.exists() and json.loads(marker.read_text()).get("hash") == sc.stage_hash("systems"):
            note(f"system {name}: cached")
            statuses[name] = json.loads((run / "answers" / name / "status.json").read_text())
            continue
        note(f"system {name}: running")
        marker.unlink(missing_ok=True)
        statuses[name] = run_system(name, run, sc)
        write_json({"stage": stage, "hash": sc.stage_hash("systems")}, marker)
    return statuses


def audit_stage(
    run: Path,
    sc: Scenario,
    world: World,
    trails: Trails,
    docket: Docket,
    statuses: dict[str, dict[str, Any]],
    note: Progress = lambda s: None,
) -> dict[str, Any]:
    if stage_done(run, sc, "audit") and (run / "scorecard.json").exists():
        note("audit: cached")
        return dict(json.loads((run / "scorecard.json").read_text()))
    note("audit: scoring answers")
    _marker(run, "audit").unlink(missing_ok=True)
    card = audit(run, sc, world, trails, docket.truth, statuses)
    _mark(run, sc, "audit")
    return card


def check_systems(sc: Scenario) -> None:
    """Every system named in ``systems.run`` is a registered Python system or has a command line."""
    known = set(python_systems()) | set(sc.systems.commands)
    unknown = [n for n in sc.systems.run if n not in known]
    if unknown:
        raise ScenarioError(
            f"systems.run: unknown system(s) {', '.join(unknown)}; registered: {', '.join(sorted(python_systems()))}; "
            "or give a command line under [systems.commands]"
        )
    if len(set(sc.systems.run)) != len(sc.systems.run):
        raise ScenarioError("systems.run: a system is listed twice; list each once")


def default_workers() -> int:
    """Threads for emitting sources: results are the same for any number (tested)."""
    return max(1, min(4, os.cpu_count() or 1))


def run_all(sc: Scenario, run: Path, workers: int | None = None, note: Progress = lambda s: None) -> dict[str, Any]:
    """World -> trails -> docket -> systems -> outcomes -> scorecard, reusing cached stages."""
    check_systems(sc)
    _prepare(run, sc)
    w = world_stage(run, sc, note)
    t = trails_stage(run, sc, w, workers or default_workers(), note)
    d = docket_stage(run, sc, w, t, note)
    statuses = systems_stage(run, sc, note)
    card = audit_stage(run, sc, w, t, d, statuses, note)
    note("report: rendering")
    render_report(run)
    return card


def world_summary(world: World, trails: Trails) -> dict[str, Any]:
    by_source = trails.records.group_by("source").len().sort("source")
    return {
        "people": world.people.height,
        "households": world.households.height,
        "units": world.units.height,
        "records": trails.records.height,
        "records_by_source": dict(zip(by_source["source"].to_list(), by_source["len"].to_list(), strict=True)),
        "record_links": trails.record_links.height,
        "errors_by_kind": error_counts(trails.truth_records),
    }


def make_world(
    sc: Scenario, run: Path, workers: int = 1, note: Progress = lambda s: None, fresh: bool = False
) -> dict[str, Any]:
    """World and trails into ``run``; returns the summary (also written to ``run``)."""
    if fresh and run.exists():
        shutil.rmtree(run)
    _prepare(run, sc)
    w = world_stage(run, sc, note)
    t = trails_stage(run, sc, w, workers, note)
    summary = world_summary(w, t)
    write_json(summary, run / "world_summary.json")
    return summary
