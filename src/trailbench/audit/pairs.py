"""Pair scoring for record linkage: precision, recall and F1 of predicted record pairs against
true entities. Pairs are unordered; a true pair is two records of the same entity (across the
two sides when ``link_only`` is set by giving a ``side`` column)."""

from __future__ import annotations

import polars as pl


def _ordered(df: pl.DataFrame, a: str, b: str) -> pl.DataFrame:
    return df.select(l=pl.min_horizontal(a, b), r=pl.max_horizontal(a, b)).unique()


def true_pairs(
    labels: pl.DataFrame, id_col: str = "id", entity_col: str = "entity", side_col: str | None = None
) -> pl.DataFrame:
    """All pairs of records sharing an entity (only across sides when ``side_col`` is given)."""
    j = labels.join(labels, on=entity_col, suffix="_b").filter(pl.col(id_col) != pl.col(f"{id_col}_b"))
    if side_col is not None:
        j = j.filter(pl.col(side_col) != pl.col(f"{side_col}_b"))
    return _ordered(j, id_col, f"{id_col}_b")


def pair_scores(predicted: pl.DataFrame, truth: pl.DataFrame, a: str = "id_l", b: str = "id_r") -> dict[str, float]:
    """Confusion counts and precision, recall, F1 of ``predicted`` pairs against ``truth`` pairs."""
    p = _ordered(predicted, a, b)
    t = truth.select("l", "r").unique()
    tp = p.join(t, on=["l", "r"], how="semi").height
    fp = p.height - tp
    fn = t.height - tp
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else float("nan")
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}
