"""``associates`` (network mapping): scoring the people a system links to a subject.

Every returned entity (a set of record ids) is resolved to the people behind its records (a
background person outside the region, ``person_id`` below zero in the outcome tables, is one of
them). Each distinct person drawn in other than the subject is a true link if they have a tie to the subject
in force on the as-of date (a tie that ended before it is no tie), and a false link otherwise,
whether the entity was pure, mixed or a duplicate: padding entities with unrelated records only
adds false links. Precision and recall are over people. Entities are also classed (the person
holding most of their records, ``mixed`` when none holds 2/3) for the outcome table. Records
observed after the as-of date are counted as look-ahead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from trailbench.tasks import truth
from trailbench.tasks.declare import Metric, ScoreContext, Scored, Task
from trailbench.world import World

MAJORITY = 2 / 3


def score_associates(
    answers: pl.DataFrame,
    cases: pl.DataFrame,
    world: World,
    truth_records: pl.DataFrame,
    records: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(entities: one row per returned entity, per_case: one row per case, drawn: one row per
    (case, person drawn in) with the rank that first drew them and their tie)."""
    # a background person (outside the region) is a person too: numbered below zero, never tied
    person = pl.col("person_id")
    if "background_no" in truth_records.columns:
        person = pl.coalesce(person, -1 - pl.col("background_no"))
    rec = truth_records.select("record_id", person=person)
    if records is not None:
        rec = rec.join(records.select("record_id", "observed_at"), on="record_id", how="left")
    else:
        rec = rec.with_columns(observed_at=pl.lit(None, dtype=pl.Date))
    ex = answers.select("case_id", "rank", "entity").explode("entity").rename({"entity": "record_id"})
    ex = ex.drop_nulls("record_id").join(rec, on="record_id", how="left")
    ex = ex.join(cases.select("case_id", subject="person_id", as_of="as_of"), on="case_id")
    ties = truth.ties_at(world, cases)
    # entities, classed by the person holding most of their records
    counts = ex.group_by("case_id", "rank", "person").agg(n=pl.len())
    tot = counts.group_by("case_id", "rank").agg(total=pl.col("n").sum(), people=pl.col("person").n_unique())
    best = counts.sort(["case_id", "rank", "n", "person"], descending=[False, False, True, False]).unique(
        ["case_id", "rank"], keep="first", maintain_order=True
    )
    ent = best.join(tot, on=["case_id", "rank"]).with_columns(share=pl.col("n") / pl.col("total"))
    ent = ent.join(cases.select("case_id", subject="person_id"), on="case_id")
    ent = ent.join(ties.rename({"other": "person"}), on=["case_id", "person"], how="left")
    ent = (
        ent.with_columns(
            cls=pl.when(pl.col("share") < MAJORITY)
            .then(pl.lit("mixed"))
            .when(pl.col("person") == pl.col("subject"))
            .then(pl.lit("duplicate"))
            .when(pl.col("kind").is_not_null())
            .then(pl.lit("tie"))
            .otherwise(pl.lit("no-tie"))
        )
        .select(
            "case_id",
            "rank",
            majority_person="person",
            share="share",
            records="total",
            people="people",
            cls="cls",
            tie_kind=pl.when(pl.col("cls") == "tie").then(pl.col("kind")),
        )
        .sort("case_id", "rank")
    )
    # every person drawn in, by the first rank that drew them
    drawn = (
        ex.filter(pl.col("person").is_not_null() & (pl.col("person") != pl.col("subject")))
        .group_by("case_id", "person")
        .agg(first_rank=pl.col("rank").min())
        .join(ties.rename({"other": "person"}), on=["case_id", "person"], how="left")
        .select("case_id", person_id="person", first_rank="first_rank", tie=pl.col("kind").is_not_null(), kind="kind")
        .sort("case_id", "person_id")
    )
    late = ex.group_by("case_id").agg(
        n_records=pl.len(), n_lookahead=(pl.col("observed_at") > pl.col("as_of")).fill_null(False).sum()
    )
    per = (
        cases.select("case_id")
        .join(
            ent.group_by("case_id").agg(
                entities=pl.len(),
                mixed=(pl.col("cls") == "mixed").sum(),
                duplicates=(pl.col("cls") == "duplicate").sum(),
            ),
            on="case_id",
            how="left",
        )
        .join(
            drawn.group_by("case_id").agg(
                people_drawn=pl.len(), true_links=pl.col("tie").sum(), false_links=(~pl.col("tie")).sum()
            ),
            on="case_id",
            how="left",
        )
        .join(ties.group_by("case_id").agg(ties_total=pl.len()), on="case_id", how="left")
        .join(late, on="case_id", how="left")
    )
    per = per.with_columns(pl.exclude("case_id").fill_null(0).cast(pl.Int64)).with_columns(
        ties_found=pl.col("true_links")
    )
    return ent, per.sort("case_id"), drawn


def rank_curve(drawn: pl.DataFrame, n_cases: int, max_rank: int = 20) -> list[list[float]]:
    """True and false links per case when only entities ranked 1..k are kept, k = 1..max_rank."""
    first = np.minimum(drawn["first_rank"].to_numpy(), max_rank + 1)
    tie = drawn["tie"].to_numpy().astype(bool)
    true = np.cumsum(np.bincount(first[tie], minlength=max_rank + 2)[1 : max_rank + 1])
    false = np.cumsum(np.bincount(first[~tie], minlength=max_rank + 2)[1 : max_rank + 1])
    n = max(n_cases, 1)
    return [[float(k + 1), float(true[k]) / n, float(false[k]) / n] for k in range(max_rank)]


# -- the declaration -------------------------------------------------------------------------

COUNTS = (
    "entities",
    "people_drawn",
    "true_links",
    "false_links",
    "mixed",
    "duplicates",
    "ties_found",
    "ties_total",
    "n_records",
    "n_lookahead",
)


def score(ctx: ScoreContext, answers: pl.DataFrame | None) -> Scored:
    given = answers if answers is not None else TASK.empty_answers()
    tr = ctx.trails
    entities, per_case, drawn = score_associates(given, ctx.docket_truth, ctx.world, tr.truth_records, tr.records)
    out = Scored(per_case.select("case_id", *COUNTS))
    out.drawn = pl.DataFrame(schema={"case_id": pl.String, "person_id": pl.Int64})
    if answers is None:
        return out
    out.tables = {"associates": entities, "associates_cases": per_case, "associates_people": drawn}
    # exposure is a share of the region's people: background people count as false links only
    out.drawn = drawn.select("case_id", "person_id").filter(
        ~pl.col("person_id").is_in(ctx.docket_truth["person_id"].implode()) & (pl.col("person_id") >= 0)
    )
    return out


def curves(system: str, cases: pl.DataFrame, tables: Mapping[str, pl.DataFrame]) -> list[dict[str, Any]]:
    """True and false links per case by rank cutoff, over the system's cases pooled across the worlds."""
    drawn = tables.get("associates_people")
    if drawn is None:
        return []
    return [
        {
            "system": system,
            "task": "associates",
            "slice": "overall",
            "level": "all",
            "columns": ["entities kept (rank cutoff)", "true links per case", "false links per case"],
            "points": rank_curve(drawn, cases.height),
        }
    ]


METRICS = (
    Metric(
        "associates_precision",
        "associates",
        "true_links",
        "people_drawn",
        "people drawn in who have a tie to the subject in force on the as-of date",
        higher_is_better=True,
    ),
    Metric(
        "associates_recall",
        "associates",
        "ties_found",
        "ties_total",
        "the subject's ties in force on the as-of date found among the people drawn in",
        higher_is_better=True,
    ),
    Metric(
        "false_links_per_case",
        "associates",
        "false_links",
        "cases",
        "people drawn in with no tie to the subject on the as-of date, per case (whatever entity drew them)",
        unit="per_case",
        headline=True,
        short="false links",
        summary=True,
    ),
    Metric(
        "people_drawn_in_per_case",
        "associates",
        "people_drawn",
        "cases",
        "distinct people behind returned records, subject excluded, per case",
        unit="per_case",
    ),
    Metric(
        "associates_lookahead_share",
        "associates",
        "n_lookahead",
        "n_records",
        "records cited in entities that were observed after the case's as-of date",
        disparity=False,
    ),
)

TASK = Task(
    name="associates",
    description="network mapping: ranked entities (sets of record ids) linked to the subject",
    answer_schema={"case_id": pl.String(), "rank": pl.Int64(), "entity": pl.List(pl.String())},
    id_columns=("entity",),
    optional_columns={"score": pl.Float64()},  # higher = more confident; rank order when absent
    score=score,
    counts=COUNTS,
    metrics=METRICS,
    strata=("tenure", "household_form", "moved_last_year", "informal_work"),
    outcome_tables={
        "associates": "one row per returned entity: the person holding most of its records and its class",
        "associates_cases": "one row per (system, case): entities, people drawn in, true and false links",
        "associates_people": "one row per (system, case, person drawn in): the rank that drew them, their tie",
    },
    explained_chain="",
    curves=curves,
)
