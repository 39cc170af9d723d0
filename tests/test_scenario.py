"""Scenarios: presets load, bad files fail naming the field, every parameter has a source."""

from __future__ import annotations

from pathlib import Path

import pytest

from trailbench.scenario import PRESETS, ScenarioError, load_scenario, parameter_table, parse_scenario
from trailbench.stages import stage_hash

BAD = {
    "unknown top-level key": ("peeple = 3\n", "peeple: unknown key; allowed keys here:"),
    "unknown nested key": (
        "[world]\npeeple = 3\n",
        "world.peeple: unknown key; allowed keys here: foreign_born, group_mix, people",
    ),
    "wrong type": ('[world]\npeople = "many"\n', "world.people:"),
    "too few people": ("[world]\npeople = 5\n", "world.people: Input should be greater than or equal to 200"),
    "rate above one": ("[housing]\nrenter_move_rate = 1.5\n", "housing.renter_move_rate: Input should be less"),
    "mix not summing": (
        "[world.group_mix]\nhispanic = 0.9\nwhite = 0.9\nblack = 0.1\napi = 0.1\naian = 0\nmulti = 0\n",
        "world.group_mix: shares must sum to 1",
    ),
    "mix missing group": ("[world.group_mix]\nhispanic = 1.0\n", "world.group_mix.white: Field required"),
    "bad structure": ('[names]\nstructure = "none"\n', "names.structure: Input should be 'cited' or 'flat'"),
    "aging reversed": (
        "[phones]\naging_min_days = 90\naging_max_days = 45\n",
        "phones.aging_max_days: must be >= phones.aging_min_days",
    ),
    "bad date": ('[world]\nstart = "2015-13-01"\n', "world.start:"),
    "negative seed": ("seed = -1\n", "seed: Input should be greater than or equal to 0"),
    "tuple length": ("[errors]\ntypo_kinds = [0.5, 0.5]\n", "errors.typo_kinds: too few values (got [0.5, 0.5])"),
    "unknown source key": (
        "[sources.dmv]\ncoverag = 0.5\n",
        "sources.dmv.coverag: unknown key; allowed keys here: coverage",
    ),
    "not toml": ("[world\npeople = 3\n", "not valid TOML"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_scenarios_name_the_field(case: str, tmp_path: Path) -> None:
    text, expected = BAD[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert expected in str(err.value)


def test_missing_file_names_the_presets() -> None:
    with pytest.raises(ScenarioError, match="county-10k"):
        load_scenario("no-such-scenario.toml")


@pytest.mark.parametrize("name", PRESETS)
def test_presets_load(name: str) -> None:
    sc = load_scenario(name)
    assert sc.name == name
    assert sc.world.people in (10_000, 100_000, 1_000_000)


def test_every_parameter_has_a_source() -> None:
    rows = parameter_table()
    assert len(rows) > 60
    missing = [r["key"] for r in rows if not r["source"].strip()]
    assert missing == []
    assumptions = [r for r in rows if "assumption" in r["source"]]
    cited = [r for r in rows if "FACTS" in r["source"] or "Census" in r["source"]]
    assert assumptions and cited


def test_hash_is_canonical_and_keys_stages() -> None:
    a = load_scenario("county-10k")
    b = parse_scenario(a.model_dump(mode="json"))
    assert a.hash8 == b.hash8
    assert stage_hash(a, "world") == stage_hash(b, "world")
    c = load_scenario("county-10k", seed=1)
    assert stage_hash(c, "world") != stage_hash(a, "world")
    d = parse_scenario({**a.model_dump(mode="json"), "errors": {"name_typo": 0.05}})
    assert stage_hash(d, "world") == stage_hash(a, "world")
    assert stage_hash(d, "trails") != stage_hash(a, "trails")


def test_resolved_toml_round_trips(tmp_path: Path) -> None:
    sc = load_scenario("county-100k", seed=5)
    path = tmp_path / "s.toml"
    path.write_text(sc.to_toml())
    assert load_scenario(path) == sc


def test_parameter_document_is_current() -> None:
    import importlib.util

    root = Path(__file__).parents[1]
    spec = importlib.util.spec_from_file_location("parameters_md", root / "scripts" / "parameters_md.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert (root / "docs" / "PARAMETERS.md").read_text() == mod.render(), "run scripts/parameters_md.py"
