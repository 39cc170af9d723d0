"""Metric arithmetic on a hand-built world where every outcome is known in advance."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from handbuilt import ASSOCIATES, CASES, LOCATE, build

from trailbench.audit.bootstrap import interval, ratios, weights
from trailbench.audit.cases import case_table
from trailbench.audit.scorecard import system_metrics
from trailbench.scenario import Scenario
from trailbench.tasks.associates import COUNTS as ASSOCIATES_COUNTS
from trailbench.tasks.associates import score_associates
from trailbench.tasks.locate import case_counts, score_locate


@pytest.fixture(scope="module")
def scored() -> tuple[pl.DataFrame, pl.DataFrame]:
    world, truth, register = build()
    return score_locate(LOCATE, CASES, world, truth, register, truth)


def test_one_case_of_each_locate_outcome(scored: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    out, _ = scored
    got = {r["case_id"]: (r["outcome"], r["cause"]) for r in out.iter_rows(named=True)}
    assert got == {
        "C1": ("correct", None),
        "C2": ("stale", "stale"),
        "C3": ("namesake", "namesake"),  # James Okafor is wanted; Jim Okafor lives there
        "C4": ("no-such-address", "other"),
        "C5": ("other-wrong", "other"),
        "C6": ("no-answer", None),
        "C7": ("building", None),
        "C8": ("other-wrong", "unit-missing"),
        "C9": ("other-wrong", "digit-error"),  # 3 ASHWICK ST for a subject at 4 ASHWICK ST
    }


def test_outcomes_partition_every_case(scored: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    out, residents = scored
    t = case_counts(out, residents)
    parts = ["correct", "building", "wrong_door", "no_such", "no_answer"]
    assert (t.select(pl.sum_horizontal(parts)).to_series() == 1).all()


def test_people_at_the_door(scored: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    out, residents = scored
    by = {r["case_id"]: (r["residents"], r["children"]) for r in out.iter_rows(named=True)}
    assert by["C2"] == (3, 1)  # the subject's old home now houses household 5: two adults and a child
    assert by["C3"] == (2, 1)  # the namesake's home: person 30 and a child
    assert by["C9"] == (1, 0)  # person 10's home
    # a building named without a unit: its residents count 1/k each (k occupied units), the
    # subject's own household left out when it lives there
    assert by["C7"] == (2.0, 0)  # household 11 in APT 2, the only other unit
    assert by["C8"] == (1.5, 0)  # households 10 (1 person) and 11 (2), two units: 3/2
    assert by["C5"] == (0, 0) and by["C1"] == (0, 0) and by["C4"] == (0, 0) and by["C6"] == (0, 0)
    assert sorted(residents.filter(pl.col("case_id") == "C2")["person_id"].to_list()) == [50, 51, 52]


def test_cause_comes_from_the_truth_not_the_evidence(scored: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """The same answers with no evidence listed have the same causes."""
    world, truth, register = build()
    bare, _ = score_locate(
        LOCATE.with_columns(evidence=pl.lit([], dtype=pl.List(pl.String))), CASES, world, truth, register, truth
    )
    assert bare["cause"].to_list() == scored[0]["cause"].to_list()


def test_lookahead_evidence_is_counted(scored: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    c1 = scored[0].filter(pl.col("case_id") == "C1").row(0, named=True)
    assert (c1["n_evidence"], c1["n_lookahead"]) == (2, 1)


def test_associates_are_scored_over_people() -> None:
    world, truth, _ = build()
    ent, per, drawn = score_associates(ASSOCIATES, CASES, world, truth, truth)
    cls = dict(zip(ent["rank"], ent["cls"], strict=True))
    assert cls == {1: "tie", 2: "no-tie", 3: "duplicate", 4: "mixed", 5: "tie"}
    kinds = dict(zip(ent["rank"], ent["tie_kind"], strict=True))
    assert kinds[1] == "spouse" and kinds[5] == "coworker"
    c1 = per.filter(pl.col("case_id") == "C1").row(0, named=True)
    # people drawn in: 1 (spouse), 2 (coworker), 9 (a friendship that ended in 2020: no tie now);
    # the mixed entity adds no one new, but person 9 is a false link whatever entity drew them
    assert (c1["people_drawn"], c1["true_links"], c1["false_links"]) == (3, 2, 1)
    assert (c1["entities"], c1["mixed"], c1["duplicates"]) == (5, 1, 1)
    assert (c1["ties_found"], c1["ties_total"]) == (2, 2)  # the friend of 2024-06 is not yet a tie
    first = dict(zip(drawn["person_id"], drawn["first_rank"], strict=True))
    assert first == {1: 1, 2: 4, 9: 2}


def test_padding_entities_only_adds_false_links() -> None:
    world, truth, _ = build()
    padded = pl.concat(
        [ASSOCIATES, pl.DataFrame({"case_id": ["C1"], "rank": [6], "entity": [["R3", "R4", "R5", "R2"]]})]
    )
    _, per, _ = score_associates(padded, CASES, world, truth, truth)
    c1 = per.filter(pl.col("case_id") == "C1").row(0, named=True)
    assert (c1["true_links"], c1["false_links"]) == (2, 5)  # persons 30, 40, 60 and 10 added as false links


def _subjects(groups: list[str]) -> pl.DataFrame:
    n = len(groups)
    return pl.DataFrame(
        {
            "case_id": [f"C{i}" for i in range(n)],
            "person_id": list(range(n)),
            "group": groups,
            "foreign_born": [False] * n,
            "tenure": ["rent"] * n,
            "household_form": ["couple"] * n,
            "moved_last_year": ["no"] * n,
            "informal_work": ["no"] * n,
        }
    )


def test_disparity_with_a_known_ratio() -> None:
    """White: 1 wrong door in 4 answered; Black: 2 in 4. Ratio exactly 2, rates 0.25 and 0.5."""
    groups = ["white"] * 4 + ["black"] * 4
    subj = _subjects(groups)
    outcome = ["stale", "correct", "correct", "correct", "namesake", "stale", "correct", "correct"]
    loc = pl.DataFrame(
        {
            "case_id": subj["case_id"],
            "outcome": outcome,
            "cause": [None] * 8,
            "residents": [2, 0, 0, 0, 3, 1, 0, 0],
            "children": [1, 0, 0, 0, 0, 0, 0, 0],
        },
        schema_overrides={"cause": pl.String},
    )
    nobody = pl.DataFrame(schema={"case_id": pl.String, "group": pl.String})
    no_links = subj.select("case_id", *(pl.lit(0, dtype=pl.Int64).alias(c) for c in ASSOCIATES_COUNTS))
    t = case_table(subj, [case_counts(loc, nobody), no_links])
    sc = Scenario.model_validate({"audit": {"bootstrap": 200, "min_group_cases": 1}})
    w = weights(np.random.default_rng(0), t.height, 200)
    pop = {"white": 100, "black": 50}
    rows, disp = system_metrics("sys", t, w, sc, pop, "white", tasks=("locate", "associates"))
    val = {(r["metric"], r["slice"], r["level"]): r for r in rows}
    assert {r["task"] for r in rows} == {"locate", "associates"}  # only the tasks it takes part in
    assert val[("wrong_door_rate", "group", "white")]["value"] == 0.25
    assert val[("wrong_door_rate", "group", "black")]["value"] == 0.5
    assert val[("wrong_door_rate", "overall", "all")]["value"] == 0.375
    assert val[("people_at_wrong_door_per_100_cases", "overall", "all")]["value"] == 75.0
    assert val[("children_at_wrong_door_per_100_cases", "overall", "all")]["value"] == 12.5
    ratio = next(d for d in disp if d["metric"] == "wrong_door_rate" and d["level"] == "black")
    assert ratio["ratio"] == 2.0 and ratio["reference"] == "white"
    assert ratio["lo"] <= 2.0 <= ratio["hi"]
    lo, hi = val[("wrong_door_rate", "overall", "all")]["lo"], val[("wrong_door_rate", "overall", "all")]["hi"]
    assert 0.0 <= lo < 0.375 < hi <= 1.0


def test_bootstrap_interval_covers_a_known_proportion() -> None:
    """On 2,000 Bernoulli(0.3) cases, the 95% interval has the binomial width (about ±2 points)."""
    rng = np.random.default_rng(5)
    x = (rng.random(2000) < 0.3).astype(float)
    point, reps, _ = ratios(x[:, None], np.ones((2000, 1)), weights(np.random.default_rng(1), 2000, 1000))
    lo, hi = interval(reps, 0.95)
    se = np.sqrt(point[0] * (1 - point[0]) / 2000)
    assert hi[0] - lo[0] == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert lo[0] < point[0] < hi[0]


def test_exposure_attributes_shared_people_in_parts() -> None:
    from trailbench.audit.scorecard import exposure_replicates

    drawn = pl.DataFrame({"world": [0, 0, 0, 0], "case_id": ["A", "A", "B", "C"], "person_id": [100, 101, 101, 102]})
    cases = pl.DataFrame({"world": [0, 0, 0], "case_id": ["A", "B", "C"]})
    w = np.array([[3.0, 0, 0], [0, 0, 3], [1, 1, 1], [0, 3, 0]])
    n, reps = exposure_replicates(drawn, cases, w)
    assert n == 3
    # person 101 is shared by A and B: half to each. Case parts: A 1.5, B 0.5, C 1.0 (sum 3)
    assert reps.tolist() == [4.5, 3.0, 3.0, 1.5]
    # unbiased: the mean over many resamples is the distinct count
    from trailbench.audit.bootstrap import weights

    _, many = exposure_replicates(drawn, cases, weights(np.random.default_rng(3), 3, 20000))
    assert many.mean() == pytest.approx(3.0, rel=0.02)
    # the same person id in another world is another person; the same case id, another case
    other = drawn.with_columns(world=pl.lit(1, dtype=pl.Int64))
    both = pl.concat([cases, cases.with_columns(world=pl.lit(1, dtype=pl.Int64))])
    n2, reps2 = exposure_replicates(pl.concat([drawn, other]), both, np.hstack([w, w]))
    assert n2 == 6 and reps2.tolist() == [9.0, 6.0, 6.0, 3.0]


def test_the_operating_point_by_hand() -> None:
    """Ten cases by falling score: C C W C C W C W n n (C correct, W wrong door, n no answer).
    A budget of 10 wrong doors per 100 cases allows one wrong door: the best threshold answers the
    first five (4 correct), not the first two (2 correct). With a budget of 0, only the first two."""
    from trailbench.audit.scorecard import operating_point
    from trailbench.tasks import registry

    kinds = list("CCWCCWCWnn")
    t = pl.DataFrame(
        {
            "locate_score": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, None, None],
            "correct": [int(k == "C") for k in kinds],
            "wrong_door": [int(k == "W") for k in kinds],
            "cases": [1] * 10,
            "group": ["white"] * 5 + ["black"] * 5,
        },
        schema_overrides={"locate_score": pl.Float64},
    )
    m = registry.metric("located_within_budget")
    everyone = np.ones(10, dtype=bool)
    white = t["group"].to_numpy() == "white"
    w = weights(np.random.default_rng(0), 10, 50)
    (overall, reps, n), (in_white, _, _) = operating_point(
        t, w, m, 10.0, [("overall", "all", everyone), ("group", "white", white)]
    )
    assert overall == 0.4 and n == 10
    assert in_white == 0.8  # the same threshold, applied to the group: 4 of its 5 cases
    assert reps.shape == (50,) and np.all((reps >= 0) & (reps <= 1))
    ((strict, _, _),) = operating_point(t, w, m, 0.0, [("overall", "all", everyone)])
    assert strict == 0.2
    # tied scores are answered or withheld together: tie the first wrong door to the top case
    tied = t.with_columns(locate_score=pl.Series([0.9, 0.8, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, None, None]))
    ((tied_strict, _, _),) = operating_point(tied, w, m, 0.0, [("overall", "all", everyone)])
    assert tied_strict == 0.1
