"""The hostile-systems suite: each system below tries one way to cheat or to take the run down,
and each is contained, with every other system's results byte-identical to a run without it.

These tests need bubblewrap. Where it cannot be used they skip, except in CI (``CI`` set),
where ``.ci/run`` installs it and a skip would hide a broken sandbox, so they fail instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from conftest import small_scenario

from trailbench.pipeline import run_all
from trailbench.scenario import ScenarioError, parse_scenario
from trailbench.systems import sandbox
from trailbench.systems.runner import SystemRefused, clean_orphan_sandboxes

HOSTILE = Path(__file__).parent / "hostile_systems"
BW = sandbox.bubblewrap()
if not BW.usable:
    if os.environ.get("CI"):
        raise RuntimeError(f"CI must run the sandbox tests: {BW.problem}")
    pytest.skip(f"sandbox unavailable: {BW.problem}", allow_module_level=True)

CANARY = "tb-canary-3f9a"
MEMORY_MB = 1536
HOG_MB = 600  # each child is under the limit; three together are not


def digest(
    run: Path, parts: tuple[str, ...] = ("world", "trails", "truth", "docket", "answers/exact")
) -> dict[str, str]:
    out = {}
    for part in parts:
        for f in sorted((run / part).rglob("*")):
            if f.is_file() and f.name != "status.json":
                out[str(f.relative_to(run))] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def scenario(extra: dict[str, str], run: list[str]) -> object:
    return small_scenario(
        docket={"cases": 60},
        audit={"bootstrap": 100},
        systems={
            "run": run,
            "commands": extra,
            "timeout_s": 60,
            "memory_mb": MEMORY_MB,
            "max_output_mb": 64,
        },
    )


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    run = tmp_path_factory.mktemp("clean") / "run"
    card = run_all(scenario({}, ["exact"]), run)  # type: ignore[arg-type]
    return run, card


@pytest.fixture(scope="module")
def listener() -> socket.socket:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    srv.setblocking(False)
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def hostile(
    clean: tuple[Path, dict], listener: socket.socket, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict, str, int]:
    run = tmp_path_factory.mktemp("hostile") / "run"
    shutil.copytree(clean[0], run)  # world, trails and docket from cache: only systems differ
    token = f"tbtoken{os.getpid()}"
    py = sys.executable
    cmds = {n: f"{py} {HOSTILE / (n + '.py')}" for n in ("reads_truth", "writes_run", "fifo", "flood", "expand")}
    cmds |= {
        "detached": f"{py} {HOSTILE / 'detached.py'} {token}",
        "memory_hog": f"{py} {HOSTILE / 'memory_hog.py'} {HOG_MB}",
        "big_file": f"{py} {HOSTILE / 'big_file.py'}",
        "network": f"{py} {HOSTILE / 'network.py'} {listener.getsockname()[1]}",
    }
    order = ["reads_truth", "exact", *sorted(set(cmds) - {"reads_truth"})]
    os.environ["TB_CANARY"] = CANARY
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        card = run_all(scenario(cmds, order), run)  # type: ignore[arg-type]
    finally:
        del os.environ["TB_CANARY"]
    grew_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    return run, card, token, grew_kb


def log(run: Path, name: str) -> str:
    return (run / "answers" / name / "log.txt").read_text()


def test_every_system_is_isolated(hostile: tuple[Path, dict, str, int]) -> None:
    _, card, _, _ = hostile
    for name, st in card["systems"].items():
        assert st["isolation"]["kind"] == "bubblewrap", name
        assert set(st["isolation"]["namespaces"]) >= {"user", "mount", "pid", "ipc", "net"}
    assert card["systems"]["exact"]["provenance"]["distribution"] == "trailbench"
    assert card["systems"]["flood"]["provenance"] == {
        "kind": "command",
        "command": f"{sys.executable} {HOSTILE / 'flood.py'}",
    }


def test_others_are_byte_identical(clean: tuple[Path, dict], hostile: tuple[Path, dict, str, int]) -> None:
    run, card, _, _ = hostile
    assert digest(run) == digest(clean[0])
    exact = [m for m in card["metrics"] if m["system"] == "exact"]
    assert exact == [m for m in clean[1]["metrics"] if m["system"] == "exact"]


def test_cannot_read_the_truth_or_the_environment(hostile: tuple[Path, dict, str, int]) -> None:
    text = log(hostile[0], "reads_truth")
    assert "SEARCH DONE 0" in text, text[-2000:]
    assert "FOUND" not in text


def test_cannot_write_into_the_run(hostile: tuple[Path, dict, str, int]) -> None:
    text = log(hostile[0], "writes_run")
    assert "ATTEMPTS DONE" in text
    assert "WROTE" not in text, text[-2000:]


def test_a_detached_grandchild_does_not_outlive_the_run(
    clean: tuple[Path, dict], hostile: tuple[Path, dict, str, int]
) -> None:
    run, card, token, _ = hostile
    assert "DETACHED" in log(run, "detached")
    time.sleep(2.5)  # the grandchild would have written by now
    left = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if token.encode() in (p / "cmdline").read_bytes():
                    left.append(p.name)
            except OSError:
                pass
    assert left == []
    assert not (run / "answers" / "detached" / "late.txt").exists()
    assert digest(run) == digest(clean[0])
    assert json.loads((run / "scorecard.json").read_text()) == card


def test_fifo_and_symlink_answers_are_refused_without_blocking(hostile: tuple[Path, dict, str, int]) -> None:
    st = hostile[1]["systems"]["fifo"]
    assert st["tasks"]["locate"]["state"] == "malformed"
    assert "not a regular file" in st["tasks"]["locate"]["reason"]
    assert "not a regular file" in st["tasks"]["associates"]["reason"]


def test_memory_limit_holds_for_the_whole_tree(hostile: tuple[Path, dict, str, int]) -> None:
    st = hostile[1]["systems"]["memory_hog"]
    assert 3 * HOG_MB > MEMORY_MB > HOG_MB
    assert st["state"] == "out-of-memory", st
    assert "ALL CHILDREN FINISHED" not in log(hostile[0], "memory_hog")


def test_a_console_flood_is_bounded_and_inert(hostile: tuple[Path, dict, str, int]) -> None:
    run, card, _, grew_kb = hostile
    text = log(run, "flood")
    assert len(text.encode()) < 80 * 1024
    assert "earlier bytes of output dropped" in text
    assert "\x1b" not in text and "\x00" not in text and "\x07" not in text
    assert grew_kb < 300 * 1024  # the gigabyte never sat in the harness's memory
    assert card["systems"]["flood"]["state"] == "partial"


def test_an_expanding_answer_is_refused_from_its_footer(hostile: tuple[Path, dict, str, int]) -> None:
    st = hostile[1]["systems"]["expand"]["tasks"]["locate"]
    assert st["state"] == "malformed" and "rows, over the cap" in st["reason"]


def test_output_size_is_capped(hostile: tuple[Path, dict, str, int]) -> None:
    st = hostile[1]["systems"]["big_file"]
    assert st["state"] == "output-too-large", st
    assert "WROTE 1 GB" not in log(hostile[0], "big_file")


def test_no_network_but_its_own_loopback(hostile: tuple[Path, dict, str, int], listener: socket.socket) -> None:
    assert "REFUSED" in log(hostile[0], "network")
    with pytest.raises(BlockingIOError):
        listener.accept()


def test_names_that_are_paths_are_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    for bad in ("../../victim", "../world", "a/b", "[red]x"):
        with pytest.raises(ScenarioError, match="systems"):
            parse_scenario({"systems": {"run": [bad], "commands": {bad: "true"}}})
    assert victim.exists()


def test_a_plugin_cannot_take_a_reference_name(
    clean: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path_factory.mktemp("plugin_site")
    (site / "impostor_pkg.py").write_text(
        textwrap.dedent(
            """
            class Impostor:
                name = "exact"
                def run(self, workdir):
                    raise SystemExit("the impostor ran")
            """
        )
    )
    dist = site / "impostor_pkg-6.6.6.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: impostor-pkg\nVersion: 6.6.6\n")
    (dist / "entry_points.txt").write_text(
        "[trailbench.systems]\nexact = impostor_pkg:Impostor\nimpostor = impostor_pkg:Impostor\n"
    )
    monkeypatch.syspath_prepend(str(site))
    run = tmp_path_factory.mktemp("plugin") / "run"
    shutil.copytree(clean[0], run)
    shutil.rmtree(run / "answers")
    shutil.rmtree(run / ".stages" / "system-exact.json", ignore_errors=True)
    (run / ".stages" / "system-exact.json").unlink(missing_ok=True)
    card = run_all(scenario({}, ["exact", "impostor"]), run)  # type: ignore[arg-type]
    exact = card["systems"]["exact"]
    assert exact["state"] == "ok" and exact["provenance"]["distribution"] == "trailbench"
    assert digest(run) == digest(clean[0])
    imp = card["systems"]["impostor"]
    assert imp["provenance"] == {
        "kind": "plugin",
        "distribution": "impostor-pkg",
        "version": "6.6.6",
        "entry_point": "impostor_pkg:Impostor",
    }
    assert imp["state"] == "crashed" and "the impostor ran" in imp["reason"]
    assert {"name": "exact", "distribution": "impostor-pkg"}.items() <= card["ignored_plugins"][0].items()


def test_without_isolation_untrusted_systems_are_refused_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "bubblewrap", lambda: sandbox.Bubblewrap(None, "", "no bubblewrap on this machine"))
    run = tmp_path / "run"
    sc = scenario({"other": f"{sys.executable} {HOSTILE / 'network.py'} 9"}, ["exact", "other"])
    with pytest.raises(SystemRefused, match=r"systems.commands.other: .*no bubblewrap.*--no-sandbox"):
        run_all(sc, run)  # type: ignore[arg-type]
    assert not (run / "world").exists()


def test_opting_out_is_stated(clean: tuple[Path, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "bubblewrap", lambda: sandbox.Bubblewrap(None, "", "no bubblewrap on this machine"))
    run = tmp_path / "run"
    shutil.copytree(clean[0], run)
    sc = scenario({"other": f"{sys.executable} {HOSTILE / 'network.py'} 9"}, ["exact", "other"])
    card = run_all(sc, run, use_sandbox=False)  # type: ignore[arg-type]
    assert card["systems"]["other"]["isolation"]["kind"] == "none"
    assert card["systems"]["exact"]["isolation"]["kind"] == "none"
    assert "ran without isolation" in (run / "report.html").read_text()


def test_a_killed_run_leaves_no_process_behind(tmp_path: Path) -> None:
    token = f"tbhang{os.getpid()}"
    hang = tmp_path / "hang.py"
    hang.write_text("import sys, time\nprint('HANGING', flush=True)\ntime.sleep(600)\n")
    (tmp_path / "s.toml").write_text(
        textwrap.dedent(
            f"""
            name = "killed"
            [world]
            people = 2000
            towns = 3
            [docket]
            cases = 30
            [systems]
            run = ["{token}"]
            [systems.commands]
            {token} = "{sys.executable} {hang} {token}"
            """
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "trailbench.cli", "run", str(tmp_path / "s.toml"), "--out", str(tmp_path / "run")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def alive() -> list[int]:
        out = []
        for p in Path("/proc").iterdir():
            if p.name.isdigit() and int(p.name) != proc.pid:
                try:
                    if token.encode() in (p / "cmdline").read_bytes():
                        out.append(int(p.name))
                except OSError:
                    pass
        return out

    deadline = time.time() + 120
    while not alive() and time.time() < deadline:
        time.sleep(0.2)
    assert alive(), "the system never started"
    proc.kill()
    proc.wait()
    deadline = time.time() + 5
    while alive() and time.time() < deadline:
        time.sleep(0.1)
    assert alive() == []
    # what the killed run left on disk (its work directory, its control group) is named by its
    # pid and removed by the next run's systems stage
    clean_orphan_sandboxes()
    tag = f"trailbench-{proc.pid}-"
    groups = (
        [d for d in Path("/sys/fs/cgroup").rglob(f"{tag}*") if d.is_dir()] if Path("/sys/fs/cgroup").is_dir() else []
    )
    assert groups == []
    boxes = [b for b in Path(tempfile.gettempdir()).glob("trailbench-*") if (b / ".trailbench-owner").exists()]
    assert all((b / ".trailbench-owner").read_text() != str(proc.pid) for b in boxes)


def test_a_relative_run_directory_works(
    clean: tuple[Path, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(clean[0], tmp_path / "rel")
    (tmp_path / "rel" / ".stages" / "system-exact.json").unlink()
    monkeypatch.chdir(tmp_path)
    card = run_all(scenario({}, ["exact"]), Path("rel"))  # type: ignore[arg-type]
    assert card["systems"]["exact"]["state"] == "ok"
    assert digest(tmp_path / "rel") == digest(clean[0])
