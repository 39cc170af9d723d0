"""The run directory's lock and its checksummed stage markers (DESIGN §2).

One trailbench process at a time works in a run directory: :func:`lock_run_dir` takes an
exclusive ``flock`` on ``run/.lock`` (non-blocking) and records the holder's pid there. The
kernel drops the lock when its holder exits, however it exits, so a killed run leaves nothing
to clean up.

Each stage's marker ``run/.stages/<stage>.json`` records the configuration hash of the stage
and the size and sha256 of every file the stage wrote (paths relative to the run directory)::

    {"format": 2, "stage": "world", "hash": "<config hash>", "inputs": "<optional digest>",
     "files": {"world/people.parquet": {"sha256": "...", "size": 123}, ...}}

A stage is reused only if its marker reads, is for this configuration (and, where given, for
the same inputs), and every listed file is still a regular file of the recorded size and
sha256. Anything else (no marker, an unreadable marker, a marker from before checksums, a
missing, truncated, altered or replaced file) means the stage is built again.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import stat
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from trailbench.io import DIR_MODE, FILE_MODE, TMP_SUFFIX, write_json
from trailbench.scenario import ScenarioError

LOCK_NAME = ".lock"
MARKER_DIR = ".stages"
MARKER_FORMAT = 2


class RunDirError(ScenarioError):
    """The run directory cannot be created or locked."""


class RunDirBusy(RunDirError):
    """Another trailbench process is working in the run directory."""


# -- the lock --------------------------------------------------------------------------


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        return "pid unknown"
    return f"pid {int(text)}" if text.isdigit() else "pid unknown"


LOCK_GRACE_S = 2.0


@contextmanager
def lock_run_dir(run: Path) -> Iterator[None]:
    """Hold ``run``'s lock for the duration of the block, or raise :class:`RunDirBusy` (after a
    grace of ``LOCK_GRACE_S`` seconds)."""
    try:
        run.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        fd = os.open(run / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, FILE_MODE)
    except OSError as err:
        raise RunDirError(f"run directory {run}: cannot create its lock file: {err.strerror or err}") from None
    try:
        # a run killed a moment ago may still hold the lock through a child between fork and exec
        # (the descriptor closes at exec): wait briefly before calling the directory busy
        deadline = time.monotonic() + LOCK_GRACE_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise RunDirError(f"run directory {run}: cannot lock {LOCK_NAME}: {err.strerror or err}") from None
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
            raise RunDirBusy(
                f"run directory {run} is in use by another trailbench run ({_holder(fd)}); "
                "wait for it to finish or choose another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        sweep_temps(run)
        yield
    finally:
        os.close(fd)  # releases the lock; the file stays (unlinking it would let two runs lock two files)


def sweep_temps(run: Path) -> int:
    """Remove temporary files left beside their targets by writers that were killed.

    Called with the lock held, when no other trailbench run writes here. The temporaries of
    ``report.html`` are left alone: ``trailbench report`` rewrites it without taking the lock.
    A directory below holding a lock of its own is another run's (``attribution/<switch>/``,
    possibly running now) and is left to it.
    """
    removed = 0
    for dirpath, dirs, names in os.walk(run):
        dirs[:] = [d for d in dirs if not (Path(dirpath) / d / LOCK_NAME).exists()]
        for name in names:
            if not (name.startswith(".") and name.endswith(TMP_SUFFIX)) or name.startswith(".report.html."):
                continue
            p = Path(dirpath) / name
            try:
                if stat.S_ISREG(p.lstat().st_mode):
                    p.unlink()
                    removed += 1
            except OSError:
                pass
    return removed


def clear_run_dir(run: Path) -> None:
    """Remove everything in ``run`` except its lock (which the caller holds)."""
    for child in run.iterdir():
        if child.name == LOCK_NAME:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


# -- checksummed markers ---------------------------------------------------------------


def marker_path(run: Path, stage: str) -> Path:
    return run / MARKER_DIR / f"{stage}.json"


def _digest(path: Path) -> tuple[str, int]:
    """sha256 and size of a regular file, read in chunks (never follows a symlink, never opens a FIFO)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return hashlib.file_digest(fh, "sha256").hexdigest(), st.st_size


def file_sha256(path: Path) -> str:
    return _digest(path)[0]


def file_record(path: Path) -> dict[str, Any]:
    sha, size = _digest(path)
    return {"sha256": sha, "size": size}


def _rel(run: Path, path: Path) -> str:
    return path.relative_to(run).as_posix()


def mark_stage(
    run: Path,
    stage: str,
    config_hash: str,
    files: Iterable[Path],
    inputs: str | None = None,
) -> None:
    """Record that ``stage`` is complete for ``config_hash``, with a checksum of each of ``files``."""
    records = {_rel(run, p): file_record(p) for p in files}
    data: dict[str, Any] = {"format": MARKER_FORMAT, "stage": stage, "hash": config_hash, "files": records}
    if inputs is not None:
        data["inputs"] = inputs
    write_json(data, marker_path(run, stage))


def unmark_stage(run: Path, stage: str) -> None:
    marker_path(run, stage).unlink(missing_ok=True)


def read_marker(run: Path, stage: str) -> dict[str, Any] | None:
    """The marker's contents, or None if there is none or it cannot be read as a JSON object."""
    try:
        data = json.loads(marker_path(run, stage).read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def recorded_files(run: Path, stage: str) -> dict[str, dict[str, Any]]:
    """The file records of a stage's marker (empty if unreadable)."""
    m = read_marker(run, stage)
    files = m.get("files") if m else None
    return files if isinstance(files, dict) else {}


@dataclass(frozen=True)
class Check:
    """Whether a stage can be reused; if not, ``reason`` says why (empty for the ordinary
    cases: never built, or built for another configuration)."""

    ok: bool
    reason: str = ""


def _safe_rel(rel: str) -> bool:
    p = PurePosixPath(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts


def _verify_file(run: Path, rel: str, rec: Any) -> bool:
    if not (_safe_rel(rel) and isinstance(rec, dict)):
        return False
    size, sha = rec.get("size"), rec.get("sha256")
    if not (isinstance(size, int) and isinstance(sha, str)):
        return False
    path = run / rel
    try:
        st = path.lstat()
        if not stat.S_ISREG(st.st_mode) or st.st_size != size:
            return False
        return _digest(path) == (sha, size)
    except OSError:
        return False


def check_stage(run: Path, stage: str, config_hash: str, inputs: str | None = None) -> Check:
    """Can ``stage``'s outputs in ``run`` be reused for ``config_hash`` (and ``inputs``)?"""
    path = marker_path(run, stage)
    if not path.exists() and not path.is_symlink():
        return Check(False)
    m = read_marker(run, stage)
    if m is None:
        return Check(False, "stage marker unreadable")
    if m.get("hash") != config_hash:
        return Check(False)
    files = m.get("files")
    if m.get("format") != MARKER_FORMAT or not isinstance(files, dict) or not files:
        return Check(False, "stage marker has no checksums")
    if inputs is not None and m.get("inputs") != inputs:
        return Check(False, "its inputs changed since it was built")
    # sizes first (cheap: catches truncation and missing files without reading anything)
    for rel, rec in sorted(files.items()):
        if not _cheap_ok(run, rel, rec):
            return Check(False, f"cached outputs failed verification ({rel})")
    for rel, rec in sorted(files.items()):
        if not _verify_file(run, rel, rec):
            return Check(False, f"cached outputs failed verification ({rel})")
    return Check(True)


def _cheap_ok(run: Path, rel: str, rec: Any) -> bool:
    if not (_safe_rel(rel) and isinstance(rec, dict)):
        return False
    try:
        st = (run / rel).lstat()
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size == rec.get("size")


def digest(data: Any) -> str:
    """sha256 of a JSON-serialisable value (canonical form), for a marker's ``inputs``."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
