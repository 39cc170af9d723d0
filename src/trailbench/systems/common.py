"""Helpers the reference systems share: reading the working directory and standardising fields.

These are the kind of standardisation steps a vendor would apply; they use only what a system
is given (trails and docket), and the public address normaliser.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from trailbench.address import key_expr


def name_std(col: str) -> pl.Expr:
    """Letters only, upper case (``De la Cruz`` -> ``DELACRUZ``)."""
    return pl.col(col).str.to_uppercase().str.replace_all(r"[^A-Z]", "")


def first_token(col: str) -> pl.Expr:
    """The first word of a name (``LOPEZ-JAUVERA`` -> ``LOPEZ``), letters only."""
    return (
        pl.col(col)
        .str.to_uppercase()
        .str.replace_all(r"[^A-Z \-]", "")
        .str.split_exact(" ", 1)
        .struct[0]
        .str.split("-")
        .list.first()
    )


def standardise(df: pl.DataFrame) -> pl.DataFrame:
    """Add the standardised name and address columns the reference systems compare."""
    return df.with_columns(
        given_std=name_std("given"),
        surname_std=name_std("surname"),
        surname_first=first_token("surname"),
        address_key=key_expr(pl.col("address_text")),
    )


def read_records(workdir: Path) -> pl.DataFrame:
    return standardise(pl.read_parquet(workdir / "trails" / "records.parquet"))


def read_cases(workdir: Path) -> pl.DataFrame:
    return standardise(pl.read_parquet(workdir / "docket" / "cases.parquet"))


def latest_address_answers(matched: pl.DataFrame, max_rank: int = 3) -> pl.DataFrame:
    """Locate answers from (case_id, record_id, observed_at, address_text, address_key) rows.

    Addresses are ranked by the most recent record carrying them; evidence is every matched
    record with that address. Only records observed on or before the case's as-of date count
    (the caller filters).
    """
    m = matched.filter(pl.col("address_key").is_not_null())
    per = m.group_by("case_id", "address_key").agg(
        last_seen=pl.col("observed_at").max(),
        address_text=pl.col("address_text").sort_by("observed_at", "record_id").last(),
        evidence=pl.col("record_id").sort(),
    )
    per = per.sort(["case_id", "last_seen", "address_key"], descending=[False, True, False])
    per = per.with_columns(rank=pl.int_range(1, pl.len() + 1).over("case_id"))
    return per.filter(pl.col("rank") <= max_rank).select("case_id", "rank", "address_text", "evidence")
