"""Replicate worlds (DESIGN §2, §6): one scenario, ``audit.worlds`` worlds, each with its own seed.

World 0 has the scenario's own seed, so a one-world run is exactly world 0 of a pooled one; world
k > 0 has a seed spawned from the scenario seed by its index. Each world is built, sampled into a
docket and answered by every system exactly as a one-world run is, under ``worlds/<k>/`` (with one
world, the same layout sits at the top of the run directory); the audit pools them.
"""

from __future__ import annotations

from pathlib import Path

from trailbench.rng import stream
from trailbench.scenario import Scenario

SEED_MAX = 2**63 - 1


def world_seeds(sc: Scenario) -> list[int]:
    """The seed of each replicate world, world 0 first."""
    return [sc.seed] + [int(stream(sc.seed, "worlds", str(k)).integers(0, SEED_MAX)) for k in range(1, sc.audit.worlds)]


def world_scenario(sc: Scenario, k: int) -> Scenario:
    """The scenario as world ``k`` is built: the same in every section but the seed."""
    return sc if k == 0 else sc.model_copy(update={"seed": world_seeds(sc)[k]})


def world_dir(run: Path, sc: Scenario, k: int) -> Path:
    """Where world ``k``'s world, trails, docket, truth and answers live."""
    return run if sc.audit.worlds == 1 else run / "worlds" / str(k)
