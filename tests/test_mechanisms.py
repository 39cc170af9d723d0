"""Mechanism switches: turning a structural mechanism off removes the gap it causes."""

from __future__ import annotations

import polars as pl

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
