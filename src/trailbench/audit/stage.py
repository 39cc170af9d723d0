"""The audit stage: score every system's answers, then build the scorecard."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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


@dataclass
class Scored:
    """One system's scored answers."""

    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    cases: pl.DataFrame | None = None
    drawn: pl.DataFrame | None = None
    error_types: list[dict[str, Any]] = field(default_factory=list)
    explained: list[dict[str, Any]] = field(default_factory=list)


def score_system(
    system: str,
    run: Path,
    sc: Scenario,
    world: World,
    trails: Trails,
    docket_truth: pl.DataFrame,
    subjects: pl.DataFrame,
) -> Scored:
    out = Scored()
    loc = _answers(run, system, "locate")
    outcomes = residents = per_case = None
    tag = pl.lit(system).alias("system")
    if loc is not None:
        outcomes, residents = score_locate(loc, docket_truth, world, trails.truth_records, trails.address_register)
        chain = explain.chains(system, outcomes, world, trails.records, trails.truth_records)
        out.error_types = explain.error_types(system, outcomes)
        out.explained = explain.explained(
            system, outcomes, chain, sc.audit.explained_cases, stream(sc.seed, "audit", "explain", system)
        )
        out.frames |= {"locate": outcomes.with_columns(tag), "residents": residents.with_columns(tag), "chains": chain}
    ass = _answers(run, system, "associates")
    out.drawn = pl.DataFrame(schema={"case_id": pl.String, "person_id": pl.Int64})
    if ass is not None:
        entities, per_case, drawn = score_associates(ass, docket_truth, world, trails.truth_records)
        out.frames |= {"entities": entities.with_columns(tag), "assoc": per_case.with_columns(tag)}
        out.drawn = drawn.filter(~pl.col("person_id").is_in(docket_truth["person_id"].implode()))
    out.cases = case_table(subjects, outcomes, residents, per_case)
    return out


def audit(
    run: Path,
    sc: Scenario,
    world: World,
    trails: Trails,
    docket_truth: pl.DataFrame,
    statuses: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    subjects = subject_attributes(world, docket_truth)
    # systems are scored independently (threads: Polars releases the GIL); merged in scenario order
    with ThreadPoolExecutor(max_workers=min(4, max(1, len(sc.systems.run)))) as pool:
        scored = list(
            pool.map(lambda s: score_system(s, run, sc, world, trails, docket_truth, subjects), sc.systems.run)
        )
    frames: dict[str, list[pl.DataFrame]] = {k: [] for k in ("locate", "residents", "entities", "assoc", "chains")}
    for sc_ in scored:
        for k, df in sc_.frames.items():
            frames[k].append(df)
    cases_by_system = {s: r.cases for s, r in zip(sc.systems.run, scored, strict=True) if r.cases is not None}
    exposure = {s: r.drawn for s, r in zip(sc.systems.run, scored, strict=True) if r.drawn is not None}
    error_types = [e for r in scored for e in r.error_types]
    explained = [e for r in scored for e in r.explained]
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
