"""Dotted-key overrides and the scenario schema version.

``load_scenario(spec, overrides={"world.people": 2000})`` changes single settings of a preset,
a file or a :class:`Scenario`; the result is checked exactly as a file is, and a key that names
no setting is refused in one line with the nearest keys that do.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailbench.scenario import (
    PRESETS,
    Scenario,
    ScenarioError,
    apply_overrides,
    load_scenario,
    override_keys,
    parse_scenario,
)
from trailbench.stages import stage_hash

BASE = Scenario()


def _refused(spec: str | Path | Scenario = "county-10k", **overrides: object) -> str:
    """The one-line message refusing ``overrides`` (given with ``__`` for ``.``)."""
    with pytest.raises(ScenarioError) as err:
        load_scenario(spec, overrides={k.replace("__", "."): v for k, v in overrides.items()})
    msg = str(err.value)
    assert "\n" not in msg, msg
    return msg


# -- setting values -------------------------------------------------------------------------


def test_overrides_set_nested_values() -> None:
    sc = load_scenario(
        "county-10k",
        overrides={
            "names.structure": "flat",
            "world.people": 2000,
            "systems.run": ["exact", "broker"],
            "world.foreign_born.hispanic": 0.4,
            "seed": 7,
        },
    )
    assert sc.names.structure == "flat"
    assert sc.world.people == 2000
    assert sc.systems.run == ("exact", "broker")
    assert sc.world.foreign_born.hispanic == 0.4
    assert sc.seed == 7
    # everything else is the preset's
    preset = load_scenario("county-10k")
    assert sc.world.towns == preset.world.towns and sc.name == preset.name
    assert sc.world.foreign_born.white == preset.world.foreign_born.white


def test_one_group_share_keeps_the_others() -> None:
    sc = load_scenario("county-10k", overrides={"world.group_mix.hispanic": 0.287, "world.group_mix.white": 0.478})
    assert (sc.world.group_mix.hispanic, sc.world.group_mix.white) == (0.287, 0.478)
    assert sc.world.group_mix.black == BASE.world.group_mix.black


def test_a_whole_table_can_be_set() -> None:
    mix = {"hispanic": 0.5, "white": 0.5, "black": 0, "api": 0, "aian": 0, "multi": 0}
    sc = load_scenario("county-10k", overrides={"world.group_mix": mix})
    assert sc.world.group_mix.model_dump() == mix


def test_a_source_setting_keeps_that_sources_other_defaults() -> None:
    sc = load_scenario("county-10k", overrides={"sources.dmv.coverage": 0.5})
    assert sc.sources.dmv.coverage == 0.5
    assert sc.sources.dmv.model_dump(exclude={"coverage"}) == BASE.sources.dmv.model_dump(exclude={"coverage"})


def test_a_command_system_can_be_added() -> None:
    sc = load_scenario(
        "county-10k", overrides={"systems.commands.mine": "python mine.py", "systems.run": ["exact", "mine"]}
    )
    assert sc.systems.commands == {"mine": "python mine.py"}
    assert sc.systems.run == ("exact", "mine")


def test_overrides_are_checked_like_a_file(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[world]\npeople = 2000\n[names]\nstructure = "flat"\n')
    from_file = load_scenario(path)
    from_overrides = load_scenario(Scenario(), overrides={"world.people": 2000, "names.structure": "flat"})
    assert from_file == from_overrides


def test_apply_overrides_leaves_its_input_alone() -> None:
    data = {"world": {"people": 1000}}
    out = apply_overrides(data, {"world.people": 2000, "docket.cases": 50})
    assert data == {"world": {"people": 1000}}
    assert out["world"] == {"people": 2000}
    assert out["docket"]["cases"] == 50


def test_explicit_seed_wins_over_an_override() -> None:
    assert load_scenario("county-10k", seed=3, overrides={"seed": 5}).seed == 3


@pytest.mark.parametrize("name", PRESETS)
def test_presets_load_with_overrides(name: str) -> None:
    sc = load_scenario(name, overrides={"world.people": 500, "audit.bootstrap": 50})
    assert sc.name == name
    assert (sc.world.people, sc.audit.bootstrap) == (500, 50)


def test_a_scenario_object_with_overrides() -> None:
    base = load_scenario("county-100k", seed=11)
    sc = load_scenario(base, overrides={"docket.cases": 200, "errors.name_typo": 0.05})
    assert (sc.docket.cases, sc.errors.name_typo, sc.seed, sc.world.people) == (200, 0.05, 11, 100_000)
    assert base.docket.cases == 1000  # the original is unchanged
    # the docket and error settings leave the world alone: same world, new trails
    assert stage_hash(sc, "world") == stage_hash(base, "world")
    assert stage_hash(sc, "trails") != stage_hash(base, "trails")
    assert load_scenario(base) == base


# -- refused ---------------------------------------------------------------------------------


def test_a_bad_value_is_refused_naming_the_dotted_key() -> None:
    msg = _refused(world__people=5)
    assert msg.startswith("invalid scenario: world.people: Input should be greater than or equal to 200"), msg
    assert "got 5" in msg
    assert _refused(names__structure="none").startswith("invalid scenario: names.structure: Input should be 'cited'")
    assert _refused(sources__dmv__coverage=1.5).startswith("invalid scenario: sources.dmv.coverage: ")
    assert _refused(world__people=True).startswith("invalid scenario: world.people: expected a number, got a boolean")
    assert _refused(housing__renter_move_rate=float("nan")).startswith(
        "invalid scenario: housing.renter_move_rate: Input should be a finite number"
    )


def test_an_unbalanced_group_share_is_refused() -> None:
    msg = _refused(world__group_mix__hispanic=0.5)
    assert msg.startswith("invalid scenario: world.group_mix: shares must sum to 1"), msg


def test_unknown_key_suggests_the_nearest() -> None:
    msg = _refused(**{"names.structur": "flat"})
    assert msg.startswith("invalid scenario: names.structur: unknown key"), msg
    assert "did you mean names.structure?" in msg
    assert "did you mean world.people" in _refused(**{"wrld.people": 3})
    assert "did you mean sources.dmv.coverage" in _refused(**{"sources.dmv.coverag": 0.5})


def test_unknown_key_with_nothing_near_lists_the_keys_there() -> None:
    msg = _refused(**{"world.zzzzzz": 1})
    assert msg.startswith("invalid scenario: world.zzzzzz: unknown key"), msg
    assert "allowed keys under world: foreign_born, group_mix, people" in msg
    assert "allowed keys at the top level: audit," in _refused(**{"qqqqqq": 1})


def test_keys_past_a_value_are_refused() -> None:
    msg = _refused(**{"world.people.max": 3})
    assert msg == "invalid scenario: world.people.max: world.people is a single value, not a table; set it as a whole"


def test_several_unknown_keys_one_line_each() -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario("county-10k", overrides={"world.peeple": 1, "names.structur": "flat"})
    lines = str(err.value).splitlines()
    assert lines[0] == "invalid scenario:"
    assert [line.split(":")[0].strip() for line in lines[1:]] == ["world.peeple", "names.structur"]


def test_every_key_listed_can_be_set() -> None:
    keys = override_keys()
    assert {"schema_version", "world", "world.people", "world.group_mix.hispanic", "sources.dmv.coverage"} <= set(keys)
    # each key is accepted as a key (values are the defaults, so the scenario is unchanged)
    for key in keys:
        value: object = BASE
        for part in key.split("."):
            value = getattr(value, part)
        assert load_scenario(BASE, overrides={key: value}) == BASE, key


# -- the schema version ------------------------------------------------------------------------


def test_schema_version_1_is_the_default_and_is_written() -> None:
    assert BASE.schema_version == 1
    assert BASE.to_toml().startswith("schema_version = 1\n")
    assert parse_scenario({"schema_version": 1}) == BASE


@pytest.mark.parametrize("version", [0, 2, 99])
def test_other_schema_versions_are_refused(version: int, tmp_path: Path) -> None:
    expected = f"invalid scenario: schema_version: this trailbench reads version 1 scenarios (got {version})"
    path = tmp_path / "s.toml"
    path.write_text(f"schema_version = {version}\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value) == expected
    assert _refused(schema_version=version) == expected


def test_schema_version_is_not_a_boolean_or_text() -> None:
    assert _refused(schema_version=True).startswith("invalid scenario: schema_version: expected a number")
    assert _refused(schema_version="one").startswith("invalid scenario: schema_version: ")


# -- numeric overrides, in range and out ---------------------------------------------------------


@given(st.integers(min_value=200, max_value=5_000_000))
@settings(max_examples=30, deadline=None)
def test_people_in_range_are_accepted(people: int) -> None:
    assert load_scenario(BASE, overrides={"world.people": people}).world.people == people


@given(st.one_of(st.integers(max_value=199), st.integers(min_value=5_000_001)))
@settings(max_examples=30, deadline=None)
def test_people_out_of_range_are_refused(people: int) -> None:
    assert _refused(BASE, world__people=people).startswith("invalid scenario: world.people: Input should be")


@given(st.floats(min_value=0, max_value=1))
@settings(max_examples=30, deadline=None)
def test_rates_in_range_are_accepted(rate: float) -> None:
    sc = load_scenario(BASE, overrides={"housing.renter_move_rate": rate, "errors.name_typo": rate})
    assert sc.housing.renter_move_rate == rate and sc.errors.name_typo == rate


@given(st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1 + 1e-9), st.just(float("nan"))))
@settings(max_examples=30, deadline=None)
def test_rates_out_of_range_are_refused(rate: float) -> None:
    assert _refused(BASE, errors__name_typo=rate).startswith("invalid scenario: errors.name_typo: Input should be")


def test_a_partly_written_source_keeps_its_own_defaults(tmp_path: Path) -> None:
    """``[sources.dmv]`` with only ``coverage`` used to reset the DMV's staleness and error scale
    to the generic source defaults; the override path and the file path now agree."""
    path = tmp_path / "s.toml"
    path.write_text("[sources.dmv]\ncoverage = 0.5\n")
    from_file = load_scenario(path).sources.dmv
    from_override = load_scenario("county-10k", overrides={"sources.dmv.coverage": 0.5}).sources.dmv
    default = load_scenario("county-10k").sources.dmv
    assert from_file.coverage == from_override.coverage == 0.5
    assert (from_file.stale, from_file.error_scale, from_file.lag_days) == (
        default.stale,
        default.error_scale,
        default.lag_days,
    )
