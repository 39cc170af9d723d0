"""Trails: the records systems under test read, and the truth behind them kept apart.

Every source is one declaration (:class:`~trailbench.trails.catalog.Source`); the table below
registers them in order, and :func:`build_trails` reads only the table.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from trailbench.io import write_parquet, write_parquet_frames, write_parquet_rows
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
    table = tuple(SOURCES.values())  # one snapshot of the table for the whole build
    allrec, kept = _numbered(world, sc, table, workers, background)
    links = list(_links(allrec, world, sc, table))
    record_links = pl.concat(links) if links else pl.DataFrame(schema=LINK_COLUMNS)
    del links
    idx = pl.Series(_record_order(allrec))
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
    return Trails(records, record_links, address_register(world), truth, kept)


def write_trails(
    world: World, sc: Scenario, files: Mapping[str, Path], workers: int = 1, background: Path | None = None
) -> None:
    """:func:`build_trails` written to ``files`` (a path for each field of :class:`Trails`) as it is
    made, each file byte for byte what :func:`~trailbench.io.write_parquet` writes for that table
    of :func:`build_trails`. Each source's links are written while the next source's are made,
    and the records and their truth a row group at a time, gathered into record order from the
    records as the sources made them: the records are never held in record order (at a million
    people they take about 2.5 GiB so, where the sources' pieces hold nulls in no memory)."""
    table = tuple(SOURCES.values())  # one snapshot of the table for the whole build
    allrec, kept = _numbered(world, sc, table, workers, background)
    if any(s.links for s in table):
        write_parquet_frames(_links(allrec, world, sc, table), files["record_links"])
    else:
        write_parquet(pl.DataFrame(schema=LINK_COLUMNS), files["record_links"])
    write_parquet(address_register(world), files["address_register"])
    write_parquet(kept, files["background"])
    del kept
    order = _record_order(allrec)
    _write_in_record_order([allrec.get_column(c) for c in RECORD_COLUMNS], order, files["records"])
    allrec = allrec.select(list(TRUTH_COLUMNS))  # what the truth does not read goes first
    _write_in_record_order(allrec.get_columns(), order, files["truth_records"])


def _numbered(
    world: World, sc: Scenario, table: tuple[Source, ...], workers: int, background: Path | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every record with its id and ``record_no`` (see :func:`_record_order`), in the order the
    sources made them, and the background people the broker kept."""
    start, end = period(sc)
    p = Period(start, end)
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
    kept = given.kept
    allrec = pl.concat([base, *derived, *extra], rechunk=False)
    del base, derived, extra, given
    # record k of the table (id R<k>, k from 1) is row order[k - 1] of ``allrec``
    order = stream(sc.seed, "trails", "record_ids").permutation(allrec.height)
    number = np.empty(allrec.height, dtype=np.int64)
    number[order] = np.arange(1, allrec.height + 1)
    del order
    # (series, not expressions: an expression on the whole frame would first copy every column,
    # each in pieces of its own sizes, into one piece)
    no = pl.Series("record_no", number)
    del number
    return allrec.with_columns(no, record_id="R" + no.cast(pl.String).str.zfill(9)), kept


def _record_order(records: pl.DataFrame) -> np.ndarray:
    """The rows of ``records`` in record order: record k (id R<k>) is row ``order[k - 1]``."""
    order = np.empty(records.height, dtype=np.int64)
    order[records.get_column("record_no").to_numpy() - 1] = np.arange(records.height)
    return order


def _links(records: pl.DataFrame, world: World, sc: Scenario, table: tuple[Source, ...]) -> Iterator[pl.DataFrame]:
    """Each source's record links in table order, made as they are asked for. They are made
    before the records are put in record order: the records are still compact (a column of
    nulls costs nothing until it is gathered), and no link reads row order."""
    for s in table:
        if s.links:
            yield s.links(records, world, sc, stream(sc.seed, "trails", s.name, "links"))


def _write_in_record_order(columns: list[pl.Series], order: np.ndarray, path: Path) -> None:
    """``columns`` in record order (row ``order[k]`` is the k-th), written a row group at a time.

    A row group's rows are gathered from each column's pieces as the sources made them, each
    piece's rows at once, and then put in record order: a gather across the pieces of a column is
    several times slower, and making them one piece first would copy every column (the pieces of
    nulls only, most of the columns a source does not fill, take no memory until copied)."""
    pieces = [[p for p in c.get_chunks() if p.len()] for c in columns]
    starts = [np.cumsum([0, *(p.len() for p in ps)]) for ps in pieces]
    # every column's pieces are runs of these: rows sorted by them are sorted by any column's
    finest = np.unique(np.concatenate(starts))
    small = np.int16 if len(finest) < 2**15 else np.int64  # (a stable sort of int16 is a radix sort)

    def rows(start: int, stop: int) -> pl.DataFrame:
        some = order[start:stop]
        by_piece = np.argsort(np.searchsorted(finest, some, side="right").astype(small), kind="stable")
        grouped = some[by_piece]  # each column's pieces' rows one after another, in piece order
        back = np.empty_like(by_piece)
        back[by_piece] = np.arange(len(by_piece))
        to_record_order = pl.Series(back)
        out = []
        for column, ps, st in zip(columns, pieces, starts, strict=True):
            cut = np.searchsorted(grouped, st)  # (``grouped`` is partitioned at every piece's start)
            parts = [
                p.gather(pl.Series(grouped[a:b] - first))
                for p, a, b, first in zip(ps, cut[:-1], cut[1:], st[:-1], strict=True)
                if b > a
            ]
            if not parts:
                out.append(column.clear())
                continue
            whole = parts[0] if len(parts) == 1 else pl.concat(parts, rechunk=True)
            out.append(whole.gather(to_record_order))
        return pl.DataFrame(out)

    write_parquet_rows(len(order), rows, path)


class StoredTrails(Trails):
    """Trails kept in their files (the trails stage's), each table read when it is asked for.

    A table is read once while anything holds it (from any thread), and the one asked for last
    is kept; asking for another lets the one before go. So at most one table is held for those
    who hold none: at a million people the records alone take about 2.5 GiB, and all five with
    the world over 4. A table set on it is held like a plain :class:`Trails`'s."""

    def __init__(self, files: Mapping[str, Path]) -> None:  # no dataclass fields: they are read
        self._files = dict(files)
        self._set: dict[str, pl.DataFrame] = {}
        self._read: weakref.WeakValueDictionary[str, pl.DataFrame] = weakref.WeakValueDictionary()
        self._last: pl.DataFrame | None = None
        self._lock = threading.Lock()  # (the audit scores systems in threads)

    def _table(self, name: str) -> pl.DataFrame:
        with self._lock:
            if name in self._set:
                return self._set[name]
            df = self._read.get(name)
            if df is None:
                self._last = None  # let the last go before the next is read
                df = self._read[name] = pl.read_parquet(self._files[name])
            self._last = df
            return df

    @property
    def records(self) -> pl.DataFrame:
        return self._table("records")

    @records.setter
    def records(self, df: pl.DataFrame) -> None:
        self._set["records"] = df

    @property
    def record_links(self) -> pl.DataFrame:
        return self._table("record_links")

    @record_links.setter
    def record_links(self, df: pl.DataFrame) -> None:
        self._set["record_links"] = df

    @property
    def address_register(self) -> pl.DataFrame:
        return self._table("address_register")

    @address_register.setter
    def address_register(self, df: pl.DataFrame) -> None:
        self._set["address_register"] = df

    @property
    def truth_records(self) -> pl.DataFrame:
        return self._table("truth_records")

    @truth_records.setter
    def truth_records(self, df: pl.DataFrame) -> None:
        self._set["truth_records"] = df

    @property
    def background(self) -> pl.DataFrame:
        return self._table("background")

    @background.setter
    def background(self, df: pl.DataFrame) -> None:
        self._set["background"] = df


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


__all__ = ["SOURCES", "Source", "StoredTrails", "Trails", "build_trails", "error_counts", "write_trails"]
