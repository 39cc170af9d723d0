"""The camera-placement switch moves the false-flag disparity the way its mechanism predicts, and
route_rules finds the planted targets at the rate its rules allow (issue 12).

Both run the plates stage's code on 10,000-person worlds (three seeds, world and daily life built
once a seed) and route_rules' rules on the reads, without the harness: what is tested is the
world's mechanism and the system's rules, not the plumbing (tests/test_plate_audit.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from trailbench.pipeline import plates_stage, signals_stage, world_stage
from trailbench.scenario import parse_scenario
from trailbench.scenario.schema import RouteRulesConfig
from trailbench.systems.route_reads import read_reads
from trailbench.systems.route_rules import flags
from trailbench.tasks.flag import base_counts, driver_counts, flag_outcomes
from trailbench.tasks.plate_truth import driver_attributes, plate_world

SEEDS = (2, 3, 4)
PEOPLE = 10_000


def camera_counts(where: Path, seed: int, people: int, plates: dict[str, Any]) -> pl.DataFrame:
    """Innocent drivers and those route_rules flagged, by group and by home neighbourhood, under
    each camera placement (placement, slice, level, n, flagged), on one world."""
    rows = []
    for placement in ("concentrated", "evenly"):
        sc = parse_scenario(
            {
                "name": "cameras",
                "seed": seed,
                "world": {"people": people, "towns": 6},
                "plates": {**plates, "camera_placement": placement},
                "audit": {"worlds": 1},
            }
        )
        run = where / placement
        world = world_stage(run, sc)
        signals_stage(run, sc, world, 2)
        plates_stage(run, sc, world, 2)
        pw = plate_world(run, sc)
        assert pw is not None
        table = flag_outcomes(pw, flags(read_reads(run, False), RouteRulesConfig()))
        _, d = base_counts(pw)
        counted = d.join(driver_counts(pw, table), on="person_id", how="left").fill_null(0)
        drivers = driver_attributes(pw, world, sc, pw.window.start).join(counted, on="person_id")
        for slice_, col in (("group", "group"), ("neighbourhood", "neighbourhood")):
            by = drivers.group_by(col).agg(
                n=pl.col("innocent_drivers").sum(), flagged=pl.col("innocent_drivers_flagged").sum()
            )
            rows += [
                {
                    "seed": seed,
                    "placement": placement,
                    "slice": slice_,
                    "level": r[col],
                    "n": r["n"],
                    "flagged": r["flagged"],
                }
                for r in by.iter_rows(named=True)
            ]
    return pl.DataFrame(rows)


# the mechanism turned up (most fixed readers in the declared neighbourhoods, three times the
# default density) so that three 10,000-person worlds show its direction clearly
STRONG = {"concentrated_weight": 0.9, "fixed_cameras": 30.0}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cameras")


@pytest.fixture(scope="module")
def counts(root: Path) -> pl.DataFrame:
    return pl.concat([camera_counts(root / str(s), s, PEOPLE, STRONG) for s in SEEDS])


def _rates(counts: pl.DataFrame, slice_: str) -> dict[tuple[str, str], float]:
    pooled = counts.filter(pl.col("slice") == slice_).group_by("placement", "level").agg(pl.col("n", "flagged").sum())
    return {(r["placement"], r["level"]): r["flagged"] / r["n"] for r in pooled.iter_rows(named=True)}


def test_concentrated_cameras_raise_the_declared_neighbourhoods_false_flags(counts: pl.DataFrame) -> None:
    """Concentrating readers in the declared neighbourhoods reads their residents' routes more
    often, so their false flags per innocent driver rise against everyone else's."""
    r = _rates(counts, "neighbourhood")
    gap = {p: r[(p, "declared neighbourhoods")] / r[(p, "elsewhere")] for p in ("concentrated", "evenly")}
    assert gap["concentrated"] > 1.2 * gap["evenly"], gap


def test_concentrated_cameras_widen_the_group_gap_they_carry(counts: pl.DataFrame) -> None:
    """Each group living in the declared neighbourhoods more than the reference group does (here
    through tenure and building density, never by group) sees its false-flag ratio to the
    reference grow when readers concentrate there."""
    where = counts.filter((pl.col("slice") == "group") & (pl.col("placement") == "evenly"))
    r = _rates(counts, "group")
    nb = _rates(counts, "neighbourhood")
    assert nb[("evenly", "declared neighbourhoods")] > 0 and where.height  # the inputs exist
    moved = []
    for g in ("black", "hispanic"):
        conc = r[("concentrated", g)] / r[("concentrated", "white")]
        even = r[("evenly", g)] / r[("evenly", "white")]
        moved.append(conc > even)
    assert all(moved), r


@pytest.fixture(scope="module")
def targets(counts: pl.DataFrame, root: Path) -> pl.DataFrame:
    """Every planted target of the three worlds (concentrated placement): its port round trips in
    the window, and whether route_rules flagged its plate."""
    assert counts.height  # the worlds are built by the counts fixture
    rows = []
    for seed in SEEDS:
        run = root / str(seed) / "concentrated"
        sc = parse_scenario(
            {
                "name": "cameras",
                "seed": seed,
                "world": {"people": PEOPLE, "towns": 6},
                "plates": {**STRONG, "camera_placement": "concentrated"},
                "audit": {"worlds": 1},
            }
        )
        pw = plate_world(run, sc)
        assert pw is not None
        table = flag_outcomes(pw, flags(read_reads(run, False), RouteRulesConfig()))
        found = table.filter(pl.col("outcome") == "target").select(vehicle_key="registered")
        trips = pw.trips.filter(pl.col("purpose") == "target_run").group_by("vehicle_key").agg(runs=pl.len() // 2)
        rows.append(
            pw.vehicles.filter(pl.col("target"))
            .select("vehicle_key")
            .join(trips, on="vehicle_key", how="left")
            .with_columns(
                runs=pl.col("runs").fill_null(0),
                found=pl.col("vehicle_key").is_in(found["vehicle_key"].implode()),
            )
        )
    return pl.concat(rows)


def test_route_rules_find_targets_at_the_rate_their_rules_allow(targets: pl.DataFrame) -> None:
    """A target's round trips leave at odd hours, so one in the window fires the odd-hour round
    trip rule: such targets are found unless their reads are missed or misread away. A target with
    no round trip in the window gives the corridor rules nothing: the task is neither impossible
    nor trivial."""
    assert targets.height >= 20
    ran = targets.filter(pl.col("runs") >= 1)
    assert ran.height >= 15
    assert ran["found"].mean() >= 0.9  # type: ignore[operator]
    idle = targets.filter(pl.col("runs") == 0)
    if idle.height:
        assert idle["found"].mean() <= 0.5  # type: ignore[operator]


def test_route_rules_flag_innocent_vehicles_too(counts: pl.DataFrame) -> None:
    """The same rules flag innocent drivers (night workers' repeated routes, port visitors): the
    precision at the planted base rate is far from 1."""
    flagged = counts.filter(pl.col("slice") == "group")["flagged"].sum()
    assert flagged > 100
