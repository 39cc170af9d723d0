"""Finding systems: Python classes under the ``trailbench.systems`` entry-point group, or
command lines named in the scenario."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

GROUP = "trailbench.systems"


def python_systems() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load(name: str) -> Any:
    eps = python_systems()
    if name not in eps:
        raise KeyError(f"no system {name!r} under entry-point group {GROUP}; known: {', '.join(sorted(eps))}")
    return eps[name].load()()
