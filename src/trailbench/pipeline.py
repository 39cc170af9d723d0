"""Stages and the run directory (DESIGN §2): each stage writes atomically and is cached by hash.

A run holds the run directory's lock throughout (:mod:`trailbench.rundir`). Each stage's
marker records its configuration hash and the sha256 and size of every file it wrote; a stage
is reused only if all of them still verify, and is otherwise built again (generation is
deterministic, so what was built downstream of it stays valid).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from trailbench import __version__
from trailbench.audit.scorecard import TIMINGS
from trailbench.audit.stage import WorldRun, audit
from trailbench.docket import Docket, build_docket
from trailbench.file_sizes import run_file_sizes
from trailbench.io import write_json, write_parquet, write_text
from trailbench.report.html import render_report
from trailbench.resources import check_resources
from trailbench.rng import stream
from trailbench.rundir import (
    check_stage,
    clear_run_dir,
    digest,
    lock_run_dir,
    mark_stage,
    recorded_files,
    unmark_stage,
)
from trailbench.scenario import Scenario
from trailbench.stages import (
    PLATE_FOLDERS,
    PLATE_OUTPUTS,
    SIGNAL_FOLDERS,
    SIGNAL_OUTPUTS,
    SIGNAL_WORLD,
    STAGES,
    stage_hash,
)
from trailbench.systems.registry import Resolved
from trailbench.systems.runner import clean_orphan_sandboxes, own_settings, plan, run_system
from trailbench.trails import StoredTrails, Trails, error_counts, write_trails
from trailbench.trails.plate_reads import build_plates
from trailbench.trails.signals import write_signals
from trailbench.world import TABLES, World, build_world, period
from trailbench.world.activity import Activity, build_activity
from trailbench.world.background import write_background
from trailbench.world.devices import build_devices
from trailbench.world.places import build_places
from trailbench.world.signal_world import signal_world
from trailbench.world.window import default_window
from trailbench.worlds import world_dir, world_scenario

Progress = Callable[[str], None]

WORLD_FILES = STAGES["world"].outputs
TRAILS_FILES = STAGES["trails"].outputs
DOCKET_FILES = STAGES["docket"].outputs
# files that describe the whole run; they go when the run directory is given another scenario
RESULTS = ("scorecard.json", "report.html")


def default_run_dir(sc: Scenario, root: Path = Path("runs")) -> Path:
    return root / f"{sc.name}-{sc.hash8}"


def _reuse(run: Path, stage: str, config_hash: str, label: str, building: str, note: Progress, **kw: Any) -> bool:
    """Check ``stage``; note whether it is reused or why it is built again (one note either way)."""
    chk = check_stage(run, stage, config_hash, **kw)
    if chk.ok:
        note(f"{label}: cached")
        return True
    note(f"{label}: {chk.reason}; rebuilding" if chk.reason else f"{label}: {building}")
    unmark_stage(run, stage)
    return False


def _prepare(run: Path, sc: Scenario) -> None:
    """Write ``scenario.toml`` (the lock is held). If it changes, the results of the previous
    scenario go first, so the directory never shows one scenario beside another's scorecard."""
    toml = sc.to_toml()
    path = run / "scenario.toml"
    try:
        old = path.read_text()
    except (OSError, UnicodeDecodeError):
        old = None
    if old != toml:
        unmark_stage(run, "audit")
        for name in RESULTS:
            (run / name).unlink(missing_ok=True)
    write_text(toml, path)


def world_stage(run: Path, sc: Scenario, note: Progress = lambda s: None) -> World:
    if _reuse(run, "world", stage_hash(sc, "world"), "world", "generating", note):
        return load_world(run)
    w = build_world(sc)
    for name, df in w.tables().items():
        write_parquet(df, run / "world" / f"{name}.parquet")
    mark_stage(run, "world", stage_hash(sc, "world"), [run / f for f in WORLD_FILES])
    return w


def load_world(run: Path) -> World:
    return World(**{name: pl.read_parquet(run / "world" / f"{name}.parquet") for name in TABLES})


BACKGROUND = "background"  # the run's background people: <run>/background/part-NNNNN.parquet


def background_hash(sc: Scenario) -> str:
    """What the background people depend on: the run's seed, ``[background]``, the names and the
    world's period (phones are drawn again per world, see :mod:`trailbench.trails.background`)."""
    text = f"{BACKGROUND}|{__version__}|{sc.canonical('seed', 'background', 'names', 'world')}"
    return hashlib.sha256(text.encode()).hexdigest()


def background_stage(run: Path, sc: Scenario, workers: int = 1, note: Progress = lambda s: None) -> Path | None:
    """The run's background people (None when ``[background] people`` is 0), generated once for
    every replicate world; cached like a stage."""
    if sc.background.people == 0:
        return None
    where = run / BACKGROUND
    label = f"background ({sc.background.people:,} people)"
    if _reuse(run, BACKGROUND, background_hash(sc), label, "generating", note):
        return where
    write_background(sc.background, sc.seed, where, workers, sc.world, sc.names)
    mark_stage(run, BACKGROUND, background_hash(sc), sorted(where.glob("part-*.parquet")))
    return where


def trails_stage(
    run: Path,
    sc: Scenario,
    world: World,
    workers: int = 1,
    note: Progress = lambda s: None,
    background: Path | None = None,
) -> Trails:
    """The records, their links, the address register and their truth, written as they are made
    (:func:`~trailbench.trails.write_trails`). The trails handed on read each table from its file
    when it is used (:class:`~trailbench.trails.StoredTrails`), whether built now or reused."""
    files = trails_files(run)
    if not _reuse(run, "trails", stage_hash(sc, "trails"), "trails", "emitting records", note):
        write_trails(world, sc, files, workers=workers, background=background)
        mark_stage(run, "trails", stage_hash(sc, "trails"), [run / f for f in TRAILS_FILES])
    return StoredTrails(files)


def trails_files(run: Path) -> dict[str, Path]:
    """Where each table of the trails is kept (by its field of :class:`Trails`)."""
    return {
        "records": run / "trails" / "records.parquet",
        "record_links": run / "trails" / "record_links.parquet",
        "address_register": run / "trails" / "address_register.parquet",
        "truth_records": run / "truth" / "records.parquet",
        "background": run / "truth" / "background.parquet",
    }


def load_trails(run: Path) -> Trails:
    return Trails(
        records=pl.read_parquet(run / "trails" / "records.parquet"),
        record_links=pl.read_parquet(run / "trails" / "record_links.parquet"),
        address_register=pl.read_parquet(run / "trails" / "address_register.parquet"),
        truth_records=pl.read_parquet(run / "truth" / "records.parquet"),
        background=pl.read_parquet(run / "truth" / "background.parquet"),
    )


def signals_stage(run: Path, sc: Scenario, world: World, workers: int = 1, note: Progress = lambda s: None) -> None:
    """Places, each person's stays over the audit window, devices and their identifiers (world/);
    pings and Wi-Fi sightings (trails/) and their truth (truth/)."""
    if _reuse(run, "signals", stage_hash(sc, "signals"), "signals", "living the audit window", note):
        return
    for side in ("trails", "truth"):  # a rebuild may write fewer parts: none of the old may linger
        for folder in SIGNAL_FOLDERS:
            shutil.rmtree(run / side / folder, ignore_errors=True)
    places = build_places(
        stream(sc.seed, "world", "places"), world.units, world.people.height, world.employers, sc.movement
    )
    window = default_window(period(sc)[1], sc.movement.window_days)
    activity = build_activity(world, places, sc.movement, sc.seed, window)
    devices = build_devices(world.people, sc.devices, sc.seed, window)
    tables = {
        "places": places,
        "stays": activity.stays,
        "schedules": activity.schedules,
        "devices": devices.devices,
        "ad_ids": devices.ad_ids,
        "device_holders": devices.holders,
    }
    for name in SIGNAL_WORLD:
        write_parquet(tables[name], run / "world" / f"{name}.parquet")
    write_signals(
        activity, devices, places, world.people.height, sc.devices, sc.seed, run / "trails", run / "truth", workers
    )
    fixed = [run / f for f in SIGNAL_OUTPUTS if not f.endswith("/*")]
    parts = [p for side in ("trails", "truth") for f in SIGNAL_FOLDERS for p in _files_under(run, run / side / f)]
    mark_stage(run, "signals", stage_hash(sc, "signals"), [*fixed, *parts])


def plates_stage(run: Path, sc: Scenario, world: World, workers: int = 1, note: Progress = lambda s: None) -> None:
    """Vehicles, trips, plate cameras, their reads and the hotlist, from the stays the signals
    stage wrote (trails/ and truth/)."""
    if _reuse(run, "plates", stage_hash(sc, "plates"), "plates", "driving the audit window", note):
        return
    for side in ("trails", "truth"):
        for folder in PLATE_FOLDERS:
            shutil.rmtree(run / side / folder, ignore_errors=True)
    window = default_window(period(sc)[1], sc.movement.window_days)
    activity = Activity(
        pl.read_parquet(run / "world" / "stays.parquet"), pl.read_parquet(run / "world" / "schedules.parquet"), window
    )
    build_plates(world, activity, sc.plates, sc.seed, run / "trails", run / "truth", workers)
    fixed = [run / f for f in PLATE_OUTPUTS if not f.endswith("/*")]
    parts = [p for side in ("trails", "truth") for f in PLATE_FOLDERS for p in _files_under(run, run / side / f)]
    mark_stage(run, "plates", stage_hash(sc, "plates"), [*fixed, *parts])


def docket_stage(run: Path, sc: Scenario, world: World, trails: Trails, note: Progress = lambda s: None) -> Docket:
    if _reuse(run, "docket", stage_hash(sc, "docket"), "docket", "sampling cases", note):
        return Docket(
            pl.read_parquet(run / "docket" / "cases.parquet"), pl.read_parquet(run / "truth" / "cases.parquet")
        )
    d = build_docket(sc, world, trails, signal_world(run, sc))
    write_parquet(d.cases, run / "docket" / "cases.parquet")
    write_parquet(d.truth, run / "truth" / "cases.parquet")
    mark_stage(run, "docket", stage_hash(sc, "docket"), [run / f for f in DOCKET_FILES])
    return d


def _files_under(run: Path, top: Path) -> list[Path]:
    """Every regular file below ``top`` (recursively), sorted."""
    found = [Path(d) / n for d, _, names in os.walk(top) for n in names]
    return sorted(p for p in found if p.is_file() and not p.is_symlink())


Plan = dict[str, tuple[Resolved, dict[str, Any]]]


def system_key(sc: Scenario, name: str, resolved: Resolved, isolation: dict[str, Any]) -> str:
    """What one system's answers depend on, and nothing else: the docket (and so the world and
    trails), what the system is (its provenance), how it was isolated (answers from an unisolated
    run are never reused for an isolated one), its limits and its own settings. Adding a system or
    changing another's settings re-runs no other system."""
    s = sc.systems
    limits = [s.timeout_s, s.memory_mb, s.max_output_mb, s.max_answer_rows]
    own = own_settings(sc, name)
    text = json.dumps(
        [stage_hash(sc, "docket"), name, resolved.provenance, isolation["kind"], limits, own], sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()


def systems_stage(
    run: Path, sc: Scenario, note: Progress = lambda s: None, systems: Plan | None = None
) -> dict[str, dict[str, Any]]:
    """Run each system not already answered for this configuration; return every status."""
    clean_orphan_sandboxes()
    resolved = systems if systems is not None else plan(sc)
    statuses: dict[str, dict[str, Any]] = {}
    todo = []
    for name in sc.systems.run:
        key = system_key(sc, name, *resolved[name])
        if _reuse(run, f"system-{name}", key, f"system {name}", "running", note):
            statuses[name] = json.loads((run / "answers" / name / "status.json").read_text())
        else:
            todo.append((name, key))

    def one(job: tuple[str, str]) -> tuple[str, dict[str, Any]]:
        name, key = job
        st = run_system(name, run, sc, resolved=resolved[name])
        mark_stage(run, f"system-{name}", key, _files_under(run, run / "answers" / name))
        return name, st

    # each system in its own sandbox, limits and answer folder: several may run at once; the
    # statuses are kept in the scenario's order whatever order they finish in
    workers = max(1, min(sc.systems.parallel, len(todo)))
    if workers == 1:
        done = dict(map(one, todo))
    else:
        with ThreadPoolExecutor(workers) as pool:
            done = dict(pool.map(one, todo))
    return {name: statuses[name] if name in statuses else done[name] for name in sc.systems.run}


def _audit_inputs(worlds: list[WorldRun], sc: Scenario) -> str:
    """What the audit read besides the deterministic stages: each system's answers in each world
    (their checksums) and status (less its timings). A system run again with other answers means
    the audit is done again."""
    answers = {
        str(wr.index): {
            name: {
                rel: rec.get("sha256") if isinstance(rec, dict) else None
                for rel, rec in recorded_files(wr.dir, f"system-{name}").items()
                if rel.endswith(".parquet")
            }
            for name in sc.systems.run
        }
        for wr in worlds
    }
    untimed = {
        str(wr.index): {k: {kk: vv for kk, vv in v.items() if kk not in TIMINGS} for k, v in wr.statuses.items()}
        for wr in worlds
    }
    return digest({"answers": answers, "statuses": untimed})


def audit_stage(run: Path, sc: Scenario, worlds: list[WorldRun], note: Progress = lambda s: None) -> dict[str, Any]:
    inputs = _audit_inputs(worlds, sc)
    if _reuse(run, "audit", stage_hash(sc, "audit"), "audit", "scoring answers", note, inputs=inputs):
        return dict(json.loads((run / "scorecard.json").read_text()))
    for old in sorted((run / "outcomes").glob("*.parquet")):  # none of a previous audit's tables may linger
        old.unlink()
    card = audit(run, sc, worlds)
    outputs = [run / "scorecard.json", run / "scenario.toml", *sorted((run / "outcomes").glob("*.parquet"))]
    mark_stage(run, "audit", stage_hash(sc, "audit"), outputs, inputs=inputs)
    return card


def check_systems(sc: Scenario, use_sandbox: bool = True) -> Plan:
    """Every system in ``systems.run`` is registered or has a command line, and can be isolated
    here (or the user opted out); raised before any stage runs."""
    return plan(sc, use_sandbox)


def default_workers() -> int:
    """Threads for emitting sources: results are the same for any number (tested)."""
    return max(1, min(4, os.cpu_count() or 1))


def run_all(
    sc: Scenario,
    run: Path,
    workers: int | None = None,
    note: Progress = lambda s: None,
    use_sandbox: bool = True,
) -> dict[str, Any]:
    """For each replicate world: world -> trails -> docket -> systems; then the outcomes and the
    scorecard pooled over the worlds, and the report; reusing cached stages.

    Raises :class:`trailbench.rundir.RunDirBusy` at once if another run holds ``run``."""
    systems = check_systems(sc, use_sandbox)
    check_resources(sc)
    with lock_run_dir(run):
        _prepare(run, sc)
        bg = background_stage(run, sc, workers or default_workers(), note)
        worlds = [build_replicate(run, sc, k, workers, note, systems, bg) for k in range(sc.audit.worlds)]
        card = audit_stage(run, sc, worlds, note)
        run_file_sizes(sc, run, lambda s, where, say: run_all(s, where, workers, say, use_sandbox), note)
        note("report: rendering")
        render_report(run)
    return card


def build_replicate(
    run: Path,
    sc: Scenario,
    k: int,
    workers: int | None,
    note: Progress,
    systems: Plan | None = None,
    background: Path | None = None,
) -> WorldRun:
    """World ``k`` built, sampled and answered in its own directory (cached stages reused)."""
    sc_k, where = world_scenario(sc, k), world_dir(run, sc, k)
    say = note if sc.audit.worlds == 1 else (lambda msg: note(f"world {k}: {msg}"))
    w = world_stage(where, sc_k, say)
    t = trails_stage(where, sc_k, w, workers or default_workers(), say, background)
    signals_stage(where, sc_k, w, workers or default_workers(), say)
    plates_stage(where, sc_k, w, workers or default_workers(), say)
    d = docket_stage(where, sc_k, w, t, say)
    statuses = systems_stage(where, sc_k, say, systems)
    if sc.audit.worlds == 1:  # one world: what was just built is handed to the audit as is
        built = (w, t, d.truth)
        return WorldRun(k, where, sc_k, statuses, lambda: built)
    # several: none is kept in memory; the audit loads one world at a time
    return WorldRun(k, where, sc_k, statuses, lambda: load_replicate(where))


def load_replicate(where: Path) -> tuple[World, Trails, pl.DataFrame]:
    return load_world(where), load_trails(where), pl.read_parquet(where / "truth" / "cases.parquet")


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
    """Every replicate world and its trails into ``run``; returns world 0's summary with the number
    of worlds (also written to ``run``)."""
    with lock_run_dir(run):
        if fresh:
            clear_run_dir(run)
        _prepare(run, sc)
        bg = background_stage(run, sc, workers, note)
        summary: dict[str, Any] = {}
        for k in range(sc.audit.worlds):
            sc_k, where = world_scenario(sc, k), world_dir(run, sc, k)
            say = note if sc.audit.worlds == 1 else (lambda msg, k=k: note(f"world {k}: {msg}"))
            w = world_stage(where, sc_k, say)
            t = trails_stage(where, sc_k, w, workers, say, bg)
            if k == 0:
                summary = world_summary(w, t) | {"worlds": sc.audit.worlds}
        write_json(summary, run / "world_summary.json")
    return summary
