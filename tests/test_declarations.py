"""Tasks and metrics are declared once and every surface reads the declarations; a toy task and a
toy metric, added from this file as docs/ADDING.md shows, are scored, reported and schema-valid."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from conftest import SANDBOX, small_scenario
from typer.testing import CliRunner

from trailbench.audit.schema import scorecard_schema
from trailbench.audit.scorecard import validate_scorecard
from trailbench.cli import app
from trailbench.pipeline import run_all
from trailbench.report.compare import comparison
from trailbench.tasks import registry
from trailbench.tasks.declare import Metric, ScoreContext, Scored, Task
from trailbench.tasks.docs import metrics_markdown
from trailbench.tasks.truth import unit_at

DOCS = Path(__file__).resolve().parent.parent / "docs"

# -- the toy task of docs/ADDING.md: "which town does the subject live in?" ------------------


def score_town(ctx: ScoreContext, answers: pl.DataFrame | None) -> Scored:
    truth = unit_at(ctx.world, ctx.docket_truth.select("case_id", "person_id", "as_of"))
    truth = truth.join(ctx.world.units.select(true_unit="unit_id", true_town="town"), on="true_unit", how="left")
    given = answers if answers is not None else TOWN.empty_answers()
    top = given.sort("case_id", "rank").unique("case_id", keep="first", maintain_order=True)
    t = truth.join(top.select("case_id", "town"), on="case_id", how="left")
    counts = t.select(
        "case_id",
        town_answered=pl.col("town").is_not_null().cast(pl.Int64),
        town_correct=(pl.col("town") == pl.col("true_town")).fill_null(False).cast(pl.Int64),
    ).sort("case_id")
    return Scored(counts, tables={"town": t.select("case_id", "town", "true_town")} if answers is not None else {})


TOWN = Task(
    name="town",
    description="the town the subject lives in on the as-of date",
    answer_schema={"case_id": pl.String(), "rank": pl.Int64(), "town": pl.String()},
    id_columns=(),
    score=score_town,
    counts=("town_answered", "town_correct"),
    metrics=(
        Metric(
            "town_correct_rate",
            "town",
            "town_correct",
            "cases",
            "cases whose answered town is the subject's town",
            higher_is_better=True,
            slices=("overall", "group"),
        ),
    ),
    outcome_tables={"town": "one row per (system, case): the town answered and the true one"},
)
# the toy metric: a new metric of an existing task, over counts it already yields
ANSWERED = Metric("answered_rate", "locate", "answered", "cases", "cases given any address", higher_is_better=True)

TOY_SYSTEM = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import polars as pl

    work = Path(sys.argv[-1])
    cases = pl.read_parquet(work / "docket" / "cases.parquet")
    towns = pl.read_parquet(work / "trails" / "address_register.parquet")["town"].unique().sort()
    first = towns[0]
    answers = {"case_id": cases["case_id"], "rank": [1] * cases.height, "town": [first] * cases.height}
    pl.DataFrame(answers).write_parquet(work / "answers" / "towner" / "town.parquet")
    """
)


def test_generated_documents_are_current() -> None:
    assert (DOCS / "METRICS.md").read_text() == metrics_markdown(), "run: python scripts/metrics_md.py"
    written = json.loads((DOCS / "scorecard.schema.json").read_text())
    assert written == scorecard_schema(), "run: python scripts/metrics_md.py"
    assert set(re.findall(r"^\| `(\w+)`", (DOCS / "METRICS.md").read_text(), re.M)) >= set(registry.metrics())


def test_declarations_are_checked() -> None:
    bad = Metric("broken", "locate", "no_such_count", "cases", "reads a count locate does not yield")
    with pytest.raises(ValueError, match="not one of task locate's counts"):
        registry.add_metrics("locate", bad)
    with pytest.raises(ValueError, match="declared twice"):
        registry.add_metrics("locate", registry.metric("wrong_door_rate"))
    with pytest.raises(registry.UnknownName, match="did you mean wrong_door_rate"):
        registry.metric("wrong_door")


def test_the_stage_graph_is_declared_and_covers_the_registries() -> None:
    from dataclasses import replace

    from trailbench.stages import STAGES, stage_hash
    from trailbench.trails import catalog

    assert [s.parent for s in STAGES.values()] == [None, "world", "trails", "signals", "plates", "docket", "systems"]
    sc = small_scenario()
    before = {s: stage_hash(sc, s) for s in STAGES}
    registry.register(TOWN)
    try:
        after_task = {s: stage_hash(sc, s) for s in STAGES}
    finally:
        registry.unregister("town")
    assert after_task["systems"] == before["systems"] and after_task["audit"] != before["audit"]
    catalog.register(replace(catalog.SOURCES["court"], name="court_copy"))
    try:
        after_source = {s: stage_hash(sc, s) for s in STAGES}
    finally:
        catalog.unregister("court_copy")
    assert after_source["world"] == before["world"] and after_source["trails"] != before["trails"]
    assert {s: stage_hash(sc, s) for s in STAGES} == before


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict]]:
    registry.register(TOWN)
    registry.add_metrics("locate", ANSWERED)
    try:
        work = tmp_path_factory.mktemp("toy")
        (work / "towner.py").write_text(TOY_SYSTEM)
        sc = small_scenario(
            docket={"cases": 80},
            audit={"bootstrap": 60},
            systems={"run": ["exact", "towner"], "commands": {"towner": f"{sys.executable} {work / 'towner.py'}"}},
        )
        card = run_all(sc, work / "run", use_sandbox=SANDBOX)
        yield work / "run", card
    finally:
        registry.unregister("town")
        registry.remove_metrics("locate", "answered_rate")


def test_the_toy_task_is_scored(toy: tuple[Path, dict]) -> None:
    run, card = toy
    assert card["systems"]["towner"]["tasks"]["town"]["state"] == "ok"
    rows = {(r["system"], r["slice"], r["level"]): r for r in card["metrics"] if r["metric"] == "town_correct_rate"}
    # recomputed independently from the outcome table the task wrote
    t = pl.read_parquet(run / "outcomes" / "town.parquet").filter(pl.col("system") == "towner")
    expected = (t["town"] == t["true_town"]).sum() / t.height
    assert rows[("towner", "overall", "all")]["value"] == pytest.approx(expected, abs=1e-6)
    # exact writes no answer file for it: it does not take part in the task, and has no row for it
    assert ("exact", "overall", "all") not in rows
    assert "town" not in card["systems"]["exact"]["answers"] and "town" in card["systems"]["towner"]["answers"]
    assert card["systems"]["exact"]["tasks"]["town"]["state"] == "not-answered"
    assert card["systems"]["exact"]["state"] == "ok"
    assert card["declarations"]["tasks"]["town"] == 1


def test_the_toy_metric_is_scored(toy: tuple[Path, dict]) -> None:
    _, card = toy
    r = next(
        r
        for r in card["metrics"]
        if r["metric"] == "answered_rate" and r["system"] == "exact" and r["slice"] == "overall"
    )
    no_answer = next(
        r
        for r in card["metrics"]
        if r["metric"] == "no_answer_rate" and r["system"] == "exact" and r["slice"] == "overall"
    )
    assert r["value"] == pytest.approx(1 - no_answer["value"], abs=1e-6)


def test_the_toys_are_reported_and_schema_valid(toy: tuple[Path, dict]) -> None:
    run, card = toy
    validate_scorecard(card)
    html = (run / "report.html").read_text()
    assert "town_correct_rate" in html and "answered_rate" in html
    assert "town_correct_rate" in metrics_markdown()


def test_every_surface_lists_exactly_the_declared_metrics(toy: tuple[Path, dict]) -> None:
    run, card = toy
    declared = set(registry.metrics())
    assert set(scorecard_schema()["properties"]["definitions"]["properties"]) == declared
    assert set(card["definitions"]) == declared
    # the card, the report and compare carry every metric of every task some system took part in
    answered = {t for s in card["systems"].values() for t in s["answers"]}
    taken = {m for m in declared if registry.metric(m).task in answered}
    assert {r["metric"] for r in card["metrics"]} == taken
    html = (run / "report.html").read_text()
    in_report = {k.split("|")[1] for k in re.findall(r"data-key='([^']+)'", html) if "|exposure" not in k}
    assert in_report == taken
    assert {r["metric"] for r in comparison(card, card) if "disparity" not in r["metric"]} == {
        m for m in taken if not registry.metric(m).by_bystander
    }
    listed = CliRunner().invoke(app, ["metrics"], terminal_width=200).output
    first = {ln.split()[0] for ln in listed.splitlines() if ln.strip() and ln[2:3] != " "}
    assert first - {"metric"} - {t for t in first if set(t) <= {"─"}} == declared
