"""``colocation``: people who meet the subject, answered as entities of device identifiers.

A case of this task holds a device identifier among its clues (others weigh nothing). Each
identifier of a returned entity is resolved to the person it stands for (the one person who
carried its device in the audit window; the owner when several did). People are then scored as
``associates`` scores them, on the window's middle day: each distinct person drawn in other than
the subject is a true link if they have a tie to the subject in force, a false link otherwise,
whatever entity drew them. False links are classed, first that applies: ``household`` (the same
household, no tie), ``neighbour`` (the same building), ``coworker-same-shift`` (the same employer
and usual shift), ``coworker``, ``stranger`` (say, met at the same shop). Recall is over the
*met* ties: ties in force whose person shared a location with the subject at the same time in
the window (per the stays); a tie who never met them is not a co-location to find.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from trailbench.tasks import pattern_truth as pt
from trailbench.tasks import truth
from trailbench.tasks.associates import score_associates
from trailbench.tasks.declare import Metric, ScoreContext, Scored, Task

FALSE_CLASSES = ("household", "neighbour", "coworker-same-shift", "coworker", "stranger")

COUNTS: tuple[str, ...] = (
    "colocation_cases",
    "co_answered",
    "co_entities",
    "co_mixed",
    "co_people_drawn",
    "co_true_links",
    "co_false_links",
    "co_false_met",
    "co_household",
    "co_neighbours",
    "co_coworkers",
    "co_coworkers_same_shift",
    "co_strangers",
    "co_ties_found",
    "co_ties_total",
)


def _zero_counts(cases: pl.DataFrame) -> pl.DataFrame:
    return pt.zero_counts(cases, COUNTS, "colocation_cases")


def score_colocation(
    ctx: ScoreContext, cases: pl.DataFrame, answers: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(entities: one row per returned entity, as associates classes them; people: one row per
    (device case, person drawn in) with the first rank that drew them, tie, class and minutes met;
    per_case: entities, mixed, met ties and met ties found)."""
    sig = ctx.signals
    assert sig is not None
    dc = cases.filter(pl.col("device_case") == 1)
    ids = pt.identifier_people(sig)
    # identifiers as the records associates resolves: each stands for one person
    as_records = ids.select(record_id="identifier", person_id="person")
    given = answers.join(dc.select("case_id"), on="case_id", how="semi").select(
        "case_id", "rank", pl.col("entity").cast(pl.List(pl.String))
    )
    entities, per, drawn = score_associates(given, dc.select("case_id", "person_id", "as_of"), ctx.world, as_records)
    pairs = drawn.select("case_id", other="person_id").join(dc.select("case_id", "person_id", "as_of"), on="case_id")
    rel = pt.relations(ctx.world, sig, pairs)
    # the met ties: ties in force on the middle day whose person met the subject in the window
    ties = truth.ties_at(ctx.world, dc.select("case_id", "person_id", "as_of"))
    tie_pairs = ties.join(dc.select("case_id", "person_id"), on="case_id").select("case_id", "person_id", "other")
    met_all = pt.meetings(sig, pl.concat([tie_pairs, pairs.select("case_id", "person_id", "other")]).unique())
    met_ties = tie_pairs.join(met_all.filter(pl.col("met_minutes") > 0), on=["case_id", "other"], how="semi")
    cls = (
        pl.when(pl.col("tie"))
        .then(pl.lit("tie"))
        .when(pl.col("household"))
        .then(pl.lit("household"))
        .when(pl.col("neighbour"))
        .then(pl.lit("neighbour"))
        .when(pl.col("coworker") & pl.col("same_shift"))
        .then(pl.lit("coworker-same-shift"))
        .when(pl.col("coworker"))
        .then(pl.lit("coworker"))
        .otherwise(pl.lit("stranger"))
    )
    people = (
        drawn.join(
            rel.select(
                "case_id",
                person_id="other",
                household="household",
                neighbour="neighbour",
                coworker="coworker",
                same_shift="same_shift",
            ),
            on=["case_id", "person_id"],
            how="left",
        )
        .join(met_all.rename({"other": "person_id"}), on=["case_id", "person_id"], how="left")
        .join(
            met_ties.select("case_id", person_id="other", met_tie=pl.lit(True)), on=["case_id", "person_id"], how="left"
        )
        .with_columns(
            cls=cls, met_tie=pl.col("met_tie").fill_null(False), met_minutes=pl.col("met_minutes").fill_null(0)
        )
        .select(
            "case_id",
            "person_id",
            "first_rank",
            "tie",
            tie_kind="kind",
            cls="cls",
            met_minutes="met_minutes",
            met_at="met_at",
            met_tie="met_tie",
        )
        .sort("case_id", "person_id")
    )
    per = (
        dc.select("case_id")
        .join(per.select("case_id", co_entities="entities", co_mixed="mixed"), on="case_id", how="left")
        .join(met_ties.group_by("case_id").agg(co_ties_total=pl.len()), on="case_id", how="left")
        .join(people.filter("met_tie").group_by("case_id").agg(co_ties_found=pl.len()), on="case_id", how="left")
        .with_columns(pl.exclude("case_id").fill_null(0).cast(pl.Int64))
    )
    return entities, people, per


def case_counts(cases: pl.DataFrame, people: pl.DataFrame, per: pl.DataFrame, answered: pl.DataFrame) -> pl.DataFrame:
    """One row per docket case (0 for cases without a device clue)."""
    c = pl.col("cls")
    agg = people.group_by("case_id").agg(
        co_people_drawn=pl.len(),
        co_true_links=pl.col("tie").sum(),
        co_false_links=(~pl.col("tie")).sum(),
        co_false_met=(~pl.col("tie") & (pl.col("met_minutes") > 0)).sum(),
        co_household=(c == "household").sum(),
        co_neighbours=(c == "neighbour").sum(),
        co_coworkers=c.is_in(["coworker", "coworker-same-shift"]).sum(),
        co_coworkers_same_shift=(c == "coworker-same-shift").sum(),
        co_strangers=(c == "stranger").sum(),
    )
    out = (
        _zero_counts(cases)
        .select("case_id", "colocation_cases")
        .join(answered.with_columns(co_answered=pl.lit(1)), on="case_id", how="left")
        .join(agg, on="case_id", how="left")
        .join(per, on="case_id", how="left")
    )
    return out.select("case_id", *(pl.col(k).fill_null(0).cast(pl.Int64) for k in COUNTS)).sort("case_id")


def explained(ctx: ScoreContext, people: pl.DataFrame) -> list[dict[str, Any]]:
    """A few false links per class, each with its chain."""
    wrong = people.filter(~pl.col("tie")).with_columns(cause=pl.col("cls"))
    out = []
    for cause, case_id in pt.pick_explained(wrong, ctx.scenario.audit.explained_cases, ctx.rng):
        row = (
            wrong.filter((pl.col("case_id") == case_id) & (pl.col("cause") == cause))
            .sort("first_rank")
            .row(0, named=True)
        )
        who = {
            "household": "a member of the subject's household with no tie to them",
            "neighbour": "a neighbour: someone living in the subject's building",
            "coworker-same-shift": "a coworker on the subject's shift",
            "coworker": "a coworker on another shift",
            "stranger": "someone with no tie to the subject, not a neighbour nor a coworker",
        }[cause]
        met = row["met_minutes"] or 0
        chain: list[dict[str, Any]] = [
            {"step": "person drawn in", "value": f"by the entity ranked {row['first_rank']}"},
            {"step": "who they are", "value": who},
            {
                "step": "time with the subject in the window",
                "value": f"{met} minutes at the same place"
                + (f" (mostly: {row['met_at']})" if met else "; they never met"),
            },
        ]
        out.append(
            {
                "system": ctx.system,
                "task": "colocation",
                "case_id": case_id,
                "outcome": "false-link",
                "cause": cause,
                "chain": pt.plain(chain),
            }
        )
    return out


def score(ctx: ScoreContext, answers: pl.DataFrame | None) -> Scored:
    cases = pt.task_cases(ctx)
    empty = pl.DataFrame(schema={"case_id": pl.String, "person_id": pl.Int64})
    if answers is None or ctx.signals is None:
        return Scored(_zero_counts(cases), drawn=empty)
    entities, people, per = score_colocation(ctx, cases, answers)
    answered = entities.select("case_id").unique()
    out = Scored(case_counts(cases, people, per, answered))
    out.tables = {"colocation": entities, "colocation_people": people}
    out.drawn = people.select("case_id", "person_id").filter(
        ~pl.col("person_id").is_in(ctx.docket_truth["person_id"].implode())
    )
    out.error_types = pt.error_types(ctx.system, "colocation", people.filter(~pl.col("tie"))["cls"])
    out.explained = explained(ctx, people)
    return out


# -- the declaration -------------------------------------------------------------------------

_DEV = "per device-clue case"

METRICS = (
    Metric(
        "colocation_precision",
        "colocation",
        "co_true_links",
        "co_people_drawn",
        "people drawn in who have a tie to the subject in force on the audit window's middle day",
        higher_is_better=True,
    ),
    Metric(
        "colocation_recall",
        "colocation",
        "co_ties_found",
        "co_ties_total",
        "met ties found: of the subject's ties in force on the window's middle day who met them in the window "
        "(the same location at the same time, per the stays), those drawn in",
        higher_is_better=True,
    ),
    Metric(
        "colocation_false_links_per_case",
        "colocation",
        "co_false_links",
        "colocation_cases",
        f"people drawn in with no tie to the subject, {_DEV} (whatever entity drew them)",
        unit="per_case",
        headline=True,
        summary=True,
        short="false meets",
    ),
    Metric(
        "colocation_people_drawn_per_case",
        "colocation",
        "co_people_drawn",
        "colocation_cases",
        f"distinct people behind returned identifiers, subject excluded, {_DEV}",
        unit="per_case",
    ),
    Metric(
        "household_no_tie_drawn_per_case",
        "colocation",
        "co_household",
        "colocation_cases",
        f"false links who live in the subject's household (no tie), {_DEV}",
        unit="per_case",
    ),
    Metric(
        "neighbours_drawn_per_case",
        "colocation",
        "co_neighbours",
        "colocation_cases",
        f"false links who live in the subject's building, {_DEV}",
        unit="per_case",
        headline=True,  # the harm dense buildings carry (equal_building_density attributes it)
        short="neighbours drawn in",
    ),
    Metric(
        "coworkers_drawn_per_case",
        "colocation",
        "co_coworkers",
        "colocation_cases",
        f"false links who work for the subject's employer, {_DEV}",
        unit="per_case",
    ),
    Metric(
        "same_shift_coworkers_drawn_per_case",
        "colocation",
        "co_coworkers_same_shift",
        "colocation_cases",
        f"of them, those on the subject's usual shift, {_DEV}",
        unit="per_case",
    ),
    Metric(
        "strangers_drawn_per_case",
        "colocation",
        "co_strangers",
        "colocation_cases",
        f"false links unrelated to the subject (no tie, household, building or employer in common), {_DEV}",
        unit="per_case",
    ),
    Metric(
        "colocation_false_links_met_share",
        "colocation",
        "co_false_met",
        "co_false_links",
        "false links who did share a location with the subject at the same time in the window: a real "
        "co-location, no relationship",
        disparity=False,
    ),
    Metric(
        "colocation_answered_rate",
        "colocation",
        "co_answered",
        "colocation_cases",
        "device-clue cases given any entity (coverage)",
        higher_is_better=True,
    ),
)

TASK = Task(
    name="colocation",
    description="co-location: ranked entities (sets of device identifiers: one person as the system sees them) "
    "who met the subject in the audit window",
    answer_schema={"case_id": pl.String(), "rank": pl.Int64(), "entity": pl.List(pl.String())},
    id_columns=("entity",),
    id_space="devices",
    optional_columns={"score": pl.Float64()},
    score=score,
    counts=COUNTS,
    metrics=METRICS,
    strata=pt.STRATA,
    outcome_tables={
        "colocation": "one row per (system, device-clue case, returned entity): the person holding most of its "
        "identifiers and its class (tie, no-tie, duplicate of the subject, mixed)",
        "colocation_people": "one row per (system, device-clue case, person drawn in): the rank that first drew "
        "them, their tie, class (tie, household, neighbour, coworker-same-shift, coworker, stranger) and minutes "
        "spent with the subject in the audit window",
    },
    explained_chain="the person a false link draws in, how they relate to the subject and how long they spent "
    "with them in the audit window",
)
