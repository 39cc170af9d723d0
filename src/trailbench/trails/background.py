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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
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
    None for none; ``people``: how many of its first people the broker covers) and what the
    broker kept of it (``kept``, set by the broker)."""

    parts: Path | None = None
    people: int = 0
    kept: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PEOPLE_COLUMNS))


_CURRENT: BackgroundInput | None = None


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
    order. A join in DuckDB over the part files, out of core: DuckDB holds at most ``memory_mb``
    and spills the rest to a temporary directory, so the background may be any size."""
    import duckdb

    assert cfg.parts is not None
    files = sorted(cfg.parts.glob("part-*.parquet"))
    offsets = pl.DataFrame(
        {
            "filename": [str(f) for f in files],
            "offset": np.cumsum([0] + [pq.ParquetFile(f).metadata.num_rows for f in files[:-1]]).astype(np.int64),
        }
    )
    spill = Path(tempfile.mkdtemp(prefix="trailbench-background-"))
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = '{int(memory_mb)}MB'")
        con.execute("SET temp_directory = ?", [str(spill)])
        con.execute("SET preserve_insertion_order = false")
        con.register("offsets", offsets.to_arrow())
        con.register("by_name", by_name.to_arrow())
        con.register("by_dob", by_dob.to_arrow())
        letters = "regexp_replace(upper({}), '[^A-Z]', '', 'g')"
        sql = f"""
            WITH bg AS (
                SELECT p.* EXCLUDE (filename, file_row_number), o."offset" + p.file_row_number AS background_no,
                       {letters.format("p.surname")} AS s,
                       left({letters.format("p.given")}, 3) AS g3,
                       strftime(p.dob, '%Y-%m-%d') AS dob_key
                FROM read_parquet(?, filename = true, file_row_number = true) AS p
                JOIN offsets AS o ON o.filename = p.filename
            ), hits AS (
                SELECT * FROM bg WHERE background_no < {int(cfg.people)} AND (
                    EXISTS (SELECT 1 FROM by_name AS k WHERE k.s = bg.s AND k.g3 = bg.g3)
                    OR EXISTS (SELECT 1 FROM by_dob AS k WHERE k.s = bg.s AND k.dob = bg.dob_key))
            )
            SELECT * EXCLUDE (s, g3, dob_key) FROM hits ORDER BY background_no
        """
        table = con.sql(sql, params=[[str(f) for f in files]]).to_arrow_table()
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    out = pl.from_arrow(table)
    assert isinstance(out, pl.DataFrame)
    return out.with_columns(pl.col("background_no").cast(pl.Int64))


def background_records(
    people: pl.DataFrame, sc: Scenario, columns: dict[str, pl.DataType], end: np.datetime64
) -> pl.DataFrame:
    """The records a broker bought of the background people kept: one at each person's address
    (observed after their move, if any) and one at the address before a move (stale, observed
    before it); phones from the world's permutation. ``columns``: the bought records' schema."""
    from trailbench.world.background import background_phones  # (it imports trails.parts)

    rng = stream(sc.seed, "trails", "broker", "background")
    n = people.height
    first = int((np.datetime64(sc.world.start.replace(day=1), "D") - np.datetime64(0, "D")).astype(np.int64))
    last = int((end - np.datetime64(0, "D")).astype(np.int64))
    moved = people["moved_at"].cast(pl.Int64)
    has_move = moved.is_not_null().to_numpy()
    move_day = np.clip(moved.fill_null(first).to_numpy(), first, last)
    seen_now = move_day + (rng.random(n) * (last - move_day + 1)).astype(np.int64)
    seen_before = first + (rng.random(n) * (move_day - first)).astype(np.int64)
    phones = pl.Series("phones", background_phones(sc.seed, people["background_no"].to_numpy()), dtype=pl.String)
    common = {
        "given": pl.col("given"),
        "middle": pl.col("middle"),
        "surname": pl.col("surname"),
        "dob": pl.col("dob").cast(pl.String),
        "sex": pl.col("sex").cast(pl.String),
        "phone": pl.when(pl.col("phone").is_not_null()).then(phones),
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
    rows = pl.concat([now, before])
    return rows.select(
        [pl.col(c).cast(t) if c in rows.columns else pl.lit(None, dtype=t).alias(c) for c, t in columns.items()]
    ).with_columns(error_bits=pl.lit(0, dtype=columns.get("error_bits", pl.Int64)))


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
