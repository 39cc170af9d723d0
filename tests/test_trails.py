"""Trails: every source and error process is present, and each mechanism leaves its mark."""

from __future__ import annotations

import polars as pl

from trailbench.trails import SOURCES, Trails, error_counts
from trailbench.trails.errors import BIT, ERROR_KINDS
from trailbench.world import World


def test_every_source_emits_records(tiny_trails: Trails) -> None:
    got = set(tiny_trails.records["source"].unique())
    assert got == set(SOURCES)


def test_every_error_kind_is_injected(big_trails: Trails) -> None:
    counts = error_counts(big_trails.truth_records)
    assert set(counts) == set(ERROR_KINDS)
    assert all(v > 0 for v in counts.values()), counts


def test_error_rates_follow_the_parameters(big_trails: Trails) -> None:
    """DOB digit errors on DMV records at the cited 1% cell rate x the DMV's error scale (0.5)."""
    t = big_trails.truth_records.join(big_trails.records.select("record_id", "dob"), on="record_id")
    dmv = t.filter(pl.col("source") == "dmv")
    rate = ((dmv["error_bits"] & BIT["dob_digit"]) != 0).mean()
    assert 0.003 < rate < 0.008


def test_broker_merges_namesakes(big_trails: Trails) -> None:
    t = big_trails.truth_records.join(big_trails.records.select("record_id", "group_key"), on="record_id")
    prof = t.filter(pl.col("source") == "broker").group_by("group_key").agg(people=pl.col("person_id").n_unique())
    merged = (prof["people"] > 1).mean()
    assert 0.001 < merged < 0.5  # some profiles are namesakes merged, most are not


def test_reassigned_numbers_keep_the_old_name(big_world: World, big_trails: Trails) -> None:
    t = big_trails.truth_records.join(big_trails.records.select("record_id", "phone", "observed_at"), on="record_id")
    stale = t.filter(((pl.col("error_bits") & BIT["stale_phone_owner"]) != 0) & (pl.col("source") == "phone_directory"))
    assert stale.height > 100
    # at the listing date, the number belongs to somebody else than the person named
    ph = big_world.phones.select("phone", "person_id", "start", "end")
    j = stale.join(ph, on="phone", suffix="_holder").filter(
        (pl.col("start") <= pl.col("observed_at")) & (pl.col("end").is_null() | (pl.col("end") > pl.col("observed_at")))
    )
    assert j.height > 0
    assert (j["person_id"] != j["person_id_holder"]).all()


def test_links_point_at_records(tiny_trails: Trails) -> None:
    ids = tiny_trails.records["record_id"]
    links = tiny_trails.record_links
    assert set(links["kind"].unique()) == {"possible_relative", "possible_associate", "friend"}
    assert links["record_id"].is_in(ids.implode()).all()
    assert links["linked_record_id"].is_in(ids.implode()).all()


def test_source_contents(tiny_trails: Trails) -> None:
    r = tiny_trails.records
    social = r.filter(pl.col("source") == "social")
    assert social["address_text"].is_null().all() and social["city"].is_not_null().all()
    assert r.filter(pl.col("source") == "dmv")["sex"].is_not_null().all()
    assert r.filter(pl.col("source") == "utility")["dob"].is_null().all()
    assert r.filter(pl.col("source") != "social")["address_text"].null_count() == 0


def test_address_digit_errors_can_point_at_another_real_door(big_trails: Trails) -> None:
    reg = set(big_trails.address_register["address"].to_list())
    t = big_trails.truth_records.join(big_trails.records.select("record_id", "address_text"), on="record_id")
    only_digit = t.filter(pl.col("error_bits") == BIT["address_digit"])
    texts = only_digit["address_text"].to_list()
    real = sum(1 for x in texts if x in reg)
    assert real > 0  # a wrong number that is still a valid address: the namesake's door of skip tracing
