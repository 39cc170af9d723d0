"""Benchmark: ``trailbench run`` end to end, with each stage's share and the harness overhead.

The systems' own compute is the wall time of each system's child process (from start to exit,
including its imports); the systems stage is the wall time of running them (several at once:
``systems.parallel``); everything else (world, trails, signals, docket, scoring, scorecard) is
harness. With replicate worlds, each stage's time is summed over the worlds. ``PRESET@N`` runs
the preset with ``audit.worlds = N`` (``county-10k@1``: the single-world time beside the default
five); ``PRESET~P`` with ``systems.parallel = P`` (``county-10k~1``: one system at a time).
Usage: python benchmarks/audit_run.py [PRESET[@N][~P] ...]   (default: county-10k county-100k)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from trailbench.pipeline import run_all
from trailbench.scenario import load_scenario
from trailbench.worlds import world_dir


def bench(spec: str) -> dict[str, object]:
    spec, _, parallel = spec.partition("~")
    preset, _, worlds = spec.partition("@")
    over: dict[str, object] = {"audit.worlds": int(worlds)} if worlds else {}
    if parallel:
        over["systems.parallel"] = int(parallel)
    sc = load_scenario(preset, overrides=over or None)
    marks: list[tuple[float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        t0 = time.perf_counter()
        run_all(sc, run, note=lambda m: marks.append((time.perf_counter() - t0, m)))
        total = time.perf_counter() - t0
        compute = {
            s: round(
                sum(
                    json.loads((world_dir(run, sc, k) / "answers" / s / "status.json").read_text())["compute_s"]
                    for k in range(sc.audit.worlds)
                ),
                2,
            )
            for s in sc.systems.run
        }
    stages: dict[str, float] = {}
    for (t, m), nxt in zip(marks, [*marks[1:], (total, "end")], strict=True):
        label = m.split(": ", 1)[1] if m.startswith("world ") else m  # "world 3: trails: ..." -> "trails: ..."
        key = label.split(":")[0]
        key = "systems" if key.startswith("system ") else key  # systems run side by side: one stage
        stages[key] = round(stages.get(key, 0.0) + nxt[0] - t, 2)
    harness = total - stages.get("systems", 0.0)
    return {
        "scenario": preset,
        "worlds": sc.audit.worlds,
        "parallel": sc.systems.parallel,
        "total_s": round(total, 2),
        "stages_s": stages,
        "system_compute_s": compute,
        "harness_s": round(harness, 2),
        "harness_share": round(harness / total, 3),
    }


if __name__ == "__main__":
    for preset in sys.argv[1:] or ["county-10k", "county-100k"]:
        print(json.dumps(bench(preset)), flush=True)
