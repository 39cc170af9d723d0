"""Benchmark: ``trailbench run`` end to end, with each stage's share and the harness overhead.

The systems' own compute is the wall time of each system's child process (from start to exit,
including its imports); everything else (world, trails, docket, sandbox copies, answer checks,
scoring, scorecard) is harness.
Usage: python benchmarks/audit_run.py [PRESET ...]   (default: county-10k county-100k)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from trailbench.pipeline import run_all
from trailbench.scenario import load_scenario


def bench(preset: str) -> dict[str, object]:
    sc = load_scenario(preset)
    marks: list[tuple[float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        t0 = time.perf_counter()
        run_all(sc, run, note=lambda m: marks.append((time.perf_counter() - t0, m)))
        total = time.perf_counter() - t0
        compute = {
            s: json.loads((run / "answers" / s / "status.json").read_text())["compute_s"] for s in sc.systems.run
        }
    stages: dict[str, float] = {}
    for (t, m), nxt in zip(marks, [*marks[1:], (total, "end")], strict=True):
        stages[m.split(":")[0]] = round(nxt[0] - t, 2)
    sys_total = sum(compute.values())
    return {
        "scenario": preset,
        "total_s": round(total, 2),
        "stages_s": stages,
        "system_compute_s": compute,
        "harness_s": round(total - sys_total, 2),
        "harness_share": round((total - sys_total) / total, 3),
    }


if __name__ == "__main__":
    for preset in sys.argv[1:] or ["county-10k", "county-100k"]:
        print(json.dumps(bench(preset)), flush=True)
