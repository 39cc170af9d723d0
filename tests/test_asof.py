"""The as-of contract (DESIGN §5): the reference systems use only records observed on or before a
case's as-of date, in every answer and in the clustering behind it, and every answer is scored."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import SANDBOX, small_scenario

from trailbench.pipeline import run_all
from trailbench.systems.broker import profiles_as_of
from trailbench.systems.common import AsOfForest, support_recency, with_score
from trailbench.systems.splink_linker import as_of_forest

SYSTEMS = ("exact", "splink", "broker")
CITED = {"locate": "evidence", "associates": "entity"}


@pytest.fixture(scope="module")
def asof_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("asof") / "run"
    card = run_all(small_scenario(docket={"cases": 300}, audit={"bootstrap": 50}), run, use_sandbox=SANDBOX)
    for name in SYSTEMS:
        assert card["systems"][name]["state"] == "ok", card["systems"][name]
    return run


def _cited(run: Path, system: str, task: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(answers, one row per cited record id with its observed_at and the case's as_of)."""
    answers = pl.read_parquet(run / "answers" / system / f"{task}.parquet")
    records = pl.read_parquet(run / "trails" / "records.parquet", columns=["record_id", "observed_at"])
    cases = pl.read_parquet(run / "docket" / "cases.parquet", columns=["case_id", "as_of"])
    col = CITED[task]
    ids = answers.select("case_id", "rank", record_id=col).explode("record_id").drop_nulls("record_id")
    return answers, ids.join(records, on="record_id", how="left").join(cases, on="case_id", how="left")


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("task", sorted(CITED))
def test_every_cited_record_was_observed_by_the_as_of_date(asof_run: Path, system: str, task: str) -> None:
    answers, cited = _cited(asof_run, system, task)
    assert answers.height > 0 and cited.height > 0
    assert cited["observed_at"].null_count() == 0 and cited["as_of"].null_count() == 0
    late = cited.filter(pl.col("observed_at") > pl.col("as_of"))
    assert late.height == 0, late.head(5)


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("task", sorted(CITED))
def test_every_answer_carries_a_score(asof_run: Path, system: str, task: str) -> None:
    answers = pl.read_parquet(asof_run / "answers" / system / f"{task}.parquet")
    assert "score" in answers.columns and answers.height > 0
    assert answers["score"].null_count() == 0
    assert answers["score"].is_finite().all() and (answers["score"] >= 0).all()
    assert answers["score"].n_unique() > 1  # it says something
    if task == "locate":  # score order never contradicts rank order
        prev = answers.sort("case_id", "rank").select("score", before=pl.col("score").shift(1).over("case_id"))
        assert prev.filter(pl.col("score") > pl.col("before")).height == 0


# -- the union-find read back at any date -----------------------------------------------------


def _groups(forest: AsOfForest, leaves: list[int], day: int) -> set[frozenset[int]]:
    nodes = forest.component_at(np.asarray(leaves), np.full(len(leaves), day))
    return {frozenset(forest.members(int(k)).tolist()) for k in nodes}


def test_a_later_record_bridges_two_clusters_only_from_its_date() -> None:
    # records 0, 1 (linked on day 10) and 2, 3 (linked on day 12); record 4, observed on day 30,
    # links to 1 and to 2: clustering everything makes one cluster of all five
    a, b, t = [0, 2, 1, 2], [1, 3, 4, 4], [10, 12, 30, 30]
    forest = AsOfForest(5, a, b, t)
    everything = _groups(forest, [0, 1, 2, 3, 4], 10**6)
    assert everything == {frozenset(range(5))}
    before = _groups(forest, [0, 1, 2, 3], 29)  # record 4 not yet observed
    assert before == {frozenset({0, 1}), frozenset({2, 3})}
    assert before != {g - {4} for g in everything}
    assert _groups(forest, [0, 1, 2, 3], 11) == {frozenset({0, 1}), frozenset({2}), frozenset({3})}
    assert _groups(forest, [0], 9) == {frozenset({0})}
    # each query at its own date, in any order
    nodes = forest.component_at(np.array([3, 0, 3]), np.array([30, 11, 12]))
    assert [sorted(forest.members(int(k)).tolist()) for k in nodes] == [[0, 1, 2, 3, 4], [0, 1], [2, 3]]
    members = forest.member_table(pl.Series([int(nodes[1])]))
    assert sorted(members["leaf"].to_list()) == [0, 1]


def test_the_forest_agrees_with_clustering_each_date_from_scratch() -> None:
    rng = np.random.default_rng(7)
    for _ in range(60):
        n, m = int(rng.integers(1, 25)), int(rng.integers(0, 40))
        a, b, t = rng.integers(0, n, m), rng.integers(0, n, m), rng.integers(0, 15, m)
        forest = AsOfForest(n, a, b, t)
        for day in range(-1, 16):
            label = list(range(n))

            def find(x: int, label: list[int] = label) -> int:
                while label[x] != x:
                    x = label[x]
                return x

            for x, y, when in zip(a, b, t, strict=True):
                if when <= day:
                    label[find(int(x))] = find(int(y))
            want = {frozenset(y for y in range(n) if find(y) == find(x)) for x in range(n)}
            assert _groups(forest, list(range(n)), day) == want


def test_splink_edges_join_from_the_day_both_records_exist() -> None:
    leaves = pl.DataFrame(
        {"uid": ["R1", "R2", "R3", "R4", "R5"], "leaf": [0, 1, 2, 3, 4], "day": [100, 110, 120, 130, 300]}
    )
    pairs = pl.DataFrame(
        {
            "uid_l": ["R1", "R3", "R2", "R3", "R1", "R1"],
            "uid_r": ["R2", "R4", "R5", "R5", "R4", "case:C1"],
            "match_probability": [0.99, 0.97, 0.95, 0.96, 0.50, 0.99],  # R1-R4 is below the threshold
        }
    )
    forest = as_of_forest(pairs, leaves, threshold=0.9)
    assert _groups(forest, [0, 1, 2, 3], 299) == {frozenset({0, 1}), frozenset({2, 3})}
    assert _groups(forest, [0, 1, 2, 3, 4], 300) == {frozenset(range(5))}
    assert _groups(forest, [0, 1, 2], 115) == {frozenset({0, 1}), frozenset({2})}


def test_broker_profiles_are_replayed_as_of_the_date() -> None:
    # one broker profile (group_key P): records 0 and 1 share no key until record 2 (day 50)
    # shares surname+given with 0 and surname+dob with 1; record 3 has P's keys but another profile
    recs = pl.DataFrame(
        {
            "leaf": [0, 1, 2, 3],
            "day": [10, 20, 50, 5],
            "group_key": ["P", "P", "P", "Q"],
            "surname_std": ["SMITH", "SMITH", "SMITH", "SMITH"],
            "broker_g3": ["JOH", "JON", "JOH", "JOH"],
            "dob": ["1980-01-01", "1981-02-02", "1981-02-02", "1980-01-01"],
        }
    )
    forest = profiles_as_of(recs)
    assert _groups(forest, [0, 1, 3], 49) == {frozenset({0}), frozenset({1}), frozenset({3})}
    assert _groups(forest, [0, 1, 2, 3], 50) == {frozenset({0, 1, 2}), frozenset({3})}


def test_scores_weigh_support_and_first_hand_recency() -> None:
    answers = pl.DataFrame({"case_id": ["C1", "C1", "C2"], "rank": [1, 2, 1], "evidence": [["a", "b"], ["c"], ["d"]]})
    records = pl.DataFrame(
        {
            "record_id": ["a", "b", "c", "d"],
            "observed_at": [date(2020, 1, 1), date(2022, 1, 1), date(2023, 1, 1), date(2023, 1, 1)],
            "source": ["dmv", "broker", "utility", "broker"],
        }
    )
    as_of = pl.DataFrame({"case_id": ["C1", "C2"], "as_of": [date(2024, 1, 1)] * 2})
    sr = support_recency(answers, records, as_of, pl.col("source") != "broker").sort("case_id", "rank")
    assert sr["n"].to_list() == [2, 1, 1]
    assert sr["support"].to_list() == pytest.approx([0.5, 1 / 3, 1 / 3])
    # C1's first address is dated by its dmv record (four years old), not by the broker's later copy;
    # C2's only by a broker copy
    assert sr["recency"].to_list() == pytest.approx([0.5 ** (1461 / 730.5), 0.5 ** (365 / 730.5), 0.0])
    scored = with_score(answers, sr.select("case_id", "rank", score=pl.col("support") * pl.col("recency")))
    # C1's second address scores higher on its own, but never above the address ranked before it
    assert scored["score"].to_list() == pytest.approx([0.5 * 0.25, 0.5 * 0.25, 0.0])
