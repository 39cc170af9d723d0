"""End to end: the scorecard is byte-identical across runs, an interrupted run resumes to the
same scorecard, and the CLI and Python API expose the results."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from typer.testing import CliRunner

import trailbench
from trailbench.audit.scorecard import validate_scorecard
from trailbench.cli import app
from trailbench.tasks.locate import OUTCOMES

SCENARIO = """
name = "e2e"
seed = 11
[world]
people = 2000
towns = 3
[docket]
cases = 150
[audit]
bootstrap = 200
worlds = 2
"""


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("scen") / "e2e.toml"
    p.write_text(SCENARIO)
    return p


@pytest.fixture(scope="module")
def first(scenario_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("first") / "run"
    trailbench.run(scenario_file, out=run)
    return run


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_scorecard_is_byte_identical_across_runs(first: Path, scenario_file: Path, tmp_path: Path) -> None:
    second = tmp_path / "second"
    trailbench.run(scenario_file, out=second)
    assert _sha(first / "scorecard.json") == _sha(second / "scorecard.json")
    for p in sorted((first / "outcomes").glob("*.parquet")):
        assert _sha(p) == _sha(second / "outcomes" / p.name), p.name
    for k in ("0", "1"):
        for system in ("exact", "splink", "broker"):
            for task in ("locate", "associates"):
                rel = Path("worlds") / k / "answers" / system / f"{task}.parquet"
                assert _sha(first / rel) == _sha(second / rel)


def _run_until_splink_starts(scenario_file: Path, run: Path) -> subprocess.Popen[bytes]:
    """Start ``trailbench run`` in its own process group; return once ``exact`` has finished."""
    cmd = [sys.executable, "-m", "trailbench.cli", "run", str(scenario_file), "--out", str(run)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    marker = run / "worlds" / "0" / ".stages" / "system-exact.json"
    deadline = time.time() + 120
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), "the run never reached the systems stage"
    return proc


def test_interrupted_run_resumes_to_the_same_scorecard(first: Path, scenario_file: Path, tmp_path: Path) -> None:
    run = tmp_path / "interrupted"
    proc = _run_until_splink_starts(scenario_file, run)
    os.killpg(proc.pid, signal.SIGKILL)  # kill mid-way: splink is running now
    proc.wait()
    assert not (run / "scorecard.json").exists()
    notes: list[str] = []
    trailbench.run(scenario_file, out=run, progress=notes.append)
    assert "world 0: world: cached" in notes and "world 0: system exact: cached" in notes
    assert _sha(run / "scorecard.json") == _sha(first / "scorecard.json")


def test_scorecard_validates_and_carries_provenance(first: Path) -> None:
    card = json.loads((first / "scorecard.json").read_text())
    validate_scorecard(card)
    assert card["seed"] == 11 and card["scenario"]["world"]["people"] == 2000
    assert {"polars", "splink", "duckdb", "numpy"} <= set(card["versions"])
    assert card["git_revision"]
    assert card["docket"]["cases"] == 2 * 150  # two worlds, pooled
    assert card["worlds"] == 2 and card["world_seeds"][0] == 11 and card["world_seeds"][1] != 11
    groups = {m["level"] for m in card["metrics"] if m["slice"] == "group"}
    assert {"hispanic", "white", "black"} <= groups
    strata = {m["slice"] for m in card["metrics"]}
    assert {"tenure", "household_form", "moved_last_year", "informal_work", "bystander_group"} <= strata
    assert any(d["metric"] == "wrong_door_rate" for d in card["disparities"])
    assert card["explained_cases"] and all(c["chain"] for c in card["explained_cases"])


def test_pooled_figures_lie_between_the_worlds(first: Path) -> None:
    """Each world's own figures are in the outcomes; a pooled ratio of sums lies between the
    worlds' ratios (its numerator and denominator are the worlds' sums), and the per-world values
    the report shows as the spread are those figures."""
    card = json.loads((first / "scorecard.json").read_text())
    per = pl.read_parquet(first / "outcomes" / "world_metrics.parquet")
    assert sorted(set(per["world"].to_list())) == [0, 1]
    ratio_metrics = {m.name for m in trailbench.tasks.registry.metrics().values() if m.kind == "ratio"}
    checked = 0
    for row in card["metrics"]:
        if row["slice"] != "overall" or row["metric"] not in ratio_metrics or row["value"] is None:
            continue
        own = per.filter(
            (pl.col("system") == row["system"]) & (pl.col("metric") == row["metric"]) & (pl.col("slice") == "overall")
        )["value"].drop_nulls()
        if own.len() == 2:
            assert own.min() - 1e-6 <= row["value"] <= own.max() + 1e-6, row
            checked += 1
    assert checked > 30
    spread = {(r["system"], r["metric"], r["level"]): r["values"] for r in card["world_spread"]}
    wd = per.filter(
        (pl.col("system") == "splink") & (pl.col("metric") == "wrong_door_rate") & (pl.col("slice") == "overall")
    )
    assert spread[("splink", "wrong_door_rate", "all")] == pytest.approx(wd.sort("world")["value"].to_list(), abs=1e-6)


def test_intervals_hold_their_estimates(first: Path) -> None:
    """Every interval contains its point estimate (a biased replicate statistic would not)."""
    card = json.loads((first / "scorecard.json").read_text())
    rows = [(m["value"], m["lo"], m["hi"]) for m in card["metrics"]]
    rows += [(d["ratio"], d["lo"], d["hi"]) for d in card["disparities"]]
    rows += [(e["share"], e["lo"], e["hi"]) for e in card["exposure"]]
    checked = [(v, lo, hi) for v, lo, hi in rows if None not in (v, lo, hi)]
    assert len(checked) > 500
    assert [r for r in checked if not r[1] - 1e-9 <= r[0] <= r[2] + 1e-9] == []


def test_invalid_scorecard_is_rejected(first: Path) -> None:
    import jsonschema

    card = json.loads((first / "scorecard.json").read_text())
    card["metrics"][0]["task"] = "teleport"
    with pytest.raises(jsonschema.ValidationError):
        validate_scorecard(card)


def test_api_returns_dataframes(first: Path, scenario_file: Path) -> None:
    res = trailbench.run(scenario_file, out=first)  # all stages cached
    assert isinstance(res.metrics, pl.DataFrame)
    wd = res.overall("wrong_door_rate")
    assert set(wd["system"]) == {"exact", "splink", "broker"}
    assert isinstance(res.metrics.to_pandas(), pd.DataFrame)
    loc = res.outcomes("locate")
    assert loc.height == 3 * 2 * 150
    assert loc.group_by("world").len().sort("world")["len"].to_list() == [3 * 150, 3 * 150]
    assert set(loc["outcome"]) <= set(OUTCOMES)
    assert res.outcomes("locate_chains").height > 0


def test_cli_run_prints_the_summary(first: Path, scenario_file: Path) -> None:
    result = CliRunner().invoke(app, ["run", str(scenario_file), "--out", str(first)])
    assert result.exit_code == 0, result.output
    for name in ("exact", "splink", "broker"):
        assert name in result.output
    assert "wrong doors" in result.output and "scorecard.json" in result.output


def test_a_killed_run_leaves_no_system_running(scenario_file: Path, tmp_path: Path) -> None:
    proc = _run_until_splink_starts(scenario_file, tmp_path / "killed")
    time.sleep(0.5)  # the splink child is running now
    assert _systems_running("trailbench-splink-"), "expected the splink system to be running"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)
    assert _systems_running("trailbench-splink-") == []
    from trailbench.systems.runner import clean_orphan_sandboxes

    assert clean_orphan_sandboxes() >= 1  # the killed run's working directories are removed
    assert clean_orphan_sandboxes() == 0


def _systems_running(marker: str) -> list[int]:
    """Pids of live trailbench system processes whose command line contains ``marker``."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (d / "stat").read_text().split()[2]
        except OSError:
            continue
        if "trailbench.systems.child" in cmd and marker in cmd and state != "Z":
            found.append(int(d.name))
    return found


def test_realism_is_measured_on_every_world_and_pooled(first: Path) -> None:
    """The scorecard's realism table is the declared checks measured on both worlds, pooled; the
    report shows each row."""
    from trailbench.pipeline import load_world
    from trailbench.realism import CHECKS, realism_table

    card = json.loads((first / "scorecard.json").read_text())
    direct = realism_table([load_world(first / "worlds" / k) for k in ("0", "1")])
    assert len(card["realism"]) == len(CHECKS) == len(direct)
    for got, want in zip(card["realism"], direct, strict=True):
        assert (got["check"], got["level"], got["within"]) == (want["check"], want["level"], want["within"])
        assert got["measured"] == pytest.approx(want["measured"], abs=1e-6)
    html = (first / "report.html").read_text()
    assert "Realism: the worlds against cited figures" in html
    assert html.count('<td class="state-ok">within</td>') + html.count('<td class="state-bad">outside</td>') == len(
        CHECKS
    )
