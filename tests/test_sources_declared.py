"""A source is one declaration: the table is what the trails, the broker and the docket read,
and a source declared here (a library-card file) flows through trails, docket and audit."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import SANDBOX, small_scenario

from trailbench.audit.scorecard import validate_scorecard
from trailbench.docket import build_docket
from trailbench.pipeline import run_all
from trailbench.scenario import Scenario, SourceConfig
from trailbench.trails import Trails, build_trails
from trailbench.trails.broker import bought_records
from trailbench.trails.catalog import (
    ALWAYS,
    SOURCES,
    Period,
    Source,
    clue_sources,
    register,
    sold_to_broker,
    unregister,
)
from trailbench.trails.render import RECORD_COLUMNS, TRUTH_COLUMNS, identifiers, render
from trailbench.trails.sources import unit_at
from trailbench.world import World, period

# --- a toy source, declared and registered from here ------------------------------------------


def library_events(world: World, sc: Scenario, cfg: SourceConfig, rng: np.random.Generator, p: Period) -> pl.DataFrame:
    """A library card for some adults, issued on a day of the period, at their home then."""
    age0 = (pl.lit(p.start).cast(pl.Date) - pl.col("dob")).dt.total_days() / 365.25
    adults = world.people.filter(age0 >= 18).select("person_id").sort("person_id")
    card = adults.filter(pl.Series(rng.random(adults.height) < cfg.coverage))
    day = rng.integers(0, p.days, card.height)
    ev = card.with_columns(observed_at=pl.Series(p.start + day.astype("timedelta64[D]")).cast(pl.Date))
    return unit_at(world, ev)


LIBRARY = Source(
    name="library_card",
    description="library cards: adults at their home address",
    fields=("dob", "address_text"),
    events=library_events,
    defaults=SourceConfig(coverage=0.3, lag_days=0, stale=0.0, error_scale=1.0),
)


@pytest.fixture
def library(tiny_trails: Trails) -> Iterator[Source]:
    """The toy source in the table for one test (``tiny_trails`` is built before, without it)."""
    register(LIBRARY)
    try:
        yield LIBRARY
    finally:
        unregister(LIBRARY.name)


# --- the built-in table -----------------------------------------------------------------------


def test_registry_lists_exactly_the_sources_in_the_records(tiny_trails: Trails) -> None:
    assert set(tiny_trails.records["source"].unique()) == set(SOURCES)
    assert set(tiny_trails.truth_records["source"].unique()) == set(SOURCES)
    assert list(SOURCES) == [
        "utility",
        "lease_property",
        "dmv",
        "court",
        "phone_directory",
        "broker",
        "social",
    ]
    assert [s.name for s in SOURCES.values() if s.kind == "derived"] == ["broker"]


def test_declared_fields_are_the_fields_each_source_fills(tiny_trails: Trails) -> None:
    rec = tiny_trails.records.join(tiny_trails.truth_records.select("record_id", "unit_id"), on="record_id")
    for name, source in SOURCES.items():
        part = rec.filter(pl.col("source") == name)
        filled = {c for c in RECORD_COLUMNS if part[c].null_count() < part.height}
        assert filled == set(ALWAYS) | set(source.fields), name
        # the truth knows the unit exactly when the record shows an address
        assert (part["unit_id"].null_count() < part.height) == ("address_text" in source.fields), name


def test_every_source_is_declared_with_callables_not_names(tiny: Scenario) -> None:
    for name, source in SOURCES.items():
        assert isinstance(source, Source) and source.name == name
        builder = source.events if source.kind == "events" else source.derive
        assert callable(builder), name
        assert source.links is None or callable(source.links), name
        assert isinstance(source.settings(tiny), SourceConfig), name
        assert source.description and "\n" not in source.description, name
    # each scenario section is the one its declaration points to
    assert SOURCES["court"].settings(tiny) is tiny.sources.court
    # and nothing in the trails build or the docket looks a source up by its name
    for name in ("trails", "trails.catalog", "trails.sources", "trails.render", "trails.broker", "docket"):
        text = inspect.getsource(importlib.import_module(f"trailbench.{name}"))
        assert "getattr(" not in text, name
        assert "CLUE_SOURCES" not in text and "BOUGHT_FROM" not in text, name


def test_docket_clues_follow_the_declarations(
    tiny: Scenario, tiny_world: World, tiny_trails: Trails, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert clue_sources() == ("lease_property", "dmv", "court")
    by_id = tiny_trails.truth_records.select("record_id", "source")

    def clue_sources_used() -> set[str]:
        d = build_docket(tiny, tiny_world, tiny_trails)
        return set(d.truth.join(by_id, left_on="clue_record_id", right_on="record_id")["source"])

    assert clue_sources_used() == {"lease_property", "dmv", "court"}
    for name in ("lease_property", "court"):
        monkeypatch.setitem(SOURCES, name, replace(SOURCES[name], docket_clue=False))
    assert clue_sources_used() == {"dmv"}


def test_the_broker_buys_what_is_declared_sold(
    tiny: Scenario, tiny_world: World, tiny_trails: Trails, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sold_to_broker() == ("utility", "lease_property", "dmv", "court", "phone_directory")
    assert tiny_trails.records.filter(pl.col("source") == "broker").height > 0
    # sold only by the court: every broker record is a court record as the broker keeps it (its
    # own style and keying errors, so not a copy): the same person at the same door
    for name in sold_to_broker():
        if name != "court":
            monkeypatch.setitem(SOURCES, name, replace(SOURCES[name], sold_to_broker=False))
    t = build_trails(tiny_world, tiny)
    truth = t.truth_records
    brk = truth.filter(pl.col("source") == "broker")
    court = truth.filter(pl.col("source") == "court")
    assert 0 < brk.height <= court.height
    held = ["person_id", "unit_id"]
    assert set(brk.select(held).iter_rows()) <= set(court.select(held).iter_rows())


def test_declarations_are_checked() -> None:
    with pytest.raises(ValueError, match="exactly one of events"):
        Source(name="both", description="x", fields=(), events=library_events, derive=bought_records)
    with pytest.raises(ValueError, match="not optional record columns"):
        Source(name="odd", description="x", fields=("shoe_size",), events=library_events)
    with pytest.raises(ValueError, match="must carry dob"):
        Source(name="clueless", description="x", fields=("address_text",), events=library_events, docket_clue=True)
    with pytest.raises(ValueError, match="already registered"):
        register(SOURCES["dmv"])


def test_an_events_frame_that_contradicts_its_declaration_is_refused(tiny: Scenario, tiny_world: World) -> None:
    phoneless = replace(LIBRARY, name="phones", fields=("address_text", "phone"))
    p = Period(np.datetime64("2020-01-01"), np.datetime64("2021-01-01"))
    ev = library_events(tiny_world, tiny, SourceConfig(coverage=0.1), np.random.default_rng(0), p)
    ids = identifiers(tiny_world, 0)
    with pytest.raises(ValueError, match="phone column"):
        render(phoneless, ev, tiny_world, tiny, np.random.default_rng(0), ids)
    with pytest.raises(ValueError, match="carries_ssn"):
        render(LIBRARY, ev.with_columns(carries_ssn=True), tiny_world, tiny, np.random.default_rng(0), ids)
    assert render(LIBRARY, ev, tiny_world, tiny, np.random.default_rng(0), ids).height == ev.height


# --- a new source, registered -----------------------------------------------------------------


def test_a_registered_source_is_built_into_the_trails(
    library: Source, tiny: Scenario, tiny_world: World, tiny_trails: Trails
) -> None:
    t = build_trails(tiny_world, tiny, workers=3)
    assert dict(t.records.schema) == RECORD_COLUMNS
    assert dict(t.truth_records.schema) == TRUTH_COLUMNS
    assert t.records["record_id"].is_unique().all()
    assert t.records["record_id"].to_list() == t.truth_records["record_id"].to_list()
    mine = t.truth_records.filter(pl.col("source") == library.name)
    assert mine.height == t.records.filter(pl.col("source") == library.name).height > 0
    # its own default coverage (0.3 of adults), one card each, never bought by the broker
    start, _ = period(tiny)
    age0 = (pl.lit(start).cast(pl.Date) - pl.col("dob")).dt.total_days() / 365.25
    adults = tiny_world.people.filter(age0 >= 18).height
    assert mine["person_id"].is_unique().all()
    assert 0.25 < mine.height / adults < 0.35
    cards = t.records.filter(pl.col("source") == library.name)
    assert cards["dob"].null_count() < cards.height and cards["address_text"].null_count() < cards.height
    assert cards["phone"].null_count() == cards.height and cards["licence_number"].null_count() == cards.height
    assert mine["unit_id"].null_count() < mine.height
    # adding a source shifts no other source's draws: the rest is the same, only ids differ

    def others(tr: Trails) -> pl.DataFrame:
        both = tr.records.join(tr.truth_records.drop("source"), on="record_id")
        rest = both.filter(pl.col("source") != library.name).drop("record_id")
        return rest.sort(rest.columns, nulls_last=True)

    assert others(t).equals(others(tiny_trails))


def test_an_audit_runs_over_a_registered_source(library: Source, tmp_path: Path) -> None:
    sc = small_scenario(docket={"cases": 60}, audit={"bootstrap": 50}, systems={"run": ["exact"]})
    run = tmp_path / "run"
    card = run_all(sc, run, use_sandbox=SANDBOX)
    validate_scorecard(card)
    assert card["systems"]["exact"]["state"] == "ok"
    records = pl.read_parquet(run / "trails" / "records.parquet")
    truth = pl.read_parquet(run / "truth" / "records.parquet")
    assert records.filter(pl.col("source") == library.name).height > 0
    assert set(truth.filter(pl.col("source") == library.name)["record_id"]) == set(
        records.filter(pl.col("source") == library.name)["record_id"]
    )
    assert records["record_id"].is_unique().all()
