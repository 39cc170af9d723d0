"""Atomic, deterministic writes into the run directory.

Every file is written to a temporary file beside its target and renamed into place only when
complete, so an interrupted write never leaves a half-written file under the final name. Files
get the mode an ordinary ``open`` would give them (``0o666`` less the umask) and directories
``0o777`` less the umask, so a run directory can be shared as the user's umask allows.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
from polars.io.plugins import register_io_source

TMP_SUFFIX = ".tmp"


def _read_umask() -> int:
    """The process umask, read without changing it where possible (``os.umask`` can only be read
    by setting it, which would race with other threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8) & 0o777
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # at import, before this module starts any thread
    os.umask(mask)
    return mask & 0o777


UMASK = _read_umask()
FILE_MODE = 0o666 & ~UMASK
DIR_MODE = 0o777 & ~UMASK


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only on success."""
    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)  # mkstemp creates 0o600; writers below reopen the file, keeping its mode
    finally:
        os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_parquet(df: pl.DataFrame, path: Path) -> None:
    """Write Parquet byte-identically for identical frames (no statistics, fixed codec)."""
    with atomic_path(path) as tmp:
        df.write_parquet(tmp, compression="zstd", compression_level=3, statistics=False)


def write_parquet_frames(frames: Iterable[pl.DataFrame], path: Path) -> None:
    """Write frames that are never held together: byte for byte what :func:`write_parquet` writes
    for ``pl.concat(frames)`` (same settings; the writer splits each frame into row groups as it
    splits each piece of a frame in pieces). While one frame is written the next is made, in a
    thread, and each goes once written. ``frames`` may be lazy (a generator); there must be one."""
    them = iter(frames)
    first: pl.DataFrame | None = next(them, None)
    if first is None:
        raise ValueError(f"no frames to write to {path}")
    schema = first.schema

    def each(*_: Any) -> Iterator[pl.DataFrame]:  # the plug-in's arguments: no projection, filter or limit
        nonlocal first
        if first is None:
            raise RuntimeError(f"the frames written to {path} were asked for twice")
        part: pl.DataFrame | None = first
        first = None
        with ThreadPoolExecutor(1) as pool:
            while part is not None:
                ahead = pool.submit(next, them, None)  # the next is made while this one is written
                if part.schema != schema:
                    raise ValueError(f"frames written to {path} differ in their columns")
                yield part
                part = None  # (the writer holds it until written)
                part = ahead.result()

    with atomic_path(path) as tmp:  # write_parquet's settings (DataFrame.write_parquet is this sink)
        register_io_source(each, schema=schema).sink_parquet(
            tmp, compression="zstd", compression_level=3, statistics=False
        )


def row_groups(height: int) -> list[int]:
    """The row groups (their heights, in order) :func:`write_parquet` splits a frame of ``height``
    rows in one piece into: as few as come nearest to polars' row-group target (122,880 rows, or
    ``POLARS_IDEAL_SINK_MORSEL_SIZE_ROWS``), equal to a row, the larger first."""
    target = int(os.environ.get("POLARS_IDEAL_SINK_MORSEL_SIZE_ROWS") or 122_880)
    if height <= target:
        return [height] if height else []
    n = min((height // target, height // target + 1), key=lambda k: abs(height // k - target))
    base, extra = divmod(height, n)
    return [base + 1] * extra + [base] * (n - extra)


def write_parquet_rows(height: int, rows: Callable[[int, int], pl.DataFrame], path: Path) -> None:
    """Write a frame of ``height`` rows that is never held whole: ``rows(start, stop)`` makes its
    rows ``start`` to ``stop - 1``, called once for each row group (:func:`row_groups`) in turn.
    The file is byte for byte what :func:`write_parquet` writes for the whole frame in one piece:
    a frame of one row group's height is one row group (:func:`write_parquet_frames`). A frame
    of one row group, or a row-group target set in bytes (``POLARS_IDEAL_SINK_MORSEL_SIZE_BYTES``),
    is made whole and written by :func:`write_parquet`."""
    sizes = row_groups(height)
    if len(sizes) <= 1 or os.environ.get("POLARS_IDEAL_SINK_MORSEL_SIZE_BYTES"):
        write_parquet(rows(0, height).rechunk(), path)
        return
    bounds = [0, *itertools.accumulate(sizes)]
    # each in one piece: the writer would split a frame in pieces at them
    write_parquet_frames((rows(a, b).rechunk() for a, b in itertools.pairwise(bounds)), path)


def write_json(data: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def table_json(data: dict[str, Any]) -> str:
    """A JSON object of tables, one row per line: each top-level list's items are written compactly
    on lines of their own, everything else as is (keys sorted). A scorecard holds thousands of small
    rows; this keeps it readable and diffable row by row, and is written by the C encoder (the
    indenting encoder is pure Python and took about as long as the scorecard's arithmetic)."""

    def one(v: Any) -> str:
        return json.dumps(v, sort_keys=True, separators=(",", ":"))

    parts = []
    for k in sorted(data):
        v = data[k]
        body = "[\n" + ",\n".join(one(x) for x in v) + "\n]" if isinstance(v, list) and v else one(v)
        parts.append(f"{one(k)}: {body}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def write_table_json(data: dict[str, Any], path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(table_json(data))


def write_text(text: str, path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
