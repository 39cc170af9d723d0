"""Realism of a 100,000-person world against cited figures (FACTS.md), within stated tolerances."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from trailbench.scenario import Scenario
from trailbench.world import World


def test_hispanic_surname_concentration(big_world: World) -> None:
    """26 surnames cover about a quarter of Hispanic people (Census 2010: 25.4%); tolerance 3 points."""
    h = big_world.people.filter(pl.col("group") == "hispanic")
    top = h.group_by("surname_paternal").len().sort("len", descending=True)
    share = top["len"].head(26).sum() / h.height
    assert share == pytest.approx(0.254, abs=0.03)


def test_hispanic_compound_surnames(big_world: World, big: Scenario) -> None:
    """Hyphen 6.84% and space 12.81% (NC voter file); tolerance 1 point, and far above White rates."""
    p = big_world.people
    h = p.filter(pl.col("group") == "hispanic")["surname"]
    w = p.filter(pl.col("group") == "white")["surname"]
    assert h.str.contains("-").mean() == pytest.approx(big.names.hispanic_hyphen, abs=0.01)
    assert h.str.contains(" ").mean() == pytest.approx(big.names.hispanic_space, abs=0.01)
    assert w.str.contains("-").mean() < 0.01
    assert w.str.contains(" ").mean() < 0.01


def test_homeownership_by_group(big_world: World, big: Scenario) -> None:
    """Household tenure by group near the CPS/HVS figures (3 points for large groups, 6 for API)."""
    own = big_world.households.group_by("group").agg(own=(pl.col("tenure") == "own").mean())
    got = dict(zip(own["group"], own["own"], strict=True))
    cited = big.housing.ownership
    for g, tol in (("white", 0.03), ("hispanic", 0.03), ("black", 0.03), ("api", 0.06)):
        assert got[g] == pytest.approx(getattr(cited, g), abs=tol), g
    assert got["white"] - got["black"] > 0.2


def test_annual_mover_rates(big_world: World, big: Scenario) -> None:
    """Share of households moving at least once a year: renters 24.5%, owners 5.0% (2 and 1 points)."""
    res = big_world.residences.join(big_world.households.select("household_id", "tenure"), on="household_id")
    moves = res.filter(pl.col("start") > pl.lit(big.world.start)).with_columns(year=pl.col("start").dt.year())
    movers = moves.select("household_id", "tenure", "year").unique()
    n = big_world.households.group_by("tenure").len()
    counts = dict(zip(n["tenure"], n["len"], strict=True))
    years = big.world.years
    rate = (
        movers.group_by("tenure").len().with_columns(r=pl.col("len") / pl.col("tenure").replace_strict(counts) / years)
    )
    got = dict(zip(rate["tenure"], rate["r"], strict=True))
    assert got["rent"] == pytest.approx(big.housing.renter_move_rate, abs=0.02)
    assert got["own"] == pytest.approx(big.housing.owner_move_rate, abs=0.01)


def test_no_phone_reassigned_before_aging(big_world: World, big: Scenario) -> None:
    ph = big_world.phones.sort("number", "start").with_columns(
        prev_end=pl.col("end").shift(1).over("number"), prev_owner=pl.col("person_id").shift(1).over("number")
    )
    re = ph.filter(pl.col("prev_owner").is_not_null())
    assert re.height > 1000  # reassignment happens at scale
    gap = (re["start"] - re["prev_end"]).dt.total_days()
    assert gap.min() >= big.phones.aging_min_days


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
    fb = big_world.people["foreign_born"].mean()
    assert fb == pytest.approx(0.137, abs=0.03)


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
