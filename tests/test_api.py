"""The Python API (:mod:`trailbench.api`): its repr, tables with fixed columns that are the same
from a fresh run, a cached run and a reloaded one, checked names with suggestions, metric views,
overrides, compare, per-system caching, and the 80-column CLI summary.

One small audit (2000 people, 80 cases, exact and broker) is built per module and reused."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import SANDBOX, small_scenario
from rich.console import Console

import trailbench
import trailbench.api
import trailbench.cli
from trailbench.pipeline import default_run_dir, run_all
from trailbench.report.html import fmt
from trailbench.scenario import Scenario, ScenarioError
from trailbench.tasks import registry

SYSTEMS = ["exact", "broker"]
METRIC_COLUMNS = [
    *("system", "metric", "task", "slice", "level"),
    *("value", "lo", "hi", "denominator", "cases", "estimable"),
]
STABLE_TABLES = ("metrics", "disparities", "exposure", "error_types")


def _scenario(**over: Any) -> Scenario:
    """A small audit: 80 cases, 60 resamples; groups of 5 cases or more get a disparity ratio."""
    data: dict[str, Any] = {
        "name": "apitest",
        "seed": 5,
        "docket": {"cases": 80},
        "audit": {"bootstrap": 60, "min_group_cases": 5},
        "systems": {"run": SYSTEMS},
    }
    data.update(over)
    return small_scenario(**data)


@dataclass(frozen=True)
class Runs:
    fresh: trailbench.Results
    cached: trailbench.Results
    loaded: trailbench.Results
    fresh_notes: list[str]
    cached_notes: list[str]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """The module's run: built fresh, run again into the same directory (all cached), reloaded."""
    out = tmp_path_factory.mktemp("api") / "run"
    fresh_notes: list[str] = []
    cached_notes: list[str] = []
    fresh = trailbench.run(_scenario(), out=out, progress=fresh_notes.append, sandbox=SANDBOX)
    cached = trailbench.run(_scenario(), out=out, progress=cached_notes.append, sandbox=SANDBOX)
    return Runs(fresh, cached, trailbench.load(out), fresh_notes, cached_notes)


@pytest.fixture(scope="module")
def res(runs: Runs) -> trailbench.Results:
    return runs.fresh


@pytest.fixture(scope="module")
def flat(tmp_path_factory: pytest.TempPathFactory) -> trailbench.Results:
    """The same audit with surnames drawn flat, set by a dotted-key override."""
    out = tmp_path_factory.mktemp("flat") / "run"
    return trailbench.run(_scenario(), out=out, overrides={"names.structure": "flat"}, progress=False, sandbox=SANDBOX)


# -- 1. repr ----------------------------------------------------------------------------------


def test_repr_is_short_and_names_the_run(res: trailbench.Results) -> None:
    text = repr(res)
    assert len(text) < 400, text
    assert "apitest" in text and "seed 5" in text
    for name in SYSTEMS:
        assert res.scorecard["systems"][name]["state"] == "ok"
        assert f"{name} ok" in text, text
    assert str(res.run_dir) in text
    assert str(res.report_path) in text and res.report_path.exists()


# -- 2. stable columns from fresh, cached and reloaded runs ----------------------------------------


def test_second_run_is_cached(runs: Runs) -> None:
    assert not [n for n in runs.fresh_notes if "cached" in n], runs.fresh_notes
    expected = {"world", "trails", "docket", "audit", *(f"system {s}" for s in SYSTEMS)}
    assert {f"{stage}: cached" for stage in expected} <= set(runs.cached_notes), runs.cached_notes


def test_metric_columns_are_fixed(runs: Runs) -> None:
    for r in (runs.fresh, runs.cached, runs.loaded):
        assert r.metrics.columns == METRIC_COLUMNS
        assert r.metrics.height > 0


@pytest.mark.parametrize(
    "table",
    [*STABLE_TABLES, "status", "provenance"],
)
def test_tables_are_equal_fresh_cached_and_loaded(runs: Runs, table: str) -> None:
    fresh = getattr(runs.fresh, table)
    assert fresh.height > 0
    for other in (runs.cached, runs.loaded):
        frame = getattr(other, table)
        assert frame.columns == fresh.columns
        assert frame.equals(fresh), f"{table}:\n{fresh}\n{frame}"


def test_status_rows_are_the_same_set(runs: Runs) -> None:
    """What ``.status`` holds (whatever its order) agrees across the three."""
    key = ["system"]
    fresh = runs.fresh.status.sort(key)
    assert fresh["system"].to_list() == sorted(SYSTEMS) and set(fresh["state"]) == {"ok"}
    for other in (runs.cached, runs.loaded):
        assert other.status.sort(key).equals(fresh)


# -- 3. names checked, with suggestions ------------------------------------------------------------


def test_unknown_metric_suggests_the_nearest(res: trailbench.Results) -> None:
    with pytest.raises(trailbench.UnknownName) as err:
        res.metric("wrong_door")
    assert "did you mean wrong_door_rate" in str(err.value)


def test_unknown_outcome_table_suggests_the_nearest(res: trailbench.Results) -> None:
    with pytest.raises(trailbench.UnknownName) as err:
        res.outcomes("chains")
    assert re.search(r"did you mean [^(]*\blocate_chains\b", str(err.value)), str(err.value)
    assert res.outcomes("locate_chains").height > 0  # the suggested name works


def test_overall_with_an_unknown_metric_raises(res: trailbench.Results) -> None:
    with pytest.raises(trailbench.UnknownName, match="did you mean wrong_door_rate"):
        res.overall("wrong_door")


# -- 4. MetricResult ---------------------------------------------------------------------------


def _raw(res: trailbench.Results, metric: str, keep: Any) -> list[tuple[Any, ...]]:
    return sorted(
        (r["system"], r["slice"], r["level"], r["value"], r["lo"], r["hi"])
        for r in res.scorecard["metrics"]
        if r["metric"] == metric and keep(r["slice"])
    )


def _rows(frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    return sorted(frame.select("system", "slice", "level", "value", "lo", "hi").iter_rows())


def test_metric_result_overall(res: trailbench.Results) -> None:
    m = res.metric("wrong_door_rate")
    assert m.overall["system"].to_list() == SYSTEMS
    assert set(m.overall["slice"]) == {"overall"}
    assert _rows(m.overall) == _raw(res, "wrong_door_rate", lambda s: s == "overall")
    assert res.overall("wrong_door_rate").equals(m.overall)


def test_metric_result_by_group_and_by_stratum(res: trailbench.Results) -> None:
    m = res.metric("wrong_door_rate")
    assert set(m.by_group["slice"]) == {"group"}
    assert _rows(m.by_group) == _raw(res, "wrong_door_rate", lambda s: s in ("group", "bystander_group"))
    assert {"tenure", "household_form", "moved_last_year", "informal_work"} <= set(m.by_stratum["slice"])
    assert not set(m.by_stratum["slice"]) & {"overall", "group", "bystander_group"}
    assert _rows(m.by_stratum) == _raw(
        res, "wrong_door_rate", lambda s: s not in ("overall", "group", "bystander_group")
    )
    assert m.overall.height + m.by_group.height + m.by_stratum.height == m.rows.height


def test_metric_result_by_group_of_a_harm_metric_is_by_bystander_group(res: trailbench.Results) -> None:
    harm = next(m.name for m in registry.metrics().values() if m.by_bystander)
    m = res.metric(harm)
    assert m.by_group.height > 0 and set(m.by_group["slice"]) <= {"group", "bystander_group"}
    assert not set(m.by_stratum["slice"]) & {"overall", "group", "bystander_group"}


def test_metric_result_ratio_leaves_out_the_reference(res: trailbench.Results) -> None:
    m = res.metric("wrong_door_rate")
    ratio = m.ratio()
    assert ratio.height > 0
    assert ratio.filter(pl.col("level") == pl.col("reference")).height == 0
    assert m.disparities.filter(pl.col("level") == pl.col("reference")).height > 0  # there was one to leave out
    raw = sorted(
        (d["system"], d["slice"], d["level"], d["reference"], d["ratio"], d["lo"], d["hi"])
        for d in res.scorecard["disparities"]
        if d["metric"] == "wrong_door_rate" and d["level"] != d["reference"]
    )
    got = sorted(ratio.select("system", "slice", "level", "reference", "ratio", "lo", "hi").iter_rows())
    assert got == raw


# -- 5. metrics() and tasks() --------------------------------------------------------------------


def test_metrics_lists_the_declared_metrics_in_order() -> None:
    frame = trailbench.metrics()
    assert frame["metric"].to_list() == list(registry.metrics())
    assert frame["task"].to_list() == [m.task for m in registry.metrics().values()]


BUILT_IN = ["locate", "associates", "home_work", "device_link", "colocation", "flag", "hotlist"]


def test_tasks_lists_the_built_in_tasks() -> None:
    frame = trailbench.api.tasks()
    assert frame["task"].to_list() == BUILT_IN
    assert frame["metrics"].to_list() == [len(registry.task(t).metrics) for t in BUILT_IN]


def test_package_tasks_is_callable() -> None:
    """``trailbench.tasks`` is also the subpackage; called, it is the table of declared tasks."""
    import trailbench.api

    frame = trailbench.tasks()
    assert frame["task"].to_list() == BUILT_IN


# -- 6. overrides --------------------------------------------------------------------------------


def test_override_reaches_the_scorecard(res: trailbench.Results, flat: trailbench.Results) -> None:
    assert flat.scorecard["scenario"]["names"]["structure"] == "flat"
    assert res.scorecard["scenario"]["names"]["structure"] == "cited"
    assert 'structure = "flat"' in (flat.run_dir / "scenario.toml").read_text()


def test_bad_override_key_raises_before_any_run_directory(tmp_path: Path) -> None:
    out = tmp_path / "never"
    with pytest.raises(ScenarioError, match=r"names\.structur\b") as err:
        trailbench.run(_scenario(), out=out, overrides={"names.structur": "flat"}, progress=False, sandbox=SANDBOX)
    assert "names.structure" in str(err.value)  # the nearest key is suggested
    assert not out.exists()


# -- 7. compare ----------------------------------------------------------------------------------


def _compared(res: trailbench.Results) -> set[tuple[str, str]]:
    """(system, metric) of every overall row a comparison should hold: the case metrics."""
    case_metrics = {m.name for m in registry.metrics().values() if not m.by_bystander}
    return {
        (r["system"], r["metric"])
        for r in res.scorecard["metrics"]
        if r["slice"] == "overall" and r["metric"] in case_metrics
    }


def test_compare_has_a_row_per_system_and_metric(res: trailbench.Results, flat: trailbench.Results) -> None:
    table = res.compare(flat)
    assert isinstance(table, pl.DataFrame)
    assert table.columns == ["system", "metric", "level", "a", "a_ci", "b", "b_ci", "diff", "overlap"]
    overall = table.filter(pl.col("level") == "overall")
    pairs = list(zip(overall["system"], overall["metric"], strict=True))
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == _compared(res) == _compared(flat)
    assert set(overall["system"]) == set(SYSTEMS)
    values = {
        (name, r["system"], r["metric"]): fmt(r["metric"], r["value"])
        for name, card in (("a", res.scorecard), ("b", flat.scorecard))
        for r in card["metrics"]
        if r["slice"] == "overall"
    }
    for row in overall.iter_rows(named=True):
        assert row["a"] == values[("a", row["system"], row["metric"])]
        assert row["b"] == values[("b", row["system"], row["metric"])]


def test_compare_with_itself_is_zero_and_overlaps(res: trailbench.Results) -> None:
    table = res.compare(res)
    assert table.height > 0
    assert table.filter(pl.col("level") != "overall").height > 0  # disparity rows too
    valued = table.filter(pl.col("a") != "–")
    assert valued.height > 0
    zero = re.compile(r"^[+−]0(\.0+)?[%×]?$")
    assert [d for d in valued["diff"] if not zero.match(d)] == []
    with_ci = table.filter(~pl.col("a_ci").str.contains("–") & ~pl.col("b_ci").str.contains("–"))
    assert with_ci.height > 0
    assert set(with_ci["overlap"]) == {"yes"}


# -- 8. per-system caching -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def caching_notes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Notes of four runs into one directory: exact alone; exact and broker; splink's settings
    changed (splink not run); the limits changed."""
    run = tmp_path_factory.mktemp("cache") / "run"
    phases = {
        "exact": _scenario(systems={"run": ["exact"]}),
        "added": _scenario(systems={"run": SYSTEMS}),
        "splink": _scenario(systems={"run": SYSTEMS, "splink": {"threshold": 0.8}}),
        "limits": _scenario(systems={"run": SYSTEMS, "splink": {"threshold": 0.8}, "timeout_s": 600.0}),
    }
    out: dict[str, list[str]] = {}
    for phase, sc in phases.items():
        notes: list[str] = []
        run_all(sc, run, note=notes.append, use_sandbox=SANDBOX)
        out[phase] = notes
    return out


def _system_note(notes: list[str], name: str) -> str:
    found = [n for n in notes if n.startswith(f"system {name}:")]
    assert len(found) == 1, notes
    return found[0]


def test_adding_a_system_reruns_only_the_new_one(caching_notes: dict[str, list[str]]) -> None:
    assert _system_note(caching_notes["exact"], "exact") == "system exact: running"
    assert not [n for n in caching_notes["exact"] if n.startswith("system broker")]
    notes = caching_notes["added"]
    assert _system_note(notes, "exact") == "system exact: cached"
    assert _system_note(notes, "broker") == "system broker: running"
    assert {"world: cached", "trails: cached", "docket: cached"} <= set(notes)


def test_settings_of_a_system_not_run_rerun_nothing(caching_notes: dict[str, list[str]]) -> None:
    notes = caching_notes["splink"]
    for name in SYSTEMS:
        assert _system_note(notes, name) == f"system {name}: cached"
    assert not [n for n in notes if n.startswith("system splink")]


def test_limits_are_part_of_every_system_key(caching_notes: dict[str, list[str]]) -> None:
    notes = caching_notes["limits"]
    for name in SYSTEMS:
        assert _system_note(notes, name) == f"system {name}: running", notes
    assert {"world: cached", "trails: cached", "docket: cached"} <= set(notes)


# -- 9. the CLI summary fits 80 columns -------------------------------------------------------------


def test_cli_summary_fits_80_columns(res: trailbench.Results, monkeypatch: pytest.MonkeyPatch) -> None:
    console = Console(width=80, record=True, file=io.StringIO())
    monkeypatch.setattr(trailbench.cli, "console", console)
    card = res.scorecard
    # the directory the CLI uses without --out (a long temporary path would only lengthen the
    # soft-wrapped path lines, which are kept whole so they can be copied)
    trailbench.cli.print_run_summary(card, default_run_dir(_scenario()))
    lines = console.export_text().splitlines()
    assert [ln for ln in lines if len(ln) > 80] == []
    end = next(i for i, ln in enumerate(lines) if "values with their" in ln)
    table = lines[: end + 1]
    assert not [ln for ln in table if "…" in ln]  # nothing cut short
    # the first table: the summary metrics of the tasks exact takes part in
    answers = card["systems"]["exact"]["answers"]
    headline = [m for m in registry.metrics().values() if m.summary and m.task in answers]
    assert headline
    header = next(ln for ln in table if re.search(r"^\s*system\b", ln))
    assert all(m.heading in header for m in headline), header
    first = headline[0].name
    overall = {r["system"]: r for r in card["metrics"] if r["metric"] == first and r["slice"] == "overall"}
    for name in SYSTEMS:
        rows = [ln for ln in table if re.search(rf"\b{re.escape(name)}\b", ln)]
        assert len(rows) == 1, table
        assert fmt(first, overall[name]["value"]) in rows[0], rows[0]
    assert any("scorecard.json" in ln for ln in lines[end:])


# -- 10. load ------------------------------------------------------------------------------------


def test_load_without_a_scorecard_says_to_run_first(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="trailbench run"):
        trailbench.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="trailbench run"):
        trailbench.load(tmp_path / "missing")


def test_the_configured_confidence_is_stated_everywhere(
    res: trailbench.Results, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``audit.confidence = 0.9`` no surface may say 95%."""
    import io

    from rich.console import Console

    from trailbench import cli
    from trailbench.report.compare import render_compare
    from trailbench.report.html import render_report

    card = dict(res.scorecard, confidence=0.9)
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "scorecard.json").write_text(json.dumps(card))
    page = render_report(tmp_path / "a").read_text()
    assert "90% CI" in page and "95% CI" not in page and "Intervals are 90%" in page
    _, _ = render_compare(tmp_path / "a", tmp_path / "b", tmp_path / "c.html")
    assert "90% CI" in (tmp_path / "c.html").read_text() and "95% CI" not in (tmp_path / "c.html").read_text()
    console = Console(width=80, record=True, file=io.StringIO())
    monkeypatch.setattr(cli, "console", console)
    cli.print_run_summary(card, tmp_path / "a")
    text = console.export_text()
    assert "90% CI" in text and "95% CI" not in text


def test_worlds_and_per_world_figures(res: trailbench.Results) -> None:
    assert res.worlds["seed"].to_list()[0] == res.scorecard["seed"]
    per = res.by_world
    assert set(per["world"].unique().to_list()) == set(res.worlds["world"].to_list())
    assert {"system", "metric", "slice", "level", "value"} <= set(per.columns)
    d = res.disparities
    assert {"p", "p_holm", "detected"} <= set(d.columns)
    # Holm never makes a p-value smaller, and only adjusted p-values below alpha are gaps
    both = d.drop_nulls(["p", "p_holm"])
    assert (both["p_holm"] >= both["p"] - 1e-9).all()
    alpha = 1 - res.scorecard["confidence"]
    assert (both["detected"] == (both["p_holm"] < alpha)).all()
