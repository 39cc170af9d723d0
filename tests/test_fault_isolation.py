"""A failing system never takes the run down: each fault is recorded and the others finish."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import SANDBOX, small_scenario

from trailbench.pipeline import run_all

FAKES = Path(__file__).parent / "fake_systems"


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    run = tmp_path_factory.mktemp("faults") / "run"
    commands = {
        n: f"{sys.executable} {FAKES / (n + '.py')}" for n in ("raises", "hangs", "malformed", "unknown_ids", "peeks")
    }
    sc = small_scenario(
        docket={"cases": 60},
        audit={"bootstrap": 100},
        systems={
            "run": ["raises", "exact", "hangs", "malformed", "unknown_ids", "peeks", "broker"],
            "commands": commands,
            "timeout_s": 3,
        },
    )
    card = run_all(sc, run, use_sandbox=SANDBOX)
    return run, card


def test_each_fault_is_recorded(faulty: tuple[Path, dict]) -> None:
    run, card = faulty
    st = card["systems"]
    assert st["raises"]["state"] == "crashed" and "broken on purpose" in st["raises"]["reason"]
    assert st["hangs"]["state"] == "timeout" and "3 s" in st["hangs"]["reason"]
    assert st["malformed"]["tasks"]["associates"]["state"] == "malformed"
    assert st["malformed"]["tasks"]["locate"]["state"] == "invalid"
    assert "missing columns" in st["malformed"]["tasks"]["locate"]["reason"]
    assert st["unknown_ids"]["tasks"]["locate"]["state"] == "invalid"
    assert "unknown record ids" in st["unknown_ids"]["tasks"]["locate"]["reason"]
    assert st["peeks"]["state"] == "crashed" and "FileNotFoundError" in st["peeks"]["reason"]
    for name in ("raises", "hangs", "malformed", "unknown_ids", "peeks"):
        on_disk = json.loads((run / "answers" / name / "status.json").read_text())
        assert on_disk["state"] == st[name]["state"]


def test_the_others_finish(faulty: tuple[Path, dict]) -> None:
    run, card = faulty
    for name in ("exact", "broker"):
        assert card["systems"][name]["state"] == "ok"
        assert (run / "answers" / name / "locate.parquet").exists()
    wd = {
        (m["system"]): m["value"] for m in card["metrics"] if m["metric"] == "correct_rate" and m["slice"] == "overall"
    }
    assert wd["exact"] > 0.5 and wd["broker"] > 0.5
    assert wd["raises"] == 0.0  # no answers scored as no-answer, never as correct
    no_answer = {
        m["system"]: m["value"] for m in card["metrics"] if m["metric"] == "no_answer_rate" and m["slice"] == "overall"
    }
    assert no_answer["hangs"] == 1.0


def test_invalid_answers_are_not_copied(faulty: tuple[Path, dict]) -> None:
    run, _ = faulty
    assert not (run / "answers" / "unknown_ids" / "locate.parquet").exists()
    assert not (run / "answers" / "malformed" / "associates.parquet").exists()


def test_nothing_already_written_is_lost(faulty: tuple[Path, dict]) -> None:
    run, _ = faulty
    for part in (
        "world/people.parquet",
        "trails/records.parquet",
        "truth/records.parquet",
        "docket/cases.parquet",
        "answers/exact/locate.parquet",
        "answers/broker/associates.parquet",
        "scorecard.json",
    ):
        assert (run / part).stat().st_size > 0, part


def test_markup_and_escapes_from_a_system_reach_the_console_as_text(tmp_path: Path) -> None:
    """A crash whose last line carries Rich markup, terminal escapes and NUL: the CLI prints it
    literally and finishes (it used to raise a markup error after the run)."""
    from typer.testing import CliRunner

    from trailbench.cli import app

    bad = tmp_path / "bad.py"
    bad.write_text("import sys\nprint('[/red][bold]x \\x1b[31mred\\x00 \\x1b]0;title\\x07')\nsys.exit(3)\n")
    (tmp_path / "s.toml").write_text(
        f'name = "markup"\n[world]\npeople = 2000\ntowns = 3\n[docket]\ncases = 30\n'
        f"[audit]\nbootstrap = 50\nworlds = 1\n"
        f'[systems]\nrun = ["exact", "bad"]\n[systems.commands]\nbad = "{sys.executable} {bad}"\n'
    )
    args = ["run", str(tmp_path / "s.toml"), "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(app, args if SANDBOX else [*args, "--no-sandbox"])
    assert result.exit_code == 0, result.output
    assert "bad: crashed: exit code 3: [/red][bold]x [31mred ]0;title" in result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\x00" not in result.output
