"""The command line: ``trailbench world`` writes a run directory and prints its summary."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from trailbench.cli import app

runner = CliRunner()


def test_world_command_writes_and_summarises(tmp_path: Path) -> None:
    scen = tmp_path / "s.toml"
    scen.write_text('name = "cli"\n[world]\npeople = 600\ntowns = 2\n')
    out = tmp_path / "run"
    result = runner.invoke(app, ["world", str(scen), "--out", str(out), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "Records by source" in result.output and "Errors injected by kind" in result.output
    summary = json.loads((out / "world_summary.json").read_text())
    assert summary["people"] == 600
    assert sum(summary["records_by_source"].values()) == summary["records"]
    assert "seed = 3" in (out / "scenario.toml").read_text()


def test_bad_scenario_exits_2_with_the_field(tmp_path: Path) -> None:
    scen = tmp_path / "bad.toml"
    scen.write_text("[world]\npeople = -4\n")
    result = runner.invoke(app, ["world", str(scen), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "world.people" in result.output
    assert not (tmp_path / "r").exists()


def test_unknown_system_is_named_before_anything_runs(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "county-10k", "--systems", "exact,psychic", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "systems.run" in result.output and "psychic" in result.output
    assert not (tmp_path / "r").exists()
