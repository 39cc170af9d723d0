"""Running systems under test in isolation.

Each system runs in its own child process, in a fresh working directory outside the run
directory that holds copies of ``trails/`` and ``docket/`` only, with a wall-time limit and an
address-space limit. A crash, a hang, malformed answers or answers citing unknown records are
recorded in ``answers/<system>/status.json`` with the reason; the run goes on with the other
systems, and nothing already written is touched.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

from trailbench.io import write_json, write_parquet, write_text
from trailbench.scenario import Scenario
from trailbench.systems.protocol import TASKS, AnswerError, validate

PUBLIC = ("trails", "docket")
LOG_TAIL = 4000


SANDBOX_PREFIX = "trailbench-"
OWNER = ".trailbench-owner"


def clean_orphan_sandboxes() -> int:
    """Remove working directories left by runs that were killed (their owner process is gone)."""
    removed = 0
    for box in Path(tempfile.gettempdir()).glob(f"{SANDBOX_PREFIX}*"):
        try:
            pid = int((box / OWNER).read_text())
        except (OSError, ValueError):
            continue
        if not Path(f"/proc/{pid}").exists():
            shutil.rmtree(box, ignore_errors=True)
            removed += 1
    return removed


def _sandbox(run: Path, name: str, sc: Scenario) -> Path:
    box = Path(tempfile.mkdtemp(prefix=f"{SANDBOX_PREFIX}{name}-"))
    (box / OWNER).write_text(str(os.getpid()))
    for part in PUBLIC:
        shutil.copytree(run / part, box / part)
    (box / "answers" / name).mkdir(parents=True)
    cfg = {"system": name, "tasks": list(TASKS), "splink": sc.systems.splink.model_dump()}
    (box / "config.json").write_text(json.dumps(cfg, sort_keys=True))
    return box


def command(name: str, sc: Scenario) -> list[str]:
    if name in sc.systems.commands:
        return shlex.split(sc.systems.commands[name])
    return [sys.executable, "-m", "trailbench.systems.child", name]


PR_SET_PDEATHSIG = 1


def _limits(memory_mb: int) -> Any:
    """Runs in the child before it starts the system: the memory limit, and (on Linux) death
    with its parent, so a killed run leaves no system running on its own."""

    def apply() -> None:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        if sys.platform.startswith("linux"):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    return apply


def run_system(name: str, run: Path, sc: Scenario) -> dict[str, Any]:
    """Run one system; copy its valid answers into ``run/answers/<name>/``; return its status."""
    out = run / "answers" / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    box = _sandbox(run, name, sc)
    status: dict[str, Any] = {"system": name, "state": "ok", "reason": "", "tasks": {}}
    t0 = time.perf_counter()
    log = box / "log.txt"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(box), "PYTHONHASHSEED": "0", "LANG": "C.UTF-8"}
    try:
        with log.open("wb") as fh:
            proc = subprocess.Popen(
                [*command(name, sc), str(box)],
                cwd=box,
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_limits(sc.systems.memory_mb),
            )
            started = time.perf_counter()
            try:
                code = proc.wait(timeout=sc.systems.timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                code = None
            status["compute_s"] = round(time.perf_counter() - started, 2)
        text = log.read_text(errors="replace")
        if code is None:
            status.update(state="timeout", reason=f"no answer within {sc.systems.timeout_s:g} s; killed")
        elif code != 0:
            tail = text.strip().splitlines()[-1:] or ["(no output)"]
            status.update(state="crashed", reason=f"exit code {code}: {tail[0][:300]}")
        status["tasks"] = _collect(name, box, run, out)
        if status["state"] == "ok" and any(t["state"] != "ok" for t in status["tasks"].values()):
            status["state"] = "partial"
            status["reason"] = "; ".join(
                f"{k}: {v['reason']}" for k, v in status["tasks"].items() if v["state"] != "ok"
            )
        write_text(text[-LOG_TAIL * 10 :], out / "log.txt")
    except OSError as err:
        status.update(state="failed-to-start", reason=str(err))
    finally:
        shutil.rmtree(box, ignore_errors=True)
    status["wall_s"] = round(time.perf_counter() - t0, 2)
    write_json(status, out / "status.json")
    return status


def _collect(name: str, box: Path, run: Path, out: Path) -> dict[str, dict[str, Any]]:
    record_ids = pl.read_parquet(run / "trails" / "records.parquet", columns=["record_id"])["record_id"]
    case_ids = pl.read_parquet(run / "docket" / "cases.parquet", columns=["case_id"])["case_id"]
    tasks: dict[str, dict[str, Any]] = {}
    for task in TASKS:
        path = box / "answers" / name / f"{task}.parquet"
        if not path.exists():
            tasks[task] = {"state": "missing", "reason": f"no answers/{name}/{task}.parquet written", "rows": 0}
            continue
        try:
            df = pl.read_parquet(path)
        except Exception as err:  # any unreadable file is the system's fault, not ours
            tasks[task] = {"state": "malformed", "reason": f"unreadable Parquet: {str(err)[:200]}", "rows": 0}
            continue
        try:
            valid = validate(task, df, record_ids, case_ids)
        except AnswerError as err:
            tasks[task] = {"state": "invalid", "reason": str(err), "rows": df.height}
            continue
        write_parquet(valid, out / f"{task}.parquet")
        tasks[task] = {"state": "ok", "reason": "", "rows": valid.height}
    return tasks
