"""The shortcut suite, metrics half: systems that do no record linkage and try to win the
headline by abstaining, by answering nowhere, by answering only when sure, or by padding
entities. None may beat the ``exact`` reference on the headline, and the summary may not rank on
a figure they win. (The trails half, leaks in what systems see, is tests/test_shortcuts_trails.py.)
"""

from __future__ import annotations

import sys
import textwrap

import pytest
from conftest import SANDBOX, small_scenario

from trailbench.pipeline import run_all
from trailbench.tasks import registry

PRELUDE = """
import sys
from pathlib import Path
import polars as pl
work = Path(sys.argv[-1])
name = sys.argv[1]
out = work / "answers" / name
cases = pl.read_parquet(work / "docket" / "cases.parquet")
records = pl.read_parquet(work / "trails" / "records.parquet")
"""
SHORTCUTS = {
    # answers nothing at all
    "abstainer": "pass",
    # an address that matches no door, for every case
    "nowhere": """
pl.DataFrame({"case_id": cases["case_id"], "rank": [1] * cases.height,
              "address_text": ["1 NOWHERE LANE, NOWHERETOWN, ZZ 00000"] * cases.height,
              "evidence": [[]] * cases.height}).write_parquet(out / "locate.parquet")
""",
    # the newest record whose name and date of birth match exactly, only when under a year old
    # (else an address that matches nothing): the exact system's answer, less often
    "recent_only": """
keyed = records.filter(pl.col("dob").is_not_null()).with_columns(
    g=pl.col("given").str.to_uppercase(), s=pl.col("surname").str.to_uppercase())
c = cases.with_columns(g=pl.col("given").str.to_uppercase(), s=pl.col("surname").str.to_uppercase())
m = c.join(keyed, on=["g", "s", "dob"], suffix="_r").filter(pl.col("observed_at") <= pl.col("as_of"))
m = m.sort("observed_at", descending=True).unique("case_id", keep="first")
m = m.with_columns(fresh=(pl.col("as_of") - pl.col("observed_at")).dt.total_days() < 365)
ans = c.select("case_id").join(m.select("case_id", "address_text_r", "record_id", "fresh"), on="case_id", how="left")
ans = ans.select("case_id", rank=pl.lit(1),
    address_text=pl.when(pl.col("fresh")).then(pl.col("address_text_r")).otherwise(pl.lit("1 NOWHERE LN")),
    evidence=pl.when(pl.col("fresh")).then(pl.concat_list("record_id")).otherwise(pl.lit([], dtype=pl.List(pl.String))))
ans.write_parquet(out / "locate.parquet")
""",
    # five entities per case, each mixing three unrelated people's records
    "padder": """
ids = records["record_id"].to_list()
rows = []
for i, case in enumerate(cases["case_id"].to_list()):
    for r in range(5):
        k = (i * 15 + r * 3) % (len(ids) - 3)
        rows.append({"case_id": case, "rank": r + 1, "entity": ids[k * 7 % len(ids) : k * 7 % len(ids) + 1]
                     + ids[(k * 11 + 1) % len(ids) : (k * 11 + 1) % len(ids) + 1]
                     + ids[(k * 13 + 2) % len(ids) : (k * 13 + 2) % len(ids) + 1]})
pl.DataFrame(rows, schema={"case_id": pl.String, "rank": pl.Int64, "entity": pl.List(pl.String)}).write_parquet(
    out / "associates.parquet")
""",
}


@pytest.fixture(scope="module")
def card(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("shortcuts")
    commands = {}
    for name, body in SHORTCUTS.items():
        script = work / f"{name}.py"
        script.write_text(PRELUDE + textwrap.dedent(body))
        commands[name] = f"{sys.executable} {script} {name}"
    sc = small_scenario(
        docket={"cases": 150},
        audit={"bootstrap": 100},
        systems={"run": ["exact", *SHORTCUTS], "commands": commands},
    )
    return run_all(sc, work / "run", use_sandbox=SANDBOX)


def overall(card: dict, system: str, metric: str) -> float:
    return next(
        r["value"] for r in card["metrics"] if (r["system"], r["metric"], r["slice"]) == (system, metric, "overall")
    )


def test_the_shortcuts_ran(card: dict) -> None:
    for name in SHORTCUTS:
        assert card["systems"][name]["state"] in ("ok", "partial"), card["systems"][name]


@pytest.mark.parametrize("name", ["abstainer", "nowhere", "recent_only"])
def test_no_shortcut_beats_linkage_on_the_headline(card: dict, name: str) -> None:
    assert overall(card, name, "located_within_budget") <= overall(card, "exact", "located_within_budget")
    assert overall(card, name, "correct_rate") <= overall(card, "exact", "correct_rate")


def test_abstaining_and_answering_nowhere_are_not_rewarded(card: dict) -> None:
    """They send nobody to a wrong door, and that is all: the four outcome rates still sum to 1
    over all cases, so their non-answers show in full."""
    for name in ("abstainer", "nowhere"):
        assert overall(card, name, "located_within_budget") == 0.0
        assert overall(card, name, "correct_rate") == 0.0
    assert overall(card, "abstainer", "no_answer_rate") == 1.0
    assert overall(card, "nowhere", "no_such_address_rate") == 1.0
    # the padder writes associates only: it takes no part in locate, and has no locate figures to
    # win on (the abstainer, which wrote nothing at all, is scored on every task)
    assert "locate" not in card["systems"]["padder"]["answers"]
    assert set(card["systems"]["abstainer"]["answers"]) == {t.name for t in registry.tasks()}
    for system in [s for s in ["exact", *SHORTCUTS] if "locate" in card["systems"][s]["answers"]]:
        parts = ["correct_rate", "building_only_rate", "wrong_door_rate", "no_such_address_rate", "no_answer_rate"]
        assert sum(overall(card, system, m) for m in parts) == pytest.approx(1.0, abs=1e-6)


def test_padding_entities_shows_as_false_links(card: dict) -> None:
    assert overall(card, "padder", "false_links_per_case") > 5 * overall(card, "exact", "false_links_per_case")
    assert overall(card, "padder", "associates_precision") < overall(card, "exact", "associates_precision")
    assert overall(card, "padder", "people_drawn_in_per_case") >= 10


def test_the_summary_ranks_on_nothing_a_shortcut_wins() -> None:
    """The CLI summary shows located-within-budget beside the correct and wrong-door rates; the
    wrong-door rate, which abstaining wins, never stands alone."""
    shown = [m.name for m in registry.metrics().values() if m.summary]
    assert shown[:3] == ["located_within_budget", "correct_rate", "wrong_door_rate"]
    assert registry.metric("located_within_budget").higher_is_better
