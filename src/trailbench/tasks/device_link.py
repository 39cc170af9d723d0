"""``device_link``: the device identifiers (advertising IDs, Wi-Fi MACs) that belong to the subject.

A case of this task holds a device identifier among its clues (others weigh nothing). Each
returned identifier is resolved through the truth to its device, the device's owner and the
person it stands for (the one person who carried it in the audit window; its owner when several
did). It belongs to the subject when the subject owns the device or carried it in the window
(a shared family phone belongs to everyone who carried it). The clue itself is left out of both
sides: returning it earns nothing, and it is not among the identifiers to find.

The identifiers to find (recall's denominator) are those of devices the subject owned or carried
that systems could see in the window: advertising IDs with pings and MACs in the Wi-Fi sightings.
An identifier of someone else is classed by how that person relates to the subject on the
window's middle day, first that applies: ``household``, ``tie`` (a tie in force), ``neighbour``
(the same building), ``coworker`` (the same employer), ``stranger``; an identifier the truth does
not know is ``unknown``. Each misattributed identifier is a wrong answer whose cause is its class.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from trailbench.tasks import pattern_truth as pt
from trailbench.tasks.declare import Metric, ScoreContext, Scored, Task, family

CLASSES = ("household", "tie", "neighbour", "coworker", "stranger")
CAUSES = (*(f"{c}-device" for c in CLASSES), "unknown-identifier")

COUNTS: tuple[str, ...] = (
    "device_link_cases",
    "dl_answered",
    "dl_returned",
    "dl_own",
    "dl_others",
    "dl_unknown",
    "dl_others_people",
    *(f"dl_{c}" for c in CLASSES),
    "dl_found",
    "dl_to_find",
)


def _zero_counts(cases: pl.DataFrame) -> pl.DataFrame:
    return pt.zero_counts(cases, COUNTS, "device_link_cases")


def score_device_link(
    ctx: ScoreContext, cases: pl.DataFrame, answers: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(one row per returned identifier of a device case, with its class; one row per device case
    with the identifiers to find and found)."""
    sig = ctx.signals
    assert sig is not None
    dc = cases.filter(pl.col("device_case") == 1)
    clues = pt.clue_ids(ctx, dc)
    ids = pt.identifier_people(sig)
    mine = pt.subject_devices(sig, dc).with_columns(belongs=pl.lit(True))
    if "score" not in answers.columns:
        answers = answers.with_columns(score=pl.lit(None, dtype=pl.Float64))
    ret = (
        answers.join(dc.select("case_id"), on="case_id", how="semi")
        .drop_nulls("device_id")
        .sort("case_id", "rank", maintain_order=True)
        .unique(["case_id", "device_id"], keep="first", maintain_order=True)
        .select("case_id", "rank", pl.col("device_id").cast(pl.String), pl.col("score").cast(pl.Float64))
        .join(ids.rename({"identifier": "device_id"}), on="device_id", how="left")
        .join(dc.select("case_id", "person_id", "as_of"), on="case_id")
        .join(
            clues.select("case_id", device_id="clue_id", is_clue=pl.lit(True)), on=["case_id", "device_id"], how="left"
        )
        .join(mine, on=["case_id", "device_key"], how="left")
        .with_columns(pl.col("is_clue").fill_null(False), pl.col("belongs").fill_null(False))
    )
    pairs = (
        ret.filter(~pl.col("belongs") & pl.col("person").is_not_null())
        .select("case_id", "person_id", "as_of", other="person")
        .unique()
    )
    rel = pt.relations(ctx.world, sig, pairs)
    met = pt.meetings(sig, pairs)
    ret = ret.join(
        rel.select("case_id", "other", "tie_kind", "household", "neighbour", "coworker"),
        left_on=["case_id", "person"],
        right_on=["case_id", "other"],
        how="left",
    ).join(met.rename({"other": "person"}), on=["case_id", "person"], how="left")
    cls = (
        pl.when(pl.col("is_clue"))
        .then(pl.lit("clue"))
        .when(pl.col("belongs"))
        .then(pl.lit("own"))
        .when(pl.col("device_key").is_null())
        .then(pl.lit("unknown"))
        .when(pl.col("household"))
        .then(pl.lit("household"))
        .when(pl.col("tie_kind").is_not_null())
        .then(pl.lit("tie"))
        .when(pl.col("neighbour"))
        .then(pl.lit("neighbour"))
        .when(pl.col("coworker"))
        .then(pl.lit("coworker"))
        .otherwise(pl.lit("stranger"))
    )
    ret = ret.with_columns(cls=cls).with_columns(
        cause=pl.when(pl.col("cls").is_in(CLASSES))
        .then(pl.col("cls") + "-device")
        .when(pl.col("cls") == "unknown")
        .then(pl.lit("unknown-identifier"))
    )
    table = ret.select(
        "case_id",
        "person_id",
        "rank",
        "device_id",
        "score",
        "id_kind",
        "device_key",
        "owner",
        other_person=pl.when(pl.col("cls").is_in(CLASSES)).then(pl.col("person")),
        cls="cls",
        cause="cause",
        tie_kind=pl.when(pl.col("cls").is_in(CLASSES)).then(pl.col("tie_kind")),
        met_minutes=pl.col("met_minutes"),
        met_at=pl.col("met_at"),
    ).sort("case_id", "rank", "device_id")
    # the identifiers to find: those of the subject's devices seen in the window, the clue left out
    seen = pt.identifiers_seen(sig).implode()
    to_find = (
        pt.subject_devices(sig, dc)
        .join(ids.select("identifier", "device_key"), on="device_key")
        .filter(pl.col("identifier").is_in(seen))
        .join(clues.select("case_id", identifier="clue_id"), on=["case_id", "identifier"], how="anti")
        .select("case_id", "identifier")
        .unique()
    )
    found = to_find.join(table.select("case_id", identifier="device_id"), on=["case_id", "identifier"], how="semi")
    per = (
        dc.select("case_id")
        .join(to_find.group_by("case_id").agg(dl_to_find=pl.len()), on="case_id", how="left")
        .join(found.group_by("case_id").agg(dl_found=pl.len()), on="case_id", how="left")
        .with_columns(pl.col("dl_to_find", "dl_found").fill_null(0).cast(pl.Int64))
    )
    return table, per


def case_counts(cases: pl.DataFrame, table: pl.DataFrame, per: pl.DataFrame) -> pl.DataFrame:
    """One row per docket case (0 for cases without a device clue)."""
    t = table.filter(pl.col("cls") != "clue")
    c = pl.col("cls")
    agg = t.group_by("case_id").agg(
        dl_returned=pl.len(),
        dl_own=(c == "own").sum(),
        dl_others=c.is_in(CLASSES).sum(),
        dl_unknown=(c == "unknown").sum(),
        dl_others_people=pl.col("other_person").drop_nulls().n_unique(),
        **{f"dl_{k}": (c == k).sum() for k in CLASSES},
    )
    answered = table.select("case_id").unique().with_columns(dl_answered=pl.lit(1))
    out = (
        _zero_counts(cases)
        .select("case_id", "device_link_cases")
        .join(answered, on="case_id", how="left")
        .join(agg, on="case_id", how="left")
        .join(per, on="case_id", how="left")
    )
    return out.select("case_id", *(pl.col(k).fill_null(0).cast(pl.Int64) for k in COUNTS)).sort("case_id")


def explained(ctx: ScoreContext, cases: pl.DataFrame, table: pl.DataFrame) -> list[dict[str, Any]]:
    """A few misattributed identifiers per cause, each with its chain."""
    sig = ctx.signals
    assert sig is not None
    wrong = table.filter(pl.col("cause").is_not_null())
    picks = pt.pick_explained(wrong, ctx.scenario.audit.explained_cases, ctx.rng)
    if not picks:
        return []
    clue_of = dict(pt.clue_ids(ctx, cases.filter(pl.col("device_case") == 1)).iter_rows())
    carriers = pt.holders_in_window(sig).group_by("device_key").agg(carriers=pl.len())
    key_of = dict(zip(cases["case_id"], cases["device_key"], strict=True))
    out = []
    for cause, case_id in picks:
        row = wrong.filter((pl.col("case_id") == case_id) & (pl.col("cause") == cause)).sort("rank").row(0, named=True)
        n = carriers.filter(pl.col("device_key") == key_of.get(case_id))["carriers"].to_list()
        whose = {
            "household-device": "a member of the subject's household",
            "tie-device": f"a {row['tie_kind'] or 'tie'} of the subject (not of their household)",
            "neighbour-device": "a neighbour: someone living in the subject's building",
            "coworker-device": "a coworker: someone working for the subject's employer",
            "stranger-device": "someone with no tie to the subject, not a neighbour nor a coworker",
            "unknown-identifier": "no device the truth knows",
        }[cause]
        chain: list[dict[str, Any]] = [
            {
                "step": "clue",
                "value": f"advertising ID {clue_of.get(case_id, '–')} of a phone of the subject"
                f"{'; carried by ' + str(n[0]) + ' people in the window' if n and n[0] > 1 else ''}",
            },
            {"step": "linked identifier", "value": f"{row['device_id']} (rank {row['rank']}; {row['id_kind'] or '?'})"},
            {"step": "whose it is", "value": whose},
        ]
        if row["other_person"] is not None:
            met = row["met_minutes"] or 0
            chain.append(
                {
                    "step": "time with the subject in the window",
                    "value": f"{met} minutes at the same place" + (f" (mostly: {row['met_at']})" if met else ""),
                }
            )
        out.append(
            {
                "system": ctx.system,
                "task": "device_link",
                "case_id": case_id,
                "outcome": row["cls"],
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
    table, per = score_device_link(ctx, cases, answers)
    out = Scored(case_counts(cases, table, per))
    out.tables = {"device_link": table}
    out.drawn = (
        table.filter(pl.col("other_person").is_not_null())
        .select("case_id", person_id="other_person")
        .unique()
        .filter(~pl.col("person_id").is_in(ctx.docket_truth["person_id"].implode()))
        .sort("case_id", "person_id")
    )
    out.error_types = pt.error_types(ctx.system, "device_link", table["cause"])
    out.explained = explained(ctx, cases, table)
    return out


# -- the declaration -------------------------------------------------------------------------

_PER_CLASS = Metric(
    "{}_devices_linked_per_case",
    "device_link",
    "dl_{}",
    "device_link_cases",
    "",
    unit="per_case",
)

METRICS = (
    Metric(
        "device_link_precision",
        "device_link",
        "dl_own",
        "dl_returned",
        "identifiers returned (the clue left out) that belong to the subject: of a device they owned or carried "
        "in the audit window",
        higher_is_better=True,
        headline=True,
        short="device prec.",
    ),
    Metric(
        "device_link_recall",
        "device_link",
        "dl_found",
        "dl_to_find",
        "identifiers of the subject's devices that systems could see in the audit window (advertising IDs with "
        "pings, MACs in the Wi-Fi sightings; the clue left out) that were returned",
        higher_is_better=True,
    ),
    Metric(
        "device_link_answered_rate",
        "device_link",
        "dl_answered",
        "device_link_cases",
        "device-clue cases given any identifier (coverage)",
        higher_is_better=True,
    ),
    Metric(
        "other_peoples_devices_per_case",
        "device_link",
        "dl_others",
        "device_link_cases",
        "identifiers of other people's devices attributed to the subject, per device-clue case",
        unit="per_case",
    ),
    Metric(
        "people_misattributed_per_case",
        "device_link",
        "dl_others_people",
        "device_link_cases",
        "distinct other people whose devices were attributed to the subject, per device-clue case",
        unit="per_case",
        headline=True,
        short="people misattributed",
    ),
    *family(
        _PER_CLASS,
        {
            "household": "identifiers of household members' devices attributed to the subject, per device-clue case",
            "tie": "identifiers of devices of people with a tie to the subject (outside their household) attributed "
            "to the subject, per device-clue case",
            "neighbour": "identifiers of neighbours' devices (the subject's building, on the window's middle day) "
            "attributed to the subject, per device-clue case",
            "coworker": "identifiers of coworkers' devices (the subject's employer) attributed to the subject, per "
            "device-clue case",
            "stranger": "identifiers of devices of people unrelated to the subject attributed to them, per "
            "device-clue case",
        },
    ),
)

TASK = Task(
    name="device_link",
    description="device linkage: the device identifiers (advertising IDs in the pings, MACs in the Wi-Fi "
    "sightings) that belong to the subject",
    answer_schema={"case_id": pl.String(), "rank": pl.Int64(), "device_id": pl.String()},
    id_columns=("device_id",),
    id_space="devices",
    optional_columns={"score": pl.Float64()},
    score=score,
    counts=COUNTS,
    metrics=METRICS,
    strata=pt.STRATA,
    outcome_tables={
        "device_link": "one row per (system, device-clue case, identifier returned): its device, owner, the other "
        "person it stands for and their class (own, clue, household, tie, neighbour, coworker, stranger, unknown), "
        "and the minutes they spent with the subject in the audit window",
    },
    explained_chain="the clue device, the identifier linked to it, whose it truly is and how long they spent with "
    "the subject in the audit window",
)
