"""Places and daily life over the audit window: structure, realism within stated tolerances,
determinism (issue 11, deliverables 1-2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailbench.rng import stream
from trailbench.scenario import Scenario
from trailbench.scenario.movement import MovementConfig
from trailbench.world import World, period
from trailbench.world.activity import Activity, build_activity, settle
from trailbench.world.places import PUBLIC, build_places, gravity_choice, sampler
from trailbench.world.stays import Stays
from trailbench.world.window import STAY_KINDS, Window, default_window, travel_minutes

MV = MovementConfig()
ERRANDS = ("shop", "park", "clinic", "visit")
WORK = ("work", "informal_work")


@dataclass
class Life:
    places: pl.DataFrame
    activity: Activity
    window: Window


def live(world: World, sc: Scenario, mv: MovementConfig = MV, seed: int | None = None) -> Life:
    seed = sc.seed if seed is None else seed
    places = build_places(stream(seed, "world", "places"), world.units, world.people.height, world.employers, mv)
    window = default_window(period(sc)[1], mv.window_days)
    return Life(places, build_activity(world, places, mv, seed, window), window)


@pytest.fixture(scope="module")
def life(tiny: Scenario, tiny_world: World) -> Life:
    return live(tiny_world, tiny)


def _trips(stays: pl.DataFrame) -> pl.DataFrame:
    """Consecutive stays of a person at different points: the trip between them, in metres."""
    return (
        stays.sort("person_id", "start")
        .with_columns(px=pl.col("x").shift().over("person_id"), py=pl.col("y").shift().over("person_id"))
        .filter(pl.col("px").is_not_null())
        .with_columns(d=((pl.col("x") - pl.col("px")) ** 2 + (pl.col("y") - pl.col("py")) ** 2).sqrt())
        .filter(pl.col("d") > 0)
    )


def _home_share(life: Life, h0: int, h1: int) -> pl.DataFrame:
    """Mean share of weekday minutes h0:00-h1:00 spent at home, by shift (null: no job)."""
    home = life.activity.stays.filter(pl.col("kind") == "home")
    t0 = life.window.start.astype("datetime64[ms]")
    parts = []
    for d in range(life.window.days):
        if life.window.dow(np.array(d)) >= 5:
            continue
        a = t0 + np.timedelta64(d * 24 + h0, "h")
        b = t0 + np.timedelta64(d * 24 + h1, "h")
        overlap = pl.min_horizontal("end", pl.lit(b)) - pl.max_horizontal("start", pl.lit(a))
        parts.append(home.select("person_id", m=overlap.dt.total_minutes().clip(0)))
    minutes = pl.concat(parts).group_by("person_id").agg(pl.col("m").sum())
    total = 60 * (h1 - h0) * len(parts)
    return (
        life.activity.schedules.join(minutes, on="person_id", how="left")
        .with_columns(share=pl.col("m").fill_null(0) / total)
        .group_by("shift")
        .agg(pl.col("share").mean(), n=pl.len())
    )


# -- places ---------------------------------------------------------------------------------


def test_places_stand_in_the_region_with_every_kind(life: Life, tiny_world: World) -> None:
    p, u = life.places, tiny_world.units
    assert p["x"].is_between(u["x"].min() - 100, u["x"].max() + 100).all()
    assert p["y"].is_between(u["y"].min() - 100, u["y"].max() + 100).all()
    assert set(p["kind"]) >= {"workplace", "school", "shop", "transit"}
    # one workplace per employer; every town has a school, a shop and a transit stop
    assert p.filter(pl.col("kind") == "workplace")["employer_id"].sort().to_list() == list(
        range(tiny_world.employers.height)
    )
    towns = u["town"].n_unique()
    for kind in ("school", "shop", "transit"):
        assert p.filter(pl.col("kind") == kind)["town"].n_unique() == towns
    assert set(p["kind"]) <= {"workplace", *PUBLIC}


def test_places_are_deterministic(life: Life, tiny: Scenario, tiny_world: World) -> None:
    again = build_places(stream(tiny.seed, "world", "places"), tiny_world.units, 2000, tiny_world.employers, MV)
    assert again.equals(life.places)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32), st.floats(0.2, 20), st.floats(0.3, 2.0))
def test_gravity_choice_picks_places_near_the_kernel(seed: int, km: float, sigma: float) -> None:
    rng = np.random.default_rng(seed)
    px, py = rng.uniform(0, 50_000, 200), rng.uniform(0, 50_000, 200)
    ox, oy = rng.uniform(0, 50_000, 300), rng.uniform(0, 50_000, 300)
    pick = gravity_choice(rng, ox, oy, sampler(px, py, rng.random(200) + 0.01), km, sigma, 24)
    assert ((pick >= 0) & (pick < 200)).all()
    # the chosen place is nearer than a random one, on the whole
    chosen = np.hypot(px[pick] - ox, py[pick] - oy)
    random = np.hypot(px[rng.integers(0, 200, 300)] - ox, py[rng.integers(0, 200, 300)] - oy)
    assert np.median(chosen) < np.median(random)


# -- structure ---------------------------------------------------------------------------


def test_stays_are_ordered_within_the_window_and_never_overlap(life: Life, tiny_world: World) -> None:
    s = life.activity.stays
    assert s.columns == ["stay_id", "person_id", "kind", "place_id", "unit_id", "x", "y", "start", "end"]
    assert set(s["kind"]) <= set(STAY_KINDS)
    t0 = life.window.start.astype("datetime64[ms]")
    t1 = t0 + np.timedelta64(life.window.days, "D")
    assert (s["start"] < s["end"]).all()
    assert s["start"].min() >= t0 and s["end"].max() <= t1
    prev_end = s.select(pl.col("end").shift().over("person_id"))["end"]
    assert (prev_end.is_null() | (s["start"] >= prev_end)).all()
    assert s["person_id"].n_unique() == tiny_world.people.height
    # a place or a unit, never both; the unit of a home stay is the household's unit that day
    assert (s["place_id"].is_null() ^ s["unit_id"].is_null()).all()
    assert s.filter(pl.col("kind") == "home")["unit_id"].is_not_null().all()
    # people are travelling a small share of the time
    covered = (s["end"] - s["start"]).dt.total_minutes().sum() / (life.window.days * 1440 * tiny_world.people.height)
    assert covered > 0.95


def test_home_stays_are_at_the_household_unit(life: Life, tiny_world: World) -> None:
    homes = life.activity.stays.filter(pl.col("kind") == "home").join(
        tiny_world.people.select("person_id", "household_id"), on="person_id"
    )
    day = homes.with_columns(day=pl.col("start").dt.date())
    res = tiny_world.residences.with_columns(pl.col("end").fill_null(date(9999, 1, 1)))
    checked = (
        day.join(res, on="household_id", suffix="_r")
        .filter((pl.col("start_r") <= pl.col("day")) & (pl.col("day") < pl.col("end_r")))
        .select((pl.col("unit_id") == pl.col("unit_id_r")).mean())
        .item()
    )
    assert checked > 0.99  # moves inside a home stay keep the old unit until it ends


# -- realism ---------------------------------------------------------------------------------


def test_stay_durations(life: Life) -> None:
    minutes = life.activity.stays.with_columns(m=(pl.col("end") - pl.col("start")).dt.total_minutes())
    med = dict(minutes.group_by("kind").agg(pl.col("m").median()).iter_rows())
    assert 15 <= med["shop"] <= 45  # mean 35 min, gamma shape 1.5
    assert 60 <= med["visit"] <= 150
    assert 6.5 * 60 <= med["work"] <= 9 * 60  # ATUS: 8.0 hours on weekdays worked, 5.7 at weekends
    assert abs(med["school"] - MV.school_hours * 60) <= 5
    errands = minutes.filter(pl.col("kind").is_in(ERRANDS))["m"]
    assert errands.min() >= 5
    # gamma-shaped: right-skewed, mean above median
    assert errands.mean() > errands.median()


def test_trip_lengths_are_heavy_tailed(life: Life) -> None:
    d = _trips(life.activity.stays)["d"].to_numpy() / 1000.0
    median = np.median(d)
    assert 0.2 <= median <= 5.0
    assert np.quantile(d, 0.9) / median >= 5.0
    assert np.log(d).std() >= 1.0  # broad, log-normal-like (Alessandretti et al. 2017)


def test_preferential_return_concentrates_visits(life: Life) -> None:
    """A few places take most of a person's errand visits (EPR; Song et al. 2010: f_k ~ k^-1.2)."""
    er = life.activity.stays.filter(pl.col("kind").is_in(ERRANDS)).with_columns(
        loc=pl.coalesce(pl.col("place_id"), -pl.col("unit_id") - 1)
    )
    counts = (
        er.group_by("person_id", "loc")
        .len()
        .sort(["person_id", "len"], descending=[False, True])
        .with_columns(
            rank=pl.col("len").cum_count().over("person_id"),
            total=pl.col("len").sum().over("person_id"),
            places=pl.len().over("person_id"),
        )
        .filter(pl.col("total") >= 20)
    )
    people = counts["person_id"].n_unique()
    assert people >= 200
    top = counts.filter(pl.col("rank") <= (pl.col("places") * 0.2).ceil())
    top_share = top.group_by("person_id").agg(s=(pl.col("len") / pl.col("total")).sum())["s"].mean()
    assert top_share >= 0.45
    by_rank = counts.group_by("rank").agg(f=(pl.col("len") / pl.col("total")).sum() / people).sort("rank").head(8)
    slope = np.polyfit(np.log(by_rank["rank"].to_numpy()), np.log(by_rank["f"].to_numpy()), 1)[0]
    assert -1.8 <= slope <= -0.6


def test_time_at_home_by_shift(life: Life) -> None:
    """Night workers are home in the day and away at night; day workers the other way round."""
    day = dict(_home_share(life, 10, 15).select("shift", "share").iter_rows())
    night = dict(_home_share(life, 1, 5).select("shift", "share").iter_rows())
    assert day["night"] >= 0.8 and night["night"] <= 0.5
    assert day["day"] <= 0.35 and night["day"] >= 0.9
    assert day["evening"] >= 0.6


def test_shift_shares_follow_bls(life: Life) -> None:
    shifts = life.activity.schedules.filter(pl.col("shift").is_not_null())["shift"]
    n = len(shifts)
    want = np.array(MV.shifts) / sum(MV.shifts)
    for i, name in enumerate(("day", "evening", "night", "irregular")):
        got = float((shifts == name).mean())
        assert abs(got - want[i]) <= 4 * np.sqrt(want[i] * (1 - want[i]) / n) + 0.005


def test_work_days_follow_atus(life: Life) -> None:
    """Share of workers at work on an average weekday and weekend day (ATUS 2012: 83% and 34%; less
    the days some workers spend working at home, which the bench does not show as work stays)."""
    s = life.activity.stays.filter(pl.col("kind").is_in(WORK)).with_columns(day=pl.col("start").dt.date())
    workers = life.activity.schedules.filter(pl.col("shift").is_not_null()).height
    at_home = MV.home_workers * MV.home_work_days
    for weekend, cited in ((False, MV.weekday_work), (True, MV.weekend_work)):
        days = [
            life.window.start + np.timedelta64(d, "D")
            for d in range(life.window.days)
            if (life.window.dow(np.array(d)) >= 5) == weekend
        ]
        dates = [date.fromisoformat(str(d)) for d in days]
        share = s.filter(pl.col("day").is_in(dates)).group_by("day").agg(pl.col("person_id").n_unique())
        got = share["person_id"].mean() / workers
        assert abs(got - cited * (1 - at_home)) <= 0.06


def test_informal_work_moves_between_sites(life: Life) -> None:
    inf = life.activity.stays.filter(pl.col("kind") == "informal_work")
    sites = inf.group_by("person_id").agg(n=pl.len(), sites=pl.col("unit_id").n_unique()).filter(pl.col("n") >= 8)
    assert sites.height >= 10
    assert (sites["sites"] >= 2).mean() >= 0.6
    # second jobs are worked
    second = life.activity.schedules.filter(pl.col("multiple_jobs"))["person_id"]
    worked = life.activity.stays.filter(pl.col("kind") == "second_job")["person_id"].unique()
    assert worked.is_in(second.implode()).all() and len(worked) >= 0.5 * len(second)


def test_pupils_are_at_school_on_weekdays_and_young_ones_are_driven(life: Life, tiny_world: World) -> None:
    sched = life.activity.schedules
    pupils = sched.filter(pl.col("school_place_id").is_not_null())["person_id"]
    s = life.activity.stays
    weekday = next(d for d in range(life.window.days) if life.window.dow(np.array(d)) < 5)
    noon = life.window.start.astype("datetime64[ms]") + np.timedelta64(weekday * 24 + 11, "h")
    at = s.filter((pl.col("start") <= noon) & (pl.col("end") > noon) & pl.col("person_id").is_in(pupils.implode()))
    assert (at["kind"] == "school").mean() >= 0.95
    runs = s.filter(pl.col("kind") == "school_run")
    assert runs.height > 0
    assert runs.join(sched, on="person_id")["school_place_id"].is_null().mean() > 0.5  # drivers are parents
    assert (runs["place_id"].is_in(life.places.filter(pl.col("kind") == "school")["place_id"].implode())).all()


def test_same_seed_same_life_and_another_seed_another(life: Life, tiny: Scenario, tiny_world: World) -> None:
    again = live(tiny_world, tiny)
    assert again.activity.stays.equals(life.activity.stays)
    assert again.activity.schedules.equals(life.activity.schedules)
    other = live(tiny_world, tiny, seed=tiny.seed + 1)
    assert not other.activity.stays.equals(life.activity.stays)


# -- properties ------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(st.dates(date(1970, 1, 1), date(2200, 1, 1)), st.integers(-10, 60))
def test_window_days_of_week(start: date, day: int) -> None:
    w = Window(np.datetime64(start, "D"), 28)
    assert int(w.dow(np.array(day))) == (start + timedelta(days=day)).weekday()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 5000), st.integers(1, 600), st.integers(0, 5)),
        min_size=1,
        max_size=60,
    )
)
def test_settled_stays_leave_room_to_travel(rows: list[tuple[int, int, int, int]]) -> None:
    """Whatever the input, settled stays are in order, never overlap, keep their ends and leave
    each trip its travel time."""
    rng = np.random.default_rng(0)
    ctx = SimpleNamespace(loc_x=rng.uniform(0, 20_000, 6), loc_y=rng.uniform(0, 20_000, 6))
    person = np.array([r[0] for r in rows])
    start = np.array([r[1] for r in rows])
    end = start + np.array([r[2] for r in rows])
    loc = np.array([r[3] for r in rows])
    stays = Stays(person, start, end, np.zeros(len(rows), dtype=np.int8), loc)
    out = settle(MV, ctx, stays)  # type: ignore[arg-type]
    assert set(zip(out.person, out.end, strict=True)) <= set(zip(person, end, strict=True))
    assert (out.end - out.start >= 5).all()
    same = out.person[1:] == out.person[:-1]
    tau = travel_minutes(
        MV, ctx.loc_x[out.loc[:-1]], ctx.loc_y[out.loc[:-1]], ctx.loc_x[out.loc[1:]], ctx.loc_y[out.loc[1:]]
    )
    assert (~same | (out.start[1:] >= out.end[:-1] + tau)).all()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.01, 100.0), min_size=1, max_size=40), st.integers(0, 2**32))
def test_alias_sampler_draws_in_proportion_to_mass(mass: list[float], seed: int) -> None:
    m = np.array(mass)
    s = sampler(np.zeros(len(m)), np.zeros(len(m)), m)
    rng = np.random.default_rng(seed)
    j = rng.integers(0, len(m), 200_000)
    drawn = np.where(rng.random(200_000) < s.prob[j], j, s.alias[j])
    freq = np.bincount(drawn, minlength=len(m)) / len(drawn)
    assert np.abs(freq - m / m.sum()).max() < 0.01


def test_configs_refuse_what_cannot_be() -> None:
    from trailbench.scenario.movement import DevicesConfig

    with pytest.raises(ValueError, match="school_ages"):
        MovementConfig(school_ages=(12, 5))
    with pytest.raises(ValueError, match="sum to 1"):
        DevicesConfig(mac_ios=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError):
        MovementConfig(rho=True)  # booleans are not numbers
    with pytest.raises(ValueError):
        MovementConfig(window_days=60)


@settings(max_examples=6, deadline=None)
@given(
    days=st.integers(1, 14),
    rho=st.floats(0.05, 1.0),
    gamma=st.floats(0.0, 1.0),
    errands=st.tuples(st.floats(0.0, 4.0), st.floats(0.0, 4.0)),
    shifts=st.tuples(*(st.floats(0.0, 1.0) for _ in range(4))).filter(lambda w: sum(w) > 0),
    empty=st.booleans(),
)
def test_any_movement_config_gives_a_consistent_life(
    tiny: Scenario,
    tiny_world: World,
    days: int,
    rho: float,
    gamma: float,
    errands: tuple[float, float],
    shifts: tuple[float, float, float, float],
    empty: bool,
) -> None:
    from trailbench.scenario.movement import PlaceDensity

    density = PlaceDensity(park=0, clinic=0, worship=0) if empty else PlaceDensity()
    mv = MovementConfig(
        window_days=days, rho=rho, gamma=gamma, errands_per_day=errands, shifts=shifts, places=density, burn_in_days=7
    )
    s = live(tiny_world, tiny, mv).activity.stays
    assert s["person_id"].n_unique() == tiny_world.people.height
    assert (s["start"] < s["end"]).all()
    prev_end = s.select(pl.col("end").shift().over("person_id"))["end"]
    assert (prev_end.is_null() | (s["start"] >= prev_end)).all()
    span = s.group_by("person_id").agg(pl.col("start").min(), pl.col("end").max())
    assert (span["end"].max() - span["start"].min()).total_seconds() <= days * 86_400
