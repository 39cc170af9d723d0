"""Errands and visits by exploration and preferential return (EPR; Song et al. 2010).

Each errand is a tour from home at a time the person is awake and free. Its destination follows
EPR: with probability ``rho * S^-gamma`` (S: places known so far) the person explores a new
place, chosen by purpose (shop, park, clinic, or the home of someone they have a tie with) and
by a gravity choice around home; otherwise they return to a known place with probability
proportional to past visits, which is drawing a past visit uniformly at random (a Polya urn).
A burn-in of unkept errands before the window gives everyone a history to return to.

The loop runs over the k-th errand of each person, vectorised over people.
"""

from __future__ import annotations

import numpy as np

from trailbench.scenario.movement import MovementConfig
from trailbench.world.places import Sampler, gravity_choice, sampler
from trailbench.world.schedule import Schedule
from trailbench.world.stays import Stays, neighbours
from trailbench.world.window import DAY, Context, K, travel_minutes

PURPOSES = ("shop", "park", "clinic", "visit")
PLANNED_MIN = 45  # minutes an errand is planned to take when its slot is checked
MARGIN_MIN = 15
MIN_STAY = 5


def _candidate_times(
    rng: np.random.Generator, mv: MovementConfig, ctx: Context, sched: Schedule
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(person, start) of candidate errands in waking hours, and each eligible person's daily rate."""
    n = len(ctx.person_id)
    eligible = ctx.age >= mv.errand_min_age
    busy = (sched.shift >= 0) | (sched.school >= 0)
    rate = np.where(eligible, np.where(busy, mv.errands_per_day[0], mv.errands_per_day[1]), 0.0)
    days = np.arange(ctx.window.days)
    factor = np.where(ctx.window.dow(days) >= 5, mv.weekend_errands, 1.0)
    counts = rng.poisson(rate[:, None] * factor[None, :])
    person = np.repeat(np.repeat(np.arange(n), len(days)), counts.ravel())
    day = np.repeat(np.tile(days, n), counts.ravel())
    wake = (sched.sleep_start + sched.sleep_len) % DAY
    awake = DAY - sched.sleep_len - PLANNED_MIN
    start = day * DAY + wake[person] + (rng.random(len(person)) * np.maximum(awake[person], 1)).astype(np.int64)
    ok = start < ctx.window.minutes
    return person[ok], start[ok], rate


def _free(fixed: Stays, person: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the fixed stay (sorted) starting at or before each (person, start) and of the
    one after it (-1: none)."""
    if len(fixed) == 0:
        none = np.full(len(person), -1, dtype=np.int64)
        return none, none.copy()
    prev = neighbours(fixed.person, fixed.start, person, start)
    nxt = np.where(prev >= 0, prev + 1, np.searchsorted(fixed.person, person, side="left"))
    inside = nxt < len(fixed)
    nxt = np.where(inside & (fixed.person[np.minimum(nxt, len(fixed) - 1)] == person), nxt, -1)
    return prev, nxt


def _ties_index(ctx: Context) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each person's ties outside their household as CSR (offsets, counts, partner home locations)."""
    a = ctx.ties["person_a"].to_numpy()
    b = ctx.ties["person_b"].to_numpy()
    src = np.concatenate([a, b])
    dst = np.concatenate([b, a])
    home = ctx.home_loc(0)
    ok = (ctx.household[src] != ctx.household[dst]) & (home[src] != home[dst])
    src, dst = src[ok], dst[ok]
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    n = len(ctx.person_id)
    counts = np.bincount(src, minlength=n)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return offsets, counts, home[dst]


def _samplers(ctx: Context) -> list[tuple[np.ndarray, Sampler]]:
    """For each place purpose, its places (the shops where a kind has none) and their sampler."""
    out = []
    for name in PURPOSES[:3]:
        places = ctx.of_kind(name)
        if len(places) == 0:
            places = ctx.of_kind("shop")
        out.append((places, sampler(ctx.loc_x[places], ctx.loc_y[places], ctx.place_mass[places])))
    return out


def _explore(
    rng: np.random.Generator,
    mv: MovementConfig,
    ctx: Context,
    who: np.ndarray,
    ties: tuple[np.ndarray, ...],
    samplers: list[tuple[np.ndarray, Sampler]],
) -> np.ndarray:
    """New destinations for people ``who``: a purpose, then a place (or a tie's home)."""
    w = np.array(mv.purposes) / sum(mv.purposes)
    purpose = rng.choice(len(PURPOSES), len(who), p=w)
    out = np.full(len(who), -1, dtype=np.int64)
    offsets, counts, partner_home = ties
    visit = np.flatnonzero(purpose == PURPOSES.index("visit"))
    has = counts[who[visit]] > 0
    vv = visit[has]
    pick = offsets[who[vv]] + (rng.random(len(vv)) * counts[who[vv]]).astype(np.int64)
    out[vv] = partner_home[pick]
    purpose[visit[~has]] = 0  # no one to visit: a shop instead
    home = ctx.home_loc(0)[who]
    for k, (places, points) in enumerate(samplers):
        rows = np.flatnonzero(purpose == k)
        if len(rows) == 0 or len(places) == 0:
            continue
        out[rows] = places[
            gravity_choice(
                rng,
                ctx.loc_x[home[rows]],
                ctx.loc_y[home[rows]],
                points,
                mv.trip_km_median,
                mv.trip_km_sigma,
                mv.candidates,
            )
        ]
    return out


def _epr(
    rng: np.random.Generator, mv: MovementConfig, ctx: Context, person: np.ndarray, rate: np.ndarray
) -> np.ndarray:
    """Destinations of the errands (sorted by person then time), after each person's burn-in."""
    n = len(ctx.person_id)
    m = np.bincount(person, minlength=n)
    week = (5 + 2 * mv.weekend_errands) / 7.0
    burn = rng.poisson(rate * mv.burn_in_days * week)
    burn[m == 0] = 0
    total = burn + m
    who = np.flatnonzero(total > 0)
    if len(who) == 0:
        return np.zeros(0, dtype=np.int64)
    steps = int(total.max())
    hist = np.full((len(who), steps), -1, dtype=np.int64)
    known = np.zeros(len(who))
    ties = _ties_index(ctx)
    samplers = _samplers(ctx)
    tw = total[who]
    for k in range(steps):
        act = np.flatnonzero(tw > k)
        new = (rng.random(len(act)) < mv.rho * np.maximum(known[act], 1.0) ** -mv.gamma) | (k == 0)
        loc = np.empty(len(act), dtype=np.int64)
        back = act[~new]
        loc[~new] = hist[back, (rng.random(len(back)) * k).astype(np.int64)]
        loc[new] = _explore(rng, mv, ctx, who[act[new]], ties, samplers)
        hist[act, k] = loc
        known[act[new]] += 1
    # the window's errands are each person's steps after the burn-in, in time order
    row = np.full(n, -1, dtype=np.int64)
    row[who] = np.arange(len(who))
    first = np.concatenate([[0], np.cumsum(m)[:-1]])
    within = np.arange(len(person)) - first[person]
    return hist[row[person], burn[person] + within]


def build_errands(rng: np.random.Generator, mv: MovementConfig, ctx: Context, sched: Schedule) -> Stays:
    """Errand and visit stays, fitted between the fixed stays (travel time included)."""
    fixed = sched.fixed.sorted()
    person, start, rate = _candidate_times(rng, mv, ctx, sched)
    prev, nxt = _free(fixed, person, start)
    free_from = np.where(prev >= 0, fixed.end[np.maximum(prev, 0)] + MARGIN_MIN, -(2**40))
    free_to = np.where(nxt >= 0, fixed.start[np.maximum(nxt, 0)] - MARGIN_MIN, 2**40)
    ok = (start >= free_from) & (start + PLANNED_MIN <= free_to)
    person, start, prev, nxt = person[ok], start[ok], prev[ok], nxt[ok]
    order = np.lexsort((start, person))
    person, start, prev, nxt = person[order], start[order], prev[order], nxt[order]
    loc = _epr(rng, mv, ctx, person, rate)
    place_code = np.array([K.get(k, K["shop"]) for k in ctx.place_kind] + [K["visit"]], dtype=np.int64)
    kind = place_code[np.minimum(loc, ctx.n_places)]
    means = mv.stay_minutes.model_dump()
    mean = np.select(
        [kind == K["shop"], kind == K["park"], kind == K["clinic"]],
        [means["shop"], means["park"], means["clinic"]],
        default=means["visit"],
    )
    dur = np.maximum(np.round(rng.gamma(mv.stay_shape, mean / mv.stay_shape)), MIN_STAY).astype(np.int64)
    x, y = ctx.loc_x[loc], ctx.loc_y[loc]
    pp, nn = np.maximum(prev, 0), np.maximum(nxt, 0)
    lead = travel_minutes(mv, ctx.loc_x[fixed.loc[pp]], ctx.loc_y[fixed.loc[pp]], x, y)
    tail = travel_minutes(mv, x, y, ctx.loc_x[fixed.loc[nn]], ctx.loc_y[fixed.loc[nn]])
    s = np.where(prev >= 0, np.maximum(start, fixed.end[pp] + lead), start)
    e = np.where(nxt >= 0, np.minimum(start + dur, fixed.start[nn] - tail), start + dur)
    keep = e - s >= MIN_STAY
    return Stays(person[keep], s[keep], e[keep], kind[keep].astype(np.int8), loc[keep])
