"""Benchmark: rendering report.html from an existing run directory (time and file size).

Usage: python benchmarks/report_render.py RUN_DIR [REPEATS]
(make the run first, e.g. `trailbench run county-100k --out runs/county-100k`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from trailbench.report.html import render_report


def main(run: Path, repeats: int = 3) -> None:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        path = render_report(run)
        times.append(time.perf_counter() - t0)
    print(
        json.dumps(
            {
                "run": str(run),
                "best_s": round(min(times), 3),
                "worst_s": round(max(times), 3),
                "bytes": path.stat().st_size,
            }
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 3)
