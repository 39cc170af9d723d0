"""The public address register: every valid address in the region (public knowledge).

It carries the canonical text and its parts, never the world's unit ids; scoring joins the
canonical text back to units through the truth.
"""

from __future__ import annotations

import polars as pl

from trailbench.world import World
from trailbench.world.geography import STATE


def address_register(world: World) -> pl.DataFrame:
    return world.units.select(
        "address", "number", "street", "unit", "town", state=pl.lit(STATE), zip="zip", x="x", y="y"
    ).sort("address")
