"""The pattern-of-life tasks end to end: the `pattern` system under both home rules, scored, in the
scorecard, the report and the CLI summary (issue 11, deliverables 4-7).

The worlds here have more night-shift workers than the cited shares (half of workers work days,
three in ten nights) so that the night-shift stratum holds enough cases to measure; every case
whose subject has a panel phone holds its advertising ID.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import SANDBOX, small_scenario
from typer.testing import CliRunner

from trailbench.cli import app, print_run_summary
from trailbench.pipeline import run_all


def _scenario(method: str) -> Any:
    return small_scenario(
        world={"people": 2500, "towns": 3},
        movement={"shifts": [0.5, 0.1, 0.3, 0.1]},
        docket={"cases": 700, "device_clue": 1.0},
        audit={"worlds": 2, "bootstrap": 200, "min_group_cases": 15},
        systems={"run": ["exact", "pattern"], "pattern": {"method": method}},
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Any]]]:
    """The same worlds answered by pattern with FREQ, then with OSNA (only the system and the
    audit run again: its settings are part of its cache key)."""
    out = {}
    for method in ("FREQ", "OSNA"):
        run = tmp_path_factory.mktemp(method.lower()) / "run"
        out[method] = (run, run_all(_scenario(method), run, use_sandbox=SANDBOX))
    return out


def _value(card: dict[str, Any], metric: str, slice_: str = "overall", level: str = "all") -> float:
    row = next(
        r
        for r in card["metrics"]
        if (r["system"], r["metric"], r["slice"], r["level"]) == ("pattern", metric, slice_, level)
    )
    assert row["estimable"], row
    return float(row["value"])


def test_osna_places_night_workers_homes_at_work_and_the_stratum_shows_it(
    runs: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    """OSNA reads weekday 02:00-08:00 as rest: a night worker's rest hours are spent at work, so
    their home is put at the workplace. FREQ (most time) has no fixed hours."""
    freq, osna = runs["FREQ"][1], runs["OSNA"][1]
    night_osna = _value(osna, "home_at_workplace_rate", "shift", "night")
    assert night_osna > 0.15
    assert night_osna > 2 * _value(freq, "home_at_workplace_rate", "shift", "night")
    assert night_osna > 3 * _value(osna, "home_at_workplace_rate", "shift", "day")
    # and the error type is named as such
    causes = {(r["system"], r["task"], r["cause"]): r["count"] for r in osna["error_types"]}
    assert causes.get(("pattern", "home_work", "home-at-night-shift-workplace"), 0) > 0


def test_each_system_takes_part_only_in_its_own_tasks(runs: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    _, card = runs["FREQ"]
    assert card["systems"]["pattern"]["answers"] == ["home_work", "device_link", "colocation"]
    assert card["systems"]["exact"]["answers"] == ["locate", "associates"]
    for name in ("exact", "pattern"):
        assert card["systems"][name]["state"] == "ok"
    tasks = {r["task"] for r in card["metrics"] if r["system"] == "pattern"}
    assert tasks == {"home_work", "device_link", "colocation"}
    # the pattern tasks' figures rest on the device cases only, the same number for each task
    dens = {
        r["metric"]: r["denominator"]
        for r in card["metrics"]
        if r["system"] == "pattern"
        and r["slice"] == "overall"
        and r["metric"] in ("home_correct_rate", "colocation_false_links_per_case", "people_misattributed_per_case")
    }
    assert len(set(dens.values())) == 1 and 0 < next(iter(dens.values())) < card["docket"]["cases"]


def test_the_report_draws_the_pattern_tasks(runs: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    run, card = runs["OSNA"]
    html = (run / "report.html").read_text()
    assert 'id="pattern"' in html and "Error types: home work" in html
    timelines = [c for c in card["explained_cases"] if c.get("timeline")]
    assert timelines and html.count("days into the audit window") == len(timelines)
    assert {c["task"] for c in timelines} == {"home_work"}
    others = [c for c in card["explained_cases"] if c["task"] in ("device_link", "colocation")]
    assert others  # drawn as chains, without a timeline
    for c in timelines + others:
        assert f"{c['system']}</strong>, case {c['case_id']}" in html
    # exact's row under a pattern metric, and pattern's under a locate one, say "not answered"
    assert "not answered" in html


def test_the_summary_prints_one_table_per_set_of_tasks(
    runs: dict[str, tuple[Path, dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    run, card = runs["FREQ"]
    print_run_summary(card, run)
    out = capsys.readouterr().out
    assert "right home" in out and "wrong doors" in out
    exact_line = next(ln for ln in out.splitlines() if ln.strip().startswith("exact "))
    pattern_line = next(ln for ln in out.splitlines() if ln.strip().startswith("pattern "))
    assert "%" in exact_line and "%" in pattern_line
    assert "pattern: people at wrong home per 100 cases" in out  # its own gap line
    table = [ln for ln in out.splitlines() if not ln.startswith(("exact:", "pattern:", "scorecard:", "report:"))]
    assert max(len(ln) for ln in table) <= 80 and "…" not in out  # the tables fit 80 columns, uncut


def test_the_report_command_renders_the_pattern_run_again(runs: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    run, card = runs["FREQ"]
    assert CliRunner().invoke(app, ["report", str(run)]).exit_code == 0
    assert json.loads((run / "scorecard.json").read_text()) == card
