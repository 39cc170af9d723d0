"""Stay points, locations and home/work labels from pings (issue 11, deliverable 5: the inference
of the reference system ``pattern``): hand-built devices with known homes and workplaces, the
night-shift mechanism OSNA's fixed rest hours carry, and generated pings of synthetic people."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from trailbench.rng import stream
from trailbench.scenario import Scenario
from trailbench.scenario.movement import DevicesConfig, MovementConfig
from trailbench.systems.pattern_infer import (
    R_EARTH,
    PatternResult,
    PatternSettings,
    clean_pings,
    infer,
    locations,
    staypoints,
    to_degrees,
    to_metres,
)
from trailbench.trails.signals import write_signals
from trailbench.world import World, period
from trailbench.world.activity import build_activity
from trailbench.world.devices import build_devices
from trailbench.world.places import build_places
from trailbench.world.window import default_window

A = (1_000.0, 2_000.0)  # where the hand-built devices sleep (day worker) or spend the day (night worker)
B = (6_000.0, 2_500.0)  # where they work
MONDAY = datetime(2024, 12, 2)
DAYS = 14
STEP = timedelta(minutes=2)  # under the 5-minute stay threshold: a moving device makes no stay point

Where = Callable[[datetime], tuple[float, float] | None]


def commute(frm: tuple[float, float], to: tuple[float, float], f: float) -> tuple[float, float]:
    return frm[0] + (to[0] - frm[0]) * f, frm[1] + (to[1] - frm[1]) * f


def day_worker(t: datetime) -> tuple[float, float]:
    """Home A, at B 09:00-17:00 on weekdays, half an hour's travel each way."""
    h = t.hour + t.minute / 60
    if t.weekday() >= 5:
        return A
    if 8.5 <= h < 9:
        return commute(A, B, (h - 8.5) * 2)
    if 9 <= h < 17:
        return B
    if 17 <= h < 17.5:
        return commute(B, A, (h - 17) * 2)
    return A


def night_worker(t: datetime) -> tuple[float, float]:
    """Asleep and at home by day at A; at work at B from 22:00 to 06:00, nights starting Monday
    to Friday; half an hour's travel each way."""
    h = t.hour + t.minute / 60
    starts = t.weekday() < 5  # a shift starts this evening
    ended = (t.weekday() - 1) % 7 < 5  # a shift started last evening and ends this morning
    if starts and 21.5 <= h < 22:
        return commute(A, B, (h - 21.5) * 2)
    if (starts and h >= 22) or (ended and h < 6):
        return B
    if ended and 6 <= h < 6.5:
        return commute(B, A, (h - 6) * 2)
    return A


def hand_pings(device: str, where: Where, seed: int) -> pl.DataFrame:
    """A fix every two minutes for two weeks, GPS-grade (5 m error)."""
    rng = np.random.default_rng(seed)
    t = [MONDAY + i * STEP for i in range(DAYS * 24 * 30)]
    xy = np.array([where(v) for v in t])
    err = rng.normal(0.0, 5.0, size=xy.shape)
    return pl.DataFrame(
        {
            "device_id": [device] * len(t),
            "t": t,
            "x": (xy[:, 0] + err[:, 0]).astype(np.float32),
            "y": (xy[:, 1] + err[:, 1]).astype(np.float32),
            "accuracy_m": np.full(len(t), 8.0, dtype=np.float32),
            "source": ["gps"] * len(t),
        },
        schema_overrides={"t": pl.Datetime("ms")},
    )


def place(r: PatternResult, device: str, label: str) -> tuple[float, float] | None:
    row = r.labels.filter((pl.col("device_id") == device) & (pl.col("label") == label))
    return None if row.is_empty() else (row["x"].item(), row["y"].item())


def near(got: tuple[float, float] | None, want: tuple[float, float], within: float = 30.0) -> bool:
    return got is not None and math.dist(got, want) <= within


@pytest.fixture(scope="module")
def hand() -> pl.DataFrame:
    return pl.concat([hand_pings("tb:ad:day", day_worker, 1), hand_pings("tb:ad:night", night_worker, 2)])


@pytest.fixture(scope="module")
def freq(hand: pl.DataFrame) -> PatternResult:
    return infer(hand, PatternSettings(method="FREQ"))


@pytest.fixture(scope="module")
def osna(hand: pl.DataFrame) -> PatternResult:
    return infer(hand, PatternSettings(method="OSNA"))


# -- hand-built devices --------------------------------------------------------------------------


def test_day_worker_home_and_work_by_both_rules(freq: PatternResult, osna: PatternResult) -> None:
    for r in (freq, osna):
        assert near(place(r, "tb:ad:day", "home"), A)
        assert near(place(r, "tb:ad:day", "work"), B)


def test_stay_points_and_locations_of_a_day_worker(freq: PatternResult) -> None:
    sp = freq.staypoints.filter(pl.col("device_id") == "tb:ad:day")
    # one stay at work each weekday, closed by the commute home (10 weekdays)
    at_b = sp.filter((pl.col("x") - B[0]).abs() < 50)
    assert at_b.height == 10
    hours = ((at_b["finished_at"] - at_b["started_at"]).dt.total_minutes() / 60).to_numpy()
    assert hours.min() >= 7.9 and hours.max() <= 8.1
    locs = freq.locations.filter(pl.col("device_id") == "tb:ad:day")
    assert locs.height == 2  # home and work, nothing else
    assert (locs["radius_m"] >= 100.0).all() and (locs["radius_m"] < 150.0).all()  # spread + epsilon
    assert sp["location_id"].null_count() == 0


def test_night_worker_osna_puts_home_at_the_workplace(osna: PatternResult) -> None:
    """OSNA's rest hours are fixed at 02:00-08:00: a night worker's stay at work (22:00-06:00)
    has its middle at 02:00, in "rest", and the day's sleep at home has its middle in the
    afternoon, in "work". Home lands on the workplace and work on the home: the mechanism the
    bench's shift stratum must show (issue 11, FACTS)."""
    assert near(place(osna, "tb:ad:night", "home"), B)
    assert near(place(osna, "tb:ad:night", "work"), A)


def test_night_worker_freq_is_right(freq: PatternResult) -> None:
    """FREQ reads only summed stay time: the night worker is home 15-16 hours a day and all
    weekend, at work 8, so FREQ gives home A and work B, the truth."""
    assert near(place(freq, "tb:ad:night", "home"), A)
    assert near(place(freq, "tb:ad:night", "work"), B)


def test_engines_agree_on_hand_built_pings(hand: pl.DataFrame) -> None:
    a = staypoints(hand, PatternSettings(engine="port"))
    b = staypoints(hand, PatternSettings(engine="trackintel"))
    assert_frame_equal(a, b, check_exact=False, abs_tol=1e-6)


def test_a_gap_before_leaving_discards_the_stay() -> None:
    """The sliding window only closes a stay on a fix seen away from it: a silence longer than
    the gap threshold (15 min) before leaving discards the whole stay (Li et al. 2008 as
    trackintel implements it). Sparse broker pings lose most stays this way."""
    p = hand_pings("tb:ad:day", day_worker, 1)
    commuting = pl.col("t").dt.hour().is_in([8, 17]) & (pl.col("t").dt.weekday() <= 5)
    quiet = p.filter(~commuting)
    sp = staypoints(quiet, PatternSettings())
    assert sp.is_empty()
    assert staypoints(quiet, PatternSettings(gap_threshold_min=120.0)).height > 0


def test_nothing_in_nothing_out() -> None:
    empty = hand_pings("tb:ad:x", day_worker, 1).head(0)
    r = infer(empty)
    assert r.staypoints.is_empty() and r.locations.is_empty() and r.labels.is_empty()
    assert r.labels.columns == ["device_id", "label", "location_id", "x", "y", "radius_m", "staypoints", "hours"]
    few = hand_pings("tb:ad:x", day_worker, 1).head(3)  # 10 minutes of fixes: no stay point
    assert infer(few).labels.is_empty()


def test_repeated_fixes_are_dropped_as_trackintel_does() -> None:
    """A fix repeated exactly (device, time, position) counts once, wherever it repeats; fixes at
    the same time in different places all stay, in input order."""
    base = hand_pings("tb:ad:d", day_worker, 1).head(50)
    twin = base.with_columns(x=pl.col("x") + 1.0).head(10)
    p = pl.concat([base, twin, base.head(20), base.reverse()])
    got = clean_pings(p, PatternSettings())
    want = (
        p.select("device_id", "t", "x", "y", "accuracy_m")
        .unique(["device_id", "t", "x", "y"], keep="first", maintain_order=True)
        .sort("device_id", "t", maintain_order=True)
    )
    assert got.height == 60
    assert_frame_equal(got, want)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="method"):
        PatternSettings(method="HOME")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown pattern settings"):
        PatternSettings.from_config({"method": "OSNA", "radius": 50})
    assert PatternSettings.from_config({"method": "OSNA"}).method == "OSNA"


def test_the_plane_on_the_sphere_keeps_metres() -> None:
    """Distances trackintel measures (haversine on its sphere) equal the plane's to well under a
    metre across a region of tens of kilometres."""
    rng = np.random.default_rng(3)
    x1, y1 = rng.uniform(-5_000, 60_000, 200), rng.uniform(-5_000, 60_000, 200)
    ang = rng.uniform(0, 2 * np.pi, 200)
    x2, y2 = x1 + 100 * np.cos(ang), y1 + 100 * np.sin(ang)
    lo1, la1, lo2, la2 = (np.radians(to_degrees(v)) for v in (x1, y1, x2, y2))
    h = (
        2
        * R_EARTH
        * np.arcsin(np.sqrt(np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2))
    )
    assert np.abs(h - 100.0).max() < 0.01
    assert np.allclose(to_metres(to_degrees(x1)), x1, atol=1e-6)


# -- generated pings of synthetic people -------------------------------------------------------


@dataclass
class Generated:
    pings: pl.DataFrame  # trails columns plus the truth's person_id
    home: pl.DataFrame  # person_id, hx, hy: where each person spent most home time
    shift: pl.DataFrame  # person_id, shift


@pytest.fixture(scope="module")
def generated(tiny: Scenario, tiny_world: World, tmp_path_factory: pytest.TempPathFactory) -> Generated:
    mv, dv = MovementConfig(), DevicesConfig()
    out = tmp_path_factory.mktemp("pattern")
    places = build_places(
        stream(tiny.seed, "world", "places"), tiny_world.units, tiny_world.people.height, tiny_world.employers, mv
    )
    window = default_window(period(tiny)[1], mv.window_days)
    activity = build_activity(tiny_world, places, mv, tiny.seed, window)
    devices = build_devices(tiny_world.people, dv, tiny.seed, window)
    write_signals(activity, devices, places, tiny_world.people.height, dv, tiny.seed, out / "trails", out / "truth")

    def table(side: str) -> pl.DataFrame:
        return pl.concat([pl.read_parquet(f) for f in sorted((out / side / "pings").glob("part-*.parquet"))])

    pings = pl.concat([table("trails"), table("truth").select("person_id")], how="horizontal")
    st = activity.stays.filter(pl.col("kind") == "home").with_columns(m=(pl.col("end") - pl.col("start")))
    home = (
        st.group_by("person_id", "x", "y")
        .agg(pl.col("m").sum())
        .sort("person_id", "m", "x", "y", descending=[False, True, False, False])
        .unique("person_id", keep="first")
        .select("person_id", hx="x", hy="y")
    )
    return Generated(pings, home, activity.schedules.select("person_id", "shift"))


def _day_workers_well_seen(g: Generated, n: int) -> pl.DataFrame:
    """Pings of up to ``n`` devices of day workers, each carried by one person, with at least
    1,000 pings over the window (well-observed devices: the sparse ones mostly get no answer)."""
    per = g.pings.group_by("device_id").agg(
        n=pl.len(), people=pl.col("person_id").n_unique(), pid=pl.col("person_id").first()
    )
    day = g.shift.filter(pl.col("shift") == "day")["person_id"]
    keep = per.filter((pl.col("people") == 1) & (pl.col("n") >= 1_000) & pl.col("pid").is_in(day.implode()))
    ids = keep.sort("device_id").head(n)["device_id"]
    return g.pings.filter(pl.col("device_id").is_in(ids.implode()))


@pytest.mark.parametrize("method", ["FREQ", "OSNA"])
def test_home_of_well_seen_day_workers_within_100_m(generated: Generated, method: Literal["FREQ", "OSNA"]) -> None:
    pings = _day_workers_well_seen(generated, 40)
    n = pings["device_id"].n_unique()
    assert n >= 20
    r = infer(pings.drop("person_id"), PatternSettings(method=method))
    owner = pings.group_by("device_id").agg(pl.col("person_id").first())
    got = owner.join(generated.home, on="person_id").join(r.home(), on="device_id", how="left")
    d = ((got["x"] - got["hx"]) ** 2 + (got["y"] - got["hy"]) ** 2).sqrt()
    # county-10k, 1,000 devices: 85-95% of day workers with >= 1,000 pings get home within 100 m
    assert (d <= 100).sum() / n >= 0.75


def test_engines_agree_on_generated_pings(generated: Generated) -> None:
    ids = generated.pings["device_id"].unique().sort().head(60)
    pings = generated.pings.filter(pl.col("device_id").is_in(ids.implode())).drop("person_id")
    for s in ({}, {"include_last": True, "max_accuracy_m": 100.0}):
        a = staypoints(pings, PatternSettings(engine="port", **s))  # type: ignore[arg-type]
        b = staypoints(pings, PatternSettings(engine="trackintel", **s))  # type: ignore[arg-type]
        assert a.height > 0
        assert_frame_equal(a, b, check_exact=False, abs_tol=1e-6)


def test_locations_port_is_trackintels(generated: Generated) -> None:
    """engine=port clusters stay points into locations without trackintel (whose import takes
    about 2 s a world): the same location ids, centres and extents as trackintel's DBSCAN."""
    ids = generated.pings["device_id"].unique().sort().head(80)
    pings = generated.pings.filter(pl.col("device_id").is_in(ids.implode())).drop("person_id")
    sp = staypoints(pings, PatternSettings())
    for s in ({}, {"min_samples": 2}):
        a_sp, a_loc = locations(sp, PatternSettings(engine="port", **s))  # type: ignore[arg-type]
        b_sp, b_loc = locations(sp, PatternSettings(engine="trackintel", **s))  # type: ignore[arg-type]
        assert a_loc.height > 80
        assert_frame_equal(a_sp, b_sp)
        assert_frame_equal(a_loc, b_loc)
    assert locations(sp.head(0), PatternSettings())[1].is_empty()


def test_blocks_of_devices_change_nothing(generated: Generated, monkeypatch: pytest.MonkeyPatch) -> None:
    """The port holds about PORT_BLOCK fixes at a time; cutting the devices into small blocks
    gives the same stay points."""
    from trailbench.systems import pattern_infer

    ids = generated.pings["device_id"].unique().sort().head(200)
    pings = generated.pings.filter(pl.col("device_id").is_in(ids.implode())).drop("person_id")
    s = PatternSettings(include_last=True)
    whole = staypoints(pings, s)
    monkeypatch.setattr(pattern_infer, "PORT_BLOCK", 500)
    assert_frame_equal(staypoints(pings, s), whole)
