"""Benchmark: world plus trails at 10k, 100k and 1M people (wall time, peak memory, records/s).

Each size runs in a fresh child process so that peak memory (ru_maxrss) is that size's own.
Usage: python benchmarks/world_scale.py [PRESET ...]   (default: county-10k county-100k city-1m)
Prints one JSON line per size, with the machine's 1-minute load average before and after (the
wall time counts only on a machine otherwise idle); RESULTS.md records them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, os, resource, sys, time
from pathlib import Path
from trailbench.pipeline import make_world
from trailbench.scenario import load_scenario
sc = load_scenario(sys.argv[1])
load = os.getloadavg()[0]
t0 = time.perf_counter()
summary = make_world(sc, Path(sys.argv[2]), fresh=True)
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
print(json.dumps({"scenario": sys.argv[1], "people": summary["people"], "records": summary["records"],
                  "wall_s": round(wall, 2), "peak_gib": round(peak, 2),
                  "records_per_s": round(summary["records"] / wall),
                  "load_before": load, "load_after": os.getloadavg()[0]}))
"""


def main(presets: list[str]) -> None:
    rows = []
    for preset in presets:
        with tempfile.TemporaryDirectory() as tmp:
            out = (
                subprocess.run(
                    [sys.executable, "-c", CHILD, preset, str(Path(tmp) / "run")],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
        rows.append(json.loads(out))
        print(out, flush=True)
    if len(rows) > 1:
        base = rows[0]
        for r in rows[1:]:
            growth = (r["wall_s"] / base["wall_s"]) / (r["people"] / base["people"])
            print(f"{r['scenario']}: time per person relative to {base['scenario']}: {growth:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["county-10k", "county-100k", "city-1m"])
