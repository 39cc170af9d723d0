"""Vehicle trips from the movement layer's stays, plus the planted targets' and port visitors' trips.

Consecutive stays of one person at places more than ``walk_m`` apart are a car trip when the
person has a vehicle that day (their household's, or a borrowed one on borrowing days), neither
end is a transit ride, and the trip is not a transit commuter's way to or from work. The trip
leaves when the first stay ends and arrives when the next begins; its driver is the person.

Its true purpose comes from the stay kinds at its ends (the end that is not home; the
destination if neither is): work on a day shift is a commute, on another shift or a second job
shift work, informal work sites field work, school and school runs the school run, visits to
ties' homes family visits, the rest errands.

Planted targets (world/vehicles) make one-day round trips from home to the port-of-entry zone
at odd hours (``target_hours``) on ``target_trips_per_week`` days a week; innocent port visitors
make the same trips less often and mostly by day. These trips are added to the stays' trips;
they are what defines a target.

``truth/trips``: trip_id (keyed), vehicle_key, person_id, purpose, to_port, depart, arrive,
x0, y0, x1, y1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from trailbench.rng import stream
from trailbench.scenario.plates import PlatesConfig
from trailbench.world.activity import Activity
from trailbench.world.ids import KeyedPermutation
from trailbench.world.roads import Roads
from trailbench.world.schedule import SHIFTS
from trailbench.world.vehicles import Vehicles
from trailbench.world.window import DAY, STAY_KINDS

PURPOSES = ("commute", "shift_work", "field_work", "school_run", "errand", "family_visit", "target_run")
P = {name: i for i, name in enumerate(PURPOSES)}
MS_MIN = 60_000
_KIND_PURPOSE = {
    "home": "errand",
    "work": "commute",
    "informal_work": "field_work",
    "second_job": "shift_work",
    "school": "school_run",
    "school_run": "school_run",
    "transit": "errand",
    "worship": "errand",
    "shop": "errand",
    "park": "errand",
    "clinic": "errand",
    "visit": "family_visit",
}
KIND_PURPOSE = np.array([P[_KIND_PURPOSE[k]] for k in STAY_KINDS], dtype=np.int8)
KIND = {name: i for i, name in enumerate(STAY_KINDS)}


@dataclass
class Trips:
    """One row per trip, sorted by vehicle (index into Vehicles) then departure."""

    vehicle: np.ndarray
    person: np.ndarray
    depart: np.ndarray  # ms from the window's start
    arrive: np.ndarray
    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    purpose: np.ndarray  # int8 index into PURPOSES
    to_port: np.ndarray  # bool: a round-trip leg to or from the port zone
    trip_id: np.ndarray  # keyed

    def __len__(self) -> int:
        return len(self.vehicle)

    def frame(self, vehicles: Vehicles, t0: np.datetime64) -> pl.DataFrame:
        t0 = t0.astype("datetime64[ms]")
        return pl.DataFrame(
            {
                "trip_id": self.trip_id,
                "vehicle_key": vehicles.key[self.vehicle],
                "person_id": self.person,
                "purpose": np.array(PURPOSES)[self.purpose],
                "to_port": self.to_port,
                "depart": t0 + self.depart.astype("timedelta64[ms]"),
                "arrive": t0 + self.arrive.astype("timedelta64[ms]"),
                "x0": self.x0,
                "y0": self.y0,
                "x1": self.x1,
                "y1": self.y1,
            }
        ).sort("trip_id")


def _stay_trips(activity: Activity, vehicles: Vehicles, pc: PlatesConfig) -> dict[str, np.ndarray]:
    t0 = int(activity.window.start.astype("datetime64[ms]").astype(np.int64))
    s = activity.stays.sort("person_id", "start")
    person = s["person_id"].to_numpy()
    kind = s["kind"].replace_strict(list(STAY_KINDS), list(range(len(STAY_KINDS))), return_dtype=pl.Int8).to_numpy()
    start = s["start"].cast(pl.Datetime("ms")).cast(pl.Int64).to_numpy() - t0
    end = s["end"].cast(pl.Datetime("ms")).cast(pl.Int64).to_numpy() - t0
    x, y = s["x"].to_numpy(), s["y"].to_numpy()
    sched = activity.schedules.sort("person_id")
    transit = sched["transit"].to_numpy().astype(bool)
    shift = (
        sched["shift"]
        .replace_strict(list(SHIFTS), list(range(len(SHIFTS))), default=-1, return_dtype=pl.Int8)
        .fill_null(-1)
        .to_numpy()
    )
    i = np.flatnonzero((person[1:] == person[:-1]) & (np.hypot(x[1:] - x[:-1], y[1:] - y[:-1]) > pc.walk_m))
    j = i + 1
    who = person[i]
    ka, kb = kind[i], kind[j]
    ok = (ka != KIND["transit"]) & (kb != KIND["transit"])
    work = np.isin(ka, [KIND["work"], KIND["second_job"]]) | np.isin(kb, [KIND["work"], KIND["second_job"]])
    ok &= ~(transit[who] & work)
    day = np.clip(end[i] // (DAY * MS_MIN), 0, activity.window.days - 1)
    own = vehicles.primary[who]
    lend = np.where(vehicles.borrow_days[who, day], vehicles.borrowed[who], -1)
    veh = np.where(own >= 0, own, lend)
    ok &= veh >= 0
    i, j, who, ka, kb, veh = i[ok], j[ok], who[ok], ka[ok], kb[ok], veh[ok]
    other = np.where(kb == KIND["home"], ka, kb)
    purpose = KIND_PURPOSE[other]
    day_shift = shift[who] == SHIFTS.index("day")
    purpose = np.where((other == KIND["work"]) & ~day_shift, P["shift_work"], purpose).astype(np.int8)
    return {
        "vehicle": veh,
        "person": who,
        "depart": end[i],
        "arrive": start[j],
        "x0": x[i],
        "y0": y[i],
        "x1": x[j],
        "y1": y[j],
        "purpose": purpose,
        "to_port": np.zeros(len(i), dtype=bool),
    }


def _port_trips(
    activity: Activity, vehicles: Vehicles, roads: Roads, pc: PlatesConfig, seed: int
) -> dict[str, np.ndarray]:
    """Round trips home -> port zone -> home of targets and port visitors, both legs."""
    rng = stream(seed, "plates", "trips", "port")
    days = activity.window.days
    homes = activity.stays.filter(pl.col("kind") == "home").group_by("person_id").agg(pl.col("x", "y").first())
    hx = np.full(len(vehicles.primary), np.nan)
    hy = np.full(len(vehicles.primary), np.nan)
    hp = homes["person_id"].to_numpy()
    hx[hp], hy[hp] = homes["x"].to_numpy(), homes["y"].to_numpy()
    target, visitor = vehicles.target, vehicles.port_visitor
    rate = np.where(target, pc.target_trips_per_week / 7, np.where(visitor, pc.port_visits_per_week / 7, 0.0))
    go = rng.random((len(vehicles), days)) < rate[:, None]
    v, d = np.nonzero(go)
    drv = vehicles.driver[v]
    keep = drv >= 0
    keep[keep] = ~np.isnan(hx[drv[keep]])
    v, d, drv = v[keep], d[keep], drv[keep]
    n = len(v)
    lo, hi = pc.target_hours
    night = vehicles.target[v] | (rng.random(n) < pc.port_visit_night)
    hour = np.where(night, lo + rng.random(n) * (hi - lo), 9.0 + rng.random(n) * 8.0)
    dep = ((d * 24 + hour) * 3600_000).astype(np.int64)
    px, py = roads.port_xy
    x0, y0 = hx[drv], hy[drv]
    metres = np.abs(px - x0) + np.abs(py - y0)
    drive = (metres / (pc.highway_kmh / 3.6) * 1000).astype(np.int64)
    arr = dep + drive
    dwell = (np.maximum(rng.exponential(pc.port_dwell_min, n), 10.0) * MS_MIN).astype(np.int64)
    back = arr + dwell
    home_again = back + drive
    purpose = np.where(vehicles.target[v], P["target_run"], P["family_visit"]).astype(np.int8)
    pxa, pya = np.full(n, px), np.full(n, py)
    return {
        "vehicle": np.concatenate([v, v]),
        "person": np.concatenate([drv, drv]),
        "depart": np.concatenate([dep, back]),
        "arrive": np.concatenate([arr, home_again]),
        "x0": np.concatenate([x0, pxa]),
        "y0": np.concatenate([y0, pya]),
        "x1": np.concatenate([pxa, x0]),
        "y1": np.concatenate([pya, y0]),
        "purpose": np.concatenate([purpose, purpose]),
        "to_port": np.ones(2 * n, dtype=bool),
    }


def build_trips(activity: Activity, vehicles: Vehicles, roads: Roads, pc: PlatesConfig, seed: int) -> Trips:
    """Every vehicle trip in the window, sorted by vehicle then departure (streams ``plates/trips/*``)."""
    a = _stay_trips(activity, vehicles, pc)
    b = _port_trips(activity, vehicles, roads, pc, seed)
    cols = {k: np.concatenate([a[k], b[k]]) for k in a}
    order = np.lexsort((cols["arrive"], cols["depart"], cols["vehicle"]))
    cols = {k: v[order] for k, v in cols.items()}
    n = len(order)
    ids = KeyedPermutation(2**40, stream(seed, "plates", "trips", "ids"))(np.arange(n))
    return Trips(trip_id=ids, **cols)
