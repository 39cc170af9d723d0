"""Partitioned Parquet output: each partition one file, written atomically, byte-identical for
identical tables, so output does not depend on thread count (DESIGN §2).

Columns are encoded for what they hold: identifiers and categories as dictionaries, times as
deltas (rows are sorted by identifier then time), floats split by byte stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from trailbench.io import atomic_path

T = TypeVar("T")
COMPRESSION_LEVEL = 1


def part_path(folder: Path, part: int) -> Path:
    return folder / f"part-{part:05d}.parquet"


def write_part(table: pa.Table, path: Path) -> None:
    dictionary = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
    encoding = {}
    for f in table.schema:
        if pa.types.is_timestamp(f.type) or pa.types.is_integer(f.type):
            encoding[f.name] = "DELTA_BINARY_PACKED"
        elif pa.types.is_floating(f.type):
            encoding[f.name] = "BYTE_STREAM_SPLIT"
    with atomic_path(path) as tmp:
        pq.write_table(
            table,
            tmp,
            compression="zstd",
            compression_level=COMPRESSION_LEVEL,
            use_dictionary=dictionary,
            column_encoding=encoding,
            write_statistics=False,
            store_schema=False,
        )


def run_parts(work: Callable[[int], T], parts: Iterable[int], workers: int) -> list[T]:
    """``work(part)`` for every part, on ``workers`` threads, results in part order."""
    parts = list(parts)
    if workers <= 1:
        return [work(p) for p in parts]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(work, parts))


def expand(counts: np.ndarray) -> np.ndarray:
    """``np.repeat(np.arange(len(counts)), counts)`` by a cumulative sum: np.repeat holds the GIL
    for its whole loop, a cumulative sum and fancy indexing do not, so partitions on threads
    run side by side."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    out = np.zeros(total, dtype=np.int64)
    nz = np.flatnonzero(counts)
    if total:
        out[(np.cumsum(counts) - counts)[nz]] = np.diff(nz, prepend=0)
    return np.cumsum(out, out=out)


def dictionary(indices: pa.Array, values: list[str] | pa.Array) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(
        indices, values if isinstance(values, pa.Array) else pa.array(values), safe=False
    )
