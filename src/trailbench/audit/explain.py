"""Error chains: for every wrong answer, the records that drove it and what each truly was."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from trailbench.tasks import truth
from trailbench.trails.errors import BIT, ERROR_KINDS
from trailbench.world import World


def _error_names(bits: pl.Expr) -> pl.Expr:
    parts = [pl.when((bits & int(BIT[k])) != 0).then(pl.lit(k)) for k in ERROR_KINDS]
    return pl.concat_list(parts).list.drop_nulls()


def chains(
    system: str, outcomes: pl.DataFrame, world: World, records: pl.DataFrame, truth_records: pl.DataFrame
) -> pl.DataFrame:
    """One row per (wrong answer, evidence record)."""
    wrong = outcomes.filter(~pl.col("outcome").is_in(["correct", "no-answer"]))
    ev = (
        wrong.select("case_id", "person_id", "as_of", "outcome", "cause", "answered_unit", "evidence")
        .explode("evidence")
        .drop_nulls("evidence")
        .rename({"evidence": "record_id"})
    )
    ev = ev.with_columns(step=pl.int_range(1, pl.len() + 1).over("case_id"))
    ev = ev.join(
        truth_records.select("record_id", ev_person="person_id", ev_unit="unit_id", bits="error_bits", stale="stale"),
        on="record_id",
        how="left",
    )
    ev = ev.join(
        records.select("record_id", "source", "observed_at", "given", "surname", "dob", "address_text"),
        on="record_id",
        how="left",
    )
    ties = truth.ties_at(world, wrong.select("case_id", "person_id", "as_of"))
    ev = ev.join(ties.rename({"other": "ev_person"}), on=["case_id", "ev_person"], how="left")
    units = world.units.select(ev_unit="unit_id", true_address="address")
    ev = ev.join(units, on="ev_unit", how="left")
    who = (
        pl.when(pl.col("ev_person") == pl.col("person_id"))
        .then(pl.lit("the subject"))
        .when(pl.col("kind").is_not_null())
        .then(pl.lit("the subject's ") + pl.col("kind").str.replace("_", "-"))
        .otherwise(pl.lit("another person (namesake or unrelated)"))
    )
    return ev.select(
        pl.lit(system).alias("system"),
        "case_id",
        "outcome",
        "cause",
        "step",
        "record_id",
        "source",
        "observed_at",
        "given",
        "surname",
        "dob",
        "address_text",
        who.alias("who"),
        "true_address",
        errors=_error_names(pl.col("bits")),
        stale="stale",
    ).sort("case_id", "step")


def error_types(system: str, outcomes: pl.DataFrame, task: str = "locate") -> list[dict[str, Any]]:
    """One row per cause of the task's wrong answers: its count and share of them."""
    wrong = outcomes.filter(pl.col("cause").is_not_null())
    n = wrong.height
    counts = wrong.group_by("cause").len().sort("cause")
    return [
        {"system": system, "task": task, "cause": c, "count": int(k), "share": round(k / n, 6)}
        for c, k in zip(counts["cause"], counts["len"], strict=True)
    ]


def explained(
    system: str, outcomes: pl.DataFrame, chain: pl.DataFrame, per_cause: int, rng: np.random.Generator
) -> list[dict[str, Any]]:
    """A few cases per cause, chosen at random (seeded), each with its chain laid out."""
    out: list[dict[str, Any]] = []
    wrong = outcomes.filter(pl.col("cause").is_not_null()).sort("case_id")
    for cause in sorted(set(wrong["cause"].to_list())):
        ids = wrong.filter(pl.col("cause") == cause)["case_id"].to_list()
        pick = sorted(rng.choice(len(ids), size=min(per_cause, len(ids)), replace=False).tolist())
        for i in pick:
            row = wrong.filter(pl.col("case_id") == ids[i]).row(0, named=True)
            steps = chain.filter(pl.col("case_id") == ids[i]).drop("system", "case_id", "outcome", "cause")
            out.append(
                {
                    "system": system,
                    "task": "locate",
                    "case_id": row["case_id"],
                    "outcome": row["outcome"],
                    "cause": cause,
                    "answered_address": row["address_text"],
                    "resolved_address": row["resolved_address"],
                    "true_address": row["true_address"],
                    "residents": row["residents"],
                    "children": row["children"],
                    "chain": [
                        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in s.items()}
                        for s in steps.to_dicts()
                    ],
                }
            )
    return out
