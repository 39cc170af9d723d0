"""Each person's stays over the audit window: the ground truth of where everyone is, minute by minute.

Fixed commitments (``schedule``) and errands (``errands``) are put in time order per person and
settled: a stay cannot start before the previous one has ended and the trip between them is
done (travel time from distance), and a stay squeezed below five minutes is dropped. Every gap
long enough to go home becomes a stay at home; shorter gaps are trips. Between stays a person is
travelling: the stays table leaves those minutes out.

``stays``: stay_id, person_id, kind, place_id (places), unit_id (homes, visits, informal work
sites), x, y, start, end (datetimes; end exclusive), sorted by person then start.
``schedules``: one row per person with the routine their days were drawn from (the strata).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from trailbench.rng import stream
from trailbench.scenario.movement import MovementConfig
from trailbench.world.errands import build_errands
from trailbench.world.schedule import SHIFTS, Schedule, build_schedule
from trailbench.world.stays import Stays
from trailbench.world.window import DAY, STAY_KINDS, Context, K, Window, build_context, travel_minutes

if TYPE_CHECKING:
    from trailbench.world import World

MIN_STAY = 5
MIN_HOME = 15


@dataclass
class Activity:
    stays: pl.DataFrame
    schedules: pl.DataFrame
    window: Window


def settle(mv: MovementConfig, ctx: Context, stays: Stays) -> Stays:
    """Stays in time order per person with room to travel between them: a stay starts no earlier
    than the previous one's end plus the trip; one squeezed below ``MIN_STAY`` is dropped and the
    rest settled again (each round drops at least one stay, so this ends)."""
    s = stays.sorted()
    orig = s.start.copy()
    while True:
        same = s.person[1:] == s.person[:-1]
        x, y = ctx.loc_x[s.loc], ctx.loc_y[s.loc]
        tau = travel_minutes(mv, x[:-1], y[:-1], x[1:], y[1:])
        start = orig.copy()
        start[1:] = np.where(same, np.maximum(orig[1:], s.end[:-1] + tau), orig[1:])
        s.start = start
        keep = s.end - s.start >= MIN_STAY
        if keep.all():
            return s
        s, orig = s.take(keep), orig[keep]


def fill_home(mv: MovementConfig, ctx: Context, s: Stays) -> Stays:
    """Stays at home in every gap long enough to get home and back (and before the first and
    after the last stay of the window)."""
    n = len(ctx.person_id)
    w = ctx.window.minutes
    counts = np.bincount(s.person, minlength=n)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    gp = np.repeat(np.arange(n), counts + 1)
    q = np.arange(len(gp)) - np.repeat(first + np.arange(n), counts + 1)  # gap number within person
    prev = np.where(q > 0, first[gp] + q - 1, -1)
    nxt = np.where(q < counts[gp], first[gp] + q, -1)
    pi, ni = np.maximum(prev, 0), np.maximum(nxt, 0)
    lo = np.where(prev >= 0, s.end[pi], -DAY)
    hi = np.where(nxt >= 0, s.start[ni], w + DAY)
    day = np.clip((np.clip(lo, 0, w - 1)) // DAY, 0, ctx.window.days - 1)
    home = ctx.n_places + ctx.home[gp, day + 1]
    hx, hy = ctx.loc_x[home], ctx.loc_y[home]
    lead = np.where(prev >= 0, travel_minutes(mv, ctx.loc_x[s.loc[pi]], ctx.loc_y[s.loc[pi]], hx, hy), 0)
    tail = np.where(nxt >= 0, travel_minutes(mv, hx, hy, ctx.loc_x[s.loc[ni]], ctx.loc_y[s.loc[ni]]), 0)
    hs, he = lo + lead, hi - tail
    ok = he - hs >= MIN_HOME
    return Stays(gp[ok].astype(np.int64), hs[ok], he[ok], np.full(int(ok.sum()), K["home"], dtype=np.int8), home[ok])


def _clip(ctx: Context, s: Stays) -> Stays:
    s.start = np.maximum(s.start, 0)
    s.end = np.minimum(s.end, ctx.window.minutes)
    return s.take(s.end - s.start >= 1)


def _stays_frame(ctx: Context, s: Stays) -> pl.DataFrame:
    t0 = ctx.window.start.astype("datetime64[m]")
    is_place = s.loc < ctx.n_places
    return pl.DataFrame(
        {
            "stay_id": np.arange(len(s), dtype=np.int64),
            "person_id": ctx.person_id[s.person],
            "kind": np.array(STAY_KINDS, dtype=object)[s.kind],
            "place_id": np.where(is_place, s.loc, -1),
            "unit_id": np.where(is_place, -1, s.loc - ctx.n_places),
            "x": ctx.loc_x[s.loc],
            "y": ctx.loc_y[s.loc],
            "start": (t0 + s.start.astype("timedelta64[m]")).astype("datetime64[ms]"),
            "end": (t0 + s.end.astype("timedelta64[m]")).astype("datetime64[ms]"),
        },
        schema_overrides={"kind": pl.String},
    ).with_columns(
        place_id=pl.when(pl.col("place_id") >= 0).then(pl.col("place_id")),
        unit_id=pl.when(pl.col("unit_id") >= 0).then(pl.col("unit_id")),
    )


def _schedules_frame(ctx: Context, sched: Schedule) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "person_id": ctx.person_id,
            "shift": pl.Series([SHIFTS[i] if i >= 0 else None for i in sched.shift.tolist()], dtype=pl.String),
            "informal": sched.informal,
            "multiple_jobs": sched.second_job,
            "home_worker": sched.home_worker,
            "transit": sched.transit,
            "school_place_id": sched.school,
            "worship_place_id": sched.worship,
            "sleep_start_min": sched.sleep_start,
            "sleep_minutes": sched.sleep_len,
        },
        schema_overrides={"shift": pl.String},
    ).with_columns(
        school_place_id=pl.when(pl.col("school_place_id") >= 0).then(pl.col("school_place_id")),
        worship_place_id=pl.when(pl.col("worship_place_id") >= 0).then(pl.col("worship_place_id")),
    )


def build_activity(world: World, places: pl.DataFrame, mv: MovementConfig, seed: int, window: Window) -> Activity:
    """Stays and routines for everyone in ``world`` over ``window`` (streams ``world/activity/*``)."""
    ctx = build_context(window, world.people, world.residences, world.jobs, world.ties, world.units, places)
    sched = build_schedule(stream(seed, "world", "activity", "schedule"), mv, ctx)
    errands = build_errands(stream(seed, "world", "activity", "errands"), mv, ctx, sched)
    out = settle(mv, ctx, Stays.concat([sched.fixed, errands]))
    stays = _clip(ctx, Stays.concat([out, fill_home(mv, ctx, out)]).sorted())
    return Activity(_stays_frame(ctx, stays), _schedules_frame(ctx, sched), window)
