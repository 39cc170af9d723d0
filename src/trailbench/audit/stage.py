"""The audit stage: score every system's answers, then build the scorecard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from trailbench.audit import explain
from trailbench.audit.cases import case_table, subject_attributes
from trailbench.audit.scorecard import build_scorecard
from trailbench.io import write_json, write_parquet
from trailbench.rng import stream
from trailbench.scenario import Scenario
from trailbench.tasks.associates import score_associates
from trailbench.tasks.locate import score_locate
from trailbench.trails import Trails
from trailbench.world import World


def _answers(run: Path, system: str, task: str) -> pl.DataFrame | None:
    path = run / "answers" / system / f"{task}.parquet"
    return pl.read_parquet(path) if path.exists() else None


def audit(
    run: Path,
    sc: Scenario,
    world: World,
    trails: Trails,
    docket_truth: pl.DataFrame,
    statuses: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    subjects = subject_attributes(world, docket_truth)
    frames: dict[str, list[pl.DataFrame]] = {k: [] for k in ("locate", "residents", "entities", "assoc", "chains")}
    cases_by_system: dict[str, pl.DataFrame] = {}
    exposure: dict[str, pl.DataFrame] = {}
    error_types: list[dict[str, Any]] = []
    explained: list[dict[str, Any]] = []
    docket_people = docket_truth["person_id"]
    for system in sc.systems.run:
        loc = _answers(run, system, "locate")
        outcomes = residents = per_case = None
        if loc is not None:
            outcomes, residents = score_locate(loc, docket_truth, world, trails.truth_records, trails.address_register)
            chain = explain.chains(system, outcomes, world, trails.records, trails.truth_records)
            error_types += explain.error_types(system, outcomes)
            explained += explain.explained(
                system, outcomes, chain, sc.audit.explained_cases, stream(sc.seed, "audit", "explain", system)
            )
            frames["locate"].append(outcomes.with_columns(system=pl.lit(system)))
            frames["residents"].append(residents.with_columns(system=pl.lit(system)))
            frames["chains"].append(chain)
        ass = _answers(run, system, "associates")
        if ass is not None:
            entities, per_case, drawn = score_associates(ass, docket_truth, world, trails.truth_records)
            frames["entities"].append(entities.with_columns(system=pl.lit(system)))
            frames["assoc"].append(per_case.with_columns(system=pl.lit(system)))
            exposure[system] = drawn.filter(~pl.col("person_id").is_in(docket_people.implode()))
        else:
            exposure[system] = pl.DataFrame(schema={"case_id": pl.String, "person_id": pl.Int64})
        cases_by_system[system] = case_table(subjects, outcomes, residents, per_case)
    names = {
        "locate": "locate",
        "residents": "locate_residents",
        "entities": "associates",
        "assoc": "associates_cases",
        "chains": "locate_chains",
    }
    for key, parts in frames.items():
        if parts:
            df = pl.concat(parts, how="diagonal_relaxed")
            write_parquet(
                df.select("system", *[c for c in df.columns if c != "system"]),
                run / "outcomes" / f"{names[key]}.parquet",
            )
    cases = pl.concat([t.with_columns(system=pl.lit(s)) for s, t in cases_by_system.items()])
    write_parquet(cases, run / "outcomes" / "cases.parquet")
    card = build_scorecard(sc, cases_by_system, statuses, world.people, exposure, error_types, explained)
    write_json(card, run / "scorecard.json")
    return card
