"""Unit tables: what a task's metrics are summed over when it is not the docket's cases.

The plate tasks (flag, hotlist) answer about the whole region, not about docket cases: their
metrics are ratios of per-vehicle or per-driver counts. Each unit is declared once here, with the
key that names a row, the noun the report uses, its strata and the function that builds its
attributes (group and strata, from the truth alone) for one world. The audit joins every task's
counts for a unit onto its attributes (units a task says nothing about count 0), pools the worlds,
and bootstraps each unit table on its own: worlds, then units within worlds, with the same
weights for every system so comparisons stay paired.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from trailbench.tasks.plate_truth import PLATE_STRATA, PlateWorld, driver_attributes, vehicle_attributes

if TYPE_CHECKING:
    from trailbench.scenario import Scenario
    from trailbench.world import World


@dataclass(frozen=True)
class UnitTable:
    name: str  # also the count column that is 1 on every row
    key: str
    noun: str  # one row, in words
    description: str
    strata: tuple[str, ...]
    attributes: Callable[[PlateWorld, World, Scenario, np.datetime64], pl.DataFrame]


UNITS: dict[str, UnitTable] = {
    u.name: u
    for u in (
        UnitTable(
            "vehicles",
            "vehicle_key",
            "vehicle",
            "every vehicle kept in the region; its group is that of the person who drove it most in the window",
            PLATE_STRATA,
            vehicle_attributes,
        ),
        UnitTable(
            "drivers",
            "person_id",
            "driver",
            "every person who drove in the window, by their own group",
            PLATE_STRATA,
            driver_attributes,
        ),
    )
}


def unit_table(
    attributes: pl.DataFrame, unit: UnitTable, counts: list[pl.DataFrame], columns: list[str]
) -> pl.DataFrame:
    """One system's table for ``unit``: the attributes, a ``<unit>`` column of 1 and every count
    column in ``columns`` (0 where no task counted the unit)."""
    t = attributes.with_columns(pl.lit(1, dtype=pl.Int64).alias(unit.name))
    for c in counts:
        t = t.join(c, on=unit.key, how="left")
    for col in columns:
        if col not in t.columns:
            t = t.with_columns(pl.lit(0, dtype=pl.Int64).alias(col))
    keep = [*attributes.columns, unit.name, *columns]  # one column order for every system
    return t.select(keep).with_columns(pl.col(columns).fill_null(0)).sort(unit.key)
