"""The world: the ground truth that systems under test never see."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from trailbench.rng import stream
from trailbench.scenario import Scenario
from trailbench.world import geography, lives, population, ties

TABLES = ("units", "households", "people", "residences", "jobs", "employers", "phones", "ties")


@dataclass
class World:
    units: pl.DataFrame
    households: pl.DataFrame
    people: pl.DataFrame
    residences: pl.DataFrame
    jobs: pl.DataFrame
    employers: pl.DataFrame
    phones: pl.DataFrame
    ties: pl.DataFrame

    def tables(self) -> dict[str, pl.DataFrame]:
        return {name: getattr(self, name) for name in TABLES}


def period(sc: Scenario) -> tuple[np.datetime64, np.datetime64]:
    starts = lives.month_starts(sc.world.start, sc.world.years * 12)
    return starts[0], starts[-1]


def build_world(sc: Scenario) -> World:
    seed = sc.seed
    hh, _ = population.build_households(sc, stream(seed, "world", "households"))
    people = population.build_people(sc, stream(seed, "world", "people"), hh, stream(seed, "world", "names"))
    own = (hh["tenure"] == "own").to_numpy()
    units = geography.build_region(stream(seed, "world", "region"), lives.units_needed(sc, own), sc.world.towns)
    residences = lives.build_residences(sc, stream(seed, "world", "residences"), hh, units)
    jobs, employers = lives.build_jobs(sc, stream(seed, "world", "jobs"), people)
    phones = lives.build_phones(sc, stream(seed, "world", "phones"), people)
    start, end = period(sc)
    first_unit = residences.group_by("household_id").agg(pl.col("unit_id").first()).sort("household_id")
    town_idx = units["town"].rank("dense").cast(pl.Int64).to_numpy()
    hh_town = town_idx[first_unit["unit_id"].to_numpy()]
    home_town = hh_town[people["household_id"].to_numpy()]
    tie_table = ties.build_ties(sc, stream(seed, "world", "ties"), people, jobs, home_town, start, end)
    return World(
        units=units,
        households=hh.drop("n_spouse", "n_elder", "n_child", "n_room"),
        people=people,
        residences=residences,
        jobs=jobs,
        employers=employers,
        phones=phones,
        ties=tie_table,
    )
