"""``locate`` (skip tracing): scoring the top-ranked address against where the subject lived.

Outcomes (DESIGN §5): ``correct``; ``stale`` (a past address of the subject); ``namesake`` (the
address of another person whose records drove the answer); ``other-wrong``; ``no-such-address``
(the text resolves to no door in the register); ``no-answer``. For every answer that sends
officers to a real wrong door, the people living there on the as-of date are counted, children
apart. ``cause`` refines wrong answers from the error chain: ``stale``, ``namesake``,
``digit-error`` (the evidence carried a wrong house number), ``unit-missing`` or ``other``.
"""

from __future__ import annotations

import polars as pl

from trailbench.address import resolve
from trailbench.audit import explain
from trailbench.scenario import GROUPS
from trailbench.tasks import truth
from trailbench.tasks.declare import Metric, ScoreContext, Scored, Task, family
from trailbench.trails.errors import BIT
from trailbench.world import World

OUTCOMES = ("correct", "stale", "namesake", "other-wrong", "no-such-address", "no-answer")
WRONG_DOOR = ("stale", "namesake", "other-wrong")


def score_locate(
    answers: pl.DataFrame, cases: pl.DataFrame, world: World, truth_records: pl.DataFrame, register: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(outcomes: one row per case, residents: one row per person at each wrong door).

    ``cases`` holds the docket truth: case_id, person_id, as_of.
    """
    top = answers.sort("case_id", "rank").unique("case_id", keep="first", maintain_order=True)
    top = resolve(top.select("case_id", "address_text", "evidence"), register)
    units = world.units.select("unit_id", resolved_address="address")
    top = top.join(units, on="resolved_address", how="left").rename({"unit_id": "answered_unit"})
    base = truth.unit_at(world, cases.select("case_id", "person_id", "as_of"))
    df = base.join(top, on="case_id", how="left")
    past = truth.past_units(world, cases).with_columns(is_past=pl.lit(True))
    df = df.join(past.rename({"unit_id": "answered_unit"}), on=["case_id", "answered_unit"], how="left")
    ev = (
        df.select("case_id", "person_id", "answered_unit", "evidence")
        .explode("evidence")
        .drop_nulls("evidence")
        .join(
            truth_records.select(evidence="record_id", ev_person="person_id", ev_unit="unit_id", bits="error_bits"),
            on="evidence",
            how="left",
        )
    )
    others = truth.person_spells(world).select(ev_person="person_id", answered_unit="unit_id").unique()
    namesake = ev.filter(pl.col("ev_person") != pl.col("person_id")).join(
        others, on=["ev_person", "answered_unit"], how="semi"
    )
    flags = ev.group_by("case_id").agg(
        digit=((pl.col("bits") & int(BIT["address_digit"])) != 0).any(),
        unit_missing=((pl.col("bits") & int(BIT["unit_missing"])) != 0).any(),
        n_evidence=pl.len(),
        n_other_people=pl.col("ev_person").filter(pl.col("ev_person") != pl.col("person_id")).n_unique(),
    )
    df = df.join(namesake.select("case_id").unique().with_columns(is_namesake=pl.lit(True)), on="case_id", how="left")
    df = df.join(flags, on="case_id", how="left").with_columns(
        pl.col("is_past").fill_null(False),
        pl.col("is_namesake").fill_null(False),
        pl.col("digit").fill_null(False),
        pl.col("unit_missing").fill_null(False),
    )
    outcome = (
        pl.when(pl.col("address_text").is_null())
        .then(pl.lit("no-answer"))
        .when(pl.col("answered_unit").is_null())
        .then(pl.lit("no-such-address"))
        .when(pl.col("answered_unit") == pl.col("true_unit"))
        .then(pl.lit("correct"))
        .when(pl.col("is_past"))
        .then(pl.lit("stale"))
        .when(pl.col("is_namesake"))
        .then(pl.lit("namesake"))
        .otherwise(pl.lit("other-wrong"))
    )
    cause = (
        pl.when(pl.col("outcome").is_in(["correct", "no-answer"]))
        .then(pl.lit(None, dtype=pl.String))
        .when(pl.col("outcome").is_in(["stale", "namesake"]))
        .then(pl.col("outcome"))
        .when(pl.col("digit"))
        .then(pl.lit("digit-error"))
        .when(pl.col("unit_missing") & (pl.col("outcome") == "no-such-address"))
        .then(pl.lit("unit-missing"))
        .otherwise(pl.lit("other"))
    )
    df = df.with_columns(outcome=outcome).with_columns(cause=cause)
    doors = df.filter(pl.col("outcome").is_in(list(WRONG_DOOR))).select("case_id", "as_of", unit_id="answered_unit")
    residents = truth.residents_at(world, doors).sort("case_id", "person_id")
    counts = residents.group_by("case_id").agg(residents=pl.len(), children=pl.col("child").sum().cast(pl.Int64))
    df = df.join(counts, on="case_id", how="left").with_columns(
        pl.col("residents").fill_null(0).cast(pl.Int64), pl.col("children").fill_null(0)
    )
    df = df.join(world.units.select(true_unit="unit_id", true_address="address"), on="true_unit", how="left")
    out = df.select(
        "case_id",
        "person_id",
        "as_of",
        "true_unit",
        "true_address",
        "address_text",
        "resolved_address",
        "answered_unit",
        "outcome",
        "cause",
        "evidence",
        pl.col("n_evidence").fill_null(0),
        pl.col("n_other_people").fill_null(0),
        "residents",
        "children",
    ).sort("case_id")
    return out, residents


# -- the declaration -------------------------------------------------------------------------

CAUSES = ("stale", "namesake", "digit-error", "unit-missing", "other")
STRATA = ("tenure", "household_form", "moved_last_year", "informal_work")


def case_counts(outcomes: pl.DataFrame, residents: pl.DataFrame) -> pl.DataFrame:
    """One row per case: the outcome and cause, and every count locate's metrics are ratios of."""
    t = outcomes.select("case_id", "outcome", "cause", "residents", "children")
    t = t.with_columns(
        answered=(pl.col("outcome") != "no-answer").cast(pl.Int64),
        correct=(pl.col("outcome") == "correct").cast(pl.Int64),
        wrong_door=pl.col("outcome").is_in(list(WRONG_DOOR)).cast(pl.Int64),
        no_such=(pl.col("outcome") == "no-such-address").cast(pl.Int64),
        no_answer=(pl.col("outcome") == "no-answer").cast(pl.Int64),
        wrong_any=pl.col("outcome").is_in([*WRONG_DOOR, "no-such-address"]).cast(pl.Int64),
        **{
            f"out_{o.replace('-', '_')}": (pl.col("outcome") == o).cast(pl.Int64)
            for o in (*WRONG_DOOR, "no-such-address")
        },
        **{f"cause_{c.replace('-', '_')}": (pl.col("cause") == c).fill_null(False).cast(pl.Int64) for c in CAUSES},
    )
    by_group = pl.DataFrame({"case_id": t["case_id"]})
    for g in GROUPS:
        col = f"bystanders_{g}"
        n = residents.filter(pl.col("group") == g).group_by("case_id").agg(pl.len().cast(pl.Int64).alias(col))
        by_group = by_group.join(n, on="case_id", how="left")
    return t.join(by_group.fill_null(0), on="case_id")


def score(ctx: ScoreContext, answers: pl.DataFrame | None) -> Scored:
    given = answers if answers is not None else TASK.empty_answers()
    tr = ctx.trails
    outcomes, residents = score_locate(given, ctx.docket_truth, ctx.world, tr.truth_records, tr.address_register)
    out = Scored(case_counts(outcomes, residents))
    if answers is None:
        return out
    chain = explain.chains(ctx.system, outcomes, ctx.world, tr.records, tr.truth_records)
    out.error_types = explain.error_types(ctx.system, outcomes)
    out.explained = explain.explained(ctx.system, outcomes, chain, ctx.scenario.audit.explained_cases, ctx.rng)
    out.tables = {"locate": outcomes, "locate_residents": residents, "locate_chains": chain}
    return out


_ERROR_SHARE = Metric(
    "error_share_{}", "locate", "cause_{}", "wrong_any", "", unit="share", disparity=True, headline=False
)

METRICS = (
    Metric(
        "wrong_door_rate",
        "locate",
        "wrong_door",
        "answered",
        "answered cases whose top address is a real door where the subject did not live on the as-of date",
        headline=True,
        short="wrong doors",
    ),
    Metric(
        "correct_rate",
        "locate",
        "correct",
        "cases",
        "cases whose top address is the subject's home on the as-of date",
        higher_is_better=True,
    ),
    Metric("no_answer_rate", "locate", "no_answer", "cases", "cases with no address given"),
    Metric(
        "no_such_address_rate",
        "locate",
        "no_such",
        "answered",
        "answered cases whose top address resolves to no door in the register",
    ),
    Metric(
        "people_at_wrong_door_per_100_cases",
        "locate",
        "residents",
        "cases",
        "residents of wrong doors on the as-of date, per 100 cases",
        unit="per_100_cases",
        scale=100.0,
        headline=True,
        short="people there /100",
    ),
    Metric(
        "children_at_wrong_door_per_100_cases",
        "locate",
        "children",
        "cases",
        "residents under 18 of wrong doors, per 100 cases",
        unit="per_100_cases",
        scale=100.0,
    ),
    Metric(
        "people_per_wrong_door", "locate", "residents", "wrong_door", "residents behind each wrong door", unit="count"
    ),
    *family(
        _ERROR_SHARE,
        {
            "stale": "wrong answers that are a past address of the subject",
            "namesake": "wrong answers that are the address of another person whose records drove the answer",
            "digit-error": "wrong answers whose evidence carried a wrong house number",
            "unit-missing": "wrong answers lacking the unit of a multi-unit building",
            "other": "other wrong answers",
        },
    ),
    Metric(
        "bystanders_per_10k_residents_per_100_cases",
        "locate",
        "bystanders_{group}",
        "cases",
        "residents of the group found behind wrong doors, per 10,000 residents of the group, per 100 cases",
        unit="per_10k_residents_per_100_cases",
        scale=100.0 * 10_000,
        slices=("bystander_group",),
    ),
)

TASK = Task(
    name="locate",
    description="skip tracing: ranked addresses where the subject lives on the as-of date, with evidence",
    answer_schema={
        "case_id": pl.String(),
        "rank": pl.Int64(),
        "address_text": pl.String(),
        "evidence": pl.List(pl.String()),
    },
    id_columns=("evidence",),
    optional_columns={"score": pl.Float64()},  # higher = more confident; rank order when absent
    score=score,
    counts=(
        "residents",
        "children",
        "answered",
        "correct",
        "wrong_door",
        "no_such",
        "no_answer",
        "wrong_any",
        *(f"out_{o.replace('-', '_')}" for o in (*WRONG_DOOR, "no-such-address")),
        *(f"cause_{c.replace('-', '_')}" for c in CAUSES),
        *(f"bystanders_{g}" for g in GROUPS),
    ),
    metrics=METRICS,
    strata=STRATA,
    outcome_tables={
        "locate": "one row per (system, case): the top answer resolved and scored, its outcome and cause",
        "locate_residents": "one row per person living behind a wrong door on the as-of date",
        "locate_chains": "one row per (wrong answer, evidence record): what each record truly was",
    },
    explained_chain="the records a wrong address rests on, each as written and as it truly was",
)
