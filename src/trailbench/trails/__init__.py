"""Trails: the records systems under test read, and the truth behind them kept apart.

Every source is one declaration (:class:`~trailbench.trails.catalog.Source`); the table below
registers them in order, and :func:`build_trails` reads only the table.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from trailbench.rng import stream
from trailbench.scenario import Scenario
from trailbench.trails import catalog
from trailbench.trails.broker import BROKER
from trailbench.trails.catalog import SOURCES, Period, Source
from trailbench.trails.errors import BIT, ERROR_KINDS
from trailbench.trails.register import address_register
from trailbench.trails.render import RECORD_COLUMNS, TRUTH_COLUMNS, identifiers, render
from trailbench.trails.sources import (
    COURT,
    DMV,
    LEASE_PROPERTY,
    PHONE_DIRECTORY,
    SOCIAL,
    UTILITY,
    shared_residences,
)
from trailbench.world import World, period

# The built-in sources, in order (``catalog.register``: the name ``register`` here is the
# address-register module). The broker comes before social only because record links are
# concatenated in table order and the broker's have always come first.
for _source in (UTILITY, LEASE_PROPERTY, DMV, COURT, PHONE_DIRECTORY, BROKER, SOCIAL):
    catalog.register(_source)

LINK_COLUMNS = {"source": pl.String, "record_id": pl.String, "linked_record_id": pl.String, "kind": pl.String}


@dataclass
class Trails:
    records: pl.DataFrame
    record_links: pl.DataFrame
    address_register: pl.DataFrame
    truth_records: pl.DataFrame


def build_source(source: Source, world: World, sc: Scenario, p: Period, ids: pl.DataFrame) -> pl.DataFrame:
    """One event source's records with truth columns (each source has its own streams)."""
    assert source.events is not None, f"{source.name} is not an event source"
    ev = source.events(world, sc, source.settings(sc), stream(sc.seed, "trails", source.name, "events"), p)
    return render(source, ev, world, sc, stream(sc.seed, "trails", source.name, "render"), ids)


def build_trails(world: World, sc: Scenario, workers: int = 1) -> Trails:
    with shared_residences():  # the sources share one person-residence table
        return _build_trails(world, sc, workers)


def _build_trails(world: World, sc: Scenario, workers: int) -> Trails:
    start, end = period(sc)
    p = Period(start, end)
    ids = identifiers(world, sc.seed)
    table = tuple(SOURCES.values())  # one snapshot of the table for the whole build
    events = tuple(s for s in table if s.kind == "events")
    if workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(lambda s: build_source(s, world, sc, p, ids), events))
    else:
        parts = [build_source(s, world, sc, p, ids) for s in events]
    # memory: each intermediate is released as soon as the next exists (peak ~ 2x the records)
    base = pl.concat(parts, rechunk=False)
    del parts
    derived = [  # derived sources read the event sources' records
        s.derive(base, world, sc, s.settings(sc), stream(sc.seed, "trails", s.name), p).select(base.columns)
        for s in table
        if s.derive is not None
    ]
    allrec = pl.concat([base, *derived], rechunk=False)
    del base, derived
    order = pl.Series(stream(sc.seed, "trails", "record_ids").permutation(allrec.height))
    # rows in ``order`` one column at a time, so only one column is ever held twice; each column
    # is made contiguous first (a gather across the concatenated chunks is several times slower)
    shuffled = []
    for name in allrec.columns:
        shuffled.append(allrec.get_column(name).rechunk().gather(order))
        allrec = allrec.drop(name)
    allrec = pl.DataFrame(shuffled)
    del shuffled
    allrec = allrec.with_columns(record_id=pl.format("R{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(9)))
    links = [s.links(allrec, world, sc, stream(sc.seed, "trails", s.name, "links")) for s in table if s.links]
    record_links = pl.concat(links) if links else pl.DataFrame(schema=LINK_COLUMNS)
    records = allrec.select(list(RECORD_COLUMNS))
    truth = allrec.select(list(TRUTH_COLUMNS))
    return Trails(records, record_links, address_register(world), truth)


def error_counts(truth: pl.DataFrame) -> dict[str, int]:
    bits = truth["error_bits"].to_numpy()
    return {k: int(((bits & BIT[k]) != 0).sum()) for k in ERROR_KINDS}


__all__ = ["SOURCES", "Source", "Trails", "build_trails", "error_counts"]
