"""The source catalog: one declaration per source, and the ordered table the trails stage reads.

A :class:`Source` says everything the rest of the bench needs to know about a source: its
name and description, where its settings come from (coverage, lag, staleness, error scale),
which record fields it fills and how it writes them, how its records are made, whether the
docket may draw clues from it and whether the broker buys it. :func:`register` adds it to
:data:`SOURCES`; the trails stage, the broker and the docket read that table and nothing else.

Two kinds of source:

- an *event* source has ``events(world, scenario, settings, rng, period)``, returning one row
  per record before rendering (see :data:`trailbench.trails.render.EVENT_COLUMNS`);
  :func:`trailbench.trails.render.render` turns them into records following the declaration;
- a *derived* source has ``derive(records, world, scenario, settings, rng, period)``, returning
  finished records (record and truth columns) made from the event sources' records (the broker).

Either kind may also have ``links(records, world, scenario, rng)``, returning rows of
``record_links`` once every record has its id (the broker's "possible relatives", social friend
lists). The records it is given are in no particular row order and carry, besides the record and
truth columns, ``record_no``: an integer per record that sorts as the record ids do
(:func:`record_numbers` reads it, or ranks the ids of records without it).

Order is part of the contract: event sources are built in table order, derived sources after
them in table order, and record links are concatenated in table order. Each source draws from
its own streams, keyed by its name (``trails/<name>/events``, ``.../render``, ``.../links``;
``trails/<name>`` for a derived source), so adding a source never shifts another's draws.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from trailbench.scenario import Scenario, SourceConfig
from trailbench.trails.render import RECORD_COLUMNS
from trailbench.world import World


@dataclass(frozen=True)
class Period:
    start: np.datetime64
    end: np.datetime64

    @property
    def days(self) -> int:
        return int((self.end - self.start).astype(np.int64))


# Record columns every record has; a declaration's ``fields`` lists the others it fills.
ALWAYS = ("record_id", "source", "observed_at", "given", "surname")
OPTIONAL_FIELDS = tuple(c for c in RECORD_COLUMNS if c not in ALWAYS)

EventFn = Callable[[World, Scenario, SourceConfig, np.random.Generator, Period], pl.DataFrame]
DeriveFn = Callable[[pl.DataFrame, World, Scenario, SourceConfig, np.random.Generator, Period], pl.DataFrame]
LinkFn = Callable[[pl.DataFrame, World, Scenario, np.random.Generator], pl.DataFrame]
ConfigFn = Callable[[Scenario], SourceConfig]


@dataclass(frozen=True)
class Source:
    """One source of records, declared once."""

    name: str
    description: str  # one line, for docs and listings
    fields: tuple[str, ...]  # record columns it fills beyond ALWAYS (see OPTIONAL_FIELDS)
    events: EventFn | None = None  # an event source: its rows before rendering
    derive: DeriveFn | None = None  # a derived source: its records, from the event sources' records
    links: LinkFn | None = None  # record_links rows it adds once records have ids
    config: ConfigFn | None = None  # where its settings live in the scenario (None: ``defaults``)
    defaults: SourceConfig | None = None  # settings when ``config`` is None (None: SourceConfig())
    middle: Literal["full", "initial"] = "initial"  # how the middle name is written, if in fields
    name_style: Literal["full", "profile"] = "full"  # profile: surname often partial, a handle
    docket_clue: bool = False  # its records (with a date of birth) may be a case's clues
    sold_to_broker: bool = False  # derived sources that buy records (the broker) take its records

    def __post_init__(self) -> None:
        problems = []
        if not self.name or not self.name.replace("_", "").isalnum():
            problems.append(f"name must be letters, digits and underscores; got {self.name!r}")
        if (self.events is None) == (self.derive is None):
            problems.append("give exactly one of events (an event source) or derive (a derived source)")
        unknown = [f for f in self.fields if f not in OPTIONAL_FIELDS]
        if unknown:
            problems.append(f"fields {unknown} are not optional record columns {list(OPTIONAL_FIELDS)}")
        if len(set(self.fields)) != len(self.fields):
            problems.append("fields repeat")
        if self.events is not None:
            if "address_text" in self.fields and "city" in self.fields:
                problems.append("an event source writes address_text or city, not both")
            if (self.name_style == "profile") != ("handle" in self.fields):
                problems.append("name_style 'profile' and the handle field go together")
            if "group_key" in self.fields:
                problems.append("group_key is written by derived sources only")
        if self.docket_clue and "dob" not in self.fields:
            problems.append("a docket clue source must carry dob")
        if self.config is not None and self.defaults is not None:
            problems.append("give config (scenario settings) or defaults, not both")
        if problems:
            raise ValueError(f"source {self.name!r}: " + "; ".join(problems))

    @property
    def kind(self) -> Literal["events", "derived"]:
        return "events" if self.events is not None else "derived"

    def settings(self, sc: Scenario) -> SourceConfig:
        """Coverage, lag, staleness and error scale for this source under ``sc``."""
        if self.config is not None:
            return self.config(sc)
        return self.defaults if self.defaults is not None else SourceConfig()


SOURCES: dict[str, Source] = {}


def register(source: Source) -> Source:
    """Add ``source`` at the end of the table (names are unique)."""
    if source.name in SOURCES:
        raise ValueError(f"source {source.name!r} is already registered")
    SOURCES[source.name] = source
    return source


def unregister(name: str) -> Source:
    """Remove a source from the table (tests and plug-ins that add one for a while)."""
    return SOURCES.pop(name)


@contextmanager
def registered(source: Source) -> Iterator[Source]:
    """``source`` in the table for the duration of a ``with`` block."""
    register(source)
    try:
        yield source
    finally:
        unregister(source.name)


def record_numbers(records: pl.DataFrame) -> pl.Series:
    """Integers in the order of the record ids: ``record_no`` where the trails stage gave it."""
    if "record_no" in records.columns:
        return records.get_column("record_no")
    return records.get_column("record_id").rank("ordinal").cast(pl.Int64)


def pair_order(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The order that sorts pairs of non-negative integers by ``first``, then ``second``; for pairs
    that are all distinct, the order ``np.lexsort((second, first))`` gives, in a fraction of its time."""
    if len(first) == 0:
        return np.zeros(0, dtype=np.int64)
    width = int(max(first.max(), second.max())) + 1
    if width > 3_000_000_000:  # the packed key would overflow
        return np.lexsort((second, first))
    return pl.Series(first * width + second).arg_sort().to_numpy()


def clue_sources() -> tuple[str, ...]:
    """Sources whose records may give a docket case its clues (they carry a date of birth)."""
    return tuple(s.name for s in SOURCES.values() if s.docket_clue)


def sold_to_broker() -> tuple[str, ...]:
    """Sources whose records the broker buys."""
    return tuple(s.name for s in SOURCES.values() if s.sold_to_broker)
