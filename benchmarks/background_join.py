"""Benchmark: finding the background people who share a name key with the region (issue 13).

The broker keeps only the background people whose surname and given-name start, or surname and
date of birth, are a region person's (:func:`trailbench.trails.background.kept_people`, a DuckDB
join over the part files with a memory limit). This times that join over an existing background
folder (``run/background/`` of a ``county-10k-national`` run) for the region of a ``county-10k``
world, at each ``--memory-mb``, each in a fresh child process so that its peak resident memory
(``resource.getrusage``) is its own.

Usage: python benchmarks/background_join.py BACKGROUND_DIR [--people N] [--memory-mb MB ...]
Prints one JSON line per run; RESULTS.md records them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

CHILD = """
import json, os, resource, sys, time
from pathlib import Path
import polars as pl
from trailbench.scenario import load_scenario
from trailbench.trails.background import BackgroundInput, kept_people, name_keys
from trailbench.world import build_world

parts, people, memory = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
world = build_world(load_scenario("county-10k"))
keys = name_keys(world.people).collect()
by_name, by_dob = keys.select("s", "g3").unique(), keys.select("s", "dob").drop_nulls().unique()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
load = os.getloadavg()[0]
t = time.perf_counter()
kept = kept_people(BackgroundInput(parts, people), by_name, by_dob, memory)
wall = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"people": people, "memory_mb": memory, "kept": kept.height, "wall_s": round(wall, 2),
                  "people_per_s": round(people / wall), "peak_mb": round(peak / 1024),
                  "before_join_mb": round(base / 1024), "load": round(load, 2)}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("background", help="a background folder (run/background/)")
    ap.add_argument("--people", type=int, default=10_000_000, help="the first N people (default 10,000,000)")
    ap.add_argument("--memory-mb", type=int, nargs="+", default=[256, 1024], help="DuckDB memory limits")
    args = ap.parse_args()
    for mb in args.memory_mb:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, args.background, str(args.people), str(mb)],
            capture_output=True,
            text=True,
            check=True,
        )
        print(out.stdout.strip().splitlines()[-1], flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
