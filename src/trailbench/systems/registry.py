"""Finding systems and saying where each came from.

A system is one of three kinds:

- ``reference``: shipped with trailbench (entry points of the ``trailbench`` distribution);
- ``plugin``: a class another installed distribution registers under the entry-point group
  ``trailbench.systems``;
- ``command``: any program, given as a command line under ``[systems.commands]``.

The reference systems' names are reserved: a plug-in registering one of them is ignored (and
named in the provenance), so no installed package can stand in for a reference system.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

GROUP = "trailbench.systems"
HOME = "trailbench"


@dataclass(frozen=True)
class Resolved:
    """A system ready to run: its command (the work directory is appended), its provenance,
    and the host paths its code needs to see read-only."""

    name: str
    kind: str  # reference | plugin | command
    command: list[str]
    provenance: dict[str, Any]
    mounts: list[Path] = field(default_factory=list)
    pythonpath: list[Path] = field(default_factory=list)  # a plug-in's import location

    @property
    def trusted(self) -> bool:
        return self.kind == "reference"


def _dist(ep: EntryPoint) -> tuple[str, str]:
    d = ep.dist
    return (d.metadata["Name"], d.version) if d is not None else ("unknown", "unknown")


def python_systems() -> dict[str, EntryPoint]:
    """Registered systems by name: trailbench's own first; a plug-in cannot take their names."""
    eps = list(entry_points(group=GROUP))
    ours = {ep.name: ep for ep in eps if _dist(ep)[0] == HOME}
    out = dict(ours)
    for ep in eps:
        if ep.name not in ours and ep.name not in out:
            out[ep.name] = ep
    return out


def shadowed_plugins() -> list[dict[str, str]]:
    """Plug-ins that tried to register a reserved (reference) name, or a name already taken."""
    chosen = python_systems()
    out = []
    for ep in entry_points(group=GROUP):
        won = chosen[ep.name]
        if (_dist(ep), ep.value) != (_dist(won), won.value):
            name, ver = _dist(ep)
            out.append({"name": ep.name, "distribution": name, "version": ver, "value": ep.value})
    return sorted(out, key=lambda r: (r["name"], r["distribution"]))


def _is_path(arg: str) -> bool:
    return "/" in arg and Path(arg).exists()


def resolve(name: str, commands: dict[str, str], python: str) -> Resolved:
    """The system called ``name``: a command line from the scenario, or a registered class."""
    eps = python_systems()
    if name in commands and name in eps and _dist(eps[name])[0] == HOME:
        raise KeyError(f"systems.commands.{name}: '{name}' is a reference system's name; choose another")
    if name in commands:
        # paths on the command line are made absolute (the system starts in /sandbox) and shown
        # to it read-only; nothing else of the host's file system is
        argv = [str(Path(a).absolute()) if _is_path(a) else a for a in shlex.split(commands[name])]
        mounts = [Path(a) for a in argv if _is_path(a)]
        return Resolved(name, "command", argv, {"kind": "command", "command": commands[name]}, mounts)
    if name not in eps:
        raise KeyError(f"no system {name!r}; registered: {', '.join(sorted(eps))}")
    ep = eps[name]
    dist, ver = _dist(ep)
    kind = "reference" if dist == HOME else "plugin"
    prov = {"kind": kind, "distribution": dist, "version": ver, "entry_point": ep.value}
    mounts = []
    if ep.dist is not None and kind == "plugin":
        mounts.append(Path(str(ep.dist.locate_file(""))).absolute())
    cmd = [python, "-m", "trailbench.systems.child", name, ep.value]
    return Resolved(name, kind, cmd, prov, mounts, list(mounts))


def load(name: str, value: str | None = None) -> Any:
    """An instance of the system class (``value`` is ``module:attr``, as resolved by the harness)."""
    if value is None:
        eps = python_systems()
        if name not in eps:
            raise KeyError(f"no system {name!r} under entry-point group {GROUP}; known: {', '.join(sorted(eps))}")
        value = eps[name].value
    ep = EntryPoint(name=name, value=value, group=GROUP)
    system = ep.load()()
    system.name = name
    return system
