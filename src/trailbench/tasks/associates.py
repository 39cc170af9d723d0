"""``associates`` (network mapping): scoring the entities a system links to a subject.

Each entity (a set of record ids) is mapped to the true person holding a 2/3 majority of its
records (``mixed`` when none does), then classed: a true tie of the subject (by kind), ``no-tie``,
the subject's own ``duplicate``, or ``mixed``. Per case: precision, recall against the subject's
ties begun by the as-of date, false links (entities with no tie) and people drawn in (every
distinct person behind any returned record, subject excluded).
"""

from __future__ import annotations

import polars as pl

from trailbench.tasks import truth
from trailbench.tasks.declare import Metric, ScoreContext, Scored, Task
from trailbench.world import World

MAJORITY = 2 / 3


def score_associates(
    answers: pl.DataFrame, cases: pl.DataFrame, world: World, truth_records: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(entities: one row per returned entity, per_case: one row per case, drawn: case_id, person_id)."""
    rec = truth_records.select(record_id="record_id", person="person_id")
    ex = answers.select("case_id", "rank", "entity").explode("entity").rename({"entity": "record_id"})
    ex = ex.join(rec, on="record_id", how="left")
    counts = ex.group_by("case_id", "rank", "person").agg(n=pl.len())
    tot = counts.group_by("case_id", "rank").agg(total=pl.col("n").sum())
    best = counts.sort(["case_id", "rank", "n", "person"], descending=[False, False, True, False]).unique(
        ["case_id", "rank"], keep="first", maintain_order=True
    )
    ent = best.join(tot, on=["case_id", "rank"]).with_columns(share=pl.col("n") / pl.col("total"))
    ent = ent.join(cases.select("case_id", subject="person_id"), on="case_id")
    ties = truth.ties_by_as_of(world, cases)
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
            cls="cls",
            tie_kind=pl.when(pl.col("cls") == "tie").then(pl.col("kind")),
        )
        .sort("case_id", "rank")
    )
    found = ent.filter(pl.col("cls") == "tie").group_by("case_id").agg(ties_found=pl.col("majority_person").n_unique())
    n_ties = ties.group_by("case_id").agg(ties_total=pl.len())
    drawn = (
        ex.join(cases.select("case_id", subject="person_id"), on="case_id")
        .filter(pl.col("person") != pl.col("subject"))
        .select("case_id", person_id="person")
        .unique()
        .sort("case_id", "person_id")
    )
    per = (
        cases.select("case_id")
        .join(
            ent.group_by("case_id").agg(
                entities=pl.len(),
                true_ties=(pl.col("cls") == "tie").sum(),
                false_links=(pl.col("cls") == "no-tie").sum(),
                mixed=(pl.col("cls") == "mixed").sum(),
                duplicates=(pl.col("cls") == "duplicate").sum(),
            ),
            on="case_id",
            how="left",
        )
        .join(found, on="case_id", how="left")
        .join(n_ties, on="case_id", how="left")
        .join(drawn.group_by("case_id").agg(people_drawn=pl.len()), on="case_id", how="left")
    )
    per = per.with_columns(pl.exclude("case_id").fill_null(0).cast(pl.Int64)).sort("case_id")
    return ent, per, drawn


# -- the declaration -------------------------------------------------------------------------

COUNTS = ("entities", "true_ties", "false_links", "mixed", "duplicates", "ties_found", "ties_total", "people_drawn")


def score(ctx: ScoreContext, answers: pl.DataFrame | None) -> Scored:
    given = answers if answers is not None else TASK.empty_answers()
    entities, per_case, drawn = score_associates(given, ctx.docket_truth, ctx.world, ctx.trails.truth_records)
    out = Scored(per_case.select("case_id", *COUNTS))
    out.drawn = pl.DataFrame(schema={"case_id": pl.String, "person_id": pl.Int64})
    if answers is None:
        return out
    out.tables = {"associates": entities, "associates_cases": per_case}
    out.drawn = drawn.filter(~pl.col("person_id").is_in(ctx.docket_truth["person_id"].implode()))
    return out


METRICS = (
    Metric(
        "associates_precision",
        "associates",
        "true_ties",
        "entities",
        "returned entities that are a true tie of the subject",
        higher_is_better=True,
    ),
    Metric(
        "associates_recall",
        "associates",
        "ties_found",
        "ties_total",
        "the subject's ties (begun by the as-of date) found among the returned entities",
        higher_is_better=True,
    ),
    Metric(
        "false_links_per_case",
        "associates",
        "false_links",
        "cases",
        "returned entities with no tie to the subject, per case",
        unit="per_case",
        headline=True,
        short="false links /case",
    ),
    Metric(
        "people_drawn_in_per_case",
        "associates",
        "people_drawn",
        "cases",
        "distinct people behind returned records, subject excluded, per case",
        unit="per_case",
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
        "associates_cases": "one row per (system, case): entities, ties, false links and people drawn in",
    },
    explained_chain="",
)
