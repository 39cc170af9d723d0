"""The audit window and what daily life is built on: each person's home and job on each day.

Time inside the movement model is whole minutes from the window's first midnight. Locations
are one index space: places first (their ``place_id``), then housing units (``n_places +
unit_id``), so a stay anywhere is one integer and its coordinates one lookup.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from trailbench.scenario.movement import MovementConfig

DAY = 1440  # minutes
STAY_KINDS = (
    "home",
    "work",
    "informal_work",
    "second_job",
    "school",
    "school_run",
    "transit",
    "worship",
    "shop",
    "park",
    "clinic",
    "visit",
)
K = {name: i for i, name in enumerate(STAY_KINDS)}
NO_JOB = -2
INFORMAL = -1


@dataclass(frozen=True)
class Window:
    start: np.datetime64  # the first day, datetime64[D]
    days: int

    @property
    def minutes(self) -> int:
        return self.days * DAY

    def dow(self, day: np.ndarray) -> np.ndarray:
        """Day of week (Monday 0) of window day indices (negative before the window)."""
        epoch_day = self.start.astype("datetime64[D]").astype(np.int64) + np.asarray(day)
        return (epoch_day + 3) % 7  # 1970-01-01 was a Thursday


def default_window(period_end: np.datetime64, days: int) -> Window:
    """The last ``days`` days of the scenario period."""
    return Window(period_end.astype("datetime64[D]") - np.timedelta64(days, "D"), days)


@dataclass
class Context:
    """What the movement model reads from the world, as arrays indexed by person (or place)."""

    window: Window
    person_id: np.ndarray
    household: np.ndarray
    role: np.ndarray  # role names
    age: np.ndarray  # years at the window's start
    home: np.ndarray  # (people, days + 1): unit_id on days -1 .. days-1
    job: np.ndarray  # (people, days + 1): workplace location, INFORMAL or NO_JOB
    loc_x: np.ndarray
    loc_y: np.ndarray
    n_places: int
    place_kind: np.ndarray  # kind names, per place
    place_mass: np.ndarray
    ties: pl.DataFrame  # person_a, person_b: ties holding at the window's start

    def home_loc(self, day: np.ndarray | int = 0) -> np.ndarray:
        """Location codes of everyone's home on window day ``day`` (a scalar day or one per person)."""
        d = np.clip(np.asarray(day) + 1, 0, self.window.days)
        rows = np.arange(len(self.person_id))
        return self.n_places + self.home[rows, d]

    def of_kind(self, kind: str) -> np.ndarray:
        return np.flatnonzero(self.place_kind == kind)


def travel_minutes(mv: MovementConfig, x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray) -> np.ndarray:
    """Door-to-door minutes between two points (0 where they coincide)."""
    d = np.hypot(x1 - x0, y1 - y0)
    t = mv.trip_overhead_min + d / (mv.speed_kmh * 1000.0 / 60.0)
    return np.where(d > 0, np.ceil(t), 0).astype(np.int64)


def _as_of(
    keys: np.ndarray, values: np.ndarray, ends: np.ndarray, who: np.ndarray, when: np.ndarray, missing: int
) -> np.ndarray:
    """The value of the spell (sorted by owner then start, as ``owner * 2**32 + start_day``) holding
    for owner ``who`` on day ``when``; ``missing`` where none holds."""
    q = who.astype(np.int64) * 2**32 + when
    i = np.searchsorted(keys, q, side="right") - 1
    j = np.maximum(i, 0)
    ok = (i >= 0) & ((keys[j] >> 32) == who) & (when < ends[j])
    return np.where(ok, values[j], missing)


def _spells(df: pl.DataFrame, owner: str, value: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    far = np.iinfo(np.int32).max
    df = df.sort([owner, "start"])
    start = df["start"].cast(pl.Date).cast(pl.Int64).to_numpy()
    end = df["end"].cast(pl.Date).cast(pl.Int64).fill_null(far).to_numpy()
    keys = df[owner].to_numpy().astype(np.int64) * 2**32 + start
    return keys, df[value].to_numpy(), end


def build_context(
    window: Window,
    people: pl.DataFrame,
    residences: pl.DataFrame,
    jobs: pl.DataFrame,
    ties: pl.DataFrame,
    units: pl.DataFrame,
    places: pl.DataFrame,
) -> Context:
    n = people.height
    days = np.arange(-1, window.days)
    day_num = window.start.astype("datetime64[D]").astype(np.int64) + days
    pid = people["person_id"].to_numpy()
    if not np.array_equal(pid, np.arange(n)):
        raise ValueError("people must be sorted by person_id = 0 .. n-1")
    hid = people["household_id"].to_numpy()
    who = np.repeat(hid, len(days))
    when = np.tile(day_num, n)
    keys, unit, end = _spells(residences, "household_id", "unit_id")
    home = _as_of(keys, unit, end, who, when, -1).reshape(n, len(days))
    if (home < 0).any():
        raise ValueError("someone has no home in the audit window; the window must lie in the scenario period")
    place_of_employer = np.full(int(places["employer_id"].drop_nulls().to_numpy().max(initial=-1)) + 2, -1, np.int64)
    wp = places.filter(pl.col("employer_id").is_not_null())
    place_of_employer[wp["employer_id"].to_numpy()] = wp["place_id"].to_numpy()
    jobs = jobs.with_columns(
        loc=pl.when(pl.col("informal")).then(INFORMAL).otherwise(pl.col("employer_id")).cast(pl.Int64)
    )
    keys, loc, end = _spells(jobs, "person_id", "loc")
    loc = np.where(loc >= 0, place_of_employer[np.maximum(loc, 0)], loc)
    job = _as_of(keys, loc, end, np.repeat(pid, len(days)), np.tile(day_num, n), NO_JOB).reshape(n, len(days))
    d0 = window.start.astype("datetime64[D]")
    age = (d0 - people["dob"].to_numpy().astype("datetime64[D]")).astype(np.int64) / 365.25
    start_day = int(d0.astype(np.int64))
    live = ties.filter(
        (pl.col("start").cast(pl.Int64) <= start_day)
        & (pl.col("end").is_null() | (pl.col("end").cast(pl.Int64) > start_day))
    ).select("person_a", "person_b")
    n_places = places.height
    return Context(
        window=window,
        person_id=pid,
        household=hid,
        role=people["role"].to_numpy(),
        age=age,
        home=home,
        job=job,
        loc_x=np.concatenate([places["x"].to_numpy(), units["x"].to_numpy()]),
        loc_y=np.concatenate([places["y"].to_numpy(), units["y"].to_numpy()]),
        n_places=n_places,
        place_kind=places["kind"].to_numpy(),
        place_mass=places["mass"].to_numpy(),
        ties=live,
    )
