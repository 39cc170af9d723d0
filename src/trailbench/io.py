"""Atomic, deterministic writes into the run directory.

Every file is written to a temporary file beside its target and renamed into place only when
complete, so an interrupted write never leaves a half-written file under the final name. Files
get the mode an ordinary ``open`` would give them (``0o666`` less the umask) and directories
``0o777`` less the umask, so a run directory can be shared as the user's umask allows.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

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
