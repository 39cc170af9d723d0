"""Whether a scenario fits in this machine's memory, checked before any stage starts.

The estimate is linear in ``world.people`` and was fitted to measured peaks (resident set
size of a whole ``trailbench run``): county-10k 0.26 GiB, county-100k 0.97 GiB, city-1m
(1,000,000 people) 6.15 GiB. The audit adds the bootstrap weight matrix
(``audit.bootstrap`` x cases, float64) and a few working copies of it.
"""

from __future__ import annotations

from pathlib import Path

from trailbench.scenario import Scenario, ScenarioError

GIB = 1024**3
BASE_BYTES = 0.25 * GIB  # interpreter, libraries, name tables
PER_PERSON_BYTES = 6.5 * 1024  # world, trails and systems, per person in the region
BOOTSTRAP_COPIES = 4  # the weight matrix and its working copies during the audit
MEMINFO = Path("/proc/meminfo")


def estimate_bytes(sc: Scenario, audit: bool = True) -> int:
    """Estimated peak memory of building ``sc`` (and, with ``audit``, running and scoring it)."""
    need = BASE_BYTES + PER_PERSON_BYTES * sc.world.people
    if audit:
        cases = min(sc.docket.cases, sc.world.people)  # cases are capped at the eligible adults
        need += BOOTSTRAP_COPIES * 8 * sc.audit.bootstrap * cases
    return int(need)


def available_bytes(meminfo: Path = MEMINFO) -> int | None:
    """``MemAvailable`` from /proc/meminfo, or None where it cannot be read (then no check is made)."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                value, unit = line.split()[1:3]
                return int(value) * 1024 if unit.lower() == "kb" else None
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_resources(sc: Scenario, audit: bool = True, available: int | None = None) -> None:
    """Raise :class:`ScenarioError` (one line) if ``sc`` needs more memory than is available.

    ``available`` is in bytes; by default it is read from /proc/meminfo, and where that cannot
    be read the check is skipped.
    """
    have = available_bytes() if available is None else available
    if have is None:
        return
    need = estimate_bytes(sc, audit=audit)
    if need > have:
        lower = "world.people, or audit.bootstrap or docket.cases" if audit else "world.people"
        raise ScenarioError(
            f"scenario {sc.name} needs about {need / GIB:.1f} GiB of memory but the machine has "
            f"{have / GIB:.1f} GiB available; lower {lower}, or free memory"
        )
