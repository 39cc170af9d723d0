"""Reading what a system wrote, after it and every process it started are gone.

Only regular files are read (a FIFO, a symlink or a device is refused without being opened for
reading: ``O_NOFOLLOW | O_NONBLOCK`` then ``fstat``), each within a byte cap, and a Parquet
answer is checked against a row cap and an uncompressed-size cap from its footer before a byte
of its data is decoded, so a small file cannot expand inside the harness. Console output is
kept as a bounded tail while the system runs and stripped of control characters, so nothing a
system prints can steer a terminal or a page.
"""

from __future__ import annotations

import io
import os
import re
import stat
import threading
from pathlib import Path
from typing import IO

import polars as pl
import pyarrow.parquet as pq

LOG_TAIL_BYTES = 64 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


class OutputRefused(ValueError):
    """A file the harness will not read; the message says why."""


def clean_text(text: str, limit: int | None = None) -> str:
    """Printable text: control characters (escapes, NUL, bidi overrides) removed, tabs kept."""
    out = _CONTROL.sub("", text.replace("\r\n", "\n"))
    return out if limit is None else out[-limit:]


def read_regular(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file no larger than ``max_bytes``, or :class:`OutputRefused`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as err:  # ELOOP: a symlink
        raise OutputRefused(f"{path.name}: not a regular file ({err.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OutputRefused(f"{path.name}: not a regular file")
        if st.st_size > max_bytes:
            raise OutputRefused(f"{path.name}: {st.st_size:,} bytes, over the cap of {max_bytes:,}")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise OutputRefused(f"{path.name}: over the cap of {max_bytes:,} bytes")
    return data


def read_answer(path: Path, max_bytes: int, max_rows: int) -> pl.DataFrame:
    """A Parquet answer within the caps: rows and uncompressed size are checked from the footer."""
    data = read_regular(path, max_bytes)
    try:
        meta = pq.ParquetFile(io.BytesIO(data)).metadata
    except Exception as err:  # any unreadable footer is the system's fault
        raise OutputRefused(f"unreadable Parquet: {str(err)[:200]}") from None
    if meta.num_rows > max_rows:
        raise OutputRefused(f"{meta.num_rows:,} rows, over the cap of {max_rows:,}")
    expanded = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if expanded > 8 * max_bytes:
        raise OutputRefused(f"expands to {expanded:,} bytes, over the cap of {8 * max_bytes:,}")
    try:
        return pl.read_parquet(io.BytesIO(data))
    except Exception as err:
        raise OutputRefused(f"unreadable Parquet: {str(err)[:200]}") from None


def tree_bytes(root: Path) -> int:
    """Bytes under ``root`` (regular files, links not followed): what a system has written."""
    total = 0
    stack = [root]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    stack.append(Path(e.path))
                else:
                    total += e.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


class Tail:
    """Drains a pipe on a thread, keeping only the last ``limit`` bytes and counting the rest."""

    def __init__(self, pipe: IO[bytes], limit: int = LOG_TAIL_BYTES) -> None:
        self.limit = limit
        self.buf = bytearray()
        self.total = 0
        self._pipe = pipe
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while chunk := self._pipe.read1(65536) if hasattr(self._pipe, "read1") else self._pipe.read(65536):
            self.total += len(chunk)
            self.buf += chunk
            if len(self.buf) > 2 * self.limit:
                del self.buf[: len(self.buf) - self.limit]

    def text(self, timeout: float = 5.0) -> str:
        self._thread.join(timeout)
        kept = bytes(self.buf[-self.limit :])
        head = f"[{self.total - len(kept):,} earlier bytes of output dropped]\n" if self.total > len(kept) else ""
        return head + clean_text(kept.decode("utf-8", errors="replace"))
