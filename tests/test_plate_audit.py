"""The plate tasks through the whole pipeline: the plates stage, the two route systems, the
audit over vehicles and drivers, the scorecard, the report and the attribution's measure."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from conftest import SANDBOX, small_scenario

from trailbench.attribution import measure
from trailbench.pipeline import run_all
from trailbench.scenario import Scenario
from trailbench.tasks import registry

SYSTEMS = ["exact", "route_rules", "route_anomaly"]


@pytest.fixture(scope="module")
def plate_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, Path, dict]:
    sc = small_scenario(systems={"run": SYSTEMS}, audit={"worlds": 2, "bootstrap": 50})
    run = tmp_path_factory.mktemp("plates") / "run"
    card = run_all(sc, run, use_sandbox=SANDBOX)
    return sc, run, card


def test_units_are_counted_and_bootstrapped_on_their_own(plate_run: tuple[Scenario, Path, dict]) -> None:
    _, run, card = plate_run
    vehicles = pl.read_parquet(run / "outcomes" / "vehicles.parquet")
    drivers = pl.read_parquet(run / "outcomes" / "drivers.parquet")
    n_v = card["units"]["vehicles"]["count"]
    assert vehicles.height == n_v * len(SYSTEMS)  # every vehicle, for every system
    assert drivers.height == card["units"]["drivers"]["count"] * len(SYSTEMS)
    assert sorted(vehicles["world"].unique().to_list()) == [0, 1]
    own = {r["metric"]: r for r in card["metrics"] if r["system"] == "route_rules" and r["slice"] == "overall"}
    assert own["flag_precision"]["cases"] == n_v
    assert own["innocent_drivers_flagged_per_10k"]["cases"] == card["units"]["drivers"]["count"]
    # the metric is the ratio of the per-vehicle counts, recomputed from the outcome table
    rr = vehicles.filter(pl.col("system") == "route_rules")
    assert own["false_flags_per_10k_innocent_vehicles"]["value"] == pytest.approx(
        1e4 * rr["false_flags"].sum() / rr["innocent"].sum(), abs=1e-5
    )
    assert own["flag_precision"]["value"] == pytest.approx(rr["true_flags"].sum() / rr["flags"].sum(), abs=1e-6)
    lo, hi = own["false_flags_per_10k_innocent_vehicles"]["lo"], own["false_flags_per_10k_innocent_vehicles"]["hi"]
    assert lo <= own["false_flags_per_10k_innocent_vehicles"]["value"] <= hi and lo < hi


def test_each_system_takes_part_in_its_own_plate_tasks(plate_run: tuple[Scenario, Path, dict]) -> None:
    _, _, card = plate_run
    assert card["systems"]["route_rules"]["answers"] == ["flag", "hotlist"]
    assert card["systems"]["route_anomaly"]["answers"] == ["flag"]
    assert "flag" not in card["systems"]["exact"]["answers"]
    tasks_of = {(r["system"], r["task"]) for r in card["metrics"]}
    assert ("exact", "flag") not in tasks_of and ("route_anomaly", "hotlist") not in tasks_of
    assert ("route_anomaly", "flag") in tasks_of and ("route_rules", "hotlist") in tasks_of
    # the driver's group slices and the plate strata
    levels = {
        (r["slice"], r["level"]) for r in card["metrics"] if r["metric"] == "false_flags_per_10k_innocent_vehicles"
    }
    assert ("neighbourhood", "declared neighbourhoods") in levels and ("group", "white") in levels
    assert any(k == "vehicle_sharing" for k, _ in levels) and any(k == "trip_purpose" for k, _ in levels)


def test_the_report_puts_each_rate_beside_its_base_rate(plate_run: tuple[Scenario, Path, dict]) -> None:
    _, run, card = plate_run
    html = (run / "report.html").read_text()
    assert "id='plates'" in html or 'id="plates"' in html
    assert "Of every 10,000 plates route_rules flagged" in html
    assert "Of every 10,000 innocent drivers" in html and "over a year" in html
    assert "Of every 10,000 hotlist hits route_rules reported" in html
    flags = [c for c in card["explained_cases"] if c["task"] == "flag"]
    assert flags and all(c["vehicle_timeline"]["trips"] is not None for c in flags)
    if any(c["vehicle_timeline"]["reads"] for c in flags):
        assert "another car&#39;s reads" in html or "another car's reads" in html


def test_attribution_measures_the_unit_disparities(plate_run: tuple[Scenario, Path, dict]) -> None:
    sc, run, card = plate_run
    pairs, _ = measure(run, sc, card, card["reference_group"])
    harm = {m.name for m in registry.metrics().values() if m.over != "cases" and m.headline and m.disparity}
    assert harm and {p[1] for p in pairs} >= harm  # the plate harms are attributed like the others


def test_the_scorecard_is_byte_identical_on_a_second_run(plate_run: tuple[Scenario, Path, dict]) -> None:
    sc, run, card = plate_run
    again = json.loads((run / "scorecard.json").read_text())
    assert again["units"] == card["units"]
    first = (run / "outcomes" / "vehicles.parquet").read_bytes()
    run_all(sc, run, use_sandbox=SANDBOX)  # every stage cached; the audit scores again
    assert (run / "outcomes" / "vehicles.parquet").read_bytes() == first
