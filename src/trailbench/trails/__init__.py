"""Trails: the records systems under test read, and the truth behind them kept apart."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from trailbench.assumptions import value
from trailbench.rng import stream
from trailbench.scenario import Scenario
from trailbench.trails import broker, sources
from trailbench.trails.errors import BIT, ERROR_KINDS
from trailbench.trails.register import address_register
from trailbench.trails.render import RECORD_COLUMNS, TRUTH_COLUMNS, identifiers, render
from trailbench.world import World, period

BASE_SOURCES = ("utility", "lease_property", "dmv", "court", "phone_directory", "social")
SOURCES = (*BASE_SOURCES, "broker")
SOCIAL_LINK_COVERAGE = value("social_link_coverage")


@dataclass
class Trails:
    records: pl.DataFrame
    record_links: pl.DataFrame
    address_register: pl.DataFrame
    truth_records: pl.DataFrame


def _events(name: str, world: World, sc: Scenario, p: sources.Period) -> pl.DataFrame:
    fn = getattr(sources, f"{name}_events")
    return fn(world, sc, stream(sc.seed, "trails", name, "events"), p)


def build_source(name: str, world: World, sc: Scenario, p: sources.Period, ids: pl.DataFrame) -> pl.DataFrame:
    """One base source's records with truth columns (each source has its own streams)."""
    ev = _events(name, world, sc, p)
    return render(name, ev, world, sc, stream(sc.seed, "trails", name, "render"), ids)


def social_links(records: pl.DataFrame, world: World, sc: Scenario) -> pl.DataFrame:
    soc = records.filter(pl.col("source") == "social").select("record_id", "person_id")
    rng = stream(sc.seed, "trails", "social", "links")
    t = world.ties.select("person_a", "person_b")
    t = t.join(soc.rename({"person_id": "person_a", "record_id": "ra"}), on="person_a").join(
        soc.rename({"person_id": "person_b", "record_id": "rb"}), on="person_b"
    )
    t = t.sort("ra", "rb")
    t = t.filter(pl.Series(rng.random(t.height) < SOCIAL_LINK_COVERAGE))
    return t.select(source=pl.lit("social"), record_id="ra", linked_record_id="rb", kind=pl.lit("friend"))


def build_trails(world: World, sc: Scenario, workers: int = 1) -> Trails:
    start, end = period(sc)
    p = sources.Period(start, end)
    ids = identifiers(world, stream(sc.seed, "trails", "identifiers"))
    if workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(lambda s: build_source(s, world, sc, p, ids), BASE_SOURCES))
    else:
        parts = [build_source(s, world, sc, p, ids) for s in BASE_SOURCES]
    # memory: each intermediate is released as soon as the next exists (peak ~ 2x the records)
    base = pl.concat(parts, rechunk=False)
    del parts
    bought = base.filter(pl.col("source").is_in(broker.BOUGHT_FROM))
    brk = broker.broker_records(bought, sc, stream(sc.seed, "trails", "broker"), end - np.timedelta64(1, "D")).select(
        base.columns
    )
    del bought
    allrec = pl.concat([base, brk], rechunk=False)
    del base, brk
    order = stream(sc.seed, "trails", "record_ids").permutation(allrec.height)
    allrec = allrec[order]
    allrec = allrec.with_columns(record_id=pl.format("R{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(9)))
    links = pl.concat([broker.broker_links(allrec), social_links(allrec, world, sc)])
    records = allrec.select(list(RECORD_COLUMNS))
    truth = allrec.select(list(TRUTH_COLUMNS))
    return Trails(records, links, address_register(world), truth)


def error_counts(truth: pl.DataFrame) -> dict[str, int]:
    bits = truth["error_bits"].to_numpy()
    return {k: int(((bits & BIT[k]) != 0).sum()) for k in ERROR_KINDS}


__all__ = ["SOURCES", "Trails", "build_trails", "error_counts"]
