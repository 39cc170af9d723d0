"""Benchmark: what the operating-point metric and the trade-off curves add to the audit stage.

Builds a run once (world, trails, docket, every system's answers), then times the audit stage
alone (scoring every system's answers, the bootstrap, the scorecard) repeatedly, alternating two
configurations: as shipped, and with ``located_within_budget`` removed and the curves switched
off. Prints the medians and the added share; exits non-zero past 10%.
Usage: python benchmarks/audit_scoring.py [PRESET] [REPEATS]   (default: county-10k 5)
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from trailbench.audit.stage import WorldRun, audit
from trailbench.pipeline import load_replicate, run_all
from trailbench.scenario import load_scenario
from trailbench.tasks import associates, locate, registry
from trailbench.worlds import world_dir, world_scenario


@contextmanager
def without_curves() -> Iterator[None]:
    budget = registry.metric("located_within_budget")
    registry.remove_metrics("locate", budget.name)
    try:
        with (
            mock.patch.object(locate, "tradeoff_curve", lambda *a, **k: []),
            mock.patch.object(associates, "rank_curve", lambda *a, **k: []),
        ):
            yield
    finally:
        registry.add_metrics("locate", budget)


def main() -> int:
    preset = sys.argv[1] if len(sys.argv) > 1 else "county-10k"
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    sc = load_scenario(preset)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        run_all(sc, run)
        worlds = []
        for k in range(sc.audit.worlds):  # every world loaded up front: only the audit is timed
            where = world_dir(run, sc, k)
            loaded = load_replicate(where)
            statuses = {s: json.loads((where / "answers" / s / "status.json").read_text()) for s in sc.systems.run}
            worlds.append(WorldRun(k, where, world_scenario(sc, k), statuses, lambda loaded=loaded: loaded))
        times: dict[str, list[float]] = {"with curves": [], "without": []}
        for i in range(repeats + 1):  # the first round warms caches and is not counted
            for label in ("with curves", "without") if i % 2 else ("without", "with curves"):
                ctx = without_curves() if label == "without" else mock.patch.dict({})
                with ctx:
                    gc.collect()  # neither configuration pays for the other's garbage
                    t0 = time.perf_counter()
                    audit(run, sc, worlds)
                    took = time.perf_counter() - t0
                if i:
                    times[label].append(took)
    med = {k: statistics.median(v) for k, v in times.items()}
    added = med["with curves"] / med["without"] - 1
    # each round times both configurations back to back: the median of the rounds' own ratios
    # is less exposed to the machine's drift over the run than the ratio of the two medians
    paired = statistics.median(a / b for a, b in zip(times["with curves"], times["without"], strict=True)) - 1
    print(f"| audit stage ({preset}) | median of {repeats} | runs |")
    print("|---|---:|---|")
    for k, v in times.items():
        print(f"| {k} | {med[k]:.3f} s | {', '.join(f'{x:.3f}' for x in v)} |")
    print(f"\nadded by the operating point and curves: {100 * added:+.1f}% (ratio of medians), ", end="")
    print(f"{100 * paired:+.1f}% (median of the rounds' ratios); target: at most +10%")
    return 0 if max(added, paired) <= 0.10 else 1


if __name__ == "__main__":
    sys.exit(main())
