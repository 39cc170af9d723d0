"""Replicate worlds: their seeds, the two-stage bootstrap, and the multiplicity correction that
decides whether a gap is named."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailbench.audit.bootstrap import interval, two_stage_weights, weights
from trailbench.audit.scorecard import holm, wald_p
from trailbench.cli import gap_line
from trailbench.scenario import parse_scenario
from trailbench.worlds import world_dir, world_scenario, world_seeds


def test_world_zero_is_the_scenario_and_the_others_are_spawned() -> None:
    sc = parse_scenario({"seed": 7, "audit": {"worlds": 4}})
    seeds = world_seeds(sc)
    assert seeds[0] == 7 and len(set(seeds)) == 4
    assert seeds == world_seeds(parse_scenario({"seed": 7, "audit": {"worlds": 4}}))  # deterministic
    assert world_seeds(parse_scenario({"seed": 7, "audit": {"worlds": 6}}))[:4] == seeds  # more worlds add, never shift
    assert world_seeds(parse_scenario({"seed": 8, "audit": {"worlds": 4}}))[1:] != seeds[1:]
    w2 = world_scenario(sc, 2)
    assert w2.seed == seeds[2]
    assert w2.model_dump(exclude={"seed"}) == sc.model_dump(exclude={"seed"})
    assert world_scenario(sc, 0) is sc


def test_world_directories(tmp_path) -> None:  # type: ignore[no-untyped-def]
    one = parse_scenario({"audit": {"worlds": 1}})
    five = parse_scenario({"audit": {"worlds": 5}})
    assert world_dir(tmp_path, one, 0) == tmp_path  # one world: the layout at the top
    assert world_dir(tmp_path, five, 3) == tmp_path / "worlds" / "3"


@settings(max_examples=60)
@given(st.lists(st.integers(1, 40), min_size=2, max_size=6), st.integers(0, 2**32 - 1))
def test_two_stage_weights_draw_whole_worlds(sizes: list[int], seed: int) -> None:
    w = two_stage_weights(np.random.default_rng(seed), sizes, 200)
    assert w.shape == (200, sum(sizes))
    assert (w >= 0).all() and (w == np.round(w)).all()
    edges = np.cumsum([0, *sizes])
    blocks = np.stack([w[:, a:b].sum(axis=1) for a, b in itertools.pairwise(edges)], axis=1)
    times = blocks / np.array(sizes)  # how often each world was drawn in each replicate
    assert (times == np.round(times)).all()
    assert (times.sum(axis=1) == len(sizes)).all()  # as many world draws as worlds


def test_one_world_is_the_plain_case_bootstrap() -> None:
    a = two_stage_weights(np.random.default_rng(3), [50], 100)
    b = weights(np.random.default_rng(3), 50, 100)
    assert np.array_equal(a, b)


def test_intervals_carry_the_variation_between_worlds() -> None:
    """Two worlds whose rates differ (0.2 and 0.6): the case-only bootstrap pretends they are one
    sample; the two-stage one draws whole worlds, so its interval is far wider."""
    n = 500
    y = np.r_[np.arange(n) < 0.2 * n, np.arange(n) < 0.6 * n].astype(float)
    rng = np.random.default_rng(0)
    cases_only = weights(rng, 2 * n, 2000) @ y / (2 * n)
    both = two_stage_weights(np.random.default_rng(0), [n, n], 2000) @ y / (2 * n)
    lo1, hi1 = interval(cases_only[:, None], 0.95)
    lo2, hi2 = interval(both[:, None], 0.95)
    assert (hi2 - lo2)[0] > 4 * (hi1 - lo1)[0]


def test_holm_by_hand() -> None:
    """p-values 0.01, 0.04, 0.03 and 0.005 (four tests): sorted 0.005, 0.01, 0.03, 0.04 adjust to
    0.02, 0.03, 0.06, 0.06 (4p, 3p, 2p, then carried up to keep the order); at 0.05 two are gaps.
    The reference row (p None) is neither tested nor a gap."""
    rows = [{"p": 0.01}, {"p": 0.04}, {"p": 0.03}, {"p": 0.005}, {"p": None}]
    holm(rows, 0.05)
    assert [r["p_holm"] for r in rows] == pytest.approx([0.03, 0.06, 0.06, 0.02, None])  # type: ignore[arg-type]
    assert [r["detected"] for r in rows] == [True, False, False, True, False]


def test_wald_p_on_the_log_scale() -> None:
    rng = np.random.default_rng(1)
    logs = rng.normal(0.0, 0.1, size=(4000, 1))
    # a ratio 2 standard errors above 1: p about 0.0455; the same below 1: the same p
    up = wald_p(np.array([math.exp(0.2)]), np.exp(logs + 0.2))
    down = wald_p(np.array([math.exp(-0.2)]), np.exp(logs - 0.2))
    assert up[0] == pytest.approx(0.0455, abs=0.005) and down[0] == pytest.approx(up[0], abs=0.005)
    # a ratio of 0 or replicates mostly undefined: no p-value
    assert np.isnan(wald_p(np.array([0.0]), np.exp(logs)))[0]
    half = np.where(np.arange(4000)[:, None] < 2500, np.nan, np.exp(logs))
    assert np.isnan(wald_p(np.array([1.2]), half))[0]


def _card(detected: bool) -> dict:  # type: ignore[type-arg]
    row = {
        "system": "s",
        "metric": "wrong_door_rate",
        "level": "hispanic",
        "reference": "white",
        "ratio": 1.5,
        "lo": 1.2,
        "hi": 1.9,
        "p": 0.001,
        "p_holm": 0.004 if detected else 0.2,
        "detected": detected,
    }
    ref = row | {"level": "white", "ratio": 1.0, "lo": 1.0, "hi": 1.0, "p": None, "p_holm": None, "detected": False}
    return {"disparities": [row, ref], "docket": {"cases": 100}, "worlds": 5}


def test_the_summary_names_a_gap_only_when_it_survives_the_correction() -> None:
    named = gap_line(_card(True), "s", "wrong_door_rate")
    assert "hispanic/white 1.50×" in named and "Holm p 0.004" in named
    unnamed = gap_line(_card(False), "s", "wrong_door_rate")
    assert "no gap detected" in unnamed and "1.50" not in unnamed and "(Holm, 1 test)" in unnamed
