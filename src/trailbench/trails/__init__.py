"""Trails: the records systems under test read, and the truth behind them kept apart.

Every source is one declaration (:class:`~trailbench.trails.catalog.Source`); the table below
registers them in order, and :func:`build_trails` reads only the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from trailbench.rng import stream
from trailbench.scenario import Scenario
from trailbench.trails import catalog
from trailbench.trails.background import (
    PEOPLE_COLUMNS,
    BackgroundInput,
    background_for,
    listing_records,
    profile_records,
)
from trailbench.trails.broker import BROKER
from trailbench.trails.catalog import SOURCES, Period, Source
from trailbench.trails.errors import BIT, ERROR_KINDS
from trailbench.trails.register import address_register
from trailbench.trails.render import RECORD_COLUMNS, TRUTH_COLUMNS, identifiers, render
from trailbench.trails.shared import per_build
from trailbench.trails.sources import (
    COURT,
    DMV,
    LEASE_PROPERTY,
    PHONE_DIRECTORY,
    SOCIAL,
    UTILITY,
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
    # the background people the broker's file holds (truth/background.parquet)
    background: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PEOPLE_COLUMNS))


def build_source(source: Source, world: World, sc: Scenario, p: Period, ids: pl.DataFrame) -> pl.DataFrame:
    """One event source's records with truth columns (each source has its own streams)."""
    assert source.events is not None, f"{source.name} is not an event source"
    ev = source.events(world, sc, source.settings(sc), stream(sc.seed, "trails", source.name, "events"), p)
    return render(source, ev, world, sc, stream(sc.seed, "trails", source.name, "render"), ids)


def build_trails(world: World, sc: Scenario, workers: int = 1, background: Path | None = None) -> Trails:
    """Every source's records, links and truth. ``background``: the run's background people
    (``background/``, of which the broker covers the first ``sc.background.people``), or None."""
    start, end = period(sc)
    p = Period(start, end)
    table = tuple(SOURCES.values())  # one snapshot of the table for the whole build
    with per_build():  # the event sources share tables made once (person residences, names)
        base = _event_records(world, sc, p, table, workers)
    given = BackgroundInput(background if sc.background.people else None, sc.background.people)
    with background_for(given):  # derived sources read the event sources' records
        derived = [
            s.derive(base, world, sc, s.settings(sc), stream(sc.seed, "trails", s.name), p).select(base.columns)
            for s in table
            if s.derive is not None
        ]
    extra = _background_records(given, sc, base, end - np.timedelta64(1, "D"))
    allrec = pl.concat([base, *derived, *extra], rechunk=False)
    del base, derived, extra
    # record k of the table (id R<k>, k from 1) is row order[k - 1] of ``allrec``
    order = stream(sc.seed, "trails", "record_ids").permutation(allrec.height)
    number = np.empty(allrec.height, dtype=np.int64)
    number[order] = np.arange(1, allrec.height + 1)
    # (series, not expressions: an expression on the whole frame would first copy every column,
    # each in pieces of its own sizes, into one piece)
    no = pl.Series("record_no", number)
    del number
    allrec = allrec.with_columns(no, record_id="R" + no.cast(pl.String).str.zfill(9))
    # links before the shuffle: the records are still compact (a column of nulls costs nothing
    # until it is gathered), and no link reads row order
    links = [s.links(allrec, world, sc, stream(sc.seed, "trails", s.name, "links")) for s in table if s.links]
    record_links = pl.concat(links) if links else pl.DataFrame(schema=LINK_COLUMNS)
    del links
    idx = pl.Series(order)
    del order, no
    # rows in record order one column at a time, so only one column is ever held twice; each column
    # is made contiguous first (a gather across the concatenated chunks is several times slower),
    # and its pieces are freed before the gather
    columns = [c for c in allrec.get_columns() if c.name != "record_no"]
    del allrec
    shuffled = []
    for i in range(len(columns)):
        column = columns[i].rechunk()
        columns[i] = None  # type: ignore[call-overload]
        shuffled.append(column.gather(idx))
        del column
    allrec = pl.DataFrame(shuffled)
    del shuffled
    records = allrec.select(list(RECORD_COLUMNS))
    truth = allrec.select(list(TRUTH_COLUMNS))
    return Trails(records, record_links, address_register(world), truth, given.kept)


def _background_records(
    given: BackgroundInput, sc: Scenario, base: pl.DataFrame, end: np.datetime64
) -> list[pl.DataFrame]:
    """The phone directory's and the social source's records of the background people the broker
    found sharing a key with the region (none without a background)."""
    if given.rows is None:
        return []
    taken = base.get_column("handle").filter(base.get_column("source") == SOCIAL.name).drop_nulls()
    return [
        listing_records(given.rows, sc, base.schema, end),
        profile_records(given.rows, sc, base.schema, end, taken),
    ]


def _event_records(world: World, sc: Scenario, p: Period, table: tuple[Source, ...], workers: int) -> pl.DataFrame:
    """The event sources' records, in table order (their columns each in pieces, one a source)."""
    ids = identifiers(world, sc.seed)
    events = tuple(s for s in table if s.kind == "events")
    if workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(lambda s: build_source(s, world, sc, p, ids), events))
    else:
        parts = [build_source(s, world, sc, p, ids) for s in events]
    return pl.concat(parts, rechunk=False)


def error_counts(truth: pl.DataFrame) -> dict[str, int]:
    bits = truth["error_bits"].to_numpy()
    return {k: int(((bits & BIT[k]) != 0).sum()) for k in ERROR_KINDS}


__all__ = ["SOURCES", "Source", "Trails", "build_trails", "error_counts"]
