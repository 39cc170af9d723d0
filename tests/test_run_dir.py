"""The run directory: one run at a time (a lock), cached stages reused only if their outputs
still verify against the checksums in their markers, files written with the user's umask, and
scenario.toml always describing the scorecard beside it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import tomllib
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import small_scenario

from trailbench.io import atomic_path, write_parquet
from trailbench.pipeline import check_systems, make_world, run_all, system_key
from trailbench.rundir import (
    LOCK_NAME,
    RunDirBusy,
    check_stage,
    file_sha256,
    lock_run_dir,
    mark_stage,
    marker_path,
    read_marker,
)
from trailbench.scenario import Scenario, ScenarioError, parse_scenario
from trailbench.stages import stage_hash
from trailbench.world import TABLES

SC = small_scenario(name="rundir", docket={"cases": 100}, audit={"bootstrap": 50}, systems={"run": ["exact"]})


def changed(sc: Scenario, **over: Any) -> Scenario:
    return parse_scenario({**sc.model_dump(mode="json"), **over})


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("rundir") / "base"
    run_all(SC, run)
    return run


@pytest.fixture
def run(base: Path, tmp_path: Path) -> Path:
    """A copy of the module's run, free to damage."""
    dst = tmp_path / "run"
    shutil.copytree(base, dst, symlinks=True)
    return dst


def rerun(run: Path, sc: Scenario = SC) -> tuple[dict[str, Any], list[str]]:
    notes: list[str] = []
    card = run_all(sc, run, note=notes.append)
    return card, notes


def busy_message(run: Path, pid: int) -> str:
    return (
        f"run directory {run} is in use by another trailbench run (pid {pid}); "
        "wait for it to finish or choose another --out"
    )


# -- checksummed stages -----------------------------------------------------------------


def test_a_rerun_reuses_every_stage_and_markers_hold_checksums(run: Path, base: Path) -> None:
    _, notes = rerun(run)
    assert notes == [
        "world: cached",
        "trails: cached",
        "signals: cached",
        "plates: cached",
        "docket: cached",
        "system exact: cached",
        "audit: cached",
        "report: rendering",
    ]
    m = read_marker(run, "world")
    assert m is not None and m["format"] == 2 and m["hash"] == stage_hash(SC, "world")
    assert set(m["files"]) == {f"world/{t}.parquet" for t in TABLES}
    signals = read_marker(run, "signals")
    assert signals is not None
    world_files = {f"world/{p.name}" for p in (run / "world").glob("*.parquet")}
    assert world_files == set(m["files"]) | {f for f in signals["files"] if f.startswith("world/")}
    parts = {str(p.relative_to(run)) for p in (run / "trails" / "pings").glob("part-*.parquet")}
    assert parts and parts <= set(signals["files"])
    for rel, rec in m["files"].items():
        assert rec == {"sha256": file_sha256(run / rel), "size": (run / rel).stat().st_size}
    system, audit = read_marker(run, "system-exact"), read_marker(run, "audit")
    assert system is not None and audit is not None
    assert {"answers/exact/status.json", "answers/exact/log.txt", "answers/exact/locate.parquet"} <= set(
        system["files"]
    )
    assert {"scorecard.json", "scenario.toml", "outcomes/locate.parquet"} <= set(audit["files"])


@pytest.mark.parametrize(
    ("rel", "label"),
    [
        ("world/people.parquet", "world"),
        ("trails/records.parquet", "trails"),
        ("trails/pings/part-00000.parquet", "signals"),
        ("world/stays.parquet", "signals"),
        ("docket/cases.parquet", "docket"),
        ("answers/exact/locate.parquet", "system exact"),
    ],
)
def test_a_truncated_output_is_rebuilt_byte_identically(run: Path, base: Path, rel: str, label: str) -> None:
    path = run / rel
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _, notes = rerun(run)
    assert f"{label}: cached outputs failed verification ({rel}); rebuilding" in notes
    assert "audit: cached" in notes  # deterministic: what depends on the stage stays valid
    assert path.read_bytes() == (base / rel).read_bytes()
    assert (run / "scorecard.json").read_bytes() == (base / "scorecard.json").read_bytes()
    stage = label.replace(" ", "-")
    key = system_key(SC, "exact", *check_systems(SC)["exact"]) if stage.startswith("system-") else None
    assert check_stage(run, stage, key or stage_hash(SC, stage)).ok


def test_valid_but_altered_truth_is_detected(run: Path, base: Path) -> None:
    path = run / "truth" / "cases.parquet"
    truth = pl.read_parquet(path)
    write_parquet(truth.head(truth.height - 7), path)  # a valid Parquet file, seven cases short
    _, notes = rerun(run)
    assert "docket: cached outputs failed verification (truth/cases.parquet); rebuilding" in notes
    assert path.read_bytes() == (base / "truth" / "cases.parquet").read_bytes()
    assert json.loads((run / "scorecard.json").read_text()) == json.loads((base / "scorecard.json").read_text())


def test_a_forged_scorecard_is_detected_and_the_audit_redone(run: Path, base: Path) -> None:
    path = run / "scorecard.json"
    text = path.read_text()
    assert '"value":0.' in text
    path.write_text(text.replace('"value":0.', '"value":1.', 1))  # same size: only the checksum can tell
    assert path.stat().st_size == (base / "scorecard.json").stat().st_size
    _, notes = rerun(run)
    assert "audit: cached outputs failed verification (scorecard.json); rebuilding" in notes
    assert path.read_bytes() == (base / "scorecard.json").read_bytes()


def test_answers_that_changed_mean_a_new_audit(run: Path, base: Path) -> None:
    """A system run again that answers differently (external systems need not be deterministic)."""
    path = run / "answers" / "exact" / "locate.parquet"
    answers = pl.read_parquet(path)
    write_parquet(answers.head(answers.height // 2), path)
    files = sorted(p for p in (run / "answers" / "exact").iterdir())
    key = system_key(SC, "exact", *check_systems(SC)["exact"])
    mark_stage(run, "system-exact", key, files)  # as if the system had answered this
    card, notes = rerun(run)
    assert "system exact: cached" in notes
    assert "audit: its inputs changed since it was built; rebuilding" in notes
    assert card != json.loads((base / "scorecard.json").read_text())


@pytest.mark.parametrize(("stage", "label"), [("world", "world"), ("system-exact", "system exact"), ("audit", "audit")])
@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe\x00", b""])
def test_a_corrupt_marker_means_rebuild(run: Path, base: Path, stage: str, label: str, content: bytes) -> None:
    marker_path(run, stage).write_bytes(content)
    _, notes = rerun(run)
    assert f"{label}: stage marker unreadable; rebuilding" in notes
    assert (run / "scorecard.json").read_bytes() == (base / "scorecard.json").read_bytes()
    assert read_marker(run, stage) is not None


def test_a_marker_without_checksums_means_rebuild(run: Path) -> None:
    marker_path(run, "docket").write_text(json.dumps({"stage": "docket", "hash": stage_hash(SC, "docket")}))
    _, notes = rerun(run)
    assert "docket: stage marker has no checksums; rebuilding" in notes


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_an_output_replaced_by_a_symlink_or_fifo_is_rebuilt(run: Path, base: Path, kind: str) -> None:
    rel = "world/people.parquet" if kind == "symlink" else "answers/exact/log.txt"
    path = run / rel
    if kind == "symlink":
        twin = run / "twin.parquet"
        shutil.copyfile(path, twin)  # the same bytes, but not a regular file in the run
        path.unlink()
        path.symlink_to(twin)
    else:
        path.unlink()
        os.mkfifo(path)  # reading it would block: it must never be opened
    _, notes = rerun(run)
    assert any(n.endswith(f"cached outputs failed verification ({rel}); rebuilding") for n in notes)
    assert stat.S_ISREG(path.lstat().st_mode)
    if kind == "symlink":
        assert path.read_bytes() == (base / rel).read_bytes()


# -- the lock -----------------------------------------------------------------------------


def test_a_second_run_into_a_locked_directory_refuses_at_once(run: Path) -> None:
    with lock_run_dir(run):
        assert (run / LOCK_NAME).read_text().strip() == str(os.getpid())
        with pytest.raises(RunDirBusy) as err:
            run_all(SC, run)
        assert str(err.value) == busy_message(run, os.getpid())
        assert isinstance(err.value, ScenarioError)  # the CLI prints these in one line, exit code 2
        with pytest.raises(RunDirBusy):
            make_world(SC, run)
    _, notes = rerun(run)  # released on leaving the block
    assert "audit: cached" in notes


def test_a_run_in_progress_holds_the_lock(run: Path) -> None:
    in_world, go_on = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def note(msg: str) -> None:
        if msg.startswith("world"):
            in_world.set()
            go_on.wait(30)

    def first() -> None:
        try:
            run_all(SC, run, note=note)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=first)
    t.start()
    try:
        assert in_world.wait(30)
        with pytest.raises(RunDirBusy, match="is in use by another trailbench run"):
            run_all(SC, run)
    finally:
        go_on.set()
        t.join(60)
    assert not errors
    rerun(run)


def test_the_lock_is_released_when_a_run_fails(run: Path) -> None:
    def boom(msg: str) -> None:
        if msg.startswith("trails"):
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        run_all(SC, run, note=boom)
    with lock_run_dir(run):
        pass


def test_a_killed_lock_holder_frees_the_directory(run: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from trailbench.rundir import lock_run_dir
        with lock_run_dir(Path({str(run)!r})):
            print("locked", flush=True)
            time.sleep(120)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirBusy) as err:
            run_all(SC, run)
        assert str(err.value) == busy_message(run, proc.pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    _, notes = rerun(run)
    assert notes[0] == "world: cached" and "audit: cached" in notes


# -- scenario.toml and the scorecard --------------------------------------------------------


def _seeds(run: Path) -> tuple[int, int | None]:
    toml = tomllib.loads((run / "scenario.toml").read_text())["seed"]
    card = run / "scorecard.json"
    return toml, (json.loads(card.read_text())["seed"] if card.exists() else None)


def test_another_seed_into_the_same_directory_leaves_a_matching_scenario(run: Path) -> None:
    other = changed(SC, seed=SC.seed + 1)
    card, notes = rerun(run, other)
    assert "world: generating" in notes and card["seed"] == other.seed
    assert _seeds(run) == (other.seed, other.seed)

    third = changed(SC, seed=SC.seed + 2)

    def stop(msg: str) -> None:
        if msg.startswith("trails"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # interrupted after scenario.toml was written
        run_all(third, run, note=stop)
    assert _seeds(run) == (third.seed, None)  # the previous scenario's results are gone with it
    assert not (run / "report.html").exists()
    card, _ = rerun(run, third)
    assert _seeds(run) == (third.seed, third.seed)


def test_a_renamed_scenario_gets_a_new_scorecard(run: Path) -> None:
    """The name is in no stage hash, but the scorecard carries it."""
    card, notes = rerun(run, changed(SC, name="renamed"))
    assert "world: cached" in notes and "audit: scoring answers" in notes
    assert card["scenario_name"] == "renamed"


def test_make_world_fresh_keeps_the_lock_file(run: Path) -> None:
    make_world(SC, run, fresh=True)
    assert (run / LOCK_NAME).exists() and not (run / "scorecard.json").exists()
    assert not (run / "answers").exists()


# -- atomic writes and file modes -----------------------------------------------------------


def test_an_interrupted_write_leaves_nothing_under_the_final_name(tmp_path: Path) -> None:
    target = tmp_path / "d" / "out.parquet"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half a file")
        raise RuntimeError
    assert list((tmp_path / "d").iterdir()) == []
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half a file")
        raise RuntimeError
    assert target.read_bytes() == b"old" and list((tmp_path / "d").iterdir()) == [target]


def test_temporaries_of_a_killed_writer_are_swept(run: Path) -> None:
    stale = run / "trails" / ".records.parquet.x1y2z3.tmp"
    stale.write_bytes(b"partial")
    rerun(run)
    assert not stale.exists()


def _modes(run: Path) -> dict[str, int]:
    out = {}
    for d, dirs, files in os.walk(run):
        for n in dirs + files:
            p = Path(d) / n
            out[p.relative_to(run).as_posix()] = stat.S_IMODE(p.lstat().st_mode)
    return out


def test_a_fresh_run_is_written_with_the_umask(tmp_path: Path) -> None:
    run = tmp_path / "shared"
    code = textwrap.dedent(
        f"""
        import os
        os.umask(0o022)
        from pathlib import Path
        from trailbench.pipeline import run_all
        from trailbench.scenario import parse_scenario
        run_all(parse_scenario({SC.model_dump(mode="json")!r}), Path({str(run)!r}))
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    modes = _modes(run)
    assert {"report.html", "scorecard.json", "scenario.toml", ".lock", "world/people.parquet"} <= set(modes)
    dirs = {k for k in modes if (run / k).is_dir()}
    assert {k: v for k, v in modes.items() if k not in dirs and v != 0o644} == {}
    assert {k: v for k, v in modes.items() if k in dirs and v != 0o755} == {}
    assert stat.S_IMODE(run.stat().st_mode) == 0o755


@pytest.mark.parametrize("umask", [0o077, 0o002, 0o027])
def test_files_follow_any_umask(tmp_path: Path, umask: int) -> None:
    code = textwrap.dedent(
        f"""
        import os
        os.umask({umask})
        from pathlib import Path
        import polars as pl
        from trailbench.io import write_json, write_parquet
        write_json({{"a": 1}}, Path({str(tmp_path)!r}) / "new" / "a.json")
        write_parquet(pl.DataFrame({{"x": [1]}}), Path({str(tmp_path)!r}) / "new" / "a.parquet")
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o777 & ~umask
    for name in ("a.json", "a.parquet"):
        assert stat.S_IMODE((tmp_path / "new" / name).stat().st_mode) == 0o666 & ~umask
