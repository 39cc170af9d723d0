"""Vehicles, their plates and who drives them (issue 12).

A household has no vehicle with chance ``no_vehicle``; otherwise 1 + a Poisson number (at most
``max_vehicles``) whose mean makes the region's mean ``vehicles_per_household`` (both from the
ACS). Household members of driving age are its drivers; driver j of a household drives its
vehicle j mod k, so where drivers outnumber vehicles several people drive one. A share of
drivers in households without a vehicle borrow one from another household (a tie's where they
have a tie whose household has a vehicle), on a share of days.

A small planted share of vehicles with a driver are targets (``target_share``, the base rate of
the flag task) and a share of the others make occasional innocent round trips to the port zone;
both are drawn uniformly over vehicles: what marks a target is its trips (world/trips), never
its driver's group. ``vehicle_key`` comes from a keyed permutation, so it reveals no household
or issue order; tables are sorted by it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from trailbench.rng import stream
from trailbench.scenario.plates import PlatesConfig
from trailbench.world import plates as pl8
from trailbench.world.ids import KeyedPermutation
from trailbench.world.window import Window

KEY_SPACE = 2**40


@dataclass
class Vehicles:
    """Arrays indexed by vehicle (in vehicle_key order) and the driver table."""

    key: np.ndarray  # vehicle_key, sorted
    household: np.ndarray
    plate: np.ndarray  # (n, 7) uint8
    state: np.ndarray  # int8 index into plates.STATES
    specialty: np.ndarray  # bool
    stacked: np.ndarray  # bool
    target: np.ndarray  # bool
    port_visitor: np.ndarray  # bool
    driver: np.ndarray  # person_id of the main driver, -1 for none
    primary: np.ndarray  # per person_id: vehicle index driven, -1 for none
    borrowed: np.ndarray  # per person_id: vehicle index borrowed, -1 for none
    borrow_days: np.ndarray  # (people, days) bool: days a borrower has the borrowed vehicle

    def __len__(self) -> int:
        return len(self.key)

    def frame(self) -> pl.DataFrame:
        """truth/vehicles: vehicle_key, household_id, plate, state, specialty, stacked, drivers,
        borrowed_by (drivers from other households), target, port_visitor."""
        n = len(self)
        drivers = np.bincount(self.primary[self.primary >= 0], minlength=n)
        borrowers = np.bincount(self.borrowed[self.borrowed >= 0], minlength=n)
        return pl.DataFrame(
            {
                "vehicle_key": self.key,
                "household_id": self.household,
                "plate": pl8.as_strings(self.plate),
                "state": np.array(pl8.STATES)[self.state],
                "specialty": self.specialty,
                "stacked": self.stacked,
                "drivers": drivers.astype(np.int64),
                "borrowed_by": borrowers.astype(np.int64),
                "target": self.target,
                "port_visitor": self.port_visitor,
            }
        )

    def drivers_frame(self) -> pl.DataFrame:
        """truth/vehicle_drivers: person_id, vehicle_key, borrowed (one row per person and vehicle driven)."""
        own = np.flatnonzero(self.primary >= 0)
        bor = np.flatnonzero(self.borrowed >= 0)
        return pl.DataFrame(
            {
                "person_id": np.concatenate([own, bor]).astype(np.int64),
                "vehicle_key": np.concatenate([self.key[self.primary[own]], self.key[self.borrowed[bor]]]),
                "borrowed": np.concatenate([np.zeros(len(own), bool), np.ones(len(bor), bool)]),
            }
        ).sort("person_id", "vehicle_key")


def poisson_mean_for(mean_owning: float, cap: int) -> float:
    """The Poisson mean lam with E[min(1 + Poisson(lam), cap)] = mean_owning (bisection)."""

    def capped(lam: float) -> float:
        pmf = [math.exp(-lam) * lam**k / math.factorial(k) for k in range(cap)]
        return sum((1 + k) * p for k, p in enumerate(pmf[: cap - 1])) + cap * (1 - sum(pmf[: cap - 1]))

    if mean_owning <= 1:
        return 0.0
    lo, hi = 0.0, 50.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if capped(mid) < mean_owning else (lo, mid)
    return (lo + hi) / 2


def _ages(people: pl.DataFrame, window: Window) -> np.ndarray:
    d0 = window.start.astype("datetime64[D]")
    return (d0 - people["dob"].to_numpy().astype("datetime64[D]")).astype(np.int64) / 365.25


def build_vehicles(
    people: pl.DataFrame, households: pl.DataFrame, ties: pl.DataFrame, pc: PlatesConfig, seed: int, window: Window
) -> Vehicles:
    """Vehicles, plates and drivers (streams ``plates/vehicles/*``)."""
    rng = stream(seed, "plates", "vehicles", "own")
    n_h = households.height
    n_p = people.height
    owning = rng.random(n_h) >= pc.no_vehicle
    lam = poisson_mean_for(pc.vehicles_per_household / max(1.0 - pc.no_vehicle, 1e-9), pc.max_vehicles)
    k = np.where(owning, np.minimum(1 + rng.poisson(lam, n_h), pc.max_vehicles), 0)
    hh = np.repeat(households["household_id"].to_numpy(), k)  # issue order: by household
    n = len(hh)
    # keyed order: vehicle_key reveals no household or issue order
    key_issue = KeyedPermutation(KEY_SPACE, stream(seed, "plates", "vehicles", "keys"))(np.arange(n))
    order = np.argsort(key_issue)
    key, hh = key_issue[order], hh[order]
    # plates: series drawn per vehicle, issued in keyed order within each series
    prng = stream(seed, "plates", "vehicles", "plates")
    out = prng.random(n) < pc.out_of_region
    spec = ~out & (prng.random(n) < pc.specialty)
    stacked = spec & (prng.random(n) < pc.stacked)
    state = np.where(out, prng.integers(1, len(pl8.STATES), n), pl8.HOME).astype(np.int8)
    plate = np.empty((n, pl8.WIDTH), dtype=np.uint8)
    std = ~out & ~spec
    for name, mask in (("standard", std), ("specialty", spec), ("out_of_region", out)):
        plate[mask] = pl8.issue(seed, name, int(mask.sum()))
    # drivers: members of driving age; driver j of a household drives its vehicle j mod k
    hid = people["household_id"].to_numpy()
    age = _ages(people, window)
    is_driver = age >= pc.driving_age
    by_hh = np.argsort(hh, kind="stable")  # vehicles grouped by household
    first_v = np.searchsorted(hh[by_hh], np.arange(n_h))
    k_of = np.bincount(hh, minlength=n_h)
    pid_sorted = np.lexsort((people["person_id"].to_numpy(), hid))
    drv = pid_sorted[is_driver[pid_sorted]]
    drv_h = hid[drv]
    start_of = np.searchsorted(drv_h, drv_h)  # drivers are grouped by household
    j = np.arange(len(drv)) - start_of
    primary = np.full(n_p, -1, dtype=np.int64)
    has = k_of[drv_h] > 0
    primary[drv[has]] = by_hh[first_v[drv_h[has]] + j[has] % k_of[drv_h[has]]]
    main = np.full(n, -1, dtype=np.int64)
    first_driver = has & (j < k_of[drv_h])
    main[primary[drv[first_driver]]] = drv[first_driver]
    # borrowers: drivers without a household vehicle, from a tie's household where one has a vehicle
    brng = stream(seed, "plates", "vehicles", "borrow")
    need = drv[~has]
    borrower = need[brng.random(len(need)) < pc.borrowers]
    tie_a = np.concatenate([ties["person_a"].to_numpy(), ties["person_b"].to_numpy()])
    tie_b = np.concatenate([ties["person_b"].to_numpy(), ties["person_a"].to_numpy()])
    with_car = k_of[hid[tie_b]] > 0
    tie_a, tie_b = tie_a[with_car], tie_b[with_car]
    o = np.lexsort((tie_b, tie_a))
    tie_a, tie_b = tie_a[o], tie_b[o]
    lo = np.searchsorted(tie_a, borrower)
    cnt = np.searchsorted(tie_a, borrower, side="right") - lo
    u = brng.random((2, len(borrower)))
    pick = lo + np.floor(u[0] * np.maximum(cnt, 1)).astype(np.int64)
    owners = np.flatnonzero(k_of > 0)
    lender_h = np.where(
        cnt > 0,
        hid[tie_b[np.minimum(pick, max(len(tie_b) - 1, 0))]] if len(tie_b) else 0,
        owners[np.floor(u[1] * len(owners)).astype(np.int64)] if len(owners) else 0,
    )
    borrowed = np.full(n_p, -1, dtype=np.int64)
    if len(owners):
        v_pick = np.floor(brng.random(len(borrower)) * k_of[lender_h]).astype(np.int64)
        borrowed[borrower] = by_hh[first_v[lender_h] + v_pick]
    days = brng.random((n_p, window.days)) < pc.borrow_days
    days[borrowed < 0] = False
    # planted targets and innocent port visitors: uniform over vehicles with a main driver
    trng = stream(seed, "plates", "vehicles", "targets")
    u = trng.random((2, n))
    target = (main >= 0) & (u[0] < pc.target_share)
    visitor = (main >= 0) & ~target & (u[1] < pc.port_visitors)
    return Vehicles(key, hh, plate, state, spec, stacked, target, visitor, main, primary, borrowed, days)
