"""Benchmark: licence-plate reads for a preset over the audit window (issue 12).

Builds the world, places and daily activity as the signals stage does (timed apart), then
vehicles, trips and cameras (timed together), then times the reads: ``plan_reads`` and
``write_reads`` (routing every trip, drawing the reads of every vehicle block on ``--workers``
threads, merging them into the one global order and writing every part of
``trails/plate_reads/`` and ``truth/plate_reads/``). Reports reads per second of that wall time
and per CPU-second (all threads), trips per second, bytes a read in ``trails/plate_reads/``,
peak resident memory (``resource.getrusage``), the load average when the child started and when
the timed span did, and ``other_cpu_s``: CPU-seconds the rest of the machine used during the
timed span (all CPUs' busy time in ``/proc/stat``, steal included, less the child's own; about
0.01 s either way when the machine is otherwise idle; null where there is no ``/proc/stat``).
Each preset runs in a fresh child process, so the peak is its own.
``--dense`` also times a variant with readers at every built-up crossing (many reads a trip:
the per-read cost rather than the per-trip one).

Usage: python benchmarks/plate_reads.py [PRESET ...] [--workers N] [--dense] [--repeat N]
(default: county-10k, 2 workers, each run once). Prints one JSON line per run; ``--repeat``
runs each child that many times (on a shared machine, to see the spread).
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
from trailbench.scenario.movement import MovementConfig
from trailbench.scenario.plates import PlatesConfig
from trailbench.trails.plate_reads import build_cameras, plan_reads, write_reads
from trailbench.world import build_world, period
from trailbench.world.activity import build_activity
from trailbench.world.places import build_places
from trailbench.world.roads import build_roads
from trailbench.world.trips import build_trips
from trailbench.world.vehicles import build_vehicles
from trailbench.world.window import default_window

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

def machine_busy():
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
    except OSError:
        return None
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait

sc = load_scenario(sys.argv[1])
out, workers, dense = Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
mv = MovementConfig()
pc = PlatesConfig(fixed_cameras=10_000) if dense else PlatesConfig()
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
vehicles = build_vehicles(world.people, world.households, world.ties, pc, sc.seed, window)
roads = build_roads(world.units, pc)
trips = build_trips(activity, vehicles, roads, pc, sc.seed)
cams = build_cameras(roads, world.units, pc, sc.seed, world.people.height, window.days)
t_prep = time.perf_counter() - t
load_reads = os.getloadavg()[0]
busy = machine_busy()
t, c = time.perf_counter(), cpu()
plan = plan_reads(vehicles, trips, roads, cams, pc, activity)
reads, parts = write_reads(plan, pc, sc.seed, out / "trails", out / "truth", workers)
t_reads, c_reads = time.perf_counter() - t, cpu() - c
other = None if busy is None else round(machine_busy() - busy - c_reads, 3)
size = sum(p.stat().st_size for p in (out / "trails" / "plate_reads").rglob("*.parquet"))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({
    "scenario": sys.argv[1], "dense_cameras": dense, "people": world.people.height, "days": window.days,
    "workers": workers, "vehicles": len(vehicles), "trips": len(trips), "cameras": len(cams.ids),
    "reads": reads, "parts": parts,
    "world_s": round(t_world, 2), "activity_s": round(t_activity, 2),
    "vehicles_trips_cameras_s": round(t_prep, 2), "reads_s": round(t_reads, 3), "reads_cpu_s": round(c_reads, 3),
    "reads_per_s": round(reads / t_reads), "reads_per_cpu_s": round(reads / max(c_reads, 1e-9)),
    "trips_per_s": round(len(trips) / t_reads), "bytes_per_read": round(size / max(reads, 1), 2),
    "peak_mb": round(peak), "load_at_start": round(load, 2), "load_at_reads": round(load_reads, 2),
    "other_cpu_s": other,
}))
"""


def _option(args: list[str], name: str, default: int) -> tuple[int, list[str]]:
    if name not in args:
        return default, args
    i = args.index(name)
    return int(args[i + 1]), args[:i] + args[i + 2 :]


def main(args: list[str]) -> None:
    workers, args = _option(args, "--workers", 2)
    repeat, args = _option(args, "--repeat", 1)
    dense = "--dense" in args
    args = [a for a in args if a != "--dense"]
    for preset in args or ["county-10k"]:
        for variant in [False, True] if dense else [False]:
            for _ in range(repeat):
                with tempfile.TemporaryDirectory() as tmp:
                    out = subprocess.run(
                        [sys.executable, "-c", CHILD, preset, str(Path(tmp)), str(workers), "1" if variant else "0"],
                        check=True,
                        capture_output=True,
                        text=True,
                    ).stdout.strip()
                print(out.splitlines()[-1], flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
