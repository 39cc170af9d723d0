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
from trailbench.tasks import truth
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
