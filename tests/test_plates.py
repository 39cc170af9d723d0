"""Vehicles, plates, trips, plate cameras, reads and the hotlist: realism within stated tolerances,
the fictional namespace, planted targets that follow their rule, the camera-placement switch, a
hand-built misread stop, reads whose order, partitions and ids reveal nothing of the truth, and
byte-identical output whatever the thread count (issue 12, world and trails)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailbench.rng import stream
from trailbench.scenario import Scenario
from trailbench.scenario.movement import MovementConfig
from trailbench.scenario.plates import PlatesConfig
from trailbench.trails import plate_reads
from trailbench.trails.plate_reads import (
    build_cameras,
    build_hotlist,
    build_plates,
    hotlist_hits,
    join,
    passes,
    placement_weights,
    plan_reads,
    visible_order,
)
from trailbench.trails.schedule import Task, run_tasks
from trailbench.world import World, period
from trailbench.world import plates as pl8
from trailbench.world.activity import Activity, build_activity
from trailbench.world.ids import KeyedPermutation
from trailbench.world.places import build_places
from trailbench.world.roads import Roads, build_roads, built_up_nodes, route_legs
from trailbench.world.trips import build_trips
from trailbench.world.vehicles import build_vehicles
from trailbench.world.window import default_window

MV = MovementConfig()
# more targets, port visitors, cameras and patrol cars than the defaults, so a 2,000-person world
# has enough of each to measure; small vehicle blocks and output parts, so there are several
PC = PlatesConfig(target_share=0.03, port_visitors=0.03, fixed_cameras=40, patrol_cars=10, vehicles_per_part=300)
READS_PER_PART = 3000
VISIBLE = ("camera_id", "t", "plate_as_read", "state_as_read", "confidence")
PLATE_RE = {
    "standard": r"^[A-HJ-NPR-Z]{3}[0-9]{4}$",
    "specialty": r"^[0-9]{2}[A-HJ-NPR-Z]{3}[0-9]{2}$",
    "out_of_region": r"^[0-9][A-HJ-NPR-Z]{3}[0-9]{3}$",
}


@dataclass
class Run:
    world: World
    activity: Activity
    out: Path

    def parts(self, side: str, name: str) -> list[pl.DataFrame]:
        files = sorted((self.out / side / name).glob("part-*.parquet"))
        return [pl.read_parquet(f).with_columns(pl.col(pl.Categorical).cast(pl.String)) for f in files]

    def table(self, side: str, name: str) -> pl.DataFrame:
        return pl.concat(self.parts(side, name))

    def reads(self) -> pl.DataFrame:
        truth = self.table("truth", "plate_reads").drop("read_id")
        return pl.concat([self.table("trails", "plate_reads"), truth], how="horizontal")

    def truth(self, name: str) -> pl.DataFrame:
        return pl.read_parquet(self.out / "truth" / f"{name}.parquet")


def _activity(world: World, sc: Scenario) -> Activity:
    places = build_places(stream(sc.seed, "world", "places"), world.units, world.people.height, world.employers, MV)
    return build_activity(world, places, MV, sc.seed, default_window(period(sc)[1], MV.window_days))


@pytest.fixture(scope="module")
def activity(tiny: Scenario, tiny_world: World) -> Activity:
    return _activity(tiny_world, tiny)


@pytest.fixture(scope="module")
def run(tiny: Scenario, tiny_world: World, activity: Activity, tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("plates1")
    build_plates(tiny_world, activity, PC, tiny.seed, out / "trails", out / "truth", 1, READS_PER_PART)
    return Run(tiny_world, activity, out)


@pytest.fixture(scope="module")
def reads(run: Run) -> pl.DataFrame:
    return run.reads().join(
        run.truth("vehicles").select("vehicle_key", "specialty", "stacked", "target"), on="vehicle_key"
    )


def test_vehicles_per_household_near_the_acs(run: Run) -> None:
    v = run.truth("vehicles")
    hh = run.world.households.height
    per = v.height / hh
    none = 1 - v["household_id"].n_unique() / hh
    assert abs(per - PC.vehicles_per_household) < 0.15, per
    assert abs(none - PC.no_vehicle) < 0.035, none
    d = run.truth("vehicle_drivers")
    assert (v["drivers"] >= 2).any(), "some vehicles are driven by several people"
    assert d["borrowed"].any() and (v["borrowed_by"] > 0).any(), "some vehicles are borrowed across households"


def test_plates_formats_states_and_namespace(run: Run) -> None:
    v = run.truth("vehicles")
    assert v.select(pl.struct("plate", "state").is_unique().all()).item()
    for series, rx in PLATE_RE.items():
        if series == "out_of_region":
            part = v.filter(pl.col("state") != "ZZ")
        else:
            part = v.filter((pl.col("state") == "ZZ") & (pl.col("specialty") == (series == "specialty")))
        assert part.height > 0
        assert part["plate"].str.contains(rx).all(), series
    assert set(v["state"]) <= set(pl8.STATES)
    assert all(re.fullmatch(r"Z[1-9]", s) for s in v["state"].unique() if s != "ZZ")  # no real state has a digit
    share_out = (v["state"] != "ZZ").mean()
    assert abs(float(share_out) - PC.out_of_region) < 0.02  # type: ignore[arg-type]
    assert v.filter(pl.col("stacked"))["specialty"].all()


def test_identifiers_and_order_reveal_no_one(run: Run, reads: pl.DataFrame) -> None:
    cams = pl.read_parquet(run.out / "trails" / "cameras.parquet")
    assert cams["camera_id"].str.contains(r"^tb:lpr:[0-9a-f]{8}$").all()
    assert cams["camera_id"].is_sorted() and cams["camera_id"].is_unique().all()
    assert set(cams["kind"]) == {"intersection", "corridor", "patrol"}
    v = run.truth("vehicles")
    assert v["vehicle_key"].is_sorted()
    # vehicle keys do not follow households
    assert abs(np.corrcoef(v["vehicle_key"].to_numpy(), v["household_id"].to_numpy())[0, 1]) < 0.1
    assert reads["plate_as_read"].str.len_chars().eq(pl8.WIDTH).all()
    hot = pl.read_parquet(run.out / "trails" / "hotlist.parquet")
    assert hot.columns == ["plate", "state", "entered"]


def test_reads_reveal_no_truth_by_order_partition_or_id(tiny: Scenario, run: Run) -> None:
    """One global order of the reads by their visible columns, cut into parts at camera
    boundaries; read ids keyed, unique and in the namespace; truth aligned row for row."""
    seen = run.parts("trails", "plate_reads")
    truth = run.parts("truth", "plate_reads")
    assert len(seen) == len(truth) >= 3  # several parts
    assert [p.columns for p in seen[:1]] == [["read_id", *VISIBLE]]
    assert [p.columns for p in truth[:1]] == [
        ["read_id", "vehicle_key", "trip_id", "person_id", "purpose", "misread", "wrong_state"]
    ]
    for a, b in zip(seen, truth, strict=True):
        assert a.height == b.height > 0
        assert (a["read_id"] == b["read_id"]).all()  # row for row
    reads = pl.concat(seen)
    assert reads.equals(reads.sort(VISIBLE, maintain_order=True))  # the order is the visible columns'
    ties = reads.select(pl.struct("camera_id", "t").is_duplicated().sum()).item()
    assert ties > 0  # readings at the same camera and millisecond exist, ordered by plate, state, confidence
    assert reads["read_id"].str.contains(r"^tb:read:[0-9a-f]{12}$").all()
    assert reads["read_id"].is_unique().all()
    assert not reads["read_id"].is_sorted()
    perm = KeyedPermutation(2**48, stream(tiny.seed, "plates", "read_ids"))
    ids = [f"tb:read:{v:012x}" for v in perm(np.arange(reads.height)).tolist()]
    assert reads["read_id"].to_list() == ids  # the keyed position in the global order
    # each camera in one part, parts in camera order, cut where the reads' counts say: a part
    # says nothing about the vehicles in it
    cams = [p["camera_id"].unique().sort() for p in seen]
    for left, right in pairwise(cams):
        assert left[-1] < right[0]
    counts = reads.group_by("camera_id").len().sort("camera_id")["len"].to_numpy()
    start = np.cumsum(counts) - counts
    first = np.unique(start // READS_PER_PART, return_index=True)[1]
    assert [p.height for p in seen] == np.diff(np.append(start[first], reads.height)).tolist()
    # within a camera, true plates are not in order (they were, part by part, before)
    v = run.reads().join(run.truth("vehicles").select("vehicle_key", "plate"), on="vehicle_key")
    by_cam = v.group_by("camera_id").agg(pl.col("plate").is_sorted().alias("sorted"), pl.len())
    assert not by_cam.filter(pl.col("len") > 20)["sorted"].any()


def test_order_breaks_ties_by_plate_state_confidence() -> None:
    key = np.array([5, 3, 5, 5, 5, 3], dtype=np.int64)
    plate = pl8.from_strings(["BBB1111", "AAA1111", "AAA1111", "AAA1111", "AAA1111", "AAA1111"])
    state = np.array([0, 0, 0, 1, 1, 0], dtype=np.int8)  # STATES[0] = "ZZ" sorts after "Z1"
    conf = np.array([0.5, 0.2, 0.9, 0.7, 0.3, 0.1], dtype=np.float32)
    o = visible_order(key, plate, state, conf)
    assert o.tolist() == [5, 1, 4, 3, 2, 0]


def test_read_error_rates_within_tolerance(reads: pl.DataFrame) -> None:
    std = reads.filter(~pl.col("specialty"))
    n = std.height
    assert n > 5000
    mis = float(std["misread"].mean())  # type: ignore[arg-type]
    sd = (PC.misread * (1 - PC.misread) / n) ** 0.5
    assert abs(mis - PC.misread) < 4 * sd + 0.005, mis  # a second confusion can undo the first, rarely
    ws = float(reads["wrong_state"].mean())  # type: ignore[arg-type]
    assert abs(ws - 0.1) < 4 * (0.09 / reads.height) ** 0.5, ws  # about one in ten (IPVM)
    # misreads differ from the true plate; right reads match it; wrong states differ
    v = reads
    assert (v.filter(~pl.col("misread"))["confidence"].mean() or 0) > (
        v.filter(pl.col("misread"))["confidence"].mean() or 1
    )
    spec = reads.filter(pl.col("stacked"))
    if spec.height > 200:
        assert float(spec["misread"].mean()) > mis  # type: ignore[arg-type]


def test_detection_misses_within_tolerance(tiny: Scenario, tiny_world: World, activity: Activity, run: Run) -> None:
    window = activity.window
    vehicles = build_vehicles(tiny_world.people, tiny_world.households, tiny_world.ties, PC, tiny.seed, window)
    roads = build_roads(tiny_world.units, PC)
    trips = build_trips(activity, vehicles, roads, PC, tiny.seed)
    cams = build_cameras(roads, tiny_world.units, PC, tiny.seed, tiny_world.people.height, window.days)
    plan = plan_reads(vehicles, trips, roads, cams, PC, activity)
    got = [passes(plan, plan.block_trips(b)) for b in range(plan.blocks)]
    trip = np.concatenate([g[0] for g in got])
    cam = np.concatenate([g[1] for g in got])
    v = plan.trips.vehicle[trip]
    std_fixed = ~vehicles.specialty[v] & (cams.kind[cam] != 2)
    truth_v = run.truth("vehicles").select("vehicle_key", "specialty")
    r = run.reads().join(truth_v, on="vehicle_key")
    ids = pl.read_parquet(run.out / "trails" / "cameras.parquet")
    fixed_ids = set(ids.filter(pl.col("kind") != "patrol")["camera_id"])
    n_read = r.filter(~pl.col("specialty") & pl.col("camera_id").is_in(list(fixed_ids))).height
    n_pass = int(std_fixed.sum())
    rate = n_read / n_pass
    assert abs(rate - PC.detection) < 4 * (PC.detection * (1 - PC.detection) / n_pass) ** 0.5 + 1e-3, rate
    # passes happen at the node of a camera while the trip is under way
    t = np.concatenate([g[2] for g in got])
    assert (t >= plan.trips.depart[trip]).all() and (t <= plan.trips.arrive[trip]).all()


def test_passes_do_not_depend_on_how_trips_are_cut(
    tiny: Scenario, tiny_world: World, activity: Activity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block's trips routed whole or in pieces of whole chunks give the same passes in the same
    order (by chunk, then fixed readers | patrol posts, leg, trip): the draws, and so the files,
    do not depend on the pieces the threads route."""
    chunk = 97
    monkeypatch.setattr(plate_reads, "ROUTE_CHUNK", chunk)
    window = activity.window
    vehicles = build_vehicles(tiny_world.people, tiny_world.households, tiny_world.ties, PC, tiny.seed, window)
    roads = build_roads(tiny_world.units, PC)
    trips = build_trips(activity, vehicles, roads, PC, tiny.seed)
    cams = build_cameras(roads, tiny_world.units, PC, tiny.seed, tiny_world.people.height, window.days)
    plan = plan_reads(vehicles, trips, roads, cams, PC, activity)
    n = 0
    for b in range(plan.blocks):
        idx = plan.block_trips(b)
        whole = passes(plan, idx)
        for size in (chunk, 3 * chunk):
            cut = join([passes(plan, idx[i : i + size]) for i in range(0, len(idx), size)])
            assert all(np.array_equal(x, y) for x, y in zip(whole, cut, strict=True))
        n += len(whole[0])
    assert n > 1000


def test_hotlist_errors_within_tolerance(tiny: Scenario, tiny_world: World, activity: Activity) -> None:
    pc = PlatesConfig(hotlist_share=0.9)
    vehicles = build_vehicles(tiny_world.people, tiny_world.households, tiny_world.ties, pc, tiny.seed, activity.window)
    hot = build_hotlist(vehicles, pc, tiny.seed, activity.window.start)
    n = hot.height
    assert abs(n - 0.9 * len(vehicles)) <= 1
    for col, p in (("keyed_wrong", pc.hotlist_keyed_wrong), ("stale", pc.hotlist_stale)):
        share = float(hot[col].mean())  # type: ignore[arg-type]
        assert abs(share - p) < 4 * (p * (1 - p) / n) ** 0.5, (col, share)
    true_plate = dict(zip(vehicles.key.tolist(), pl8.as_strings(vehicles.plate).tolist(), strict=True))
    meant = hot["vehicle_key"].map_elements(true_plate.get, return_dtype=pl.String)
    same = hot["plate"] == meant
    assert (same == ~hot["keyed_wrong"]).all()
    wrong = hot.filter(pl.col("keyed_wrong"))
    diffs = [
        sum(a != b for a, b in zip(x, true_plate[k], strict=True))
        for x, k in wrong.select("plate", "vehicle_key").rows()
    ]
    assert set(diffs) == {1}
    entered = hot["entered"].cast(pl.Datetime("ms"))
    start = activity.window.start.astype("datetime64[ms]")
    assert (entered.to_numpy() <= start).all()
    assert hot.filter(pl.col("stale"))["entered"].mean() < hot.filter(~pl.col("stale"))["entered"].mean()  # type: ignore[operator]


def test_route_legs_by_hand() -> None:
    """A local route (east-west along its row, then north-south along the destination's column;
    the third leg empty) and a highway route (to the corridor, along it, and off it): each leg's
    axis, line, ends, nodes before it, first new node and nodes added."""
    roads = Roads(650.0, 0.0, 0.0, cols=30, rows=10, highway_row=4, port_col=29, highway_min_cols=10, region_cols=25)
    for dt in (np.int32, np.int64):
        legs = route_legs(roads, *(np.array(x, dtype=dt) for x in ([2, 1], [5, 2], [6, 20], [1, 7])))
        got = {f: getattr(legs, f).T.tolist() for f in ("axis", "fixed", "a", "b", "before", "lo", "nodes")}
        assert got == {
            "axis": [[0, 1, 1], [1, 0, 1]],  # H = 0, V = 1
            "fixed": [[5, 6, 6], [1, 4, 20]],
            "a": [[2, 5, 1], [2, 1, 4]],
            "b": [[6, 1, 1], [4, 20, 7]],
            "before": [[0, 4, 8], [0, 2, 21]],
            "lo": [[2, 1, 1], [2, 2, 5]],
            "nodes": [[5, 4, 0], [3, 19, 3]],
        }
        assert legs.length.tolist() == [8, 24]
        assert all(getattr(legs, f).dtype == dt for f in ("fixed", "a", "b", "before", "lo", "nodes", "length"))


def test_run_tasks_dependencies_priorities_and_threads() -> None:
    """Tasks made ready by others run after them, the most urgent ready one first (one thread),
    results land where ``done`` puts them whatever the threads, and a failure propagates."""

    def graph(log: list[str]) -> list[Task]:
        def leaf(name: str, priority: int) -> Task:
            def done(r: str) -> list[Task]:
                log.append(r)
                return []

            return Task(priority, lambda: name, done)

        def root(name: str) -> Task:
            def done(r: str) -> list[Task]:
                log.append(r)
                return [leaf(r + ".a", 1), leaf(r + ".b", 2)]

            return Task(0, lambda: name, done)

        return [root("x"), root("y"), leaf("z", 5)]

    one: list[str] = []
    run_tasks(graph(one), 1)
    assert one == ["z", "x", "x.b", "x.a", "y", "y.b", "y.a"]
    for workers in (2, 3):
        many: list[str] = []
        run_tasks(graph(many), workers)
        assert sorted(many) == sorted(one)
        assert all(many.index(n) < many.index(n + ".a") and many.index(n) < many.index(n + ".b") for n in "xy")

    def fail() -> None:
        raise RuntimeError("boom")

    for workers in (1, 2):
        with pytest.raises(RuntimeError, match="boom"):
            run_tasks([Task(0, fail), Task(0, lambda: None)], workers)


def test_handbuilt_misread_stop() -> None:
    """An innocent car's plate, misread, equals a hotlisted plate: the read hits the hotlist, and the
    hit is on a different (innocent) car: a stop of the wrong car (Green v. City and County of San
    Francisco)."""
    innocent = pl8.from_strings(["KRT4821"])
    rng = np.random.default_rng(7)
    as_read = pl8.confuse(innocent, rng)
    read_str = pl8.as_strings(as_read)[0]
    assert read_str != "KRT4821" and len(read_str) == 7
    i = next(k for k in range(7) if read_str[k] != "KRT4821"[k])
    assert {read_str[i], "KRT4821"[i]} in [set(p) for p in pl8.CONFUSIONS]
    hotlist = pl.DataFrame({"plate": [read_str], "state": ["ZZ"], "vehicle_key": [111], "stale": [False]})
    reads = pl.DataFrame(
        {"camera_id": ["tb:lpr:00000001"], "plate_as_read": [read_str], "state_as_read": ["ZZ"], "vehicle_key": [222]}
    )
    hits = hotlist_hits(reads, hotlist.rename({"vehicle_key": "hotlisted_key"}))
    assert hits.height == 1
    assert hits["vehicle_key"][0] == 222 and hits["hotlisted_key"][0] == 111  # the innocent car is stopped


def test_planted_targets_follow_their_rule(run: Run) -> None:
    v = run.truth("vehicles")
    trips = run.truth("trips")
    targets = v.filter(pl.col("target"))
    assert targets.height > 0
    share = targets.height / v.height
    assert abs(share - PC.target_share) < 4 * (PC.target_share / v.height) ** 0.5 + 0.005
    runs = trips.filter(pl.col("purpose") == "target_run")
    assert set(runs["vehicle_key"]) <= set(targets["vehicle_key"])
    assert runs["to_port"].all()
    lo, hi = PC.target_hours
    out = runs.sort("vehicle_key", "depart").with_columns(
        leg=pl.int_range(pl.len()).over("vehicle_key") % 2
    )  # outbound, return, outbound, ...
    outbound = out.filter(pl.col("leg") == 0)
    back = out.filter(pl.col("leg") == 1)
    hours = outbound["depart"].dt.hour() + outbound["depart"].dt.minute() / 60
    assert ((hours >= lo) & (hours <= hi)).all()
    assert (outbound["depart"].dt.date() == back["arrive"].dt.date()).all()  # one-day round trips
    per_week = runs.height / 2 / targets.height / (run.activity.window.days / 7)
    assert abs(per_week - PC.target_trips_per_week) < 1.0
    # targets pass the corridor readers; innocent vehicles mostly do not
    r = run.reads()
    cams = pl.read_parquet(run.out / "trails" / "cameras.parquet")
    corridor = set(cams.filter(pl.col("kind") == "corridor")["camera_id"])
    seen = r.filter(pl.col("camera_id").is_in(list(corridor)))
    assert set(targets["vehicle_key"]) - set(seen["vehicle_key"]) == set() or targets.height > 2
    innocent = v.filter(~pl.col("target"))
    assert seen.filter(pl.col("vehicle_key").is_in(innocent["vehicle_key"].to_list()))["vehicle_key"].n_unique() < (
        0.2 * innocent.height
    )


def test_trip_purposes_from_stays(run: Run) -> None:
    trips = run.truth("trips")
    got = set(trips["purpose"])
    assert {"commute", "errand", "school_run", "family_visit", "target_run"} <= got
    assert trips.filter(pl.col("depart") > pl.col("arrive")).height == 0
    assert trips["trip_id"].is_unique().all()


def test_camera_placement_switch(tiny_world: World) -> None:
    """Over 20 seeds, ``concentrated`` puts more fixed readers and patrol posts in the declared
    neighbourhoods than ``evenly``, and about ``concentrated_weight`` of the posts."""
    shares: dict[str, tuple[float, float]] = {}
    for placement in ("evenly", "concentrated"):
        pc = PlatesConfig(camera_placement=placement, fixed_cameras=30, patrol_cars=20)
        roads = build_roads(tiny_world.units, pc)
        assert len(built_up_nodes(roads, tiny_world.units)[0]) > 10
        fixed_dense, post_dense = [], []
        for seed in range(20):
            cams = build_cameras(roads, tiny_world.units, pc, seed, tiny_world.people.height, 14)
            fixed_dense.append(cams.dense[cams.kind == 0])
            bc, br, share = built_up_nodes(roads, tiny_world.units)
            _, dense = placement_weights(share, pc, stream(seed, "plates", "cameras", "fixed"))
            declared = set(zip(bc[dense].tolist(), br[dense].tolist(), strict=True))
            posts = cams.e_lo > -(2**60)
            post_dense += [
                (c, r) in declared for c, r in zip(cams.e_col[posts].tolist(), cams.e_row[posts].tolist(), strict=True)
            ]
        shares[placement] = (float(np.concatenate(fixed_dense).mean()), float(np.mean(post_dense)))
    assert shares["concentrated"][0] > shares["evenly"][0] + 0.1, shares
    assert shares["concentrated"][1] > shares["evenly"][1] + 0.2, shares
    assert abs(shares["concentrated"][1] - 0.6) < 0.05, shares


def test_same_seed_same_files_and_threads_do_not_matter(
    tiny: Scenario, tiny_world: World, activity: Activity, run: Run, tmp_path: Path
) -> None:
    build_plates(tiny_world, activity, PC, tiny.seed, tmp_path / "trails", tmp_path / "truth", 3, READS_PER_PART)
    files = sorted(p.relative_to(run.out) for p in run.out.rglob("*.parquet"))
    assert len([f for f in files if "plate_reads" in str(f)]) >= 6  # several parts
    assert files == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.parquet"))
    for f in files:
        assert (run.out / f).read_bytes() == (tmp_path / f).read_bytes(), f


plates_st = st.lists(
    st.sampled_from(["standard", "specialty", "out_of_region"]).flatmap(
        lambda s: st.tuples(
            *[
                st.sampled_from(list("ABCDEFGHJKLMNPRSTUVWXYZ") if c == "L" else list("0123456789"))
                for c in pl8.SERIES[s]
            ]
        )
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(plates=plates_st, seed=st.integers(0, 2**32 - 1), again=st.floats(0, 0.9))
def test_misread_keeps_length_and_is_pure(plates: list[tuple[str, ...]], seed: int, again: float) -> None:
    arr = pl8.from_strings(["".join(p) for p in plates])
    a = pl8.misread(arr, np.random.default_rng(seed), again)
    b = pl8.misread(arr, np.random.default_rng(seed), again)
    assert a.shape == arr.shape and np.array_equal(a, b)
    assert all(re.fullmatch(r"[A-Z0-9]{7}", s) for s in pl8.as_strings(a))
    one = pl8.confuse(arr, np.random.default_rng(seed))
    assert ((one != arr).sum(axis=1) == 1).all()
    assert np.array_equal(arr, pl8.from_strings(["".join(p) for p in plates]))  # input untouched


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 3000), seed=st.integers(0, 2**32 - 1))
def test_issued_plates_are_distinct(n: int, seed: int) -> None:
    for series, rx in PLATE_RE.items():
        p = pl8.as_strings(pl8.issue(seed, series, n))
        assert len(set(p.tolist())) == n
        assert all(re.fullmatch(rx, s) for s in p[:50])
