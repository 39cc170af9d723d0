"""Shared fixtures: worlds are built once per session and reused by the tests that read them."""

from __future__ import annotations

from pathlib import Path

import pytest

from trailbench.pipeline import make_world
from trailbench.scenario import Scenario, parse_scenario
from trailbench.systems.sandbox import bubblewrap
from trailbench.trails import Trails, build_trails
from trailbench.world import World, build_world

# The project's own fake command systems run sandboxed where bubblewrap can be used, and
# without isolation elsewhere (a machine without it would otherwise refuse them).
SANDBOX = bubblewrap().usable


def small_scenario(**over: object) -> Scenario:
    """A 2,000-person scenario with one world (tests that pool replicate worlds say so)."""
    data: dict[str, object] = {"name": "tiny", "world": {"people": 2000, "towns": 3}}
    data.update(over)
    audit = data.get("audit")
    data["audit"] = {"worlds": 1, **(audit if isinstance(audit, dict) else {})}
    return parse_scenario(data)


@pytest.fixture(scope="session")
def tiny() -> Scenario:
    return small_scenario()


@pytest.fixture(scope="session")
def tiny_world(tiny: Scenario) -> World:
    return build_world(tiny)


@pytest.fixture(scope="session")
def tiny_trails(tiny: Scenario, tiny_world: World) -> Trails:
    return build_trails(tiny_world, tiny)


@pytest.fixture(scope="session")
def tiny_run(tiny: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "tiny"
    make_world(tiny, run)
    return run


@pytest.fixture(scope="session")
def big() -> Scenario:
    return parse_scenario({"name": "realism", "world": {"people": 100_000, "towns": 12}, "audit": {"worlds": 1}})


@pytest.fixture(scope="session")
def big_world(big: Scenario) -> World:
    return build_world(big)


@pytest.fixture(scope="session")
def big_trails(big: Scenario, big_world: World) -> Trails:
    return build_trails(big_world, big)
