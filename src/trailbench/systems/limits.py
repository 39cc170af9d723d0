"""Limits on a system's whole process tree: memory and process count.

A control group holds every process a system starts, so its memory limit covers the tree
(three children cannot each take the per-process limit) and every member can be found and
killed. cgroup v2 is used where this process may create a child group, else cgroup v1 (memory
and pids controllers). Where neither can be had (an unprivileged user without a delegated
cgroup, or not Linux), a watchdog sums the resident memory of the process tree every
``POLL_S`` seconds and kills it past the limit: that bounds the tree too, though an allocation
faster than the poll can overshoot briefly. Which one held is recorded in the system's status.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

POLL_S = 0.05
MAX_PROCESSES = 512  # a fork bomb stops here; generous for thread pools (threads count as tasks)
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _cgroup_lines() -> list[tuple[str, str, str]]:
    try:
        text = Path("/proc/self/cgroup").read_text()
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            out.append((parts[0], parts[1], parts[2]))
    return out


def _own_dir(mount: Path, rel: str) -> Path:
    """Our cgroup's directory under ``mount``, or the mount itself inside a cgroup namespace."""
    here = mount / rel.lstrip("/")
    return here if here.is_dir() else mount


def _writable_child(base: Path, name: str) -> Path | None:
    try:
        d = base / name
        d.mkdir()
        return d
    except OSError:
        return None


@dataclass
class TreeLimit:
    """One system's limit: created before it starts, removed after its tree is gone."""

    mechanism: str  # "cgroup v2", "cgroup v1" or "watchdog"
    limit_bytes: int
    dirs: tuple[Path, ...] = ()

    @classmethod
    def create(cls, name: str, limit_bytes: int) -> TreeLimit:
        tag = f"trailbench-{os.getpid()}-{name}-{time.monotonic_ns()}"
        lines = _cgroup_lines()
        v2 = [rel for hid, ctl, rel in lines if hid == "0" and ctl == ""]
        root2 = Path("/sys/fs/cgroup")
        if not (root2 / "cgroup.controllers").exists():
            root2 = Path("/sys/fs/cgroup/unified")
        if v2 and (root2 / "cgroup.controllers").exists():
            base = _own_dir(root2, v2[0])
            try:
                enabled = set((base / "cgroup.subtree_control").read_text().split())
            except OSError:
                enabled = set()
            d = _writable_child(base, tag) if {"memory", "pids"} <= enabled else None
            if d is not None:
                try:
                    (d / "memory.max").write_text(str(limit_bytes))
                    (d / "pids.max").write_text(str(MAX_PROCESSES))
                    with contextlib.suppress(OSError):
                        (d / "memory.swap.max").write_text("0")
                    return cls("cgroup v2", limit_bytes, (d,))
                except OSError:
                    _remove(d)
        v1 = {ctl: rel for _, ctl, rel in lines if ctl in ("memory", "pids")}
        if "memory" in v1 and Path("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists():
            mem = _writable_child(_own_dir(Path("/sys/fs/cgroup/memory"), v1["memory"]), tag)
            if mem is not None:
                try:
                    (mem / "memory.limit_in_bytes").write_text(str(limit_bytes))
                    with contextlib.suppress(OSError):  # no swap accounting on some kernels
                        (mem / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))
                except OSError:
                    _remove(mem)
                else:
                    dirs = [mem]
                    if "pids" in v1:
                        pids = _writable_child(_own_dir(Path("/sys/fs/cgroup/pids"), v1["pids"]), tag)
                        if pids is not None:
                            try:
                                (pids / "pids.max").write_text(str(MAX_PROCESSES))
                                dirs.append(pids)
                            except OSError:
                                _remove(pids)
                    return cls("cgroup v1", limit_bytes, tuple(dirs))
        return cls("watchdog", limit_bytes)

    def join(self) -> None:
        """Called in the child before exec: every later descendant inherits the group."""
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(os.getpid()))

    def members(self, root_pid: int) -> set[int]:
        if self.dirs:
            try:
                return {int(p) for p in (self.dirs[0] / "cgroup.procs").read_text().split()}
            except OSError:
                return set()
        return _descendants(root_pid)

    def over_limit(self, root_pid: int) -> bool:
        """True once the tree has been killed for memory (cgroup) or is over it (watchdog)."""
        if self.mechanism == "cgroup v2":
            return _events(self.dirs[0] / "memory.events").get("oom_kill", 0) > 0
        if self.mechanism == "cgroup v1":
            return _events(self.dirs[0] / "memory.oom_control").get("oom_kill", 0) > 0
        return _rss(_descendants(root_pid) | {root_pid}) > self.limit_bytes

    def peak_bytes(self) -> int | None:
        for name in ("memory.peak", "memory.max_usage_in_bytes"):
            if self.dirs and (self.dirs[0] / name).exists():
                with contextlib.suppress(OSError, ValueError):
                    return int((self.dirs[0] / name).read_text().split()[0])
        return None

    def kill_all(self, root_pid: int) -> None:
        """SIGKILL every member until none is left (a fork between reads is caught next round)."""
        for _ in range(200):
            pids = self.members(root_pid)
            if not pids:
                return
            for p in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(p, signal.SIGKILL)
            time.sleep(0.01)

    def remove(self) -> None:
        for d in self.dirs:
            _remove(d)


def clean_orphans() -> int:
    """Remove control groups left by harnesses that were killed (their pid is in the name)."""
    lines = _cgroup_lines()
    bases = [_own_dir(Path("/sys/fs/cgroup") / ctl, rel) for _, ctl, rel in lines if ctl in ("memory", "pids")]
    bases += [_own_dir(Path("/sys/fs/cgroup"), rel) for hid, ctl, rel in lines if hid == "0" and ctl == ""]
    removed = 0
    for base in bases:
        for d in base.glob("trailbench-*") if base.is_dir() else []:
            try:
                pid = int(d.name.split("-")[1])
            except (IndexError, ValueError):
                continue
            if not Path(f"/proc/{pid}").exists():
                TreeLimit("orphan", 0, (d,)).kill_all(0)
                _remove(d)
                removed += 1
    return removed


def _remove(d: Path) -> None:
    for _ in range(100):
        try:
            d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:  # members still exiting
            time.sleep(0.02)


def _events(path: Path) -> dict[str, int]:
    try:
        pairs = (line.split() for line in path.read_text().splitlines())
        return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].isdigit()}
    except OSError:
        return {}


def _descendants(root: int) -> set[int]:
    """Every live process below ``root`` (from /proc's parent links)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else []:
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out: set[int] = set()
    todo = [root]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _rss(pids: set[int]) -> int:
    total = 0
    for p in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * _PAGE
    return total
