"""Realism of a 100,000-person world against cited figures (FACTS.md), within stated tolerances.

The cited figures, tolerances and measures are declared once in ``trailbench.realism.CHECKS``;
the tests here assert each of them, and check what the table does not (shapes and consistency).
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl
import pytest
from conftest import small_scenario

from trailbench.realism import CHECKS, Check, check_id, pooled, realism_table
from trailbench.scenario import GROUPS, Scenario
from trailbench.world import World, build_world


@pytest.mark.parametrize("check", CHECKS, ids=check_id)
def test_realism_check(big_world: World, check: Check) -> None:
    measured = check.measure(big_world)
    assert check.within(measured), (
        f"{check_id(check)}: {check.measures} measured {measured:.4g}, cited {check.cited:.4g} "
        f"({'at least ' if check.bound == 'at_least' else ''}within {check.allowed:.4g}; {check.source})"
    )


def test_checks_are_declared_once_each() -> None:
    ids = [check_id(c) for c in CHECKS]
    assert len(ids) == len(set(ids))
    assert all(c.source and c.tolerance >= 0 for c in CHECKS)


def test_within_honours_the_tolerance() -> None:
    c = next(c for c in CHECKS if check_id(c) == "household_size[hispanic]")
    assert c.relative and c.allowed == pytest.approx(0.03 * 3.34)
    assert c.within(3.34 + 0.99 * c.allowed) and c.within(3.34 - 0.99 * c.allowed)
    assert not c.within(3.34 + 1.01 * c.allowed) and not c.within(3.34 - 1.01 * c.allowed)
    assert not c.within(math.nan)
    floor = next(c for c in CHECKS if c.name == "phone_number_aging")
    assert floor.within(45.0) and floor.within(math.inf) and not floor.within(44.0)


def test_phone_numbers_are_reassigned_at_scale(big_world: World) -> None:
    """The aging check means something only if numbers are reassigned."""
    ph = big_world.phones
    assert ph.height - ph["number"].n_unique() > 1000


def test_realism_table_pools_worlds(tiny_world: World, big_world: World) -> None:
    """Pooled shares equal the share over the worlds taken together; the table flags a world that
    misses a figure (equal household sizes for every group: the Hispanic mean is far from 3.34)."""
    c = next(c for c in CHECKS if check_id(c) == "homeownership[hispanic]")
    hh = pl.concat([w.households.filter(pl.col("group") == "hispanic") for w in (tiny_world, big_world)])
    assert pooled(c, [tiny_world, big_world]) == pytest.approx((hh["tenure"] == "own").mean())
    rows = realism_table([tiny_world, big_world])
    assert [(r["check"], r["level"]) for r in rows] == [(c.name, c.level) for c in CHECKS]
    assert {"measured", "cited", "tolerance", "tolerance_kind", "source", "within"} <= set(rows[0])
    flat = build_world(small_scenario(housing={"household_size": dict.fromkeys(GROUPS, 2.48)}))
    size = {r["level"]: r for r in realism_table([flat]) if r["check"] == "household_size"}
    assert size["hispanic"]["within"] is False
    assert size["hispanic"]["measured"] == pytest.approx(2.48, abs=0.15)


def test_household_sizes_are_sane(big_world: World) -> None:
    size = big_world.households["size"]
    assert 2.2 <= size.mean() <= 2.9  # US average about 2.5 (assumption band)
    assert size.max() <= 12
    assert 0.2 <= (size == 1).mean() <= 0.35
    kids = big_world.people.filter(pl.col("role") == "child")
    age = (pl.lit(date(2015, 1, 1)) - pl.col("dob")).dt.total_days() / 365.25
    assert kids.select((age < 18).all()).item()
    assert big_world.people.height == 100_000


def test_group_mix_matches_scenario(big_world: World, big: Scenario) -> None:
    share = big_world.people["group"].value_counts(normalize=True)
    got = dict(zip(share["group"], share["proportion"], strict=True))
    for g, want in big.world.group_mix.model_dump().items():
        assert got[g] == pytest.approx(want, abs=0.02), g


def test_foreign_born_by_group_matches_scenario(big_world: World, big: Scenario) -> None:
    """Each group's people, children included, are foreign-born at the scenario's share (adults are
    drawn at the higher rate that allows for children mostly born in the US)."""
    fb = big_world.people.group_by("group").agg(pl.col("foreign_born").mean())
    got = dict(zip(fb["group"], fb["foreign_born"], strict=True))
    for g in ("hispanic", "white", "black", "api"):
        assert got[g] == pytest.approx(getattr(big.world.foreign_born, g), abs=0.03), g
    kids = big_world.people.filter(pl.col("role") == "child")["foreign_born"].mean()
    adults = big_world.people.filter(pl.col("role") != "child")["foreign_born"].mean()
    assert kids < adults / 2


def test_every_resident_lives_in_a_distinct_unit_at_any_time(big_world: World) -> None:
    """No two households occupy one unit at once."""
    r = big_world.residences.sort("unit_id", "start")
    nxt = r.with_columns(next_start=pl.col("start").shift(-1).over("unit_id"))
    clash = nxt.filter(
        pl.col("next_start").is_not_null() & (pl.col("end").is_null() | (pl.col("end") > pl.col("next_start")))
    )
    assert clash.height == 0
    assert np.all(r["unit_id"].to_numpy() < big_world.units.height)


def test_spells_are_well_formed(big_world: World) -> None:
    """Residence, job and phone spells start before they end, one after another per holder."""
    for name, holder in (("residences", "household_id"), ("jobs", "person_id"), ("phones", "person_id")):
        df = getattr(big_world, name)
        assert df.filter(pl.col("end").is_not_null() & (pl.col("end") <= pl.col("start"))).height == 0, name
        nxt = df.sort(holder, "start").with_columns(n=pl.col("start").shift(-1).over(holder))
        assert nxt.filter(pl.col("n").is_not_null() & (pl.col("n") != pl.col("end"))).height == 0, name
