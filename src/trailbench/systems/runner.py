"""Running systems under test: sandboxed, bounded, and read back only once they are gone.

Each system runs in a sandbox (``sandbox``) whose whole process tree is held by a memory and
process limit (``limits``), for at most ``systems.timeout_s`` seconds, writing at most
``systems.max_output_mb`` megabytes. Its console output is kept as a bounded tail. When its first
process exits, or a limit is hit, every process it started is killed; only then are its answers
read (``collect``), validated and copied into ``answers/<system>/`` of the run, which the audit
reads. A crash, a hang, a limit, malformed answers or answers citing unknown records are recorded
in ``status.json`` with the reason; the run goes on with the other systems.

Where bubblewrap cannot be used, trailbench's own reference systems still run, each in a process
of its own with the same limits and a private copy of ``trails/`` and ``docket/`` (they are
trusted code); command systems and third-party plug-ins are refused before any stage runs, unless
the user opts out of isolation, which the status, the scorecard and the report then state.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel

from trailbench.io import write_json, write_parquet, write_text
from trailbench.scenario import Scenario, ScenarioError
from trailbench.systems import sandbox
from trailbench.systems.collect import OutputRefused, Tail, clean_text, read_answer, tree_bytes
from trailbench.systems.limits import POLL_S, TreeLimit, clean_orphans
from trailbench.systems.protocol import AnswerError, task_names, validate
from trailbench.systems.registry import Resolved, resolve
from trailbench.tasks import registry
from trailbench.tasks.plate_truth import plate_ids_seen
from trailbench.world.signal_world import identifiers_seen

PUBLIC = ("trails", "docket")
SANDBOX_PREFIX = "trailbench-"
OWNER = ".trailbench-owner"
OUTPUT_CHECK_S = 0.25
PR_SET_PDEATHSIG = 1
NO_ISOLATION = "ran without isolation (--no-sandbox)"


class SystemRefused(ScenarioError):
    """A system that cannot be isolated here and was not explicitly allowed to run without."""


def clean_orphan_sandboxes() -> int:
    """Remove working directories and control groups left by runs that were killed."""
    removed = 0
    for box in Path(tempfile.gettempdir()).glob(f"{SANDBOX_PREFIX}*"):
        try:
            pid = int((box / OWNER).read_text())
        except (OSError, ValueError):
            continue
        if not Path(f"/proc/{pid}").exists():
            shutil.rmtree(box, ignore_errors=True)
            removed += 1
    return removed + clean_orphans()


def isolation_for(resolved: Resolved, use_sandbox: bool) -> dict[str, Any]:
    """How this system will be isolated, or :class:`SystemRefused` if it may not run here."""
    bw = sandbox.bubblewrap()
    if use_sandbox and bw.usable:
        return {"kind": "bubblewrap", "version": bw.version, "namespaces": list(sandbox.NAMESPACES)}
    if not use_sandbox:
        return {"kind": "none", "note": NO_ISOLATION}
    if resolved.trusted:
        return {"kind": "process", "note": f"reference system run in a process of its own ({bw.problem})"}
    where = f"systems.commands.{resolved.name}" if resolved.kind == "command" else f"systems.run: {resolved.name}"
    raise SystemRefused(
        f"{where}: a {resolved.kind} system cannot be isolated here: {bw.problem}. Install bubblewrap, or pass "
        "--no-sandbox (sandbox=False in Python) to run every system without isolation, which the scorecard "
        "and the report will state"
    )


def plan(sc: Scenario, use_sandbox: bool = True) -> dict[str, tuple[Resolved, dict[str, Any]]]:
    """Resolve every system of the scenario and its isolation, before any stage runs."""
    out = {}
    for name in sc.systems.run:
        try:
            r = resolve(name, sc.systems.commands, sys.executable)
        except KeyError as err:
            raise ScenarioError(
                f"systems.run: {err.args[0]}; or give a command line under [systems.commands]"
            ) from None
        out[name] = (r, isolation_for(r, use_sandbox))
    return out


# loaded once in the harness: the child of a fork (systems may be started from several threads at
# once) runs only async-signal-tolerant steps before exec, never the dynamic loader
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None

NOT_ANSWERED = "not-answered"  # a task's state when the system wrote no answer file for it


def own_settings(sc: Scenario, name: str) -> dict[str, Any]:
    """The settings a system is given (and its answers' cache key covers): its own section of
    ``[systems]``, if the scenario has one (``[systems.splink]`` for ``splink``)."""
    section = getattr(sc.systems, name, None)
    return {name: section.model_dump(mode="json")} if isinstance(section, BaseModel) else {}


def _preexec(limit: TreeLimit, memory_bytes: int, output_bytes: int) -> Any:
    """Runs in the child before exec: join the tree's limit, cap memory, file size and core
    dumps per process, and die with the harness (so a killed run leaves nothing running)."""

    parent = os.getpid()

    def apply() -> None:
        limit.join()
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (output_bytes, output_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if _LIBC is not None:
            _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:  # the harness died before the signal was armed
                os._exit(1)

    return apply


def _box(name: str, sc: Scenario) -> tuple[Path, Path, Path]:
    box = Path(tempfile.mkdtemp(prefix=f"{SANDBOX_PREFIX}{name}-"))
    (box / OWNER).write_text(str(os.getpid()))
    answers = box / "answers" / name
    answers.mkdir(parents=True)
    config = box / "config.json"
    cfg = {"system": name, "tasks": task_names(), **own_settings(sc, name)}
    config.write_text(json.dumps(cfg, sort_keys=True))
    return box, answers, config


def _launch(
    resolved: Resolved, isolation: dict[str, Any], run: Path, sc: Scenario, box: Path, answers: Path, config: Path
) -> tuple[list[str], dict[str, str]]:
    out_bytes = sc.systems.max_output_mb * 1024 * 1024
    if isolation["kind"] == "bubblewrap":
        cmd = sandbox.argv(
            sandbox.bubblewrap(),
            run=run,
            answers=answers,
            config=config,
            name=resolved.name,
            command=resolved.command,
            extra=resolved.mounts,
            pythonpath=resolved.pythonpath,
            tmp_bytes=out_bytes,
        )
        return cmd, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for part in PUBLIC:  # a private copy, so even a trusted system cannot alter the run's files
        shutil.copytree(run / part, box / part)
    env = {**sandbox.ENV, "HOME": str(box), "TMPDIR": str(box), "PATH": os.environ.get("PATH", "")}
    if resolved.pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in resolved.pythonpath)
    return [*resolved.command, str(box)], env


def _supervise(
    proc: subprocess.Popen[bytes], limit: TreeLimit, answers: Path, sc: Scenario
) -> tuple[int | None, str, float]:
    """Wait for the system, enforcing time, memory and output; return (exit code, limit hit, seconds)."""
    started = time.perf_counter()
    out_bytes = sc.systems.max_output_mb * 1024 * 1024
    hit = ""
    next_output_check = 0.0
    while True:
        code = proc.poll()
        elapsed = time.perf_counter() - started
        if code is not None:
            break
        if elapsed > sc.systems.timeout_s:
            hit = "timeout"
        elif limit.over_limit(proc.pid):
            hit = "memory"
        elif elapsed >= next_output_check:
            next_output_check = elapsed + OUTPUT_CHECK_S
            if tree_bytes(answers) > out_bytes:
                hit = "output"
        if hit:
            break
        time.sleep(POLL_S)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    limit.kill_all(proc.pid)
    proc.wait()
    limit.kill_all(proc.pid)
    if not hit and limit.over_limit(proc.pid):
        hit = "memory"  # a member was killed by the limit, even if the first process then exited
    # a write past RLIMIT_FSIZE kills with SIGXFSZ, or (Python ignores it) fails with EFBIG at the limit
    if not hit and (code in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ) or tree_bytes(answers) >= out_bytes):
        hit = "output"
    return (None if hit == "timeout" else code), hit, time.perf_counter() - started


def run_system(
    name: str,
    run: Path,
    sc: Scenario,
    use_sandbox: bool = True,
    resolved: tuple[Resolved, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run one system; copy its valid answers into ``run/answers/<name>/``; return its status."""
    if resolved is None:
        r = resolve(name, sc.systems.commands, sys.executable)
        isolation = isolation_for(r, use_sandbox)
    else:
        r, isolation = resolved
    out = run / "answers" / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    status: dict[str, Any] = {
        "system": name,
        "state": "ok",
        "reason": "",
        "tasks": {},
        "provenance": r.provenance,
        "isolation": isolation,
    }
    t0 = time.perf_counter()
    box, answers, config = _box(name, sc)
    limit = TreeLimit.create(name, sc.systems.memory_mb * 1024 * 1024)
    status["limits"] = {
        "memory_mb": sc.systems.memory_mb,
        "memory_held_by": limit.mechanism,
        "timeout_s": sc.systems.timeout_s,
        "max_output_mb": sc.systems.max_output_mb,
    }
    log = ""
    try:
        cmd, env = _launch(r, isolation, run, sc, box, answers, config)
        mem, out_b = sc.systems.memory_mb * 1024 * 1024, sc.systems.max_output_mb * 1024 * 1024
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=box,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_preexec(limit, mem, out_b),
            )
        except (OSError, subprocess.SubprocessError) as err:
            status.update(state="failed-to-start", reason=clean_text(str(err), 300))
        else:
            assert proc.stdout is not None
            tail = Tail(proc.stdout)
            code, hit, seconds = _supervise(proc, limit, answers, sc)
            status["compute_s"] = round(seconds, 2)
            log = tail.text()
            peak = limit.peak_bytes()
            if peak is not None:
                status["peak_memory_mb"] = round(peak / 2**20, 1)
            _judge(status, code, hit, log, sc)
            status["tasks"] = _collect(answers, run, out, sc)
            # a task without an answer file is one the system does not take part in; a refused
            # file, or no answer file at all, makes the run partial
            states = [t["state"] for t in status["tasks"].values()]
            bad = any(t not in ("ok", NOT_ANSWERED) for t in states) or all(t == NOT_ANSWERED for t in states)
            if status["state"] == "ok" and bad:
                status["state"] = "partial"
                status["reason"] = "; ".join(
                    f"{k}: {v['reason']}" for k, v in status["tasks"].items() if v["state"] != "ok"
                )
    finally:
        limit.remove()
        shutil.rmtree(box, ignore_errors=True)
    write_text(log, out / "log.txt")
    status["wall_s"] = round(time.perf_counter() - t0, 2)
    write_json(status, out / "status.json")
    return status


def _judge(status: dict[str, Any], code: int | None, hit: str, log: str, sc: Scenario) -> None:
    if hit == "timeout":
        status.update(state="timeout", reason=f"no answer within {sc.systems.timeout_s:g} s; killed")
    elif hit == "memory":
        status.update(
            state="out-of-memory",
            reason=f"its processes together passed the memory limit of {sc.systems.memory_mb} MB; killed",
        )
    elif hit == "output":
        status.update(
            state="output-too-large", reason=f"wrote more than the limit of {sc.systems.max_output_mb} MB; killed"
        )
    elif code != 0:
        lines = [ln for ln in log.strip().splitlines() if not ln.startswith("[") or "bytes of output" not in ln]
        status.update(state="crashed", reason=f"exit code {code}: {(lines[-1:] or ['(no output)'])[0][:300]}")


def _collect(answers: Path, run: Path, out: Path, sc: Scenario) -> dict[str, dict[str, Any]]:
    ids: dict[str, pl.Series] = {}

    def known(space: str) -> pl.Series:
        """The ids a task's answers may cite: record ids, or the device identifiers systems saw."""
        if space not in ids:
            if space == "devices":
                ids[space] = identifiers_seen(run)
            elif space in ("reads", "plates"):
                ids[space] = plate_ids_seen(run, space)
            else:
                ids[space] = pl.read_parquet(run / "trails" / "records.parquet", columns=["record_id"])["record_id"]
        return ids[space]

    case_ids = pl.read_parquet(run / "docket" / "cases.parquet", columns=["case_id"])["case_id"]
    max_bytes = sc.systems.max_output_mb * 1024 * 1024
    tasks: dict[str, dict[str, Any]] = {}
    for task in task_names():
        path = answers / f"{task}.parquet"
        try:
            df = read_answer(path, max_bytes, sc.systems.max_answer_rows)
        except FileNotFoundError:
            tasks[task] = {
                "state": NOT_ANSWERED,
                "reason": f"no answers/{answers.name}/{task}.parquet written: does not answer {task}",
                "rows": 0,
            }
            continue
        except OutputRefused as err:
            tasks[task] = {"state": "malformed", "reason": clean_text(str(err), 300), "rows": 0}
            continue
        try:
            valid = validate(task, df, known(registry.task(task).id_space), case_ids)
        except AnswerError as err:
            tasks[task] = {"state": "invalid", "reason": clean_text(str(err), 300), "rows": df.height}
            continue
        write_parquet(valid, out / f"{task}.parquet")
        tasks[task] = {"state": "ok", "reason": "", "rows": valid.height}
    return tasks
