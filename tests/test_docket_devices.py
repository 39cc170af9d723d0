"""Device clues on the docket and the pattern strata of each case (issue 11, deliverable 4).

A share of cases hold an advertising ID of a phone the subject owns and that the broker's panel
saw in the audit window; those are the cases of the pattern-of-life tasks. The clue must be the
subject's own, drawn at the declared rate, deterministic, and say nothing of who the subject is.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from conftest import small_scenario

from trailbench.audit.cases import PATTERN_STRATA, STRATA, subject_attributes
from trailbench.docket import Docket, build_docket
from trailbench.pipeline import signals_stage, trails_stage, world_stage
from trailbench.scenario import Scenario
from trailbench.trails import Trails
from trailbench.world import World
from trailbench.world.signal_world import SignalWorld, identifiers_seen, signal_world


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, Path, World, Trails, SignalWorld]:
    sc = small_scenario(docket={"cases": 600, "device_clue": 0.5})
    run = tmp_path_factory.mktemp("devclue")
    w = world_stage(run, sc)
    t = trails_stage(run, sc, w)
    signals_stage(run, sc, w)
    sw = signal_world(run, sc)
    assert sw is not None
    return sc, run, w, t, sw


@pytest.fixture(scope="module")
def docket(built: tuple[Scenario, Path, World, Trails, SignalWorld]) -> Docket:
    sc, _, w, t, sw = built
    return build_docket(sc, w, t, sw)


def test_device_clue_is_an_advertising_id_of_the_subjects_own_panel_phone(
    docket: Docket, built: tuple[Scenario, Path, World, Trails, SignalWorld]
) -> None:
    _, _, _, _, sw = built
    with_clue = docket.cases.filter(pl.col("device_id").is_not_null()).join(docket.truth, on="case_id")
    assert with_clue.height > 50
    owned = sw.ad_ids.join(sw.devices.select("device_key", "person_id"), on="device_key")
    j = with_clue.join(owned, left_on=["device_id", "device_key"], right_on=["ad_id", "device_key"], how="left")
    assert (j["person_id_right"] == j["person_id"]).all()  # the subject owns the phone
    pings = sw.ping_counts().rename({"device_id": "ad_id"})
    seen = j.join(pings, left_on="device_id", right_on="ad_id")
    assert seen.height == with_clue.height and (seen["pings"] == seen["clue_pings"]).all()
    assert with_clue["device_id"].str.contains(r"^tb:ad:[0-9a-f]{16}$").all()


def test_device_clue_rate(docket: Docket, built: tuple[Scenario, Path, World, Trails, SignalWorld]) -> None:
    _, _, _, _, sw = built
    owners = (
        sw.devices.join(sw.ad_ids, on="device_key")
        .join(sw.ping_counts(), left_on="ad_id", right_on="device_id")
        .select("person_id")
        .unique()
    )
    eligible = docket.truth.filter(pl.col("person_id").is_in(owners["person_id"].implode()))
    share = eligible["device_key"].is_not_null().mean()
    assert share is not None and abs(float(share) - 0.5) < 0.08  # n ~ 400: 4 standard errors
    no_phone = docket.truth.filter(~pl.col("person_id").is_in(owners["person_id"].implode()))
    assert no_phone["device_key"].is_null().all()


def test_device_clues_are_deterministic_and_switch_off(
    built: tuple[Scenario, Path, World, Trails, SignalWorld],
) -> None:
    sc, _, w, t, sw = built
    a, b = build_docket(sc, w, t, sw), build_docket(sc, w, t, sw)
    assert a.cases.equals(b.cases) and a.truth.equals(b.truth)
    off = build_docket(sc.model_copy(update={"docket": sc.docket.model_copy(update={"device_clue": 0.0})}), w, t, sw)
    assert off.cases["device_id"].is_null().all()
    # the other clues do not depend on the device draw
    assert off.cases.drop("device_id").equals(a.cases.drop("device_id"))
    none = build_docket(sc, w, t, None)  # a world without signals: no device clue, same cases
    assert none.cases["device_id"].is_null().all() and none.cases.drop("device_id").equals(a.cases.drop("device_id"))


def test_pattern_strata(docket: Docket, built: tuple[Scenario, Path, World, Trails, SignalWorld]) -> None:
    _, _, w, _, sw = built
    subj = subject_attributes(w, docket.truth, sw)
    assert set(PATTERN_STRATA) <= set(STRATA) and set(STRATA) <= set(subj.columns)
    assert set(subj["shift"].unique()) <= {"day", "evening", "night", "irregular", "no job"}
    assert subj["building_density"].null_count() == 0
    j = subj.join(docket.truth.select("case_id", "device_key", "clue_pings"), on="case_id")
    clue = j.filter(pl.col("device_key").is_not_null())
    assert clue["shared_device"].null_count() == 0 and clue["ping_density"].null_count() == 0
    assert (
        j.filter(pl.col("device_key").is_null())[["shared_device", "ping_density"]].null_count().row(0)
        == (j.filter(pl.col("device_key").is_null()).height,) * 2
    )
    days = sw.window.days
    low = clue.filter(pl.col("ping_density") == "under 10")
    assert (low["clue_pings"] < 10 * days).all()
    high = clue.filter(pl.col("ping_density") == "100 or more")
    assert (high["clue_pings"] >= 100 * days).all()
    holders = sw.device_holders.group_by("device_key").agg(n=pl.col("person_id").n_unique())
    by_share = (
        clue.join(holders, on="device_key").group_by("shared_device").agg(lo=pl.col("n").min(), hi=pl.col("n").max())
    )
    bounds = {r["shared_device"]: (r["lo"], r["hi"]) for r in by_share.to_dicts()}
    assert bounds["not shared"] == (1, 1) and bounds.get("shared", (2, 2))[0] >= 2
    # no signals stage: the pattern strata are empty, the others unchanged
    bare = subject_attributes(w, docket.truth, None)
    assert bare.select(PATTERN_STRATA).null_count().row(0) == (bare.height,) * len(PATTERN_STRATA)
    assert bare.drop(PATTERN_STRATA).equals(subj.drop(PATTERN_STRATA))


def test_identifiers_seen_are_ads_in_pings_and_macs_in_sightings(
    built: tuple[Scenario, Path, World, Trails, SignalWorld],
) -> None:
    _, run, _, _, sw = built
    ids = identifiers_seen(run)
    ads = ids.filter(ids.str.starts_with("tb:ad:"))
    assert ads.len() == sw.ping_counts().height
    macs = ids.filter(~ids.str.starts_with("tb:ad:"))
    assert macs.len() > 0 and macs.str.contains(r"^tb:[0-9a-f]{2}(:[0-9a-f]{2}){5}$").all()
    assert identifiers_seen(run / "nowhere").len() == 0
