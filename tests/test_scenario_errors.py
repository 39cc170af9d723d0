"""Bad scenarios are refused when loaded, in one line naming the field and what is allowed.

Each case here was a traceback or was silently accepted before: NaN and infinities, booleans
read as numbers, probabilities that do not sum to 1, names that would escape the run
directory or break the terminal, settings that leave the docket nobody to sample, files that
are not UTF-8 TOML. The command line prints the same line and exits with status 2.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from trailbench import resources
from trailbench.cli import app
from trailbench.resources import GIB, available_bytes, check_resources, estimate_bytes
from trailbench.scenario import Scenario, ScenarioError, load_scenario, parameter_table, parse_scenario

ALL_GROUPS = "hispanic = 0.2\nwhite = 0.2\nblack = 0.2\napi = 0.2\naian = 0.1\nmulti = 0.1\n"

# name: (TOML text, the dotted field the message must name, and a phrase of what is allowed)
BAD: dict[str, tuple[str, str, str]] = {
    "nan rate": ("[world]\nvacancy = nan\n", "world.vacancy", "finite number"),
    "inf mean": ("[ties]\nfriends = inf\n", "ties.friends", "finite number"),
    "minus inf": ("[work]\nmean_employer_size = -inf\n", "work.mean_employer_size", "finite number"),
    "nan in probabilities": ("[housing]\nfamily_forms = [nan, 0.5, 0.5]\n", "housing.family_forms", "finite"),
    "inf in weights": ("[errors]\ntypo_kinds = [inf, 1, 1, 1]\n", "errors.typo_kinds", "finite"),
    "nan by group": (
        "[housing.ownership]\n" + ALL_GROUPS.replace("hispanic = 0.2", "hispanic = nan"),
        "housing.ownership.hispanic",
        "finite",
    ),
    "nan for an integer": ("[world]\npeople = nan\n", "world.people", "finite"),
    "boolean integer": ("[world]\npeople = true\n", "world.people", "expected a number, got a boolean"),
    "boolean float": ("[docket]\nforeign_born_weight = false\n", "docket.foreign_born_weight", "got a boolean"),
    "booleans in a list": ("[housing]\nowner_kinds = [true, false, false]\n", "housing.owner_kinds", "got a boolean"),
    "boolean by group": (
        "[world.foreign_born]\n" + ALL_GROUPS.replace("white = 0.2", "white = true"),
        "world.foreign_born.white",
        "got a boolean",
    ),
    "fraction for an integer": ("[world]\npeople = 1500.5\n", "world.people", "valid integer"),
    "negative probability": ("[housing]\nrenter_kinds = [1.0, -0.2, 0.2]\n", "housing.renter_kinds", "greater than"),
    "probabilities over 1": ("[housing]\nfamily_forms = [0.5, 0.5, 0.5]\n", "housing.family_forms", "sum to 1"),
    "probabilities just off": ("[housing]\nowner_kinds = [0.85, 0.15, 0.001]\n", "housing.owner_kinds", "sum to 1"),
    "probabilities all zero": ("[housing]\nrenter_kinds = [0, 0, 0]\n", "housing.renter_kinds", "sum to 1"),
    "weights all zero": ("[errors]\ntypo_kinds = [0, 0, 0, 0]\n", "errors.typo_kinds", "positive weight"),
    "negative weight": ("[errors]\ntypo_kinds = [1, -1, 0, 0]\n", "errors.typo_kinds", "greater than or equal to 0"),
    "group mix all zero": (
        "[world.group_mix]\n" + "".join(f"{g} = 0\n" for g in ("hispanic", "white", "black", "api", "aian", "multi")),
        "world.group_mix",
        "sum to 1",
    ),
    "clue window reversed": (
        "[docket]\nclue_min_years = 7\nclue_max_years = 6\n",
        "docket.clue_min_years",
        "<= docket.clue_max_years",
    ),
    "aging reversed": ("[phones]\naging_min_days = 90\naging_max_days = 45\n", "phones.aging_max_days", ">="),
    "no systems": ("[systems]\nrun = []\n", "systems.run", "list at least one system"),
    "system twice": ('[systems]\nrun = ["exact", "exact"]\n', "systems.run", "list each system once"),
    "name with dots and slash": ('name = "../x"\n', "name", "letters, digits"),
    "name with slash": ('name = "a/b"\n', "name", "letters, digits"),
    "name with markup": ('name = "[red]x"\n', "name", "letters, digits"),
    "name with space": ('name = "a b"\n', "name", "letters, digits"),
    "empty name": ('name = ""\n', "name", "1 to 40"),
    "long name": (f'name = "{"x" * 41}"\n', "name", "1 to 40"),
    "name with newline": ('name = "a\\nb"\n', "name", "letters, digits"),
    "system name with path": ('[systems]\nrun = ["../evil"]\n', "systems.run", "letters, digits"),
    "command name with slash": ('[systems.commands]\n"a/b" = "python x.py"\n', "systems.commands", "letters, digits"),
    "empty command": ('[systems.commands]\nmine = "  "\n', "systems.commands.mine", "empty command line"),
    "huge seed": ("seed = 12345678901234567890123\n", "seed", "less than or equal to 9223372036854775807"),
    "negative seed": ("seed = -1\n", "seed", "greater than or equal to 0"),
    "infinite timeout": ("[systems]\ntimeout_s = inf\n", "systems.timeout_s", "finite"),
    "zero timeout": ("[systems]\ntimeout_s = 0\n", "systems.timeout_s", "greater than 0"),
    "day-long timeout": ("[systems]\ntimeout_s = 86401\n", "systems.timeout_s", "less than or equal to 86400"),
    "absurd memory": ("[systems]\nmemory_mb = 99999999\n", "systems.memory_mb", "less than or equal to 1048576"),
    "as-of before the period": ("[docket]\nas_of_years = 11\n", "docket.as_of_years", "at most world.years"),
    "as-of under a day": ("[docket]\nas_of_years = 0.001\n", "docket.as_of_years", "at least one day"),
    "clues older than the period": (
        "[docket]\nclue_min_years = 12\nclue_max_years = 20\n",
        "docket.clue_min_years",
        "less than world.years",
    ),
    "clues older than a short period": (
        "[world]\nyears = 3\n[docket]\nas_of_years = 1\nclue_min_years = 3.1\n",
        "docket.clue_min_years",
        "less than world.years",
    ),
    "no cases": ("[docket]\ncases = 0\n", "docket.cases", "greater than or equal to 1"),
    "no clue records": (
        "[sources]\ndmv_foreign_born_coverage = 0\n[sources.dmv]\ncoverage = 0\n"
        "[sources.court]\ncoverage = 0\n[sources.lease_property]\ncoverage = 0\n",
        "sources.dmv.coverage",
        "above 0",
    ),
    "period past 9999": ("[world]\nstart = 9995-01-01\nyears = 10\n", "world.start", "by the year 9999"),
    "section as a number": ("world = 3\n", "world", "valid dictionary"),
    "unknown reference group": ('[audit]\nreference_group = "martian"\n', "audit.reference_group", "one of"),
    "unknown key": ("[docket]\ncasez = 3\n", "docket.casez", "allowed keys here"),
    "absurd lag": ("[sources]\nphone_name_lag_days = 1000000000000000000000\n", "sources.phone_name_lag_days", "3650"),
    "absurd weight": ("[docket]\nforeign_born_weight = 1e300\n", "docket.foreign_born_weight", "less than"),
    "absurd clue age": ("[docket]\nclue_max_years = 1e300\n", "docket.clue_max_years", "less than"),
    "too few probabilities": ("[housing]\nfamily_forms = [0.5, 0.5]\n", "housing.family_forms", "too few values"),
    "household size out of reach": (
        "[housing.household_size]\n" + ALL_GROUPS.replace("= 0.", "= 2.").replace("hispanic = 2.2", "hispanic = 1.1"),
        "housing.household_size.hispanic",
        "can only reach a mean above 1.21",
    ),
    "household size below one": (
        "[housing.household_size]\n" + ALL_GROUPS.replace("= 0.", "= 2.").replace("white = 2.2", "white = 0.5"),
        "housing.household_size.white",
        "greater than or equal to 1",
    ),
}


def _load_text(tmp_path: Path, text: str) -> Scenario:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    return load_scenario(path)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_scenario_is_one_line_naming_the_field(case: str, tmp_path: Path) -> None:
    text, field, allowed = BAD[case]
    with pytest.raises(ScenarioError) as err:
        _load_text(tmp_path, text)
    msg = str(err.value)
    assert "\n" not in msg, msg
    assert msg.startswith(f"invalid scenario: {field}"), msg
    assert allowed in msg, msg


def test_several_problems_one_line_each(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as err:
        _load_text(tmp_path, 'name = "a/b"\nseed = -1\n[world]\npeople = true\nvacancy = nan\n')
    lines = str(err.value).splitlines()
    assert lines[0] == "invalid scenario:"
    assert [line.split(":")[0].strip() for line in lines[1:]] == ["name", "seed", "world.people", "world.vacancy"]


# -- every numeric parameter refuses NaN, infinities and booleans ----------------------------


def _numeric_parameters() -> list[tuple[str, Any]]:
    """(dotted key, default) for every number, list of numbers and per-group table in the scenario."""
    out = []
    for row in parameter_table():
        if row["key"].startswith("fixed."):
            continue
        try:
            value = json.loads(row["value"])
        except json.JSONDecodeError:
            continue  # a date
        if isinstance(value, (int, float, list, dict)) and not isinstance(value, bool) and value != {}:
            if isinstance(value, list) and not all(isinstance(v, (int, float)) for v in value):
                continue
            out.append((row["key"], value))
    return out


def _nested(key: str, value: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    here = data
    *parents, last = key.split(".")
    for p in parents:
        here = here.setdefault(p, {})
    here[last] = value
    return data


def _replace_first(default: Any, bad: Any) -> Any:
    if isinstance(default, list):
        return [bad, *default[1:]]
    if isinstance(default, dict):
        return {**default, "hispanic": bad}
    return bad


NUMERIC = _numeric_parameters()


def test_the_numeric_parameters_are_found() -> None:
    keys = [k for k, _ in NUMERIC]
    assert len(keys) > 60
    assert {"seed", "world.people", "housing.family_forms", "world.group_mix", "sources.dmv.coverage"} <= set(keys)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), True, False], ids=repr)
@pytest.mark.parametrize(("key", "default"), NUMERIC, ids=[k for k, _ in NUMERIC])
def test_every_number_refuses_nan_infinity_and_booleans(key: str, default: Any, bad: Any) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(_nested(key, _replace_first(default, bad)))
    msg = str(err.value)
    assert "\n" not in msg and key in msg, msg
    if isinstance(bad, bool):
        assert "expected a number, got a boolean" in msg
    else:
        assert "finite number" in msg


# -- what is still accepted ------------------------------------------------------------------


GOOD = {
    "defaults": "",
    "as-of dates span the whole period": "[docket]\nas_of_years = 10\n",
    "clue window of one age": "[docket]\nclue_min_years = 3\nclue_max_years = 3\n",
    # the latest as-of date is the day before the period ends; a record from the first day qualifies
    "clues as old as the period": "[docket]\nclue_min_years = 10\nclue_max_years = 12\n",
    "a zero probability": "[housing]\nowner_kinds = [1.0, 0.0, 0.0]\n",
    "weights not summing to 1": "[errors]\ntypo_kinds = [5, 0, 0, 1]\n",
    "float sums within 1e-6": "[housing]\nfamily_forms = [0.1, 0.2, 0.7000001]\n",
    "one clue source": (
        "[sources]\ndmv_foreign_born_coverage = 0\n[sources.dmv]\ncoverage = 0\n"
        "[sources.lease_property]\ncoverage = 0\n"
    ),
    "whole-number float for an integer": "[world]\npeople = 2000.0\n",
    "names at the limits": (
        f'name = "{"a" * 40}"\n[systems]\nrun = ["x_1-Y"]\n[systems.commands]\nx_1-Y = "python s.py"\n'
    ),
    "unused command names are fine": '[systems.commands]\nspare = "python s.py"\n',
    "largest seed": f"seed = {2**63 - 1}\n",
    "a day's timeout": "[systems]\ntimeout_s = 86400\n",
}


@pytest.mark.parametrize("case", sorted(GOOD))
def test_boundary_scenarios_are_accepted(case: str, tmp_path: Path) -> None:
    _load_text(tmp_path, GOOD[case])


def test_integers_stay_integers(tmp_path: Path) -> None:
    sc = _load_text(tmp_path, "[world]\npeople = 2000.0\n")
    assert sc.world.people == 2000 and isinstance(sc.world.people, int)


# -- seeds and names, over many values --------------------------------------------------------


@given(st.one_of(st.integers(max_value=-1), st.integers(min_value=2**63)))
def test_seeds_outside_int64_are_refused(seed: int) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario({"seed": seed})
    msg = str(err.value)
    assert msg.startswith("invalid scenario: seed: ") and "\n" not in msg


@given(st.integers(min_value=0, max_value=2**63 - 1))
@settings(max_examples=50)
def test_seeds_in_range_are_accepted(seed: int) -> None:
    assert parse_scenario({"seed": seed}).seed == seed


@given(
    st.text(max_size=60).filter(
        lambda s: not (1 <= len(s) <= 40 and all(c.isascii() and (c.isalnum() or c in "_-") for c in s))
    )
)
def test_names_outside_the_pattern_are_refused(name: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario({"name": name})
    msg = str(err.value)
    assert msg.startswith("invalid scenario: name: ") and "\n" not in msg


@given(st.from_regex(r"\A[A-Za-z0-9_-]{1,40}\Z"))
@settings(max_examples=50)
def test_names_in_the_pattern_are_accepted(name: str) -> None:
    sc = parse_scenario({"name": name, "systems": {"run": [name], "commands": {name: "python s.py"}}})
    assert sc.name == name


def test_seed_override_is_checked() -> None:
    with pytest.raises(ScenarioError, match=r"^invalid scenario: seed: "):
        load_scenario("county-10k", seed=2**63)


# -- file-level problems ---------------------------------------------------------------------


def test_binary_file_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "image.toml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    msg = str(err.value)
    assert msg.startswith(f"scenario {path}: not UTF-8 text") and "\n" not in msg


def test_latin1_file_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "Peña"\n'.encode("latin-1"))
    with pytest.raises(ScenarioError, match="not UTF-8 text"):
        load_scenario(path)


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + b'name = "bom"\n[world]\npeople = 600\n')
    sc = load_scenario(path)
    assert sc.name == "bom" and sc.world.people == 600


def test_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(tmp_path)
    msg = str(err.value)
    assert (
        msg == f"scenario {tmp_path}: is a directory; give a TOML file or a preset name "
        "(county-10k, county-10k-national, county-100k, city-1m)"
    )


def test_file_over_a_megabyte_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text("# " + "x" * 1_000_000 + "\n")
    with pytest.raises(ScenarioError, match="larger than 1 MB"):
        load_scenario(path)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_endless_file_is_refused() -> None:
    with pytest.raises(ScenarioError, match="larger than 1 MB"):
        load_scenario("/dev/zero")


def test_deeply_nested_toml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert "not valid TOML" in str(err.value) and "\n" not in str(err.value)


def test_invalid_toml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[world\npeople = 3\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert "not valid TOML" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "secret.toml"
    path.write_text('name = "x"\n')
    path.chmod(0)
    try:
        with pytest.raises(ScenarioError, match="cannot be read"):
            load_scenario(path)
    finally:
        path.chmod(0o600)


def test_file_name_too_long_is_named() -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario("x" * 5000 + ".toml")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("data", [[1, 2], "name = 'x'", 3, None])
def test_top_level_must_be_a_table(data: Any) -> None:
    with pytest.raises(ScenarioError, match=r"^invalid scenario: \(top level\): expected a table of settings"):
        parse_scenario(data)


# -- memory ----------------------------------------------------------------------------------


def test_memory_estimate_matches_the_measured_peaks() -> None:
    measured = {"county-10k": 0.26, "county-100k": 0.97, "city-1m": 6.15}  # GiB, peak RSS of `trailbench run`
    for preset, peak in measured.items():
        est = estimate_bytes(load_scenario(preset)) / GIB
        assert 0.75 * peak <= est <= 1.4 * peak, (preset, est)


def test_scenario_too_large_for_memory_is_refused() -> None:
    sc = load_scenario("city-1m")
    with pytest.raises(ScenarioError) as err:
        check_resources(sc, available=2 * GIB)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("scenario city-1m needs about 6.5 GiB of memory but the machine has 2.0 GiB available")
    assert "world.people" in msg
    check_resources(sc, available=16 * GIB)


def test_unreadable_meminfo_skips_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert available_bytes(tmp_path / "missing") is None
    (tmp_path / "garbled").write_text("MemAvailable: lots\n")
    assert available_bytes(tmp_path / "garbled") is None
    (tmp_path / "meminfo").write_text("MemTotal:  100 kB\nMemAvailable:   2048 kB\n")
    assert available_bytes(tmp_path / "meminfo") == 2048 * 1024
    monkeypatch.setattr(resources, "available_bytes", lambda: None)
    check_resources(load_scenario("city-1m"))  # cannot tell: no check


# -- the command line ------------------------------------------------------------------------

runner = CliRunner()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('name = "[/red]"\n', "name"),
        ('name = "[bold]x[/bold]"\n', "name"),
        ("[world]\nvacancy = nan\n", "world.vacancy"),
        ("[world]\npeople = true\n", "world.people"),
        ("[systems]\nrun = []\n", "systems.run"),
        ('[systems.commands]\n"[/]" = "x"\n', "systems.commands"),
        ("seed = 12345678901234567890123\n", "seed"),
    ],
)
@pytest.mark.parametrize("command", ["run", "world"])
def test_cli_prints_one_line_and_exits_2(command: str, text: str, field: str, tmp_path: Path) -> None:
    scen = tmp_path / "bad.toml"
    scen.write_text(text)
    result = runner.invoke(app, [command, str(scen), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"invalid scenario: {field}"), result.output
    assert not (tmp_path / "r").exists()


def test_cli_shows_markup_literally(tmp_path: Path) -> None:
    scen = tmp_path / "bad.toml"
    scen.write_text('name = "[/red][bold]x"\n')
    result = runner.invoke(app, ["run", str(scen), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert '(got "[/red][bold]x")' in result.output


def test_cli_names_file_problems(tmp_path: Path) -> None:
    binary = tmp_path / "b.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    for spec, expected in ((binary, "not UTF-8 text"), (tmp_path, "is a directory")):
        result = runner.invoke(app, ["run", str(spec), "--out", str(tmp_path / "r")])
        assert result.exit_code == 2 and expected in result.output and "Traceback" not in result.output


def test_cli_bad_system_override_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "county-10k", "--systems", "../x", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "systems.run[0]" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("command", ["run", "world"])
def test_cli_refuses_a_scenario_too_large_for_memory(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resources, "available_bytes", lambda: 1 * GIB)
    result = runner.invoke(app, [command, "city-1m", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2, result.output
    assert "needs about" in result.output and "lower world.people" in result.output
    assert not (tmp_path / "r").exists()
