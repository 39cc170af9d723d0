"""``locate`` (skip tracing): scoring the top-ranked address against where the subject lived.

Outcomes (DESIGN §5–6), a partition of all docket cases: ``correct``; ``building`` (the subject's
building named without its unit: officers knock on doors to find them); the wrong doors ``stale``
(a past home of the subject), ``namesake`` (where a person sharing the subject's name, or a
variant of it, lived) and ``other-wrong``; ``no-such-address``; ``no-answer``. A multi-unit
building named without a unit that is not the subject's is a wrong door too.

``cause`` comes from what the answered door truly is, never from the evidence a system lists:
``stale``, ``namesake``, ``digit-error`` (one digit away from a true or past address of the
subject), ``unit-missing`` (a building named without its unit), or ``other``.

People at the door: the residents of a wrong unit on the as-of date (children apart). For a
building named without a unit, officers go to the building and knock: each resident of the
building counts for 1/k, k being its occupied units (the expected household behind one door),
the subject's own household left out when it lives there. Evidence observed after the as-of
date is counted as look-ahead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from trailbench.address import building_key, key_expr, resolve
from trailbench.audit import explain
from trailbench.scenario import GROUPS
from trailbench.tasks import truth
from trailbench.tasks.declare import Metric, ScoreContext, Scored, Task, family
from trailbench.trails import background as bg_truth
from trailbench.world import World

OUTCOMES = ("correct", "building", "stale", "namesake", "other-wrong", "no-such-address", "no-answer")
WRONG_DOOR = ("stale", "namesake", "other-wrong")


def _units(world: World) -> pl.DataFrame:
    return world.units.select(
        "unit_id",
        "building_id",
        "address",
        bkey=building_key(pl.col("number"), pl.col("street"), pl.col("town")),
    )


def _digit_cause(df: pl.DataFrame, world: World, cases: pl.DataFrame) -> pl.DataFrame:
    """case_id of answers one digit away from a true or past address of the subject (compared as
    register text for resolved doors, as resolution keys for texts that resolve to nothing)."""
    homes = (
        truth.person_spells(world)
        .join(cases.select("case_id", "person_id", "as_of"), on="person_id")
        .filter(pl.col("start") <= pl.col("as_of"))
        .join(world.units.select("unit_id", "address"), on="unit_id")
        .select("case_id", home="address")
        .unique()
    )
    cand = (
        df.filter(pl.col("outcome").is_in([*WRONG_DOOR, "no-such-address"]))
        .select("case_id", "address_text", "answered_address")
        .join(homes, on="case_id")
        .with_columns(a_key=key_expr(pl.col("address_text")), h_key=key_expr(pl.col("home")))
    )
    hit = [
        r["case_id"]
        for r in cand.iter_rows(named=True)
        if truth.one_digit_apart(r["answered_address"], r["home"]) or truth.one_digit_apart(r["a_key"], r["h_key"])
    ]
    return pl.DataFrame({"case_id": sorted(set(hit))}, schema={"case_id": pl.String})


def _background_doors(df: pl.DataFrame, world: World, background: pl.DataFrame | None) -> pl.DataFrame:
    """Answers that name no door of the region but a background person's address (now or before
    their move): case_id, ``bg_namesake`` (someone who lives or lived there shares the subject's
    name, or a variant of it) and ``bg_residents`` (the group of each person living there now)."""
    schema: dict[str, pl.DataType] = {
        "case_id": pl.String(),
        "bg_namesake": pl.Boolean(),
        "bg_residents": pl.List(pl.String),
    }
    if background is None or background.is_empty():
        return pl.DataFrame(schema=schema)
    asked = df.filter(pl.col("outcome") == "no-such-address").select("case_id", "person_id", "address_text")
    if asked.is_empty():
        return pl.DataFrame(schema=schema)
    asked = asked.with_columns(door=bg_truth.door_keys(asked["address_text"]))
    doors = pl.concat(
        [
            background.select(
                "background_no", "group", door=bg_truth.door_keys(background["address"]), now=pl.lit(True)
            ),
            background.select(
                "background_no", "group", door=bg_truth.door_keys(background["prev_address"]), now=pl.lit(False)
            ),
        ]
    ).drop_nulls("door")
    at = asked.join(doors.filter(pl.col("door").is_in(asked["door"].implode())), on="door")
    subject = truth.name_keys(world.people.select("person_id", "given", "surname"))
    theirs = truth.name_keys(background.select(person_id="background_no", given="given", surname="surname"))
    named = (
        at.join(subject, on="person_id")
        .join(theirs.rename({"person_id": "background_no"}), on=["background_no", "gkey", "skey"])
        .select("case_id")
        .unique()
        .with_columns(bg_namesake=pl.lit(True))
    )
    return (
        at.group_by("case_id")
        .agg(bg_residents=pl.col("group").filter(pl.col("now")))
        .join(named, on="case_id", how="left")
        .select("case_id", pl.col("bg_namesake").fill_null(False), "bg_residents")
        .sort("case_id")
    )


def score_locate(
    answers: pl.DataFrame,
    cases: pl.DataFrame,
    world: World,
    truth_records: pl.DataFrame,
    register: pl.DataFrame,
    records: pl.DataFrame | None = None,
    background: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(outcomes: one row per case, residents: one row per person at each wrong door, weighted).

    ``cases`` holds the docket truth: case_id, person_id, as_of. ``records`` (record_id,
    observed_at) lets evidence seen after the as-of date be counted as look-ahead.
    ``background``: the background people the broker's file holds (``truth/background.parquet``);
    an answer at one of their addresses is a wrong door outside the region."""
    if "score" not in answers.columns:
        answers = answers.with_columns(score=pl.lit(None, dtype=pl.Float64))
    top = answers.sort("case_id", "rank").unique("case_id", keep="first", maintain_order=True)
    top = resolve(top.select("case_id", "address_text", "evidence", "score"), register)
    units = _units(world)
    top = top.join(
        units.select(resolved_address="address", answered_unit="unit_id", unit_building="building_id"),
        on="resolved_address",
        how="left",
    )
    buildings = units.group_by("bkey").agg(pl.col("building_id").first(), n_units=pl.len())
    top = top.join(
        buildings.select(resolved_building="bkey", named_building="building_id", n_units="n_units"),
        on="resolved_building",
        how="left",
    ).with_columns(
        answered_building=pl.when(pl.col("answered_unit").is_null() & (pl.col("n_units") > 1)).then(
            pl.col("named_building")
        )
    )
    base = truth.unit_at(world, cases.select("case_id", "person_id", "as_of"))
    base = base.join(units.select(true_unit="unit_id", true_building="building_id"), on="true_unit", how="left")
    df = base.join(top, on="case_id", how="left")
    asks = cases.select("case_id", "person_id", "as_of")
    past = truth.past_units(world, cases).join(units.select("unit_id", "building_id"), on="unit_id")
    pairs = truth.namesakes(world, asks).join(asks.select("case_id", "as_of"), on="case_id")
    named = truth.units_lived_by_others(world, pairs).join(units.select("unit_id", "building_id"), on="unit_id")
    flags = [
        (past.select("case_id", answered_unit="unit_id"), "past_unit"),
        (past.select("case_id", answered_building="building_id").unique(), "past_building"),
        (named.select("case_id", answered_unit="unit_id"), "namesake_unit"),
        (named.select("case_id", answered_building="building_id").unique(), "namesake_building"),
    ]
    for frame, name in flags:
        key = frame.columns[1]
        df = df.join(frame.unique().with_columns(pl.lit(True).alias(name)), on=["case_id", key], how="left")
        df = df.with_columns(pl.col(name).fill_null(False))
    unit, bld = pl.col("answered_unit").is_not_null(), pl.col("answered_building").is_not_null()
    outcome = (
        pl.when(pl.col("address_text").is_null())
        .then(pl.lit("no-answer"))
        .when(unit & (pl.col("answered_unit") == pl.col("true_unit")))
        .then(pl.lit("correct"))
        .when(bld & (pl.col("answered_building") == pl.col("true_building")))
        .then(pl.lit("building"))
        .when((unit & pl.col("past_unit")) | (bld & pl.col("past_building")))
        .then(pl.lit("stale"))
        .when((unit & pl.col("namesake_unit")) | (bld & pl.col("namesake_building")))
        .then(pl.lit("namesake"))
        .when(unit | bld)
        .then(pl.lit("other-wrong"))
        .otherwise(pl.lit("no-such-address"))
    )
    df = df.with_columns(outcome=outcome, answered_address=pl.col("resolved_address"))
    away = _background_doors(df, world, background)
    df = df.join(away.select("case_id", "bg_namesake"), on="case_id", how="left").with_columns(
        outcome=pl.when(pl.col("bg_namesake").is_not_null())
        .then(pl.when(pl.col("bg_namesake")).then(pl.lit("namesake")).otherwise(pl.lit("other-wrong")))
        .otherwise(pl.col("outcome")),
        answered_background=pl.col("bg_namesake").is_not_null(),
    )
    digit = _digit_cause(df, world, cases)
    df = df.join(digit.with_columns(digit=pl.lit(True)), on="case_id", how="left").with_columns(
        pl.col("digit").fill_null(False)
    )
    cause = (
        pl.when(pl.col("outcome").is_in(["correct", "building", "no-answer"]))
        .then(pl.lit(None, dtype=pl.String))
        .when(pl.col("outcome").is_in(["stale", "namesake"]))
        .then(pl.col("outcome"))
        .when(pl.col("digit"))
        .then(pl.lit("digit-error"))
        .when(bld)
        .then(pl.lit("unit-missing"))
        .otherwise(pl.lit("other"))
    )
    df = df.with_columns(cause=cause)
    # people at the door
    doors = df.filter(pl.col("outcome").is_in(list(WRONG_DOOR)) & unit).select(
        "case_id", "as_of", unit_id="answered_unit"
    )
    at_units = truth.residents_at(world, doors).with_columns(weight=pl.lit(1.0))
    at_buildings = truth.building_residents(
        world,
        df.filter(bld & pl.col("outcome").is_in([*WRONG_DOOR, "building"])).select(
            "case_id",
            "as_of",
            building_id="answered_building",
            own_unit=pl.when(pl.col("outcome") == "building").then(pl.col("true_unit")),
        ),
    )
    at_away = away.explode("bg_residents").drop_nulls("bg_residents").rename({"bg_residents": "group"})
    residents = pl.concat(
        [
            at_units.select("case_id", "person_id", "group", "child", "weight"),
            at_buildings.select("case_id", "person_id", "group", "child", "weight"),
            at_away.select(
                "case_id",
                person_id=pl.lit(None, dtype=pl.Int64),
                group="group",
                child=pl.lit(False),
                weight=pl.lit(1.0),
            ),
        ]
    ).sort("case_id", "person_id")
    counts = residents.group_by("case_id").agg(
        residents=pl.col("weight").sum(), children=(pl.col("weight") * pl.col("child").cast(pl.Float64)).sum()
    )
    df = df.join(counts, on="case_id", how="left").with_columns(
        pl.col("residents").fill_null(0.0), pl.col("children").fill_null(0.0)
    )
    # evidence: how much of it, and how much was observed after the as-of date (look-ahead)
    ev = df.select("case_id", "as_of", "evidence").explode("evidence").drop_nulls("evidence")
    if records is not None:
        ev = ev.join(records.select(evidence="record_id", observed_at="observed_at"), on="evidence", how="left")
        late = (pl.col("observed_at") > pl.col("as_of")).fill_null(False)
    else:
        late = pl.lit(False)
    ev_counts = ev.group_by("case_id").agg(n_evidence=pl.len(), n_lookahead=late.sum().cast(pl.Int64))
    df = df.join(ev_counts, on="case_id", how="left").with_columns(
        pl.col("n_evidence").fill_null(0).cast(pl.Int64), pl.col("n_lookahead").fill_null(0).cast(pl.Int64)
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
        "resolved_building",
        "answered_unit",
        "answered_building",
        "score",
        "outcome",
        "cause",
        "answered_background",
        "evidence",
        "n_evidence",
        "n_lookahead",
        "residents",
        "children",
    ).sort("case_id")
    return out, residents


# -- the declaration -------------------------------------------------------------------------

CAUSES = ("stale", "namesake", "digit-error", "unit-missing", "other")
STRATA = ("tenure", "household_form", "moved_last_year", "informal_work")


def case_counts(outcomes: pl.DataFrame, residents: pl.DataFrame) -> pl.DataFrame:
    """One row per case: the outcome and cause, and every count locate's metrics are ratios of.
    ``locate_score`` is the top answer's score (0 when the system gave none; null when it did
    not answer), which the operating-point metric sweeps."""
    if "weight" not in residents.columns:
        residents = residents.with_columns(weight=pl.lit(1.0))
    for col in ("score", "n_evidence", "n_lookahead"):
        if col not in outcomes.columns:
            outcomes = outcomes.with_columns(pl.lit(None if col == "score" else 0).alias(col))
    t = outcomes.select(
        "case_id",
        "outcome",
        "cause",
        pl.col("residents").cast(pl.Float64),
        pl.col("children").cast(pl.Float64),
        locate_score=pl.when(pl.col("outcome") != "no-answer").then(pl.col("score").cast(pl.Float64).fill_null(0.0)),
        n_evidence=pl.col("n_evidence").cast(pl.Int64),
        n_lookahead=pl.col("n_lookahead").cast(pl.Int64),
    )
    t = t.with_columns(
        answered=(pl.col("outcome") != "no-answer").cast(pl.Int64),
        correct=(pl.col("outcome") == "correct").cast(pl.Int64),
        building=(pl.col("outcome") == "building").cast(pl.Int64),
        wrong_door=pl.col("outcome").is_in(list(WRONG_DOOR)).cast(pl.Int64),
        doors_knocked=pl.col("outcome").is_in([*WRONG_DOOR, "building"]).cast(pl.Int64),
        no_such=(pl.col("outcome") == "no-such-address").cast(pl.Int64),
        no_answer=(pl.col("outcome") == "no-answer").cast(pl.Int64),
        wrong_any=pl.col("outcome").is_in([*WRONG_DOOR, "no-such-address"]).cast(pl.Int64),
        **{f"cause_{c.replace('-', '_')}": (pl.col("cause") == c).fill_null(False).cast(pl.Int64) for c in CAUSES},
    )
    by_group = pl.DataFrame({"case_id": t["case_id"]})
    for g in GROUPS:
        col = f"bystanders_{g}"
        n = residents.filter(pl.col("group") == g).group_by("case_id").agg(pl.col("weight").sum().alias(col))
        by_group = by_group.join(n, on="case_id", how="left")
    return t.join(by_group.fill_null(0.0), on="case_id")


def score(ctx: ScoreContext, answers: pl.DataFrame | None) -> Scored:
    given = answers if answers is not None else TASK.empty_answers()
    tr = ctx.trails
    outcomes, residents = score_locate(
        given, ctx.docket_truth, ctx.world, tr.truth_records, tr.address_register, tr.records, tr.background
    )
    out = Scored(case_counts(outcomes, residents))
    if answers is None:
        return out
    chain = explain.chains(ctx.system, outcomes, ctx.world, tr.records, tr.truth_records)
    out.error_types = explain.error_types(ctx.system, outcomes)
    out.explained = explain.explained(ctx.system, outcomes, chain, ctx.scenario.audit.explained_cases, ctx.rng)
    out.tables = {"locate": outcomes, "locate_residents": residents, "locate_chains": chain}
    return out


def curves(system: str, cases: pl.DataFrame, tables: Mapping[str, pl.DataFrame]) -> list[dict[str, Any]]:
    """Correct rate against wrong doors per 100 cases as the score threshold falls, overall and by
    group, over the system's cases pooled across the worlds (none if it never answered)."""
    if "locate" not in tables:
        return []
    score = cases["locate_score"].cast(pl.Float64).to_numpy()
    correct, wrong = cases["correct"].to_numpy(), cases["wrong_door"].to_numpy()
    group = cases["group"].to_numpy()
    slices = [("overall", "all", np.ones(len(group), dtype=bool))]
    slices += [("group", g, group == g) for g in GROUPS if (group == g).any()]
    return [
        {
            "system": system,
            "task": "locate",
            "slice": kind,
            "level": level,
            "columns": ["score threshold", "correct rate", "wrong doors per 100 cases"],
            "points": tradeoff_curve(score[mask], correct[mask], wrong[mask]),
        }
        for kind, level, mask in slices
    ]


def tradeoff_curve(score: np.ndarray, correct: np.ndarray, wrong: np.ndarray, points: int = 60) -> list[list[float]]:
    """Correct rate against wrong doors per 100 cases as the score threshold falls (the system
    abstaining below it), from answering nothing to answering everything; at most ``points``.
    ``score`` is NaN for cases not answered."""
    n = len(score)
    answered = ~np.isnan(score)
    order = np.argsort(-np.where(answered, score, -np.inf), kind="stable")[: int(answered.sum())]
    s = score[order]
    curve = [[float("inf"), 0.0, 0.0]]
    if n == 0 or len(s) == 0:
        return curve
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
    hit = np.cumsum(correct[order])[ends] / n
    miss = np.cumsum(wrong[order])[ends] * 100.0 / n
    keep = np.unique(np.linspace(0, len(ends) - 1, min(points, len(ends))).round().astype(int))
    curve += [[round(float(s[ends[i]]), 6), round(float(hit[i]), 6), round(float(miss[i]), 6)] for i in keep]
    return curve


_ERROR_SHARE = Metric(
    "error_share_{}", "locate", "cause_{}", "wrong_any", "", unit="share", disparity=True, headline=False
)

METRICS = (
    Metric(
        "located_within_budget",
        "locate",
        "correct",
        "cases",
        "cases answered correctly at the score threshold that keeps wrong doors within the budget "
        "(audit.wrong_door_budget per 100 cases; the system abstains below the threshold); the threshold is "
        "chosen on all cases and applied to every group",
        higher_is_better=True,
        headline=True,
        short="in budget",
        summary=True,
        kind="budget",
        budget_count="wrong_door",
        score_column="locate_score",
    ),
    Metric(
        "correct_rate",
        "locate",
        "correct",
        "cases",
        "cases whose top address is the subject's home on the as-of date",
        higher_is_better=True,
        headline=True,
        short="correct",
        summary=True,
    ),
    Metric(
        "wrong_door_rate",
        "locate",
        "wrong_door",
        "cases",
        "cases whose top address is a real door (or a multi-unit building) where the subject did not live on "
        "the as-of date",
        headline=True,
        short="wrong doors",
        summary=True,
    ),
    Metric(
        "building_only_rate",
        "locate",
        "building",
        "cases",
        "cases answered with the subject's building but not its unit (officers knock on doors to find them)",
    ),
    Metric(
        "no_such_address_rate", "locate", "no_such", "cases", "cases whose top address resolves to no door or building"
    ),
    Metric("no_answer_rate", "locate", "no_answer", "cases", "cases with no address given"),
    Metric(
        "people_at_wrong_door_per_100_cases",
        "locate",
        "residents",
        "cases",
        "residents behind the doors officers knock on wrongly, on the as-of date, per 100 cases (a building named "
        "without its unit counts the expected household behind one of its doors)",
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
        "of them, residents under 18, per 100 cases",
        unit="per_100_cases",
        scale=100.0,
    ),
    Metric(
        "people_per_door_knocked",
        "locate",
        "residents",
        "doors_knocked",
        "residents behind each wrong door or building knocked on",
        unit="count",
    ),
    *family(
        _ERROR_SHARE,
        {
            "stale": "wrong answers that are a past home of the subject",
            "namesake": "wrong answers that are where a person sharing the subject's name (or a variant) lived",
            "digit-error": "wrong answers one digit away from a true or past address of the subject",
            "unit-missing": "wrong answers naming a multi-unit building without its unit",
            "other": "other wrong answers",
        },
    ),
    Metric(
        "lookahead_share",
        "locate",
        "n_lookahead",
        "n_evidence",
        "evidence records cited that were observed after the case's as-of date (the contract forbids them)",
        disparity=False,
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
        "building",
        "wrong_door",
        "doors_knocked",
        "no_such",
        "no_answer",
        "wrong_any",
        "n_evidence",
        "n_lookahead",
        "locate_score",
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
    curves=curves,
    explained_chain="the records a wrong address rests on, each as written and as it truly was",
)
