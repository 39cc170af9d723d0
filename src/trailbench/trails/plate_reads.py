"""Licence-plate cameras, their reads and a hotlist (DESIGN §4, issue 12).

Cameras. Fixed readers stand at a share of the arterial crossings in built-up areas and along
the highway corridor to the port zone; readers on patrol cars watch a crossing at a time
(``patrol_posts_per_day`` posts of ``patrol_post_min`` minutes in a shift). Where fixed readers
and patrol posts stand is the declared switch ``camera_placement``: ``evenly`` over built-up
crossings, or ``concentrated``, putting ``concentrated_weight`` of them in the declared
neighbourhoods (the ``dense_share`` of crossings with the most multi-unit housing nearby: a
structural stand-in for the low-income areas where readers have been found; no group enters).

Reads. A trip passes every camera on its route (world/roads) at a time interpolated between its
departure and arrival; a patrol reader sees it only while posted there. A pass is read with
chance ``detection`` (``patrol_detection``), lower for specialty and stacked plates; a read is
misread (characters confused along the confusion table of world/plates) at ``misread``, higher
for specialty and stacked plates, and its state read wrong at ``wrong_state``.

Output:

- ``trails/cameras.parquet``: camera_id, x, y (null for patrol readers), kind
  (``intersection``, ``corridor``, ``patrol``), sorted by camera_id (``tb:lpr:`` + 8 hex digits
  from a keyed permutation);
- ``trails/plate_reads/part-*.parquet``: camera_id, t, plate_as_read, state_as_read,
  confidence, sorted by camera_id then t within a partition; partition p covers a fixed block of
  ``vehicles_per_part`` vehicles in (true plate, state) order and draws from
  ``stream(seed, "plates", "reads", p)``, so output does not depend on threads;
- ``truth/plate_reads/part-*.parquet``, row for row: vehicle_key, trip_id, person_id (the
  driver), purpose, misread, wrong_state;
- ``trails/hotlist.parquet``: plate, state, entered (sorted by plate, state);
  ``truth/hotlist.parquet``, row for row: vehicle_key (the vehicle the entry was meant for),
  stale, keyed_wrong;
- ``truth/cameras.parquet``, ``truth/patrol_posts.parquet``, ``truth/vehicles.parquet``,
  ``truth/vehicle_drivers.parquet``, ``truth/trips.parquet``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow as pa

from trailbench.io import write_parquet
from trailbench.rng import stream
from trailbench.scenario.plates import PlatesConfig
from trailbench.trails.parts import dictionary, expand, part_path, run_parts, write_part
from trailbench.world import plates as pl8
from trailbench.world.activity import Activity
from trailbench.world.device_ids import hex_digits
from trailbench.world.ids import KeyedPermutation
from trailbench.world.roads import H, Roads, build_roads, built_up_nodes, route_legs
from trailbench.world.trips import PURPOSES, Trips, build_trips
from trailbench.world.vehicles import Vehicles, build_vehicles
from trailbench.world.window import DAY

if TYPE_CHECKING:
    from trailbench.world import World

CAMERA_KINDS = ("intersection", "corridor", "patrol")
MS_MIN = 60_000
FOREVER = np.iinfo(np.int64).max // 4
T_BITS = 36  # ms within a sort key: about 795 days


@dataclass(frozen=True)
class Cameras:
    """Cameras (index order = issue order) and their entries: one per fixed reader, one per patrol post."""

    ids: np.ndarray  # str per camera
    kind: np.ndarray  # int8 index into CAMERA_KINDS
    col: np.ndarray  # node of a fixed reader, -1 for patrol
    row: np.ndarray
    dense: np.ndarray  # bool: in the declared neighbourhoods
    rank: np.ndarray  # rank of each camera's id (output order)
    e_camera: np.ndarray  # entries, sorted by row-major node key
    e_col: np.ndarray
    e_row: np.ndarray
    e_lo: np.ndarray  # ms from the window's start during which the entry reads
    e_hi: np.ndarray
    h_key: np.ndarray  # layer * nodes + row * cols + col of each entry, sorted
    v_order: np.ndarray  # entries in column-major order
    v_key: np.ndarray  # layer * nodes + col * rows + row, sorted (layer 0: fixed; 1 + day: patrol posts)

    @property
    def n_entries(self) -> int:
        return len(self.e_camera)

    @cached_property
    def c_moving(self) -> np.ndarray:
        """Entries in row-major then column-major order: the coordinate that moves along a leg."""
        return np.concatenate([self.e_col, self.e_row[self.v_order]]).astype(np.float64)

    @cached_property
    def c_camera(self) -> np.ndarray:
        return np.concatenate([self.e_camera, self.e_camera[self.v_order]])

    @cached_property
    def c_lo(self) -> np.ndarray:
        return np.concatenate([self.e_lo, self.e_lo[self.v_order]])

    @cached_property
    def c_hi(self) -> np.ndarray:
        return np.concatenate([self.e_hi, self.e_hi[self.v_order]])


def camera_ids(seed: int, n: int) -> np.ndarray:
    perm = KeyedPermutation(2**32, stream(seed, "plates", "camera_ids"))
    return np.char.add("tb:lpr:", hex_digits(perm(np.arange(n)), 8))


def placement_weights(share: np.ndarray, pc: PlatesConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(weights, dense) over built-up nodes: the declared neighbourhoods are the ``dense_share``
    of nodes with the highest multi-unit share (ties broken at random); under ``concentrated``
    they carry ``concentrated_weight`` of the weight, under ``evenly`` their share of nodes."""
    n = len(share)
    order = np.lexsort((rng.random(n), -share))
    dense = np.zeros(n, dtype=bool)
    dense[order[: round(pc.dense_share * n)]] = True
    nd = int(dense.sum())
    if pc.camera_placement == "evenly" or nd in (0, n):
        return np.full(n, 1.0 / n), dense
    w = np.where(dense, pc.concentrated_weight / nd, (1 - pc.concentrated_weight) / (n - nd))
    return w / w.sum(), dense


def build_cameras(roads: Roads, units: pl.DataFrame, pc: PlatesConfig, seed: int, people: int, days: int) -> Cameras:
    """Fixed readers, corridor readers and patrol posts (streams ``plates/cameras/*``)."""
    rng = stream(seed, "plates", "cameras", "fixed")
    bc, br, share = built_up_nodes(roads, units)
    w, dense_node = placement_weights(share, pc, rng)
    n_fixed = min(round(pc.fixed_cameras * people / 10_000), int((w > 0).sum()))
    pick = np.sort(rng.choice(len(bc), n_fixed, replace=False, p=w)) if n_fixed else np.zeros(0, np.int64)
    corr_cols = np.unique(np.rint(np.linspace(roads.region_cols, roads.port_col, pc.corridor_cameras)).astype(np.int64))
    corr_cols = corr_cols[: pc.corridor_cameras]
    prng = stream(seed, "plates", "cameras", "patrol")
    n_cars = max(1, round(pc.patrol_cars * people / 10_000)) if pc.patrol_cars > 0 else 0
    n_posts = n_cars * days * pc.patrol_posts_per_day
    post_node = prng.choice(len(bc), n_posts, replace=True, p=w) if n_posts else np.zeros(0, np.int64)
    car = np.repeat(np.arange(n_cars), days * pc.patrol_posts_per_day)
    day = np.tile(np.repeat(np.arange(days), pc.patrol_posts_per_day), n_cars)
    slot = np.tile(np.arange(pc.patrol_posts_per_day), n_cars * days)
    step = pc.patrol_shift_hours * 60 / max(pc.patrol_posts_per_day, 1)
    lo = ((day * DAY + pc.patrol_shift_start * 60 + slot * step) * MS_MIN).astype(np.int64)
    hi = lo + int(pc.patrol_post_min * MS_MIN)
    n_c = len(pick) + len(corr_cols) + n_cars
    kind = np.concatenate([np.zeros(len(pick), np.int8), np.ones(len(corr_cols), np.int8), np.full(n_cars, 2, np.int8)])
    col = np.concatenate([bc[pick], corr_cols, np.full(n_cars, -1)]).astype(np.int64)
    row = np.concatenate([br[pick], np.full(len(corr_cols), roads.highway_row), np.full(n_cars, -1)]).astype(np.int64)
    dense = np.concatenate([dense_node[pick], np.zeros(len(corr_cols) + n_cars, bool)])
    ids = camera_ids(seed, n_c)
    rank = np.empty(n_c, dtype=np.int64)
    rank[np.argsort(ids)] = np.arange(n_c)
    n_fc = len(pick) + len(corr_cols)
    e_camera = np.concatenate([np.arange(n_fc), len(pick) + len(corr_cols) + car]).astype(np.int64)
    e_col = np.concatenate([col[:n_fc], bc[post_node]]).astype(np.int64)
    e_row = np.concatenate([row[:n_fc], br[post_node]]).astype(np.int64)
    e_lo = np.concatenate([np.full(n_fc, -FOREVER), lo])
    e_hi = np.concatenate([np.full(n_fc, FOREVER), hi])
    layer = np.concatenate([np.zeros(n_fc, np.int64), 1 + day]) * (roads.rows * roads.cols)
    hk = layer + e_row * roads.cols + e_col
    o = np.argsort(hk, kind="stable")
    e_camera, e_col, e_row, e_lo, e_hi, hk, layer = (x[o] for x in (e_camera, e_col, e_row, e_lo, e_hi, hk, layer))
    vk = layer + e_col * roads.rows + e_row
    v_order = np.argsort(vk, kind="stable")
    return Cameras(ids, kind, col, row, dense, rank, e_camera, e_col, e_row, e_lo, e_hi, hk, v_order, vk[v_order])


@dataclass(frozen=True)
class ReadPlan:
    """Inputs of every partition, prepared once (read-only, shared by threads)."""

    t0: np.datetime64  # window start, datetime64[ms]
    window_ms: int
    roads: Roads
    cams: Cameras
    trips: Trips  # in plan order: vehicles by (plate, state), then departure
    veh_rank: np.ndarray  # per vehicle: rank in (plate, state) order
    bounds: np.ndarray  # trip index at which each partition starts (and one past the end)
    vehicles: Vehicles
    sorted_ids: np.ndarray  # camera ids in id order (the output dictionary)

    @property
    def parts(self) -> int:
        return len(self.bounds) - 1


def plan_reads(
    vehicles: Vehicles, trips: Trips, roads: Roads, cams: Cameras, pc: PlatesConfig, activity: Activity
) -> ReadPlan:
    key = pl8.as_int(vehicles.plate)
    by_plate = np.lexsort((vehicles.state, key))
    veh_rank = np.empty(len(vehicles), dtype=np.int64)
    veh_rank[by_plate] = np.arange(len(vehicles))
    r = veh_rank[trips.vehicle]
    order = np.lexsort((trips.arrive, trips.depart, r))
    t = Trips(**{f: getattr(trips, f)[order] for f in trips.__dataclass_fields__})
    per = pc.vehicles_per_part
    n_parts = max(1, -(-len(vehicles) // per))
    bounds = np.searchsorted(r[order], np.arange(n_parts + 1) * per)
    bounds[-1] = len(t)
    return ReadPlan(
        t0=activity.window.start.astype("datetime64[ms]"),
        window_ms=activity.window.days * DAY * MS_MIN,
        roads=roads,
        cams=cams,
        trips=t,
        veh_rank=veh_rank,
        bounds=bounds,
        vehicles=vehicles,
        sorted_ids=np.sort(cams.ids),
    )


def passes(plan: ReadPlan, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(trip, camera, t) of every camera a trip of ``lo:hi`` passes while it reads, t in ms.

    Each leg's cameras are one range of the entries sorted along its axis (row-major for
    east-west legs, column-major for north-south ones, stacked in ``Cameras.c_*``); the time at
    a node is linear in its coordinate along the leg, so it is ``c0 + c1 * coordinate`` with two
    numbers per leg."""
    tr, roads, cams = plan.trips, plan.roads, plan.cams
    c0, r0 = roads.col(tr.x0[lo:hi]), roads.row(tr.y0[lo:hi])
    c1, r1 = roads.col(tr.x1[lo:hi]), roads.row(tr.y1[lo:hi])
    legs = route_legs(roads, c0, r0, c1, r1)
    # every leg queried twice: fixed readers (layer 0), patrol posts of the departure day (layer 1 + day)
    n = len(c0)
    day = tr.depart[lo:hi] // (DAY * MS_MIN)
    layer = np.zeros((n, 6), dtype=np.int64)
    layer[:, 3:] = ((1 + day) * (roads.rows * roads.cols))[:, None]
    a, b = np.tile(legs.a, 2), np.tile(legs.b, 2)
    first = np.zeros(a.shape, dtype=bool)
    first[:, [0, 3]] = True
    lo_m = np.where(first, np.minimum(a, b), np.where(a < b, a + 1, b))
    hi_m = np.where(first, np.maximum(a, b), np.where(a < b, b, a - 1))
    is_h = np.tile(legs.axis, 2) == H
    fixed = np.tile(legs.fixed, 2)
    base = layer + np.where(is_h, fixed * roads.cols, fixed * roads.rows)
    s_lo = np.where(
        is_h, np.searchsorted(cams.h_key, base + lo_m), cams.n_entries + np.searchsorted(cams.v_key, base + lo_m)
    )
    s_hi = np.where(
        is_h,
        np.searchsorted(cams.h_key, base + hi_m, side="right"),
        cams.n_entries + np.searchsorted(cams.v_key, base + hi_m, side="right"),
    )
    before = np.tile(legs.before, 2)
    cnt = np.where((fixed >= 0) & (hi_m >= lo_m), np.maximum(s_hi - s_lo, 0), 0).ravel()
    used = np.flatnonzero(cnt)
    cnt = cnt[used]
    trip_l = used // 6
    dep = tr.depart[lo:hi][trip_l].astype(np.float64)
    arr = tr.arrive[lo:hi][trip_l].astype(np.float64)
    total = legs.length[trip_l]
    slope = np.where(total > 0, (arr - dep) / np.maximum(total, 1), 0.0)
    sign = np.where(b.ravel()[used] >= a.ravel()[used], 1.0, -1.0)
    k0 = dep + slope * (before.ravel()[used] - sign * a.ravel()[used])
    k1 = slope * sign
    leg = expand(cnt)
    pos = np.arange(len(leg)) + (s_lo.ravel()[used] - (np.cumsum(cnt) - cnt))[leg]
    t = (k0[leg] + k1[leg] * cams.c_moving[pos]).astype(np.int64)
    ok = (t >= cams.c_lo[pos]) & (t < cams.c_hi[pos]) & (t < plan.window_ms) & (t >= 0)
    return trip_l[leg[ok]] + lo, cams.c_camera[pos[ok]], t[ok]


def _strings(plates: np.ndarray) -> pa.Array:
    n = len(plates)
    offsets = (np.arange(n + 1, dtype=np.int32) * pl8.WIDTH).tobytes()
    data = np.ascontiguousarray(plates, dtype=np.uint8).tobytes()
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def read_part(plan: ReadPlan, pc: PlatesConfig, seed: int, part: int) -> tuple[pa.Table, pa.Table]:
    """One partition's reads and, row for row, their truth."""
    rng = stream(seed, "plates", "reads", str(part))
    lo, hi = int(plan.bounds[part]), int(plan.bounds[part + 1])
    trip, cam, t = passes(plan, lo, hi)
    v = plan.trips.vehicle[trip]
    veh = plan.vehicles
    spec, stk = veh.specialty[v], veh.stacked[v]
    patrol = plan.cams.kind[cam] == 2
    p_detect = np.where(patrol, pc.patrol_detection, pc.detection) * np.where(
        stk, pc.stacked_detection, np.where(spec, pc.specialty_detection, 1.0)
    )
    seen = np.flatnonzero(rng.random(len(t), dtype=np.float32) < p_detect)
    rank = plan.cams.rank[cam[seen]]
    t = t[seen]
    o = np.argsort((rank << T_BITS) | t)  # by camera id, then time
    order, rank, t = seen[o], rank[o], t[o]
    trip, v = trip[order], v[order]
    n = len(t)
    spec, stk = veh.specialty[v], veh.stacked[v]
    p_mis = np.minimum(pc.misread * np.where(stk, pc.stacked_misread, np.where(spec, pc.specialty_misread, 1.0)), 1.0)
    u = rng.random((2, n), dtype=np.float32)
    mis = np.flatnonzero(u[0] < p_mis)
    ws = u[1] < pc.wrong_state
    plate = veh.plate[v]
    plate[mis] = pl8.misread(plate[mis], rng, pc.second_char)
    misread = np.zeros(n, dtype=bool)
    misread[mis] = (plate[mis] != veh.plate[v[mis]]).any(axis=1)
    n_states = len(pl8.STATES)
    state = veh.state[v]
    wrong_at = np.flatnonzero(ws)
    state[wrong_at] = (state[wrong_at] + rng.integers(1, n_states, len(wrong_at))) % n_states
    conf = rng.beta(*pc.confidence_right, n).astype(np.float32)
    bad = np.flatnonzero(misread)
    conf[bad] = rng.beta(*pc.confidence_wrong, len(bad))
    reads = pa.table(
        {
            "camera_id": dictionary(pa.array(rank.astype(np.int32)), pa.array(plan.sorted_ids, type=pa.string())),
            "t": pa.array(plan.t0 + t.astype("timedelta64[ms]")),
            "plate_as_read": _strings(plate),
            "state_as_read": dictionary(pa.array(state.astype(np.int8)), list(pl8.STATES)),
            "confidence": conf,
        }
    )
    truth = pa.table(
        {
            "vehicle_key": veh.key[v],
            "trip_id": plan.trips.trip_id[trip],
            "person_id": plan.trips.person[trip],
            "purpose": dictionary(pa.array(plan.trips.purpose[trip]), list(PURPOSES)),
            "misread": misread,
            "wrong_state": ws,
        }
    )
    return reads, truth


def _write_part(plan: ReadPlan, pc: PlatesConfig, seed: int, trails: Path, truth: Path, part: int) -> int:
    reads, tr = read_part(plan, pc, seed, part)
    write_part(reads, part_path(trails / "plate_reads", part))
    write_part(tr, part_path(truth / "plate_reads", part))
    return int(reads.num_rows)


def write_reads(plan: ReadPlan, pc: PlatesConfig, seed: int, trails: Path, truth: Path, workers: int = 1) -> int:
    """Every partition on ``workers`` threads; the number of reads. Files do not depend on ``workers``."""
    return sum(run_parts(lambda p: _write_part(plan, pc, seed, trails, truth, p), range(plan.parts), workers))


def build_hotlist(vehicles: Vehicles, pc: PlatesConfig, seed: int, t0: np.datetime64) -> pl.DataFrame:
    """plate, state, entered, vehicle_key, stale, keyed_wrong; sorted by plate, state, vehicle_key
    (streams ``plates/hotlist``). A keyed-wrong entry has one character confused; a stale entry
    is no longer valid (the vehicle was recovered, the warrant served)."""
    rng = stream(seed, "plates", "hotlist")
    n = len(vehicles)
    m = min(n, max(1, round(pc.hotlist_share * n))) if n else 0
    pick = np.sort(rng.choice(n, m, replace=False)) if m else np.zeros(0, np.int64)
    u = rng.random((2, m))
    wrong = u[0] < pc.hotlist_keyed_wrong
    stale = u[1] < pc.hotlist_stale
    plate = vehicles.plate[pick]
    plate[wrong] = pl8.confuse(plate[wrong], rng)
    age_days = rng.exponential(pc.hotlist_age_days, m) * np.where(stale, 2.0, 1.0)
    entered = t0.astype("datetime64[ms]") - (age_days * 86_400_000).astype("timedelta64[ms]")
    return pl.DataFrame(
        {
            "plate": pl8.as_strings(plate),
            "state": np.array(pl8.STATES)[vehicles.state[pick]],
            "entered": entered,
            "vehicle_key": vehicles.key[pick],
            "stale": stale,
            "keyed_wrong": wrong,
        }
    ).sort("plate", "state", "vehicle_key")


def hotlist_hits(reads: pl.DataFrame, hotlist: pl.DataFrame) -> pl.DataFrame:
    """Reads whose (plate_as_read, state_as_read) is on the hotlist, with the entry's columns."""
    return reads.join(
        hotlist.rename({"plate": "plate_as_read", "state": "state_as_read"}),
        on=["plate_as_read", "state_as_read"],
        how="inner",
    )


@dataclass(frozen=True)
class PlatesWritten:
    vehicles: int
    trips: int
    cameras: int
    reads: int
    parts: int
    hotlist: int


def build_plates(
    world: World,
    activity: Activity,
    pc: PlatesConfig,
    seed: int,
    trails: Path,
    truth: Path,
    workers: int = 1,
) -> PlatesWritten:
    """Vehicles, trips, cameras, reads and the hotlist for ``world`` over ``activity``'s window:
    reads, cameras and the hotlist to ``trails``, their truth to ``truth`` (module docstring)."""
    window = activity.window
    vehicles = build_vehicles(world.people, world.households, world.ties, pc, seed, window)
    roads = build_roads(world.units, pc)
    trips = build_trips(activity, vehicles, roads, pc, seed)
    cams = build_cameras(roads, world.units, pc, seed, world.people.height, window.days)
    plan = plan_reads(vehicles, trips, roads, cams, pc, activity)
    n_reads = write_reads(plan, pc, seed, trails, truth, workers)
    fixed = cams.kind != 2
    xs = np.where(fixed, roads.node_x(cams.col), np.nan)
    ys = np.where(fixed, roads.node_y(cams.row), np.nan)
    cam_df = pl.DataFrame(
        {
            "camera_id": cams.ids,
            "x": xs,
            "y": ys,
            "kind": np.array(CAMERA_KINDS)[cams.kind],
            "dense": cams.dense,
        }
    ).with_columns(x=pl.col("x").fill_nan(None), y=pl.col("y").fill_nan(None))
    write_parquet(cam_df.select("camera_id", "x", "y", "kind").sort("camera_id"), trails / "cameras.parquet")
    write_parquet(cam_df.select("camera_id", "dense").sort("camera_id"), truth / "cameras.parquet")
    posts = cams.e_lo > -FOREVER
    t0 = plan.t0
    write_parquet(
        pl.DataFrame(
            {
                "camera_id": cams.ids[cams.e_camera[posts]],
                "x": roads.node_x(cams.e_col[posts]),
                "y": roads.node_y(cams.e_row[posts]),
                "start": t0 + cams.e_lo[posts].astype("timedelta64[ms]"),
                "end": t0 + cams.e_hi[posts].astype("timedelta64[ms]"),
            }
        ).sort("camera_id", "start"),
        truth / "patrol_posts.parquet",
    )
    hot = build_hotlist(vehicles, pc, seed, window.start)
    write_parquet(hot.select("plate", "state", "entered"), trails / "hotlist.parquet")
    write_parquet(hot.select("vehicle_key", "stale", "keyed_wrong"), truth / "hotlist.parquet")
    write_parquet(vehicles.frame(), truth / "vehicles.parquet")
    write_parquet(vehicles.drivers_frame(), truth / "vehicle_drivers.parquet")
    write_parquet(trips.frame(vehicles, window.start), truth / "trips.parquet")
    return PlatesWritten(len(vehicles), len(trips), len(cams.ids), n_reads, plan.parts, hot.height)
