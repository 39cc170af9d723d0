"""Benchmark: the background population (issue 13) against the region generator.

Generates N background people (default 1M and 10M) with ``write_background`` on ``--workers``
threads (default 2) into a temporary folder, each size in a fresh child process so that its peak
resident memory (``resource.getrusage``) is its own, and reports people (records) per second of
wall time and per CPU-second, peak memory, bytes per record on disk, the parts written and the
load average at the start. ``--region PRESET`` (repeatable) also times ``build_world`` for a
preset in a child process, for people per second side by side. The growth line compares time
per person between the smallest and largest N.

Usage: python benchmarks/background.py [N ...] [--workers W] [--region PRESET ...]
Prints one JSON line per run; RESULTS.md records them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

CHILD = """
import json, os, resource, sys, time
from pathlib import Path
from trailbench.scenario import NamesConfig, WorldConfig
from trailbench.scenario.background import BackgroundConfig
from trailbench.world.background import write_background

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

people, out, workers = int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
cfg = BackgroundConfig(people=people)
load = os.getloadavg()[0]
t, c = time.perf_counter(), cpu()
written = write_background(cfg, 20261124, out, workers, WorldConfig(), NamesConfig())
wall, used = time.perf_counter() - t, cpu() - c
size = sum(p.stat().st_size for p in out.glob("part-*.parquet"))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({
    "what": "background", "people": written, "workers": workers, "parts": cfg.parts,
    "people_per_part": cfg.blocks_per_part * cfg.block, "wall_s": round(wall, 2), "cpu_s": round(used, 2),
    "records_per_s": round(written / wall), "records_per_cpu_s": round(written / max(used, 1e-9)),
    "bytes_per_record": round(size / max(written, 1), 1), "peak_mb": round(peak), "load_at_start": round(load, 2),
}))
"""

REGION = """
import json, os, resource, sys, time
from trailbench.scenario import load_scenario
from trailbench.world import build_world

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

sc = load_scenario(sys.argv[1])
load = os.getloadavg()[0]
t, c = time.perf_counter(), cpu()
world = build_world(sc)
wall, used = time.perf_counter() - t, cpu() - c
n = world.people.height
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({
    "what": "build_world", "scenario": sys.argv[1], "people": n, "wall_s": round(wall, 2), "cpu_s": round(used, 2),
    "records_per_s": round(n / wall), "records_per_cpu_s": round(n / max(used, 1e-9)), "peak_mb": round(peak),
    "load_at_start": round(load, 2),
}))
"""


def _run(code: str, *args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    line = out.stdout.strip().splitlines()[-1]
    print(line, flush=True)
    row: dict[str, Any] = json.loads(line)
    return row


def main(args: list[str]) -> None:
    workers, regions, sizes = 2, [], []
    it = iter(args)
    for a in it:
        if a == "--workers":
            workers = int(next(it))
        elif a == "--region":
            regions.append(next(it))
        else:
            sizes.append(int(a.replace("_", "")))
    for preset in regions:
        _run(REGION, preset)
    rows = []
    for n in sizes or [1_000_000, 10_000_000]:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(_run(CHILD, str(n), str(Path(tmp) / "background"), str(workers)))
    if len(rows) > 1:
        small, large = rows[0], rows[-1]
        per_small = small["wall_s"] / small["people"]
        per_large = large["wall_s"] / large["people"]
        print(f"time per person at {large['people']:,} relative to {small['people']:,}: {per_large / per_small:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
