"""Benchmark: location pings (and Wi-Fi sightings) for a preset over the audit window (issue 11).

Builds the world, places, daily activity and devices (timed apart), then streams pings to
Parquet partitions on ``--workers`` threads and reports pings per second of wall time and per
CPU-second (the second figure holds when other work shares the machine), peak resident memory
(``resource.getrusage``: after the pings, and at the end, sightings included) and the load
average when it started. Each preset runs in a fresh child
process, so the peak is its own.

Usage: python benchmarks/signals.py [PRESET ...] [--workers N]   (default: county-10k, 2 workers)
Prints one JSON line per preset.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, os, resource, sys, time
from pathlib import Path
from trailbench.rng import stream
from trailbench.scenario import load_scenario
from trailbench.scenario.movement import DevicesConfig, MovementConfig
from trailbench.trails.signals import plan_pings, write_pings, write_signals
from trailbench.world import build_world, period
from trailbench.world.activity import build_activity
from trailbench.world.devices import build_devices
from trailbench.world.places import build_places
from trailbench.world.window import default_window

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

sc = load_scenario(sys.argv[1])
out, workers = Path(sys.argv[2]), int(sys.argv[3])
mv, dv = MovementConfig(), DevicesConfig()
load = os.getloadavg()[0]
t = time.perf_counter()
world = build_world(sc)
t_world = time.perf_counter() - t
t = time.perf_counter()
places = build_places(stream(sc.seed, "world", "places"), world.units, world.people.height, world.employers, mv)
window = default_window(period(sc)[1], mv.window_days)
activity = build_activity(world, places, mv, sc.seed, window)
t_activity = time.perf_counter() - t
t = time.perf_counter()
devices = build_devices(world.people, dv, sc.seed, window)
t_devices = time.perf_counter() - t
t, c = time.perf_counter(), cpu()
plan = plan_pings(activity, devices, world.people.height, dv)
pings = write_pings(plan, dv, sc.seed, out / "pings_trails", out / "pings_truth", workers)
t_pings, c_pings = time.perf_counter() - t, cpu() - c
peak_pings = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
n = world.people.height
written = write_signals(activity, devices, places, n, dv, sc.seed, out / "trails", out / "truth", workers)
t_signals = time.perf_counter() - t
size = sum(p.stat().st_size for p in (out / "pings_trails").rglob("*.parquet"))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({
    "scenario": sys.argv[1], "people": world.people.height, "days": window.days, "workers": workers,
    "stays": activity.stays.height, "devices": devices.devices.height, "pings": pings,
    "sightings": written.sightings, "parts": plan.parts,
    "world_s": round(t_world, 2), "activity_s": round(t_activity, 2), "devices_s": round(t_devices, 3),
    "pings_s": round(t_pings, 2), "pings_cpu_s": round(c_pings, 2),
    "pings_per_s": round(pings / t_pings), "pings_per_cpu_s": round(pings / c_pings),
    "all_signals_s": round(t_signals, 2), "bytes_per_ping": round(size / pings, 2),
    "peak_mb_through_pings": round(peak_pings), "peak_mb": round(peak), "load_at_start": round(load, 2),
}))
"""


def main(args: list[str]) -> None:
    workers = 2
    if "--workers" in args:
        i = args.index("--workers")
        workers = int(args[i + 1])
        args = args[:i] + args[i + 2 :]
    for preset in args or ["county-10k"]:
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run(
                [sys.executable, "-c", CHILD, preset, str(Path(tmp)), str(workers)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
        print(out.splitlines()[-1], flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
