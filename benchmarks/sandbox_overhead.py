"""Benchmark: what the bubblewrap sandbox adds to each reference system's run (target: at most 0.5 s).

The world, trails and docket are built once; then only the systems stage runs, one system at a
time through ``run_system``, with the sandbox (bubblewrap) and without it (a plain child
process with a private copy of ``trails/`` and ``docket/``); both under the same control-group
limits. Each (system, mode) pair runs once unmeasured to warm the page cache, then
REPEATS times; within a repetition the two modes of a system run back to back, in alternating
order, so that they share the machine's noise. Per system: the medians of ``wall_s`` (the
harness's time for the system: setup, supervision, reading and validating its answers) and
``compute_s`` (its process from start to exit), with and without the sandbox, and the
difference of the medians (and, less sensitive to drift, the median of the differences within
each repetition). Also the fixed cost of an empty sandbox: ``bwrap ... true`` and
``bwrap ... python -c pass`` (the command line ``sandbox.argv`` builds) against the same commands
run plainly, best and median of 20 starts each.

Usage: python benchmarks/sandbox_overhead.py [PRESET [REPEATS]]   (default: county-10k 5)
Prints one JSON line per measured run, then a markdown table; exits 1 if any system's wall-time
overhead (difference of the medians) is over 0.5 s, or if a run did not end "ok".
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from trailbench.pipeline import docket_stage, trails_stage, world_stage
from trailbench.rundir import lock_run_dir
from trailbench.scenario import Scenario, load_scenario
from trailbench.systems import sandbox
from trailbench.systems.runner import run_system

TARGET_S = 0.5
STARTS = 20
MODES = {True: "sandbox", False: "plain"}


def build_base(sc: Scenario, run: Path) -> None:
    """World, trails and docket into ``run`` (what every system reads)."""
    with lock_run_dir(run):
        w = world_stage(run, sc)
        t = trails_stage(run, sc, w, workers=2)
        docket_stage(run, sc, w, t)


def _start_times(cmd: list[str], env: dict[str, str], n: int = STARTS) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdin=subprocess.DEVNULL, capture_output=True)
        times.append(time.perf_counter() - t0)
    return times


def empty_sandbox(base: Path, sc: Scenario) -> dict[str, dict[str, float]]:
    """Start-to-exit time of ``true`` and ``python -c pass``, plainly and in the sandbox."""
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        answers = Path(tmp) / "answers" / "empty"
        answers.mkdir(parents=True)
        config = Path(tmp) / "config.json"
        config.write_text("{}")
        env = {**sandbox.ENV, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        t0 = time.perf_counter()
        for _ in range(STARTS):
            sandbox.argv(
                sandbox.bubblewrap(),
                run=base,
                answers=answers,
                config=config,
                name="empty",
                command=["true"],
                extra=[],
                pythonpath=[],
                tmp_bytes=sc.systems.max_output_mb * 1024 * 1024,
            )
        out["sandbox.argv (build the command line)"] = {"median": (time.perf_counter() - t0) / STARTS}
        for label, command in (("true", ["true"]), ("python -c pass", [sys.executable, "-c", "pass"])):
            boxed = sandbox.argv(
                sandbox.bubblewrap(),
                run=base,
                answers=answers,
                config=config,
                name="empty",
                command=command,
                extra=[],
                pythonpath=[],
                tmp_bytes=sc.systems.max_output_mb * 1024 * 1024,
            )
            plain = [*command, tmp]
            _start_times(boxed, env, 2)  # warm
            _start_times(plain, env, 2)
            on, off = _start_times(boxed, env), _start_times(plain, env)
            out[label] = {
                "plain_best": min(off),
                "plain_median": statistics.median(off),
                "sandbox_best": min(on),
                "sandbox_median": statistics.median(on),
            }
    return out


def main(preset: str = "county-10k", repeats: int = 5) -> int:
    sc = load_scenario(preset)
    names = list(sc.systems.run)
    if not sandbox.bubblewrap().usable:
        print(f"bubblewrap cannot be used here: {sandbox.bubblewrap().problem}", file=sys.stderr)
        return 2
    runs: dict[tuple[str, bool], list[dict[str, Any]]] = {(n, m): [] for n in names for m in MODES}
    bad: list[str] = []
    held: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        t0 = time.perf_counter()
        build_base(sc, base)
        print(f"base run (world, trails, docket): {time.perf_counter() - t0:.2f} s", file=sys.stderr, flush=True)
        dirs = {}
        for mode, label in MODES.items():
            dirs[mode] = Path(tmp) / label
            shutil.copytree(base, dirs[mode])
        for rep in range(-1, repeats):  # rep -1 warms up and is not counted
            order = [True, False] if rep % 2 == 0 else [False, True]
            for name in names:
                for mode in order:
                    st = run_system(name, dirs[mode], sc, use_sandbox=mode)
                    want = "bubblewrap" if mode else "none"
                    if st["state"] != "ok" or st["isolation"]["kind"] != want:
                        bad.append(f"{name} ({MODES[mode]}, rep {rep}): {st['state']} {st['reason']}")
                    held.add(st["limits"]["memory_held_by"])
                    row = {"system": name, "mode": MODES[mode], "rep": rep, "wall_s": st["wall_s"]}
                    row |= {"compute_s": st.get("compute_s"), "isolation": st["isolation"]["kind"]}
                    print(json.dumps(row), flush=True)
                    if rep >= 0:
                        runs[(name, mode)].append(st)
        empty = empty_sandbox(base, sc)

    def med(name: str, mode: bool, key: str) -> float:
        return statistics.median(float(s[key]) for s in runs[(name, mode)])

    print(f"\n{preset}, {repeats} runs per system and mode (medians); memory held by: {', '.join(sorted(held))}\n")
    cols = ["wall, plain", "wall, sandbox", "wall overhead", "compute, plain", "compute, sandbox", "compute overhead"]
    print(f"| system | {' | '.join(cols)} | wall overhead, paired (median, range) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    over = []
    for name in names:
        w_off, w_on = med(name, False, "wall_s"), med(name, True, "wall_s")
        c_off, c_on = med(name, False, "compute_s"), med(name, True, "compute_s")
        pairs = [on["wall_s"] - off["wall_s"] for on, off in zip(runs[(name, True)], runs[(name, False)], strict=True)]
        print(
            f"| {name} | {w_off:.2f} s | {w_on:.2f} s | {w_on - w_off:+.2f} s "
            f"| {c_off:.2f} s | {c_on:.2f} s | {c_on - c_off:+.2f} s "
            f"| {statistics.median(pairs):+.2f} s ({min(pairs):+.2f} to {max(pairs):+.2f}) |"
        )
        if w_on - w_off > TARGET_S:
            over.append(f"{name}: {w_on - w_off:+.2f} s")
    print(f"\nEmpty sandbox, {STARTS} starts each (start to exit):\n")
    print("| command | plain (best / median) | sandbox (best / median) | overhead (medians) |")
    print("|---|---:|---:|---:|")
    for label, t in empty.items():
        if "plain_best" not in t:
            continue
        print(
            f"| `{label}` | {t['plain_best'] * 1000:.0f} / {t['plain_median'] * 1000:.0f} ms "
            f"| {t['sandbox_best'] * 1000:.0f} / {t['sandbox_median'] * 1000:.0f} ms "
            f"| {(t['sandbox_median'] - t['plain_median']) * 1000:+.0f} ms |"
        )
    argv_ms = empty["sandbox.argv (build the command line)"]["median"] * 1000
    print(f"\nBuilding the bubblewrap command line (`sandbox.argv`): {argv_ms:.1f} ms per call")
    for problem in bad:
        print(f"run not ok: {problem}", file=sys.stderr)
    if over:
        print(f"over the {TARGET_S} s target: {'; '.join(over)}", file=sys.stderr)
    return 1 if over or bad else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(args[0] if args else "county-10k", int(args[1]) if len(args) > 1 else 5))
