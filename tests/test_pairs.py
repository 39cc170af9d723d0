"""Pair scoring: precision, recall and F1 on pairs where the answer is known."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailbench.audit.pairs import pair_scores, true_pairs


def test_known_confusion() -> None:
    labels = pl.DataFrame(
        {"id": ["a1", "a2", "b1", "b2", "b3"], "entity": [1, 2, 1, 2, 3], "side": ["a", "a", "b", "b", "b"]}
    )
    truth = true_pairs(labels, side_col="side")
    assert truth.height == 2
    pred = pl.DataFrame({"id_l": ["a1", "b2", "a1"], "id_r": ["b1", "a2", "b3"]})  # 2 right (one reversed), 1 wrong
    s = pair_scores(pred, truth)
    assert (s["tp"], s["fp"], s["fn"]) == (2, 1, 0)
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == 1.0 and s["f1"] == pytest.approx(0.8)


@settings(max_examples=60)
@given(st.lists(st.integers(0, 5), min_size=2, max_size=25), st.data())
def test_predicting_the_truth_scores_one(entities: list[int], data: st.DataObject) -> None:
    labels = pl.DataFrame({"id": [f"r{i}" for i in range(len(entities))], "entity": entities})
    truth = true_pairs(labels)
    if truth.height == 0:
        return
    pred = truth.rename({"l": "id_l", "r": "id_r"})
    s = pair_scores(pred, truth)
    assert s["precision"] == s["recall"] == s["f1"] == 1.0
    drop = data.draw(st.integers(0, truth.height - 1))
    s2 = pair_scores(pred.slice(0, drop), truth)
    assert s2["fn"] == truth.height - drop and s2["fp"] == 0
