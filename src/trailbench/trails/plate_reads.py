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

Generation. Reads are drawn per block of ``vehicles_per_part`` vehicles in (true plate, state)
order, block b from ``stream(seed, "plates", "reads", b)``: a block's trips are routed in pieces
of ``ROUTE_PIECE`` trips (its passes in one order whatever the pieces: by chunk of
``ROUTE_CHUNK`` trips, then fixed readers before patrol posts, leg, trip), and its reads drawn
as soon as every piece is routed. The blocks' reads are then merged into the global order and
written part by part, each part's two files apart. These steps are tasks on ``workers`` threads,
the calling one included, each started as soon as what it needs is done (trails/schedule).
Draws never depend on threads, so neither do the files.

Output:

- ``trails/cameras.parquet``: camera_id, x, y (null for patrol readers), kind
  (``intersection``, ``corridor``, ``patrol``), sorted by camera_id (``tb:lpr:`` + 8 hex digits
  from a keyed permutation);
- ``trails/plate_reads/part-*.parquet``: read_id, camera_id, t, plate_as_read, state_as_read,
  confidence. The reads are in one global order, by what a reader sees: camera_id, t,
  plate_as_read, state_as_read, confidence (rows equal in all five are the same to a reader);
  read_id is ``tb:read:`` + 12 hex digits, a keyed permutation (``plates/read_ids``) of the
  read's position in that order. The order is cut into parts at camera boundaries: a part starts
  at each camera (in camera_id order) whose first read's position reaches a new multiple of
  ``reads_per_part`` (an argument of :func:`build_plates`, ``READS_PER_PART`` by default), so a
  part holds whole cameras, about that many reads. Neither order, partition nor id depends on
  the truth (plate, vehicle, trip) or on the number of threads;
- ``truth/plate_reads/part-*.parquet``, the same parts row for row: read_id, vehicle_key,
  trip_id, person_id (the driver), purpose, misread, wrong_state;
- ``trails/hotlist.parquet``: plate, state, entered (sorted by plate, state);
  ``truth/hotlist.parquet``, row for row: vehicle_key (the vehicle the entry was meant for),
  stale, keyed_wrong;
- ``truth/cameras.parquet``, ``truth/patrol_posts.parquet``, ``truth/vehicles.parquet``,
  ``truth/vehicle_drivers.parquet``, ``truth/trips.parquet``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow as pa

from trailbench.io import write_parquet
from trailbench.rng import stream
from trailbench.scenario.plates import PlatesConfig
from trailbench.trails.parts import dictionary, expand, part_path, write_part
from trailbench.trails.schedule import Task, run_tasks
from trailbench.world import plates as pl8
from trailbench.world.activity import Activity
from trailbench.world.device_ids import hex_digits
from trailbench.world.ids import KeyedPermutation
from trailbench.world.roads import Legs, Roads, build_roads, built_up_nodes, route_legs
from trailbench.world.trips import PURPOSES, Trips, build_trips
from trailbench.world.vehicles import Vehicles, build_vehicles
from trailbench.world.window import DAY

if TYPE_CHECKING:
    from trailbench.world import World

CAMERA_KINDS = ("intersection", "corridor", "patrol")
MS_MIN = 60_000
FOREVER = np.iinfo(np.int64).max // 4
T_BITS = 36  # ms within a sort key: about 795 days
TABLE_MAX = 2**25  # largest key space looked up in a table rather than by binary search
SLOT_MS = 5 * MS_MIN  # trips of a block are routed in order of departure to this
ROUTE_CHUNK = 2**14  # trips whose passes come together in a block's order of passes (module docstring)
ROUTE_PIECE = 2 * ROUTE_CHUNK  # trips routed at a time (larger arrays share two threads better)
WAVE = 2**20  # trips routed, or reads ordered and written, between two waits for every thread
READS_PER_PART = 2**17  # reads in an output part, about (parts hold whole cameras)

Passes = tuple[np.ndarray, np.ndarray, np.ndarray]  # trip, camera, t of each pass


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
    nodes: int  # rows * cols of the road grid
    days: int

    @property
    def n_entries(self) -> int:
        return len(self.e_camera)

    @property
    def v_offset(self) -> int:
        """Where column-major keys start in the stacked key space (layers 0 .. days + 1, the last empty)."""
        return (self.days + 2) * self.nodes

    @property
    def key_space(self) -> int:
        return 2 * self.v_offset

    @cached_property
    def layer_span(self) -> tuple[np.ndarray, np.ndarray]:
        """Per layer (0 .. days + 1): when its first post starts and its last ends (ms; empty
        layers from FOREVER to -FOREVER). Layer 0, the fixed readers, reads always."""
        lo = np.full(self.days + 2, FOREVER)
        hi = np.full(self.days + 2, -FOREVER)
        layer = self.h_key // max(self.nodes, 1)
        np.minimum.at(lo, layer, self.e_lo)
        np.maximum.at(hi, layer, self.e_hi)
        return lo, hi

    @cached_property
    def c_key(self) -> np.ndarray:
        """Keys of the entries in ``c_*`` order: row-major ones, then column-major ones past ``v_offset``."""
        return np.concatenate([self.h_key, self.v_offset + self.v_key])

    @cached_property
    def c_moving(self) -> np.ndarray:
        """Entries in row-major then column-major order: the coordinate that moves along a leg."""
        return np.concatenate([self.e_col, self.e_row[self.v_order]]).astype(np.float64)

    @cached_property
    def c_camera(self) -> np.ndarray:
        return np.concatenate([self.e_camera, self.e_camera[self.v_order]]).astype(np.int32)

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
    return Cameras(
        ids,
        kind,
        col,
        row,
        dense,
        rank,
        e_camera,
        e_col,
        e_row,
        e_lo,
        e_hi,
        hk,
        v_order,
        vk[v_order],
        roads.rows * roads.cols,
        days,
    )


@dataclass(frozen=True)
class ReadPlan:
    """Inputs of every vehicle block, prepared once (read-only, shared by threads)."""

    t0: np.datetime64  # window start, datetime64[ms]
    window_ms: int
    roads: Roads
    cams: Cameras
    trips: Trips
    vehicles: Vehicles
    by_plate: np.ndarray  # vehicles in (plate, state) order: block b is by_plate[b * per : (b + 1) * per]
    per: int  # vehicles a block
    trips_from: np.ndarray  # per vehicle: its first trip (trips are sorted by vehicle) ...
    trips_of: np.ndarray  # ... and how many it makes
    sorted_ids: np.ndarray  # camera ids in id order (the output dictionary)
    table: np.ndarray | None  # entries before each stacked key (None where too large: binary search)
    detect_camera: np.ndarray  # chance a pass is read, by camera ...
    detect_vehicle: np.ndarray  # ... times this, by vehicle
    misread_vehicle: np.ndarray  # chance a read is misread, by vehicle

    @property
    def blocks(self) -> int:
        return max(1, -(-len(self.by_plate) // self.per))

    def block_trips(self, block: int) -> np.ndarray:
        """The trips of the vehicles of ``block``, by departure to the ``SLOT_MS`` (then vehicle
        and departure): the times at which a camera reads them come in long sorted runs, cheap
        to sort."""
        v = self.by_plate[block * self.per : (block + 1) * self.per]
        n = self.trips_of[v]
        rep = expand(n)
        start = np.cumsum(n) - n
        idx = (np.arange(len(rep)) + (self.trips_from[v] - start)[rep]).astype(self.trips_from.dtype)
        slot = self.trips.depart[idx] // SLOT_MS
        return idx[np.argsort(_small(slot - slot.min(initial=0)), kind="stable")]

    def first_at(self, keys: np.ndarray) -> np.ndarray:
        """Position in ``Cameras.c_*`` of the first entry at or after each stacked key."""
        if self.table is not None:
            return self.table[keys]
        return np.searchsorted(self.cams.c_key, keys)


def plan_reads(
    vehicles: Vehicles, trips: Trips, roads: Roads, cams: Cameras, pc: PlatesConfig, activity: Activity
) -> ReadPlan:
    """The vehicle blocks, where each vehicle's trips are, the camera look-up table and the
    chances of a read, once for every block."""
    window_ms = activity.window.days * DAY * MS_MIN
    if window_ms >= 2**T_BITS:
        raise ValueError(f"a window of {activity.window.days} days does not fit the reads' sort key")
    if len(trips) and (np.diff(trips.vehicle) < 0).any():
        raise ValueError("trips must be sorted by vehicle")
    trips_of = np.bincount(trips.vehicle, minlength=len(vehicles))
    trips_from = np.cumsum(trips_of) - trips_of
    for name in ("c_key", "c_moving", "c_camera", "c_lo", "c_hi", "layer_span"):
        getattr(cams, name)  # computed here, before threads share them
    table = None
    if cams.key_space < TABLE_MAX:
        table = np.zeros(cams.key_space + 1, dtype=np.int32)
        np.cumsum(np.bincount(cams.c_key, minlength=cams.key_space), out=table[1:])
    return ReadPlan(
        t0=activity.window.start.astype("datetime64[ms]"),
        window_ms=window_ms,
        roads=roads,
        cams=cams,
        trips=trips,
        vehicles=vehicles,
        by_plate=np.lexsort((vehicles.state, pl8.as_int(vehicles.plate))),
        per=pc.vehicles_per_part,
        trips_from=trips_from.astype(np.int32) if len(trips) < 2**31 else trips_from,
        trips_of=trips_of,
        sorted_ids=np.sort(cams.ids),
        table=table,
        detect_camera=np.where(cams.kind == 2, pc.patrol_detection, pc.detection),
        detect_vehicle=np.where(
            vehicles.stacked, pc.stacked_detection, np.where(vehicles.specialty, pc.specialty_detection, 1.0)
        ),
        misread_vehicle=np.minimum(
            pc.misread
            * np.where(vehicles.stacked, pc.stacked_misread, np.where(vehicles.specialty, pc.specialty_misread, 1.0)),
            1.0,
        ),
    )


def _small(x: np.ndarray) -> np.ndarray:
    """Non-negative integers in the smallest type that holds them: numpy sorts 16-bit ones by radix."""
    return x.astype(np.int16) if len(x) == 0 or x.max() < 2**15 else x


def passes(plan: ReadPlan, idx: np.ndarray) -> Passes:
    """(trip, camera, t) of every camera the trips ``idx`` pass while it reads, t in ms; in order
    of (chunk of ``ROUTE_CHUNK`` trips of ``idx``, fixed readers | patrol posts, leg, trip), so
    the passes of trips routed in one piece or in several are the same, in the same order.

    Each leg's cameras are one range of the entries sorted along its axis (row-major for
    east-west legs, column-major for north-south ones, stacked in ``Cameras.c_*``), found by
    two look-ups of its first and one-past-last node's key, for fixed readers and again for the
    patrol posts of the departure day; the time at a node is linear in its coordinate along the
    leg, so it is ``k0 + k1 * coordinate`` with two numbers per leg."""
    tr, roads, cams = plan.trips, plan.roads, plan.cams
    dt = np.int32 if cams.key_space < 2**31 else np.int64  # keys, and so every node coordinate
    c0, r0 = roads.col(tr.x0[idx], dt), roads.row(tr.y0[idx], dt)
    legs = route_legs(roads, c0, r0, roads.col(tr.x1[idx], dt), roads.row(tr.y1[idx], dt))
    del c0, r0
    n = len(idx)
    dep, arr = tr.depart[idx], tr.arrive[idx]
    k_lo, k_hi = _leg_keys(plan, legs)
    s = np.empty((2, 3, n), dtype=dt)  # (fixed readers | patrol posts, leg, trip)
    e = np.empty((2, 3, n), dtype=dt)
    s[0] = plan.first_at(k_lo)
    e[0] = plan.first_at(k_hi)
    layer = _patrol_layer(plan, dep, arr, dt)
    k_lo += layer
    k_hi += layer
    s[1] = plan.first_at(k_lo)
    e[1] = plan.first_at(k_hi)
    del k_lo, k_hi, layer
    e -= s  # cameras on each leg
    used = np.flatnonzero(e.ravel() != 0)
    if n > ROUTE_CHUNK:  # (fixed | patrol, leg, trip) -> by chunk first, the rest kept in order
        used = used[np.argsort(_small((used % n) // ROUTE_CHUNK), kind="stable")]
    cnt = e.ravel()[used]
    first = s.ravel()[used]
    del s, e
    leg = used % (3 * n)  # into the (3, n) leg arrays
    trip_l = leg % n
    a, b = legs.a.ravel()[leg], legs.b.ravel()[leg]
    sign = np.where(b >= a, 1, -1).astype(dt)  # along the moving coordinate or against it
    total = legs.length[trip_l]
    sl = np.where(total > 0, (arr[trip_l] - dep[trip_l]) / np.maximum(total, 1), 0.0)
    k0 = dep[trip_l] + sl * (legs.before.ravel()[leg] - sign * a)
    k1 = sl * sign
    rep = _runs(cnt)
    pos = np.arange(len(rep), dtype=first.dtype) + (first - (np.cumsum(cnt) - cnt))[rep]
    t = (k0[rep] + k1[rep] * cams.c_moving[pos]).astype(np.int64)
    ok = (t >= cams.c_lo[pos]) & (t < cams.c_hi[pos]) & (t < plan.window_ms) & (t >= 0)
    return idx[trip_l[rep[ok]]], cams.c_camera[pos[ok]], t[ok]


def _leg_keys(plan: ReadPlan, legs: Legs) -> tuple[np.ndarray, np.ndarray]:
    """Stacked keys of each leg's first node and one past its last, (3, n): row-major
    ``row * cols + col`` for east-west legs, ``v_offset + col * rows + row`` for north-south ones."""
    cols, rows = plan.roads.cols, plan.roads.rows
    k_lo = legs.fixed * (rows - cols)
    k_lo += plan.cams.v_offset
    k_lo *= legs.axis  # H = 0, V = 1
    k_lo += legs.fixed * cols
    k_lo += legs.lo
    return k_lo, k_lo + legs.nodes


def _patrol_layer(plan: ReadPlan, dep: np.ndarray, arr: np.ndarray, dt: type[np.signedinteger]) -> np.ndarray:
    """Per trip, where in the stacked keys the patrol posts of its departure day start: an empty
    layer unless the trip is under way while some post of that day is posted."""
    cams = plan.cams
    empty = cams.days + 1
    layer = np.clip(dep // (DAY * MS_MIN) + 1, 0, empty)
    layer[layer == 0] = empty
    p_lo, p_hi = cams.layer_span
    layer = np.where((arr + 1 >= p_lo[layer]) & (dep - 1 < p_hi[layer]), layer, empty)
    return (layer * cams.nodes).astype(dt)


def _runs(counts: np.ndarray) -> np.ndarray:
    """``np.repeat(np.arange(len(counts)), counts)`` for positive ``counts``, by a cumulative sum
    (see :func:`trailbench.trails.parts.expand`)."""
    out = np.zeros(int(counts.sum()), dtype=np.int64)
    out[np.cumsum(counts[:-1])] = 1
    return np.cumsum(out, out=out)


@dataclass(frozen=True)
class Reads:
    """Reads of one vehicle block, sorted by ``key`` (camera rank, then t)."""

    key: np.ndarray  # rank of the camera id << T_BITS | t
    plate: np.ndarray  # (n, 7) uint8 as read
    state: np.ndarray  # int8 index into STATES, as read
    conf: np.ndarray  # float32
    trip: np.ndarray  # index into plan.trips
    misread: np.ndarray
    wrong_state: np.ndarray

    def __len__(self) -> int:
        return len(self.key)


READS_FIELDS = ("key", "plate", "state", "conf", "trip", "misread", "wrong_state")


def route_pieces(idx: np.ndarray) -> list[np.ndarray]:
    """``idx`` in pieces of ``ROUTE_PIECE`` trips (whole chunks): the passes of a block are those
    of its pieces, one after the other, so pieces can be routed on separate threads."""
    return [idx[i : i + ROUTE_PIECE] for i in range(0, len(idx), ROUTE_PIECE)] or [idx]


def join(got: list[Passes]) -> Passes:
    return (
        np.concatenate([g[0] for g in got]),
        np.concatenate([g[1] for g in got]),
        np.concatenate([g[2] for g in got]),
    )


def read_block(plan: ReadPlan, pc: PlatesConfig, seed: int, block: int, routed: Passes | None = None) -> Reads:
    """One vehicle block's reads with their truth (stream ``plates/reads/<block>``), from its
    passes (``routed``, or routed here)."""
    rng = stream(seed, "plates", "reads", str(block))
    if routed is None:
        routed = join([passes(plan, c) for c in route_pieces(plan.block_trips(block))])
    trip, cam, t = routed
    v = plan.trips.vehicle[trip]
    veh = plan.vehicles
    p_detect = plan.detect_camera[cam] * plan.detect_vehicle[v]
    seen = np.flatnonzero(rng.random(len(t), dtype=np.float32) < p_detect)
    rank = plan.cams.rank[cam[seen]]
    o = np.argsort(_small(rank), kind="stable")  # by camera id
    key = (rank[o] << T_BITS) | t[seen[o]]
    o2 = np.argsort(key, kind="stable")  # then time: sorted runs, merged
    key, order = key[o2], seen[o[o2]]
    trip, v = trip[order], v[order]
    n = len(key)
    u = rng.random((2, n), dtype=np.float32)
    mis = np.flatnonzero(u[0] < plan.misread_vehicle[v])
    ws = u[1] < pc.wrong_state
    plate = np.take(veh.plate, v, axis=0)  # rows of a 2-d array: take is faster than indexing
    got = pl8.misread(np.take(plate, mis, axis=0), rng, pc.second_char)
    plate[mis] = got
    misread = np.zeros(n, dtype=bool)
    misread[mis] = (got != np.take(veh.plate, v[mis], axis=0)).any(axis=1)
    n_states = len(pl8.STATES)
    state = veh.state[v].astype(np.int8)
    wrong_at = np.flatnonzero(ws)
    state[wrong_at] = (state[wrong_at] + rng.integers(1, n_states, len(wrong_at))) % n_states
    conf = rng.beta(*pc.confidence_right, n).astype(np.float32)
    bad = np.flatnonzero(misread)
    conf[bad] = rng.beta(*pc.confidence_wrong, len(bad))
    return Reads(key, plate, state, conf, trip, misread, ws)


def part_cameras(counts: np.ndarray, reads_per_part: int) -> np.ndarray:
    """Camera ranks (id order) at which each output part starts, and one past the last, from the
    reads each camera took: a part starts at each camera whose first read's position in the
    global order, divided by ``reads_per_part``, differs from the camera's before (a camera
    without reads starts none). Parts hold whole cameras, about ``reads_per_part`` reads each
    (more where one camera took more)."""
    if len(counts) == 0:
        return np.zeros(2, dtype=np.int64)
    start = np.cumsum(counts) - counts
    at = np.maximum.accumulate(np.where(counts > 0, start // reads_per_part, 0))  # cameras without reads: no new part
    _, first = np.unique(at, return_index=True)
    return np.append(first, len(counts)).astype(np.int64)


_STATE_ORDER = np.argsort(np.argsort(np.array(pl8.STATES))).astype(np.int8)  # STATES index -> rank of its code
_READ_PREFIX = np.frombuffer(b"tb:read:", dtype=np.uint32)  # as two 4-byte words
_BASE = ord("Z") - ord("0") + 1  # plate characters as digits in an order-preserving base
_PLATE_BITS = int(_BASE**pl8.WIDTH - 1).bit_length()
_HEX4 = np.frombuffer("".join(f"{i:04x}" for i in range(2**16)).encode(), dtype=np.uint32)  # 16 bits -> 4 digits


def _groups(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the runs of equal values of ``sorted_keys`` longer than one, and each one's run number."""
    same = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])
    at = np.zeros(len(sorted_keys), dtype=bool)
    at[same] = True
    at[same + 1] = True
    pos = np.flatnonzero(at)
    start = np.ones(len(pos), dtype=bool)
    start[1:] = sorted_keys[pos[1:]] != sorted_keys[pos[:-1]]
    return pos, np.cumsum(start) - 1


def visible_order(key: np.ndarray, plate: np.ndarray, state: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """The order of rows by (key, plate, state code, confidence), ``key`` made of sorted runs
    (merged cheaply). Rows of equal key (the same camera at the same millisecond) are ordered by
    their run and plate in one 64-bit key, the plate in base 43 (characters ``0``..``Z``); the
    rare rows equal in that too by state code and confidence."""
    o = np.argsort(key, kind="stable")
    at, run = _groups(key[o])
    if len(at) == 0:
        return o
    sub = o[at]
    p = plate[sub].astype(np.int64) - ord("0")
    if p.min() < 0 or p.max() >= _BASE or len(run) >= 2 ** (63 - _PLATE_BITS):
        raise ValueError("plates outside 0-9, A-Z, or too many reads at one camera and millisecond")
    k2 = (run << _PLATE_BITS) | (p @ _BASE ** np.arange(pl8.WIDTH - 1, -1, -1, dtype=np.int64))
    o2 = np.argsort(k2, kind="stable")  # nearly sorted already: by run
    sub = sub[o2]
    at2, run2 = _groups(k2[o2])
    if len(at2):
        s2 = sub[at2]
        sub[at2] = s2[np.lexsort((conf[s2].view(np.uint32), _STATE_ORDER[state[s2]], run2))]
    o[at] = sub
    return o


def read_ids(perm: KeyedPermutation, first: int, n: int) -> pa.Array:
    """``tb:read:`` + 12 hex digits of the permutation at positions ``first .. first + n``: each
    row five 4-byte words, the prefix's two and three of four digits (16 bits) each."""
    v = perm(np.arange(first, first + n, dtype=np.int64))
    words = np.empty((n, 5), dtype=np.uint32)
    words[:, :2] = _READ_PREFIX
    for i, shift in enumerate((32, 16, 0)):
        words[:, 2 + i] = _HEX4[(v >> shift) & 0xFFFF]
    return _strings(words.view(np.uint8))


def _strings(chars: np.ndarray) -> pa.Array:
    """A string array of the rows of an (n, width) uint8 array."""
    n, width = chars.shape
    large = n * width >= 2**31
    offsets = np.arange(n + 1, dtype=np.int64 if large else np.int32) * width
    data = np.ascontiguousarray(chars, dtype=np.uint8)
    return (pa.LargeStringArray if large else pa.StringArray).from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


@dataclass(frozen=True)
class Part:
    """One output part: the reads of a block of cameras, gathered from every vehicle block, in
    order (``o``), with their ids."""

    cols: dict[str, np.ndarray]
    o: np.ndarray
    ids: pa.Array

    @staticmethod
    def gather(blocks: list[Reads], lo: int, hi: int, perm: KeyedPermutation, first: int) -> Part:
        """The reads of cameras ranked ``lo:hi`` from every block, in order; ``first`` is the
        position of the first in the global order."""
        cut = [(int(np.searchsorted(b.key, lo << T_BITS)), int(np.searchsorted(b.key, hi << T_BITS))) for b in blocks]
        cols = {
            f: np.concatenate([getattr(b, f)[i:j] for b, (i, j) in zip(blocks, cut, strict=True)]) for f in READS_FIELDS
        }
        o = visible_order(cols["key"], cols["plate"], cols["state"], cols["conf"])
        return Part(cols, o, read_ids(perm, first, len(o)))

    def reads(self, plan: ReadPlan) -> pa.Table:
        key = self.cols["key"][self.o]
        t = (key & ((1 << T_BITS) - 1)) + int(plan.t0.astype(np.int64))
        return pa.table(
            {
                "read_id": self.ids,
                "camera_id": dictionary(_arrow((key >> T_BITS).astype(np.int32)), _texts(plan.sorted_ids.tolist())),
                "t": _arrow(t, pa.timestamp("ms")),
                "plate_as_read": _strings(np.take(self.cols["plate"], self.o, axis=0)),
                "state_as_read": dictionary(_arrow(self.cols["state"][self.o]), _texts(pl8.STATES)),
                "confidence": _arrow(self.cols["conf"][self.o]),
            }
        )

    def truth(self, plan: ReadPlan) -> pa.Table:
        trip = self.cols["trip"][self.o]
        return pa.table(
            {
                "read_id": self.ids,
                "vehicle_key": _arrow(plan.vehicles.key[plan.trips.vehicle[trip]]),
                "trip_id": _arrow(plan.trips.trip_id[trip]),
                "person_id": _arrow(plan.trips.person[trip]),
                "purpose": dictionary(_arrow(plan.trips.purpose[trip]), _texts(PURPOSES)),
                "misread": _arrow(self.cols["misread"][self.o]),
                "wrong_state": _arrow(self.cols["wrong_state"][self.o]),
            }
        )


def _arrow(x: np.ndarray, arrow_type: pa.DataType | None = None) -> pa.Array:
    """A numeric or bool array as Arrow, zero-copy where it can be: ``pa.array`` would import
    pandas on first use (a quarter of a second), to check whether it was given a pandas object."""
    if x.dtype == np.bool_:
        return pa.Array.from_buffers(pa.bool_(), len(x), [None, pa.py_buffer(np.packbits(x, bitorder="little"))])
    x = np.ascontiguousarray(x)
    return pa.Array.from_buffers(arrow_type or pa.from_numpy_dtype(x.dtype), len(x), [None, pa.py_buffer(x)])


def _texts(values: Sequence[str]) -> pa.Array:
    """A few strings as Arrow (a dictionary's values), without ``pa.array`` (see :func:`_arrow`)."""
    data = [v.encode() for v in values]
    offsets = np.zeros(len(data) + 1, dtype=np.int32)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    return pa.StringArray.from_buffers(len(data), pa.py_buffer(offsets), pa.py_buffer(b"".join(data)))


@dataclass
class _Block:
    """A vehicle block on its way to its reads (tasks of :func:`run_tasks`): its trips, routed
    in pieces on any thread, then its reads drawn from their passes as soon as all are routed."""

    plan: ReadPlan
    pc: PlatesConfig
    seed: int
    block: int
    pieces: list[Passes | None] = field(default_factory=list)
    reads: Reads | None = None

    def start(self) -> Task:
        return Task(0, lambda: route_pieces(self.plan.block_trips(self.block)), self._route)

    def _route(self, pieces: list[np.ndarray]) -> list[Task]:
        self.pieces = [None] * len(pieces)
        return [Task(1, partial(passes, self.plan, p), partial(self._routed, i)) for i, p in enumerate(pieces)]

    def _routed(self, i: int, got: Passes) -> list[Task]:
        self.pieces[i] = got
        return [] if any(p is None for p in self.pieces) else [Task(2, self._draw, self._drawn)]

    def _draw(self) -> Reads:
        routed = join([p for p in self.pieces if p is not None])
        return read_block(self.plan, self.pc, self.seed, self.block, routed)

    def _drawn(self, reads: Reads) -> list[Task]:
        self.reads, self.pieces = reads, []
        return []


def _read_blocks(plan: ReadPlan, pc: PlatesConfig, seed: int, lo: int, hi: int, workers: int) -> list[Reads]:
    """The reads of blocks ``lo:hi``, on ``workers`` threads (:class:`_Block`)."""
    todo = [_Block(plan, pc, seed, b) for b in range(lo, min(hi, plan.blocks))]
    run_tasks([b.start() for b in todo], workers)
    return [b.reads for b in todo if b.reads is not None]


def write_reads(
    plan: ReadPlan,
    pc: PlatesConfig,
    seed: int,
    trails: Path,
    truth: Path,
    workers: int = 1,
    reads_per_part: int = READS_PER_PART,
) -> tuple[int, int]:
    """The reads of every vehicle block on ``workers`` threads, then the output parts (blocks of
    cameras, :func:`part_cameras`) on as many; (reads, parts). Both go in waves of about
    ``WAVE`` trips or reads (at least a block or part a thread), which bound what is in hand at
    once. Files do not depend on ``workers``."""
    step = max(workers, WAVE * plan.blocks // max(len(plan.trips), 1), 1)
    blocks = [r for b in range(0, plan.blocks, step) for r in _read_blocks(plan, pc, seed, b, b + step, workers)]
    n_cams = len(plan.cams.ids)
    counts = np.zeros(n_cams, dtype=np.int64)
    for b in blocks:
        counts += np.bincount(b.key >> T_BITS, minlength=n_cams)
    cams = part_cameras(counts, reads_per_part)
    at = np.concatenate([[0], np.cumsum(counts)])[cams]  # global position of each part's first read
    perm = KeyedPermutation(2**48, stream(seed, "plates", "read_ids"))
    n_parts, total = len(cams) - 1, int(at[-1])

    def part(p: int) -> Task:
        """Part ``p``: its reads gathered in order, then its two files written apart (so threads
        stay busy when there are few parts); files before gathers, larger parts first."""
        n = int(at[p + 1] - at[p])

        def write(got: Part) -> list[Task]:
            return [
                Task(total + n, lambda: write_part(got.reads(plan), part_path(trails / "plate_reads", p))),
                Task(total + n, lambda: write_part(got.truth(plan), part_path(truth / "plate_reads", p))),
            ]

        return Task(n, lambda: Part.gather(blocks, int(cams[p]), int(cams[p + 1]), perm, int(at[p])), write)

    step = max(workers, WAVE * n_parts // max(total, 1), 1)
    for wave in range(0, n_parts, step):
        run_tasks([part(p) for p in range(wave, min(wave + step, n_parts))], workers)
    return total, n_parts


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
    reads_per_part: int = READS_PER_PART,
) -> PlatesWritten:
    """Vehicles, trips, cameras, reads and the hotlist for ``world`` over ``activity``'s window:
    reads, cameras and the hotlist to ``trails``, their truth to ``truth`` (module docstring).
    ``reads_per_part`` sets the size of the output parts of reads, about (tests set it small)."""
    window = activity.window
    vehicles = build_vehicles(world.people, world.households, world.ties, pc, seed, window)
    roads = build_roads(world.units, pc)
    trips = build_trips(activity, vehicles, roads, pc, seed)
    cams = build_cameras(roads, world.units, pc, seed, world.people.height, window.days)
    plan = plan_reads(vehicles, trips, roads, cams, pc, activity)
    n_reads, n_parts = write_reads(plan, pc, seed, trails, truth, workers, reads_per_part)
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
    return PlatesWritten(len(vehicles), len(trips), len(cams.ids), n_reads, n_parts, hot.height)
