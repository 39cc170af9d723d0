"""Vehicles, trips, plate reads and the hotlist as the plate tasks' scorers read them back.

The plates stage writes reads, cameras and the hotlist to ``trails/`` and which vehicle, driver
and trip each read came from to ``truth/`` (trails/plate_reads). :class:`PlateWorld` reads each
table once, when first asked for. The vehicle and driver tables the audit counts the plate
tasks over (audit/units) come from here: each unit's group and strata, from the truth alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from trailbench.rng import stream
from trailbench.trails.plate_reads import placement_weights
from trailbench.world import period
from trailbench.world.roads import build_roads, built_up_nodes
from trailbench.world.window import Window, default_window

if TYPE_CHECKING:
    from trailbench.scenario import Scenario
    from trailbench.world import World

# the trip purpose stratum: a vehicle's (a driver's) most telling purpose in the window, in this order
PURPOSE_LEVELS = (
    ("port round trips", pl.col("to_port")),
    ("shift work", pl.col("purpose") == "shift_work"),
    ("field work", pl.col("purpose") == "field_work"),
    ("commute", pl.col("purpose") == "commute"),
    ("errands and visits", pl.lit(True)),
)
NO_TRIPS = "no trips in the window"
DECLARED, OTHER = "declared neighbourhoods", "elsewhere"
PLATE_STRATA = ("neighbourhood", "trip_purpose", "vehicle_sharing")
PLATE_STRATA_LABELS = {
    "neighbourhood": "home neighbourhood",
    "trip_purpose": "trip purpose",
    "vehicle_sharing": "vehicle sharing",
}


@dataclass
class PlateWorld:
    where: Path  # the world's directory (its trails/ and truth/)
    window: Window

    @property
    def t0(self) -> datetime:
        """The window's start, as the reads' and trips' times count from it."""
        return datetime.fromisoformat(str(self.window.start.astype("datetime64[s]")))

    def _truth(self, name: str) -> pl.DataFrame:
        return pl.read_parquet(self.where / "truth" / f"{name}.parquet")

    @cached_property
    def vehicles(self) -> pl.DataFrame:
        """vehicle_key, household_id, plate, state, specialty, stacked, drivers, borrowed_by, target, port_visitor."""
        return self._truth("vehicles")

    @cached_property
    def drivers(self) -> pl.DataFrame:
        """person_id, vehicle_key, borrowed: who may drive which vehicle."""
        return self._truth("vehicle_drivers")

    @cached_property
    def trips(self) -> pl.DataFrame:
        return self._truth("trips")

    @cached_property
    def reads(self) -> pl.DataFrame:
        """Every read (trails/plate_reads) with its truth (truth/plate_reads), row for row."""
        seen = sorted((self.where / "trails" / "plate_reads").glob("part-*.parquet"))
        truth = sorted((self.where / "truth" / "plate_reads").glob("part-*.parquet"))
        if not seen:
            return pl.DataFrame()
        a = pl.read_parquet(seen).with_columns(pl.col(pl.Categorical).cast(pl.String))
        b = pl.read_parquet(truth).with_columns(pl.col(pl.Categorical).cast(pl.String))
        return pl.concat([a, b.select([c for c in b.columns if c not in a.columns])], how="horizontal")

    @cached_property
    def reads_by_vehicle(self) -> pl.DataFrame:
        """vehicle_key, reads, right (read with the right plate and state): each vehicle's reads."""
        return self.reads.group_by("vehicle_key").agg(
            reads=pl.len().cast(pl.Int64),
            right=(~pl.col("misread") & ~pl.col("wrong_state")).sum().cast(pl.Int64),
        )

    @cached_property
    def hotlist(self) -> pl.DataFrame:
        """plate, state, entered (trails/hotlist) with vehicle_key, stale, keyed_wrong (truth/hotlist)."""
        return pl.concat(
            [pl.read_parquet(self.where / "trails" / "hotlist.parquet"), self._truth("hotlist")], how="horizontal"
        )

    @cached_property
    def cameras(self) -> pl.DataFrame:
        """camera_id, x, y, kind (trails/cameras) with dense (truth/cameras)."""
        seen = pl.read_parquet(self.where / "trails" / "cameras.parquet")
        return seen.join(self._truth("cameras"), on="camera_id", how="left")


def plate_world(where: Path, sc: Scenario) -> PlateWorld | None:
    """The plate tables of a world's directory, or None where the plates stage has not run."""
    if not (where / "truth" / "vehicles.parquet").exists():
        return None
    return PlateWorld(where, default_window(period(sc)[1], sc.movement.window_days))


def _purpose_level(trips: pl.DataFrame, key: str) -> pl.DataFrame:
    """``key`` and its trip purpose stratum (the first of PURPOSE_LEVELS any of its trips meets)."""
    rank = pl.lit(len(PURPOSE_LEVELS))
    for i, (_, cond) in reversed(list(enumerate(PURPOSE_LEVELS))):
        rank = pl.when(cond).then(pl.lit(i)).otherwise(rank)
    words = [w for w, _ in PURPOSE_LEVELS]
    return (
        trips.select(key, r=rank)
        .group_by(key)
        .agg(pl.col("r").min())
        .select(key, trip_purpose=pl.col("r").replace_strict(list(range(len(words))), words, return_dtype=pl.String))
    )


def home_neighbourhoods(world: World, sc: Scenario, at: np.datetime64) -> pl.DataFrame:
    """household_id, neighbourhood: whether the household's home at ``at`` is nearest a crossing of
    the declared neighbourhoods (the ``dense_share`` of built-up crossings with the most
    multi-unit housing, drawn as the plates stage draws them for camera placement)."""
    pc = sc.plates
    roads = build_roads(world.units, pc)
    bc, br, share = built_up_nodes(roads, world.units)
    _, dense = placement_weights(share, pc, stream(sc.seed, "plates", "cameras", "fixed"))
    dense_nodes = (br * roads.cols + bc)[dense]
    day = at.astype("datetime64[D]").item()
    home = (
        world.residences.filter((pl.col("start") <= day) & (pl.col("end").is_null() | (pl.col("end") > day)))
        .unique("household_id", keep="first", maintain_order=True)
        .join(world.units.select("unit_id", "x", "y"), on="unit_id")
    )
    node = roads.row(home["y"].to_numpy()) * roads.cols + roads.col(home["x"].to_numpy())
    return home.select("household_id").with_columns(
        neighbourhood=pl.Series(np.where(np.isin(node, dense_nodes), DECLARED, OTHER))
    )


def vehicle_sharing() -> pl.Expr:
    """The vehicle sharing stratum from a vehicle's ``drivers`` and ``borrowed_by`` counts."""
    return (
        pl.when(pl.col("borrowed_by") > 0)
        .then(pl.lit("lent to other households"))
        .when(pl.col("drivers") > 1)
        .then(pl.lit("shared in the household"))
        .otherwise(pl.lit("one driver"))
    )


def vehicle_attributes(pw: PlateWorld, world: World, sc: Scenario, at: np.datetime64) -> pl.DataFrame:
    """One row per vehicle: vehicle_key, group (of the person who drove it most in the window;
    of its household's first driver if no one did), the plate strata, and ``target``."""
    v, trips = pw.vehicles, pw.trips
    most = (
        trips.group_by("vehicle_key", "person_id")
        .len()
        .sort("vehicle_key", "len", "person_id", descending=[False, True, False])
        .unique("vehicle_key", keep="first")
        .select("vehicle_key", driver="person_id")
    )
    first = pw.drivers.filter(~pl.col("borrowed")).group_by("vehicle_key").agg(first=pl.col("person_id").min())
    groups = world.people.select("person_id", "group")
    sharing = vehicle_sharing()
    return (
        v.select("vehicle_key", "household_id", "target", "drivers", "borrowed_by")
        .join(most, on="vehicle_key", how="left")
        .join(first, on="vehicle_key", how="left")
        .with_columns(person_id=pl.coalesce("driver", "first"))
        .join(groups, on="person_id", how="left")
        .join(home_neighbourhoods(world, sc, at), on="household_id", how="left")
        .join(_purpose_level(trips, "vehicle_key"), on="vehicle_key", how="left")
        .select(
            "vehicle_key",
            "group",
            pl.col("neighbourhood").fill_null(OTHER),
            pl.col("trip_purpose").fill_null(NO_TRIPS),
            vehicle_sharing=sharing,
            target=pl.col("target"),
        )
        .sort("vehicle_key")
    )


def driver_attributes(pw: PlateWorld, world: World, sc: Scenario, at: np.datetime64) -> pl.DataFrame:
    """One row per person who drove in the window: person_id, group, the plate strata (the
    sharing of the vehicle they drove most; ``borrows`` for a borrower) and ``target_driver``
    (drove a target run)."""
    trips = pw.trips
    drove = trips.select("person_id").unique()
    most = (
        trips.group_by("person_id", "vehicle_key")
        .len()
        .sort("person_id", "len", "vehicle_key", descending=[False, True, False])
        .unique("person_id", keep="first")
        .select("person_id", "vehicle_key")
    )
    v = pw.vehicles.select("vehicle_key", "drivers", "borrowed_by")
    borrowers = pw.drivers.filter(pl.col("borrowed")).select("person_id").unique().with_columns(borrows=pl.lit(True))
    sharing = pl.when(pl.col("borrows").fill_null(False)).then(pl.lit("borrows a vehicle")).otherwise(vehicle_sharing())
    ran = trips.filter(pl.col("purpose") == "target_run").select("person_id").unique().with_columns(t=pl.lit(True))
    people = world.people.select("person_id", "household_id", "group")
    return (
        drove.join(people, on="person_id", how="left")
        .join(most, on="person_id", how="left")
        .join(v, on="vehicle_key", how="left")
        .join(borrowers, on="person_id", how="left")
        .join(home_neighbourhoods(world, sc, at), on="household_id", how="left")
        .join(_purpose_level(trips, "person_id"), on="person_id", how="left")
        .join(ran, on="person_id", how="left")
        .select(
            "person_id",
            "group",
            pl.col("neighbourhood").fill_null(OTHER),
            pl.col("trip_purpose").fill_null(NO_TRIPS),
            vehicle_sharing=sharing,
            target_driver=pl.col("t").fill_null(False),
        )
        .sort("person_id")
    )


def plate_ids_seen(where: Path, space: str) -> pl.Series:
    """What plate answers may cite: every ``read_id`` (space ``reads``) or every plate as read
    (space ``plates``) in a world's trails/plate_reads."""
    col = "read_id" if space == "reads" else "plate_as_read"
    parts = sorted((where / "trails" / "plate_reads").glob("part-*.parquet"))
    if not parts:
        return pl.Series(col, [], dtype=pl.String)
    return pl.scan_parquet(parts).select(pl.col(col).cast(pl.String)).unique().collect()[col].sort()
