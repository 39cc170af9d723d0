"""The background population in the broker's file (issue 13): records of people outside the
region whom a national broker holds beside the region's own.

Each background person the broker holds has a record at their address and, if they moved in the
period, one at the address before (stale, observed before the move). The records carry the
person's names, date of birth, sex and phone as a bought record would, and then go through the
broker's own style, keying errors and merge like the region's (:mod:`trailbench.trails.broker`).

A national file holds hundreds of millions of people, and most of them never share a profile
with anyone in the region. Only those who can are written: a background person is kept when
their surname and the first three letters of their given name, or their surname and date of
birth, as the broker normalises them, are the keys of a region person or of one of the region's
broker records; the broker's merge then joins them to the region's profiles exactly as it would
in the whole file. One round only: a background person who shares keys only with another kept
background person (a date of birth with a namesake's namesake) is left out, as is one whose key
the broker's own typo would make match (both rare; docs/DESIGN-NOTES.md).

The background itself is generated once for a run (``run/background/``, from the run's seed) and
read by every replicate world: the nation outside the region is one draw, each world a region
within it. Phone numbers are drawn again for the people kept, from the world's own number
permutation (from the top of the space), so they never collide with the world's region phones.

The truth of the people kept (index, id, group, names, date of birth, both addresses) is
``truth/background.parquet``; a record's ``background_no`` in ``truth/records.parquet`` is its
person's index there (null for a region record).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from trailbench.rng import stream
from trailbench.scenario import Scenario
from trailbench.world import World

PEOPLE_COLUMNS = {
    "background_no": pl.Int64,
    "background_id": pl.String,
    "group": pl.String,
    "given": pl.String,
    "surname": pl.String,
    "dob": pl.Date,
    "address": pl.String,
    "prev_address": pl.String,
}
"""``truth/background.parquet``: the background people the broker's file holds."""


@dataclass
class BackgroundInput:
    """Where one trails build finds the background (``parts``: the run's ``background/`` folder,
    None for none; ``people``: how many of its first people the sources cover) and who of it the
    broker found sharing a key with the region (``kept`` for the truth, ``rows`` for the other
    national sources; set by the broker)."""

    parts: Path | None = None
    people: int = 0
    kept: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PEOPLE_COLUMNS))
    rows: pl.DataFrame | None = None  # the kept people with every column, phones the world's


_CURRENT: BackgroundInput | None = None
READ_BATCH = 65_536  # people decoded at a time when reading the rows of those kept (bounds memory)


@contextmanager
def background_for(given: BackgroundInput) -> Iterator[BackgroundInput]:
    """The background the broker reads within the block (one trails build)."""
    global _CURRENT
    outer, _CURRENT = _CURRENT, given
    try:
        yield given
    finally:
        _CURRENT = outer


def current() -> BackgroundInput:
    return _CURRENT if _CURRENT is not None else BackgroundInput()


def _letters(e: pl.Expr) -> pl.Expr:
    """A name as the broker compares it: upper case letters only."""
    return e.str.to_uppercase().str.replace_all(r"[^A-Z]", "")


def name_keys(frame: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """(s, g3, dob) as the broker's merge compares them: surname letters, the given name's first
    three letters, the ISO date of birth."""
    return frame.lazy().select(
        s=_letters(pl.col("surname")),
        g3=_letters(pl.col("given")).str.slice(0, 3),
        dob=pl.col("dob").cast(pl.String).str.slice(0, 10),
    )


def region_keys(world: World, styled: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The (s, g3) and (s, dob) keys of the region: its people's, and its broker records' as the
    broker wrote them."""
    keys = pl.concat([name_keys(world.people).collect(), name_keys(styled).collect()])
    keys = keys.filter(pl.col("s").str.len_chars() > 0)
    return keys.select("s", "g3").unique(), keys.select("s", "dob").drop_nulls().unique()


def kept_people(cfg: BackgroundInput, by_name: pl.DataFrame, by_dob: pl.DataFrame, memory_mb: int) -> pl.DataFrame:
    """The first ``cfg.people`` background people whose keys are the region's, in background
    order.

    Their numbers come from a join in DuckDB over the part files, out of core (DuckDB holds at
    most ``memory_mb`` and spills the rest to a temporary directory), on four columns: names are
    normalised once per distinct surname and given name, not once per person. Their rows are then
    read ``READ_BATCH`` people at a time, keeping only those numbers: memory does not grow with
    the background."""
    import duckdb

    assert cfg.parts is not None
    files = sorted(cfg.parts.glob("part-*.parquet"))
    sizes = [pq.ParquetFile(f).metadata.num_rows for f in files]
    offsets = pl.DataFrame(
        {"filename": [str(f) for f in files], "offset": np.cumsum([0, *sizes[:-1]]).astype(np.int64)}
    )
    spill = Path(tempfile.mkdtemp(prefix="trailbench-background-"))
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = '{int(memory_mb)}MB'")
        con.execute("SET temp_directory = ?", [str(spill)])
        con.register("offsets", offsets.to_arrow())
        con.register("by_name", by_name.to_arrow())
        con.register("by_dob", by_dob.to_arrow())
        letters = "regexp_replace(upper({0}), '[^A-Z]', '', 'g')"
        sql = f"""
            WITH src AS (SELECT * FROM read_parquet($files, filename = true, file_row_number = true)),
            sn AS (SELECT surname, {letters.format("surname")} AS s FROM (SELECT DISTINCT surname FROM src)),
            gn AS (SELECT given, left({letters.format("given")}, 3) AS g3 FROM (SELECT DISTINCT given FROM src)),
            keyed AS (
                SELECT o."offset" + p.file_row_number AS background_no, sn.s, gn.g3,
                       strftime(p.dob, '%Y-%m-%d') AS dob_key
                FROM src AS p JOIN offsets AS o USING (filename) JOIN sn USING (surname) JOIN gn USING (given)
            )
            SELECT background_no FROM keyed AS k
            WHERE background_no < {int(cfg.people)} AND (
                EXISTS (SELECT 1 FROM by_name AS n WHERE n.s = k.s AND n.g3 = k.g3)
                OR EXISTS (SELECT 1 FROM by_dob AS d WHERE d.s = k.s AND d.dob = k.dob_key))
            ORDER BY background_no
        """
        hits = con.sql(sql, params={"files": [str(f) for f in files]}).to_arrow_table().column(0).to_numpy()
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    hits = np.asarray(hits, dtype=np.int64)
    batches = []
    at = 0  # the number of the first person of the batch
    for f in files:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=READ_BATCH):
            take = hits[(hits >= at) & (hits < at + batch.num_rows)] - at
            if len(take):
                batches.append(batch.take(pa.array(take)))
            at += batch.num_rows
    table = pa.Table.from_batches(batches, schema=pq.read_schema(files[0]))
    out = pl.from_arrow(table)
    assert isinstance(out, pl.DataFrame)
    return out.with_columns(pl.col(pl.Categorical).cast(pl.String), background_no=pl.Series(hits, dtype=pl.Int64))


def background_records(
    people: pl.DataFrame, sc: Scenario, columns: dict[str, pl.DataType], end: np.datetime64
) -> pl.DataFrame:
    """The records a broker bought of the background people kept: one at each person's address
    (observed after their move, if any) and one at the address before a move (stale, observed
    before it); phones from the world's permutation. ``columns``: the bought records' schema."""
    rng = stream(sc.seed, "trails", "broker", "background")
    n = people.height
    first = int((np.datetime64(sc.world.start.replace(day=1), "D") - np.datetime64(0, "D")).astype(np.int64))
    last = int((end - np.datetime64(0, "D")).astype(np.int64))
    moved = people["moved_at"].cast(pl.Int64)
    has_move = moved.is_not_null().to_numpy()
    move_day = np.clip(moved.fill_null(first).to_numpy(), first, last)
    seen_now = move_day + (rng.random(n) * (last - move_day + 1)).astype(np.int64)
    seen_before = first + (rng.random(n) * (move_day - first)).astype(np.int64)
    common = {
        "given": pl.col("given"),
        "middle": pl.col("middle"),
        "surname": pl.col("surname"),
        "dob": pl.col("dob").cast(pl.String),
        "sex": pl.col("sex").cast(pl.String),
        "phone": pl.col("phone"),
        "background_no": pl.col("background_no"),
    }
    now = people.select(
        **common, observed_at=pl.Series(seen_now).cast(pl.Date), address_text=pl.col("address"), stale=pl.lit(False)
    )
    before = people.select(
        **common,
        observed_at=pl.Series(seen_before).cast(pl.Date),
        address_text=pl.col("prev_address"),
        stale=pl.lit(True),
    ).filter(pl.Series(has_move))
    rows = pl.concat([now, before]).with_columns(error_bits=pl.lit(0, dtype=pl.Int64))
    return _as_records(rows, columns)


def with_world_phones(people: pl.DataFrame, sc: Scenario) -> pl.DataFrame:
    """The kept people's phones drawn again from the world's number permutation (from the top of
    the space, the world's own phones from the bottom), so none is a region phone."""
    from trailbench.world.background import background_phones  # (it imports trails.parts)

    phones = pl.Series("phones", background_phones(sc.seed, people["background_no"].to_numpy()), dtype=pl.String)
    return people.with_columns(phone=pl.when(pl.col("phone").is_not_null()).then(phones))


def _period_day(rng: np.random.Generator, people: pl.DataFrame, sc: Scenario, end: np.datetime64) -> pl.Series:
    """A day each person is seen at their present address: after their move, if any, to ``end``."""
    first = int((np.datetime64(sc.world.start.replace(day=1), "D") - np.datetime64(0, "D")).astype(np.int64))
    last = int((end - np.datetime64(0, "D")).astype(np.int64))
    move = np.clip(people["moved_at"].cast(pl.Int64).fill_null(first).to_numpy(), first, last)
    return pl.Series(move + (rng.random(people.height) * (last - move + 1)).astype(np.int64)).cast(pl.Date)


def _as_records(rows: pl.DataFrame, columns: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return rows.select(
        [pl.col(c).cast(t) if c in rows.columns else pl.lit(None, dtype=t).alias(c) for c, t in columns.items()]
    )


def listing_records(
    people: pl.DataFrame, sc: Scenario, columns: Mapping[str, pl.DataType], end: np.datetime64
) -> pl.DataFrame:
    """The phone directory's listings of the kept background people: a share ``coverage`` of
    those with a phone, listed at their present address as the region's canonical texts are."""
    rng = stream(sc.seed, "trails", "phone_directory", "background")
    cfg = sc.sources.phone_directory
    listed = people.filter(pl.Series(rng.random(people.height) < cfg.coverage) & pl.col("phone").is_not_null())
    rows = listed.select(
        "background_no",
        source=pl.lit("phone_directory"),
        observed_at=_period_day(rng, listed, sc, end),
        given=pl.col("given").str.to_uppercase(),
        surname=pl.col("surname").str.to_uppercase(),
        address_text=pl.col("address"),
        phone=pl.col("phone"),
        stale=pl.lit(False),
        error_bits=pl.lit(0, dtype=pl.Int64),
    )
    return _as_records(rows, columns)


def profile_records(
    people: pl.DataFrame, sc: Scenario, columns: Mapping[str, pl.DataType], end: np.datetime64, taken: pl.Series
) -> pl.DataFrame:
    """The social source's profiles of the kept background people, at the region's coverage (less
    for people over 50), shown as the region's are (:func:`trailbench.trails.render.profile_fields`)
    and 'in' their town; handles unique beside the region's (``taken``)."""
    from trailbench.assumptions import value
    from trailbench.trails.render import profile_fields

    rng = stream(sc.seed, "trails", "social", "background")
    start = np.datetime64(sc.world.start.replace(day=1), "D")
    age = (start - people["dob"].to_numpy().astype("datetime64[D]")).astype(np.int64) / 365.25
    cov = sc.sources.social.coverage * np.where(age < 50, 1.0, value("social_older_factor"))
    prof = people.filter(pl.Series(rng.random(people.height) < cov))
    given = prof["given"].str.to_uppercase()
    shown = profile_fields(
        rng,
        stream(sc.seed, "trails", "social", "background", "handles"),
        given,
        prof["surname"].str.to_uppercase(),
        np.ones(prof.height, dtype=bool),
    )
    handle = shown["handle"]
    while True:  # a platform refuses a taken handle: later holders add a digit
        again = (handle.is_in(taken.implode()) | ~handle.is_first_distinct()).to_numpy()
        if not again.any():
            break
        digit = pl.Series(rng.integers(0, 10, prof.height)).cast(pl.String)
        handle = pl.select(pl.when(pl.Series(again)).then(handle + digit).otherwise(handle)).to_series()
    rows = prof.select(
        "background_no",
        source=pl.lit("social"),
        observed_at=_period_day(rng, prof, sc, end),
        given=shown["given"],
        surname=shown["surname"],
        city=pl.col("town").str.to_uppercase(),
        handle=handle,
        stale=pl.lit(False),
        error_bits=pl.lit(0, dtype=pl.Int64),
    )
    return _as_records(rows, columns)


def people_truth(people: pl.DataFrame) -> pl.DataFrame:
    """The kept people as ``truth/background.parquet`` holds them."""
    return people.select([pl.col(c).cast(t) for c, t in PEOPLE_COLUMNS.items()])


def door_keys(texts: pl.Series) -> pl.Series:
    """Addresses compared as a background door is found: in the broker's style (street types
    short, every unit ``APT``), then letters and digits only. Background addresses are not in the
    region's register, so answers naming them are found by this key rather than resolved."""
    from trailbench.trails.broker import house_address  # (the broker imports this module)

    styled = texts.cast(pl.String).to_frame("x").select(house_address("x")).to_series()
    return styled.str.replace_all(r"[^A-Z0-9]", "").alias(texts.name)
