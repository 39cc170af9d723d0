"""Command line: ``trailbench world`` (and, as they land, run, report, compare)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from trailbench.mechanisms import ALL, MECHANISMS
from trailbench.pipeline import check_systems, default_run_dir, make_world, run_all
from trailbench.report.compare import render_compare
from trailbench.report.html import ci_label, fmt, render_report
from trailbench.resources import check_resources
from trailbench.scenario import ScenarioError, load_scenario
from trailbench.tasks import registry

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="trailbench: an audit bench for people-finding systems."
)
console = Console()


@app.callback()
def main() -> None:
    """trailbench: measures how often people-finding systems are wrong, and who pays for it."""


def _say(text: str, style: str) -> None:
    """Print ``text`` literally: no Rich markup or emoji codes (names like ``[/red]`` stay as typed), no wrapping."""
    console.print(text, style=style, markup=False, emoji=False, highlight=False, soft_wrap=True)


def _fail(err: Exception | str) -> NoReturn:
    """Print the error in red, as given, and exit with status 2 (a usage error; no traceback)."""
    _say(str(err), "red")
    raise typer.Exit(2)


def _load(spec: str, seed: int | None, overrides: dict[str, Any] | None = None) -> Any:
    try:
        return load_scenario(spec, seed=seed, overrides=overrides)
    except ScenarioError as err:
        _fail(err)


@contextmanager
def stage_progress(total: int) -> Iterator[Callable[[str], None]]:
    """A Rich progress bar advanced by the pipeline's stage notes (one note as each stage starts)."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("starting", total=total)
        seen = [0]

        def note(msg: str) -> None:
            progress.update(task, description=msg, completed=seen[0])
            seen[0] += 1

        yield note
        progress.update(task, completed=total)


@app.command()
def world(
    scenario: Annotated[str, typer.Argument(help="preset name or path to a TOML scenario")] = "county-10k",
    out: Annotated[Path | None, typer.Option(help="run directory (default runs/<name>-<hash8>)")] = None,
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed")] = None,
    workers: Annotated[int, typer.Option(min=1, help="threads for emitting sources (results do not change)")] = 1,
    fresh: Annotated[bool, typer.Option(help="discard cached stages in the run directory")] = False,
) -> None:
    """Generate the synthetic world and its trails, and print a summary."""
    sc = _load(scenario, seed)
    try:
        check_resources(sc, audit=False)
    except ScenarioError as err:
        _fail(err)
    run = out or default_run_dir(sc)
    try:
        with stage_progress(2) as note:
            summary = make_world(sc, run, workers=workers, note=note, fresh=fresh)
    except ScenarioError as err:
        _fail(err)
    print_world_summary(summary, run)


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="preset name or path to a TOML scenario")] = "county-10k",
    out: Annotated[Path | None, typer.Option(help="run directory (default runs/<name>-<hash8>)")] = None,
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed")] = None,
    systems: Annotated[str | None, typer.Option(help="comma-separated systems (default: the scenario's)")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="threads for emitting sources (default: up to 4; results do not change)")
    ] = None,
    no_sandbox: Annotated[
        bool,
        typer.Option(
            "--no-sandbox",
            help="run every system without isolation (where bubblewrap cannot be used); "
            "the scorecard and report say so",
        ),
    ] = False,
) -> None:
    """Run the audit: world, trails, docket, systems, outcomes, scorecard (cached stages reused)."""
    chosen = [s.strip() for s in systems.split(",") if s.strip()] if systems else None
    sc = _load(scenario, seed, {"systems.run": chosen} if chosen is not None else None)
    run_dir = out or default_run_dir(sc)
    steps = 6 + len(sc.systems.run)
    try:
        check_systems(sc, use_sandbox=not no_sandbox)
    except ScenarioError as err:
        _fail(err)
    try:
        with stage_progress(steps) as note:
            card = run_all(sc, run_dir, workers=workers, note=note, use_sandbox=not no_sandbox)
    except ScenarioError as err:  # the run directory is busy, or a check failed
        _fail(err)
    print_run_summary(card, run_dir)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="a run directory holding scorecard.json")],
    out: Annotated[Path | None, typer.Option(help="where to write (default RUN_DIR/report.html)")] = None,
) -> None:
    """Re-render report.html from a run's scorecard."""
    if not (run_dir / "scorecard.json").exists():
        _fail(f"{run_dir}: no scorecard.json; run `trailbench run` into this directory first")
    path = render_report(run_dir, out)
    console.print(f"report: {path}")


@app.command()
def compare(
    run_a: Annotated[Path, typer.Argument(help="first run directory (A)")],
    run_b: Annotated[Path, typer.Argument(help="second run directory (B)")],
    out: Annotated[Path, typer.Option(help="where to write the comparison page")] = Path("compare.html"),
) -> None:
    """The same figures from two runs side by side, their difference, and whether intervals overlap."""
    try:
        path, rows = render_compare(run_a, run_b, out)
    except FileNotFoundError as err:
        _fail(err)
    table = Table(title=f"A: {run_a}  vs  B: {run_b}")
    ci = ci_label(json.loads((run_a / "scorecard.json").read_text()))
    for col in ("system", "figure", "slice", f"A [{ci}]", f"B [{ci}]", "B − A", "overlap"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["system"],
            r["metric"].replace("_", " "),
            r["level"],
            f"{r['a']} {r['a_ci']}",
            f"{r['b']} {r['b_ci']}",
            r["diff"],
            r["overlap"],
        )
    console.print(table)
    console.print(f"comparison: {path}")


@app.command("attribute")
def attribute(
    scenario: Annotated[str, typer.Argument(help="preset name or path to a TOML scenario")] = "county-10k",
    out: Annotated[Path | None, typer.Option(help="run directory (default runs/<name>-<hash8>)")] = None,
    switches: Annotated[
        str | None,
        typer.Option(
            help=f"comma-separated switches: {', '.join(m.name for m in MECHANISMS)}, or {ALL}; a+b turns two on "
            "together (default: each on its own, then all)"
        ),
    ] = None,
    jobs: Annotated[
        int | None, typer.Option(min=1, help="configurations run side by side (default: one per core, up to 4)")
    ] = None,
    no_sandbox: Annotated[
        bool, typer.Option("--no-sandbox", help="run every system without isolation; the report says so")
    ] = False,
) -> None:
    """What carries each gap: the audit again on the same worlds with each mechanism switched off
    (and all together), and how much of every disparity each switch removes, with paired intervals."""
    from trailbench.attribution import attribute as attribute_run
    from trailbench.attribution import configurations, parse_switches

    sc = _load(scenario, None)
    run_dir = out or default_run_dir(sc)
    try:
        chosen = parse_switches(switches)
        configurations(sc, chosen)  # every switched scenario is valid before anything runs
        check_systems(sc, use_sandbox=not no_sandbox)
        with stage_progress(len(chosen) + 4) as note:
            result = attribute_run(sc, run_dir, chosen, use_sandbox=not no_sandbox, note=note, jobs=jobs)
    except ScenarioError as err:
        _fail(err)
    print_attribution(result, run_dir)


def print_attribution(result: dict[str, Any], run_dir: Path) -> None:
    """Per system, the first summary harm metric's ratio by group under the baseline and each switch."""
    metric = next(
        (m.name for m in registry.metrics().values() if m.summary and not m.higher_is_better and m.disparity), None
    )
    rows = [r for r in result["rows"] if r["metric"] == metric and r["slice"] == "group"]
    groups = list(dict.fromkeys(r["group"] for r in rows))
    table = Table(
        title=f"{(metric or '').replace('_', ' ')}: ratio to {result['reference_group']}",
        caption=f"* {round(100 * result['confidence'])}% paired interval excludes 1",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1),
    )
    for col in ("system", "switch"):
        table.add_column(col, no_wrap=True)
    for g in groups:
        table.add_column(g, justify="right", no_wrap=True)

    def shown(v: float | None, lo: float | None, hi: float | None) -> str:
        if v is None:
            return "–"
        return f"{v:.2f}{'*' if lo is not None and hi is not None and (lo > 1 or hi < 1) else ' '}"

    for system in result["systems"]:
        own = {(r["switch"], r["group"]): r for r in rows if r["system"] == system}
        if not own:
            continue
        first = {g: next((r for (_, gg), r in own.items() if gg == g), None) for g in groups}
        table.add_row(
            system,
            "(baseline)",
            *(shown(r["base_ratio"], r["base_lo"], r["base_hi"]) if r else "–" for r in first.values()),
        )
        for sw in result["switches"]:
            cells = [own.get((sw["name"], g)) for g in groups]
            table.add_row("", sw["name"], *(shown(r["ratio"], r["lo"], r["hi"]) if r else "–" for r in cells))
        table.add_section()
    console.print(table)
    console.print(f"attribution: {run_dir / 'attribution.json'}", soft_wrap=True)
    console.print(f"report:      {run_dir / 'report.html'}", soft_wrap=True)


def _value(card: dict[str, Any], row: dict[str, Any] | None, metric: str) -> str:
    """``12.2% (10–14)``: the value as the report shows it, the interval's bounds rounded."""
    if row is None or row.get("value") is None:
        return "–"
    share = registry.metric(metric).unit == "share"

    def bound(v: float | None) -> str:
        return "–" if v is None else (f"{100 * v:.0f}" if share else f"{v:.1f}")

    return f"{fmt(metric, row['value'])} ({bound(row.get('lo'))}–{bound(row.get('hi'))})"


def gap_line(card: dict[str, Any], system: str, metric: str) -> str:
    """``splink: wrong door rate: hispanic/white 1.52× (1.3–1.8), Holm-adjusted p 0.001`` or, where
    no group's gap survives the correction, that none was detected at this sample size."""
    label = metric.replace("_", " ")
    rows = [d for d in card["disparities"] if d["system"] == system and d["metric"] == metric and d["p"] is not None]
    found = [d for d in rows if d.get("detected")]
    if not found:
        tests = sum(1 for d in card["disparities"] if d["system"] == system and d["p"] is not None)
        return f"{system}: {label}: no gap detected at this sample size (Holm, {tests} test{'s' if tests != 1 else ''})"
    d = max(found, key=lambda d: (abs(math.log(d["ratio"])), d["level"]))
    return (
        f"{system}: {label}: {d['level']}/{d['reference']} {d['ratio']:.2f}× "
        f"({fmt('ratio', d['lo']).rstrip('×')}–{fmt('ratio', d['hi'])}), Holm p {d['p_holm']:.2g}"
    )


def _answers(card: dict[str, Any], system: str) -> list[str]:
    """The tasks a system takes part in (every task, for a scorecard from before this was kept)."""
    return list(card["systems"][system].get("answers", [t.name for t in registry.tasks()]))


SUMMARY_COLUMNS = 4  # metric columns a summary table holds and still fits 80 columns


def _packed(metrics: list[Any]) -> list[tuple[str, ...]]:
    """A system's summary metrics in tables of at most SUMMARY_COLUMNS, a task's metrics kept
    together (a task with more starts a table of its own)."""
    by_task: dict[str, list[str]] = {}
    for m in metrics:
        by_task.setdefault(m.task, []).append(m.name)
    out: list[list[str]] = []
    for names in by_task.values():
        if out and len(out[-1]) + len(names) <= SUMMARY_COLUMNS:
            out[-1] += names
        else:
            out.append(list(names))
    return [tuple(t) for t in out]


def print_run_summary(card: dict[str, Any], run_dir: Path) -> None:
    """The summary metrics (from their declarations) with intervals, fitting 80 columns: one table
    for each set of tasks systems take part in (a system is shown only beside the metrics of tasks
    it answers); below, the largest group disparity of each system's first summary metric of harm."""
    declared = [m for m in registry.metrics().values() if m.summary and m.name in card["definitions"]]
    worlds = card.get("worlds", 1)
    title = (
        f"trailbench · {card['scenario_name']} · seed {card['seed']} · "
        f"{worlds} world{'s' if worlds != 1 else ''} · {card['docket']['cases']:,} cases"
    )
    rows = {(r["system"], r["metric"], r["slice"], r["level"]): r for r in card["metrics"]}
    systems = list(card["scenario"]["systems"]["run"])
    tables: dict[tuple[str, ...], list[str]] = {}
    for name in systems:
        for own in _packed([m for m in declared if m.task in _answers(card, name)]):
            tables.setdefault(own, []).append(name)
    for n, (names, members) in enumerate(tables.items()):
        if not names:
            continue
        table = Table(
            title=title if n == 0 else None,
            box=box.SIMPLE_HEAD,
            caption=f"values with their {ci_label(card)}",
            pad_edge=False,
            padding=(0, 1),
        )
        table.add_column("system", no_wrap=True)
        shown = [registry.metric(m) for m in names]
        for m in shown:
            table.add_column(m.heading, justify="right", no_wrap=True)
        for name in members:
            table.add_row(name, *(_value(card, rows.get((name, m.name, "overall", "all")), m.name) for m in shown))
        console.print(table)
    # the gap line: the system's first summary metric of harm (lower is better); a gap is named
    # only where it is detected after the multiplicity correction, the one farthest from 1
    for name in systems:
        first = next(
            (m for m in declared if not m.higher_is_better and m.disparity and m.task in _answers(card, name)), None
        )
        if first is not None:
            _say(gap_line(card, name, first.name), "")
    for name in systems:
        st = card["systems"][name]
        if st["state"] != "ok":
            _say(f"{name}: {st['state']}: {st['reason']}", "yellow")
        if st.get("isolation", {}).get("kind") == "none":
            _say(f"{name}: ran without isolation (--no-sandbox); its figures prove nothing", "yellow")
    console.print(f"scorecard: {run_dir / 'scorecard.json'}", soft_wrap=True)
    console.print(f"report:    {run_dir / 'report.html'}", soft_wrap=True)


@app.command("metrics")
def list_metrics() -> None:
    """Every declared metric: its task, unit, direction and definition."""
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("metric", no_wrap=True)
    for col in ("task", "unit", "better", "definition"):
        table.add_column(col, overflow="fold")
    for m in registry.metrics().values():
        table.add_row(m.name, m.task, m.unit, "higher" if m.higher_is_better else "lower", m.definition)
    console.print(table)


@app.command("tasks")
def list_tasks() -> None:
    """Every declared task: what systems answer and how many metrics score it."""
    table = Table(box=box.SIMPLE_HEAD)
    for col in ("task", "answer columns", "metrics", "description"):
        table.add_column(col, overflow="fold")
    for t in registry.tasks():
        table.add_row(t.name, ", ".join(t.answer_schema), str(len(t.metrics)), t.description)
    console.print(table)


def print_world_summary(summary: dict[str, Any], run: Path) -> None:
    worlds = summary.get("worlds", 1)
    head = Table(
        title="World 0" + (f" (of {worlds} replicate worlds, each built the same way)" if worlds > 1 else ""),
        show_header=False,
    )
    for key in ("people", "households", "units", "records", "record_links"):
        head.add_row(key.replace("_", " "), f"{summary[key]:,}")
    src = Table(title="Records by source")
    src.add_column("source")
    src.add_column("records", justify="right")
    for k, v in summary["records_by_source"].items():
        src.add_row(k, f"{v:,}")
    err = Table(title="Errors injected by kind")
    err.add_column("kind")
    err.add_column("records", justify="right")
    for k, v in summary["errors_by_kind"].items():
        err.add_row(k, f"{v:,}")
    console.print(head, src, err)
    console.print(f"run directory: {run}")


if __name__ == "__main__":
    app()
