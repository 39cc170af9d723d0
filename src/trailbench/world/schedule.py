"""Fixed commitments over the audit window: work by shift, second jobs, informal work at changing
sites, school and school runs, transit stops on the way to work, and weekly worship.

Each person's usual shift, work days, sleep hours and routines are drawn once; each day's
stays follow from them (vectorised over person-days; loops run over a handful of slots, never
over people or days).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trailbench.scenario.movement import MovementConfig
from trailbench.world.places import gravity_choice, nearest, sampler
from trailbench.world.stays import Stays
from trailbench.world.window import DAY, INFORMAL, NO_JOB, Context, K

SHIFTS = ("day", "evening", "night", "irregular")
MAX_SITES = 16
WORSHIP_DAYS = np.array([6, 5, 4])  # Sunday, Saturday, Friday
WORSHIP_DAY_P = np.array([0.85, 0.10, 0.05])  # assumption
DROP_OFF = (15, 5)  # minutes before school starts: arrive, leave
PICK_UP = 10  # minutes at school after it ends


@dataclass
class Schedule:
    shift: np.ndarray  # int8 per person: index into SHIFTS, -1 for people without a job
    informal: np.ndarray  # bool: informal work at some point in the window
    second_job: np.ndarray  # bool
    home_worker: np.ndarray  # bool
    transit: np.ndarray  # bool
    school: np.ndarray  # place_id of the school attended, -1 for none
    worship: np.ndarray  # place_id of the household's place of worship, -1 for none
    sleep_start: np.ndarray  # minutes after midnight at which the main sleep starts
    sleep_len: np.ndarray  # minutes
    fixed: Stays


def _zipf_pick(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """For each row, an index in [0, count) with weights 1/(k+1)."""
    w = 1.0 / np.arange(1, MAX_SITES + 1)
    cw = np.cumsum(np.where(np.arange(MAX_SITES)[None, :] < counts[:, None], w[None, :], 0.0), axis=1)
    u = rng.random(len(counts)) * cw[np.arange(len(counts)), counts - 1]
    return (cw < u[:, None]).sum(axis=1)


def _informal_sites(
    rng: np.random.Generator, mv: MovementConfig, ctx: Context, who: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(len(who), MAX_SITES) location codes of each informal worker's recurring sites (other homes,
    -1 past their count) and their counts."""
    counts = np.minimum(1 + rng.poisson(mv.informal_sites, len(who)), MAX_SITES)
    units = np.arange(ctx.n_places, len(ctx.loc_x))
    points = sampler(ctx.loc_x[units], ctx.loc_y[units])
    home = ctx.home_loc(0)[who]
    sites = np.empty((len(who), MAX_SITES), dtype=np.int64)
    for k in range(MAX_SITES):
        pick = gravity_choice(
            rng, ctx.loc_x[home], ctx.loc_y[home], points, mv.trip_km_median, mv.trip_km_sigma, mv.candidates
        )
        sites[:, k] = units[pick]
    return np.where(np.arange(MAX_SITES)[None, :] < counts[:, None], sites, -1), counts


def _sleep(rng: np.random.Generator, mv: MovementConfig, ctx: Context, shift: np.ndarray) -> tuple[np.ndarray, ...]:
    n = len(shift)
    h = np.array(mv.shift_start_hours)
    after_work = 1.0 + mv.work_hours
    base = np.select(
        [shift == 1, shift == 2, ctx.age < 13],
        [h[1] + after_work, h[2] + after_work, np.full(n, 21.0)],
        default=np.full(n, 23.0),
    )
    start = np.round((base + rng.normal(0, 0.75, n)) * 60).astype(np.int64) % DAY
    length = np.clip(np.round(mv.sleep_hours * 60 + rng.normal(0, 30, n)), 240, 900).astype(np.int64)
    return start, length


def build_schedule(rng: np.random.Generator, mv: MovementConfig, ctx: Context) -> Schedule:
    n = len(ctx.person_id)
    days = np.arange(-1, ctx.window.days)  # column j is day j - 1
    dow = ctx.window.dow(days)
    weekend = dow >= 5
    has_job = ctx.job != NO_JOB
    worker = has_job.any(axis=1)
    w = np.array(mv.shifts) / sum(mv.shifts)
    shift = np.where(worker, rng.choice(4, n, p=w), -1).astype(np.int8)
    offset_h = rng.normal(0, mv.shift_start_sd_hours, n)
    keep = 1.0 - mv.absence
    p_usual = np.where(np.arange(7) >= 5, min(1.0, mv.weekend_work / keep), min(1.0, mv.weekday_work / keep))
    usual = rng.random((n, 7)) < p_usual[None, :]
    none = ~usual.any(axis=1)
    usual[np.flatnonzero(none), rng.integers(0, 5, int(none.sum()))] = True
    informal_day = ctx.job == INFORMAL
    home_worker = worker & (rng.random(n) < mv.home_workers)
    home_day = home_worker[:, None] & ~informal_day & (rng.random(has_job.shape) < mv.home_work_days)
    works = has_job & usual[:, dow] & ~home_day & (rng.random(has_job.shape) >= mv.absence)
    week = (ctx.window.start.astype("datetime64[D]").astype(np.int64) + days + 3) // 7
    week = week - week.min()
    irregular = rng.integers(0, 3, (n, int(week.max()) + 1))
    shift_day = np.where(shift[:, None] == 3, irregular[:, week], shift[:, None])
    # -- primary work ----------------------------------------------------------------
    p, j = np.nonzero(works)
    s = shift_day[p, j]
    start_h = np.array(mv.shift_start_hours)[s] + offset_h[p] + rng.normal(0, mv.start_jitter_hours, len(p))
    hours = np.where(weekend[j], mv.weekend_work_hours, mv.work_hours) + rng.normal(0, mv.work_hours_sd, len(p))
    start = (j - 1) * DAY + np.round(start_h * 60).astype(np.int64)
    end = start + np.round(np.clip(hours, 2.0, 14.0) * 60).astype(np.int64)
    loc = ctx.job[p, j].astype(np.int64)
    informal_worker = informal_day.any(axis=1)
    inf_who = np.flatnonzero(informal_worker)
    sites, counts = _informal_sites(rng, mv, ctx, inf_who)
    row_of = np.full(n, -1, dtype=np.int64)
    row_of[inf_who] = np.arange(len(inf_who))
    is_inf = loc == INFORMAL
    r = row_of[p[is_inf]]
    loc[is_inf] = sites[r, _zipf_pick(rng, counts[r])]
    kind = np.where(is_inf, K["informal_work"], K["work"]).astype(np.int8)
    work = Stays(p.astype(np.int64), start, end, kind, loc)
    # -- second jobs: on days off the main job, or after a day shift ------------------------
    second = worker & (rng.random(n) < mv.multiple_jobs)
    workplaces = ctx.of_kind("workplace")
    who2 = np.flatnonzero(second)
    home0 = ctx.home_loc(0)
    place2 = workplaces[
        gravity_choice(
            rng,
            ctx.loc_x[home0[who2]],
            ctx.loc_y[home0[who2]],
            sampler(ctx.loc_x[workplaces], ctx.loc_y[workplaces]),
            mv.trip_km_median,
            mv.trip_km_sigma,
            mv.candidates,
        )
    ]
    end_primary = np.full(has_job.shape, -1, dtype=np.int64)
    end_primary[p, j] = end
    on = second[:, None] & has_job & (rng.random(has_job.shape) < mv.second_job_days / 7.0)
    on &= ~works | ((shift_day == 0) & works)
    p2, j2 = np.nonzero(on)
    after = works[p2, j2]
    s2 = np.where(after, end_primary[p2, j2] + 60, (j2 - 1) * DAY + 600 + np.round(offset_h[p2] * 60).astype(np.int64))
    e2 = s2 + np.round(np.clip(mv.second_job_hours + rng.normal(0, 0.5, len(p2)), 1.0, 12.0) * 60).astype(np.int64)
    slot = np.full(n, -1, dtype=np.int64)
    slot[who2] = place2
    jobs2 = Stays.of(p2, s2, e2, K["second_job"], slot[p2])
    # -- transit stops on the way to and from work ------------------------------------------
    stops = ctx.of_kind("transit")
    transit = worker & (rng.random(n) < mv.transit_commute) & (len(stops) > 0)
    tr = np.flatnonzero(transit[work.person])
    tp = work.person[tr]
    riders, rider = np.unique(tp, return_inverse=True)
    hl, wl = home0[riders], work.loc[tr]
    near_home = stops[nearest(ctx.loc_x[stops], ctx.loc_y[stops], ctx.loc_x[hl], ctx.loc_y[hl])] if len(tr) else tp
    near_work = stops[nearest(ctx.loc_x[stops], ctx.loc_y[stops], ctx.loc_x[wl], ctx.loc_y[wl])] if len(tr) else tp
    rides = Stays.concat(
        [
            Stays.of(tp, work.start[tr] - 25, work.start[tr] - 15, K["transit"], near_home[rider]),
            Stays.of(tp, work.end[tr] + 5, work.end[tr] + 12, K["transit"], near_work),
        ]
    )
    school, school_stays, runs = _school(rng, mv, ctx, dow, works, shift_day)
    worship, services = _worship(rng, mv, ctx, dow)
    sleep_start, sleep_len = _sleep(rng, mv, ctx, shift)
    return Schedule(
        shift=shift,
        informal=informal_worker,
        second_job=second,
        home_worker=home_worker,
        transit=transit,
        school=school,
        worship=worship,
        sleep_start=sleep_start,
        sleep_len=sleep_len,
        fixed=Stays.concat([work, jobs2, rides, school_stays, runs, services]),
    )


def _school(
    rng: np.random.Generator,
    mv: MovementConfig,
    ctx: Context,
    dow: np.ndarray,
    works: np.ndarray,
    shift_day: np.ndarray,
) -> tuple[np.ndarray, Stays, Stays]:
    n = len(ctx.person_id)
    schools = ctx.of_kind("school")
    lo, hi = mv.school_ages
    pupil = (ctx.age >= lo) & (ctx.age < hi + 1)
    home0 = ctx.home_loc(0)
    attends = np.full(n, -1, dtype=np.int64)
    pu = np.flatnonzero(pupil)
    attends[pu] = schools[nearest(ctx.loc_x[schools], ctx.loc_y[schools], ctx.loc_x[home0[pu]], ctx.loc_y[home0[pu]])]
    bell = np.zeros(len(ctx.loc_x), dtype=np.int64)
    bell[schools] = np.round((mv.school_start_hours * 60 + rng.normal(0, 20, len(schools))) / 5).astype(np.int64) * 5
    length = round(mv.school_hours * 60)
    school_day = np.flatnonzero(dow < 5)
    p = np.repeat(pu, len(school_day))
    j = np.tile(school_day, len(pu))
    start = (j - 1) * DAY + bell[attends[p]]
    stays = Stays.of(p, start, start + length, K["school"], attends[p])
    # school runs: one parent per household with young pupils, preferring one not on a day shift
    young = pupil & (ctx.age < mv.school_run_max_age + 1)
    hh_young = np.unique(ctx.household[young])
    runs_hh = hh_young[rng.random(len(hh_young)) < mv.school_run]
    adult = (ctx.age >= 18) & np.isin(ctx.role, ("householder", "spouse")) & np.isin(ctx.household, runs_hh)
    cand = np.flatnonzero(adult)
    day_shift = (shift_day[cand] == 0) & works[cand]
    score = day_shift.mean(axis=1) + rng.random(len(cand))
    order = np.lexsort((score, ctx.household[cand]))
    first = np.r_[True, np.diff(ctx.household[cand][order]) != 0]
    driver = cand[order][first]
    # the household's school: its youngest pupils' (all its pupils share the nearest school)
    school_of_hh = np.full(int(ctx.household.max()) + 1, -1, dtype=np.int64)
    school_of_hh[ctx.household[young]] = attends[young]
    dsch = school_of_hh[ctx.household[driver]]
    dp = np.repeat(driver, len(school_day))
    dj = np.tile(school_day, len(driver))
    ds = np.repeat(dsch, len(school_day))
    t0 = (dj - 1) * DAY + bell[ds]
    runs = Stays.concat(
        [
            Stays.of(dp, t0 - DROP_OFF[0], t0 - DROP_OFF[1], K["school_run"], ds),
            Stays.of(dp, t0 + length, t0 + length + PICK_UP, K["school_run"], ds),
        ]
    )
    return attends, stays, runs


def _worship(rng: np.random.Generator, mv: MovementConfig, ctx: Context, dow: np.ndarray) -> tuple[np.ndarray, Stays]:
    n = len(ctx.person_id)
    places = ctx.of_kind("worship")
    n_hh = int(ctx.household.max()) + 1
    attend = rng.random(n_hh) < mv.worship_weekly
    if len(places) == 0:
        attend[:] = False
    # each household's home: the home of its first member
    first = np.unique(ctx.household, return_index=True)[1]
    hh_home = np.zeros(n_hh, dtype=np.int64)
    hh_home[ctx.household[first]] = ctx.home_loc(0)[first]
    hh = np.flatnonzero(attend)
    place = np.full(n_hh, -1, dtype=np.int64)
    if len(hh):
        place[hh] = places[
            gravity_choice(
                rng,
                ctx.loc_x[hh_home[hh]],
                ctx.loc_y[hh_home[hh]],
                sampler(ctx.loc_x[places], ctx.loc_y[places], ctx.place_mass[places]),
                mv.trip_km_median,
                mv.trip_km_sigma,
                mv.candidates,
            )
        ]
    day_of = WORSHIP_DAYS[rng.choice(len(WORSHIP_DAYS), n_hh, p=WORSHIP_DAY_P)]
    hour = np.where(day_of == 4, 19.0, 10.5 + rng.normal(0, 1.0, n_hh))
    member = np.flatnonzero(attend[ctx.household])
    hhm = ctx.household[member]
    p, jj = np.nonzero(dow[None, :] == day_of[hhm][:, None])
    who = member[p]
    start = (jj - 1) * DAY + np.round(hour[hhm[p]] * 60).astype(np.int64)
    stays = Stays.of(who, start, start + round(mv.worship_hours * 60), K["worship"], place[hhm[p]])
    return place[ctx.household] if n else np.zeros(0, dtype=np.int64), stays
