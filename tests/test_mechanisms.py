"""Mechanism switches: turning a structural mechanism off removes the gap it causes."""

from __future__ import annotations

import polars as pl
import pytest

from trailbench.scenario import parse_scenario
from trailbench.world import World, build_world


def simpson(world: World, group: str) -> float:
    """Probability that two householders of the group drawn at random share a surname (householders,
    so that surnames shared inside a household do not count: that is household structure, not names)."""
    c = (
        world.people.filter((pl.col("group") == group) & (pl.col("role") == "householder"))
        .group_by("surname")
        .len()["len"]
        .cast(pl.Float64)
    )
    n = c.sum()
    return float((c * (c - 1)).sum() / (n * (n - 1)))


def test_flat_names_remove_the_namesake_gap(big_world: World) -> None:
    cited = {g: simpson(big_world, g) for g in ("hispanic", "white", "black")}
    assert cited["hispanic"] / cited["white"] > 3.0
    assert cited["black"] / cited["white"] > 2.0
    flat_world = build_world(
        parse_scenario({"name": "flat", "world": {"people": 100_000, "towns": 12}, "names": {"structure": "flat"}})
    )
    flat = {g: simpson(flat_world, g) for g in ("hispanic", "white", "black")}
    for g in ("hispanic", "black"):
        assert abs(flat[g] / flat["white"] - 1.0) < 0.15, (g, flat)
    assert not flat_world.people["surname"].str.contains("[- ]").any()


def _disparity(card: dict, system: str, group: str) -> dict:
    return next(
        d for d in card["disparities"] if (d["system"], d["metric"], d["level"]) == (system, "wrong_door_rate", group)
    )


def test_equal_housing_removes_the_wrong_door_gap(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Hispanic subjects get more wrong doors through tenure and household form (renters move
    more, so old addresses go stale): give every group the same ownership and multigenerational
    rates and the gap shrinks to one the docket's sampling explains. Measured on one 10,000-person
    county, exact and broker systems; a single world cannot say by how much (the size of the drop
    varies with the seed), which the replicate-worlds issue is to measure on pooled worlds."""
    from trailbench.pipeline import run_all

    equal = {g: 0.657 for g in ("hispanic", "white", "black", "api", "aian", "multi")}
    multi = {g: 0.056 for g in equal}
    base = {
        "name": "mech",
        "world": {"people": 10_000},
        "audit": {"bootstrap": 400},
        "systems": {"run": ["exact", "broker"]},
    }
    cited = run_all(parse_scenario(base), tmp_path_factory.mktemp("cited") / "run")
    equalised = run_all(
        parse_scenario({**base, "housing": {"ownership": equal, "multigenerational": multi}}),
        tmp_path_factory.mktemp("equal") / "run",
    )
    for system in ("exact", "broker"):
        before, after = _disparity(cited, system, "hispanic"), _disparity(equalised, system, "hispanic")
        assert before["lo"] > 1.0, before  # a gap the docket's sampling does not explain
        assert after["ratio"] < before["ratio"], (before, after)
        assert after["lo"] <= 1.0 <= after["hi"], after
