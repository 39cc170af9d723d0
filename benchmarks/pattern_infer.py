"""Benchmark: pattern-of-life inference (stay points, locations, home/work) on a sample of devices.

Builds one county world with its signals (the pipeline's own stages, in a temporary directory),
samples devices, and times each step of ``systems.pattern_infer`` with FREQ and with OSNA.
Usage: python benchmarks/pattern_infer.py [PRESET] [DEVICES]   (default: county-10k 1000)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from trailbench.pipeline import signals_stage, trails_stage, world_stage
from trailbench.scenario import load_scenario
from trailbench.systems import pattern_infer as pi


def main() -> None:
    preset = sys.argv[1] if len(sys.argv) > 1 else "county-10k"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    sc = load_scenario(preset)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        world = world_stage(run, sc)
        trails_stage(run, sc, world, 2)
        signals_stage(run, sc, world, 2)
        scan = pl.scan_parquet(run / "trails" / "pings" / "*.parquet")
        ids = scan.select("device_id").unique().collect().sort("device_id")
        ids = ids.sample(min(n, ids.height), seed=1)["device_id"]
        pings = scan.filter(pl.col("device_id").is_in(ids.implode())).collect()
    print(f"{preset}: {ids.len()} devices, {pings.height:,} pings ({sc.movement.window_days}-day window)")
    print("| method | stay points | locations | labels | total |")
    print("|---|---:|---:|---:|---:|")
    for method in ("FREQ", "OSNA"):
        s = pi.PatternSettings(method=method)
        t0 = time.perf_counter()
        sp = pi.staypoints(pings, s)
        t1 = time.perf_counter()
        sp, _ = pi.locations(sp, s)
        t2 = time.perf_counter()
        pi.label_home_work(sp, s)
        t3 = time.perf_counter()
        print(f"| {method} | {t1 - t0:.2f} s | {t2 - t1:.2f} s | {t3 - t2:.2f} s | {t3 - t0:.2f} s |")


if __name__ == "__main__":
    main()
