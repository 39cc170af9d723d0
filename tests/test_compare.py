"""``trailbench compare``: the same figures side by side, differences and interval overlap."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import small_scenario
from typer.testing import CliRunner

from trailbench.cli import app
from trailbench.pipeline import run_all
from trailbench.report.compare import comparison


def _card(value: float, lo: float, hi: float) -> dict:
    row = {
        "system": "s",
        "metric": "wrong_door_rate",
        "task": "locate",
        "slice": "overall",
        "level": "all",
        "value": value,
        "lo": lo,
        "hi": hi,
        "denominator": 10.0,
        "cases": 10,
    }
    return {"scenario": {"systems": {"run": ["s"]}}, "metrics": [row], "disparities": []}


def test_difference_and_overlap() -> None:
    rows = comparison(_card(0.10, 0.05, 0.15), _card(0.30, 0.20, 0.40))
    (r,) = rows
    assert (r["a"], r["b"], r["diff"], r["overlap"]) == ("10.0%", "30.0%", "+20.0%", "no")
    rows = comparison(_card(0.30, 0.20, 0.40), _card(0.25, 0.15, 0.35))
    assert (rows[0]["diff"], rows[0]["overlap"]) == ("−5.0%", "yes")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("cmp")
    common = {"docket": {"cases": 100}, "audit": {"bootstrap": 100}, "systems": {"run": ["exact", "broker"]}}
    a, b = base / "cited", base / "flat"
    run_all(small_scenario(**common), a)
    run_all(small_scenario(names={"structure": "flat"}, **common), b)
    return a, b


def test_compare_command(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two_runs
    out = tmp_path / "cmp.html"
    result = CliRunner().invoke(app, ["compare", str(a), str(b), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "overlap" in result.output and "comparison:" in result.output
    html = out.read_text()
    assert "Comparison of two trailbench runs" in html and html.count("<tr>") > 10
    assert "wrong door rate" in html and "disparity" in html


def test_compare_names_a_missing_scorecard(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["compare", str(tmp_path), str(tmp_path)])
    assert result.exit_code == 2 and "no scorecard.json" in result.output
