"""Command line: ``trailbench world`` (and, as they land, run, report, compare)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from trailbench.api import with_overrides
from trailbench.pipeline import check_systems, default_run_dir, make_world, run_all
from trailbench.report.compare import render_compare
from trailbench.report.html import render_report
from trailbench.resources import check_resources
from trailbench.scenario import ScenarioError, load_scenario

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


def _load(spec: str, seed: int | None) -> Any:
    try:
        return load_scenario(spec, seed=seed)
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
    sc = _load(scenario, seed)
    if systems:
        try:
            sc = with_overrides(sc, systems=[s.strip() for s in systems.split(",") if s.strip()])
        except ScenarioError as err:
            _fail(err)
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
    for col in ("system", "figure", "slice", "A [95% CI]", "B [95% CI]", "B − A", "overlap"):
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


def _fmt(v: float | None, pct: bool = False) -> str:
    if v is None:
        return "–"
    return f"{100 * v:.1f}%" if pct else f"{v:.2f}"


def print_run_summary(card: dict[str, Any], run_dir: Path) -> None:
    table = Table(
        title=f"trailbench audit · {card['scenario_name']} · seed {card['seed']} · {card['docket']['cases']:,} cases"
    )
    for col in (
        "system",
        "status",
        "wrong-door rate [95% CI]",
        "people at wrong doors /100 cases",
        "false links /case",
        "worst disparity (wrong-door rate)",
    ):
        table.add_column(col, justify="left" if col in ("system", "status") else "right")
    m = {(r["system"], r["metric"], r["slice"], r["level"]): r for r in card["metrics"]}
    for name in card["scenario"]["systems"]["run"]:
        st = card["systems"][name]
        wd = m.get((name, "wrong_door_rate", "overall", "all"), {})
        ppl = m.get((name, "people_at_wrong_door_per_100_cases", "overall", "all"), {})
        fl = m.get((name, "false_links_per_case", "overall", "all"), {})
        worst = "–"
        top = [
            d
            for d in card["disparities"]
            if d["system"] == name and d["metric"] == "wrong_door_rate" and d["ratio"] and d["level"] != d["reference"]
        ]
        if top:
            d = max(top, key=lambda d: (d["ratio"], d["level"]))
            worst = f"{d['level']} {d['ratio']:.2f}x [{_fmt(d['lo'])}, {_fmt(d['hi'])}] vs {d['reference']}"
        table.add_row(
            name,
            st["state"],
            f"{_fmt(wd.get('value'), True)} [{_fmt(wd.get('lo'), True)}, {_fmt(wd.get('hi'), True)}]",
            _fmt(ppl.get("value")),
            _fmt(fl.get("value")),
            worst,
        )
    console.print(table)
    for name, st in card["systems"].items():
        if st["state"] != "ok":
            _say(f"{name}: {st['state']}: {st['reason']}", "yellow")
        if st.get("isolation", {}).get("kind") == "none":
            _say(f"{name}: ran without isolation (--no-sandbox); its figures prove nothing", "yellow")
    console.print(f"scorecard: {run_dir / 'scorecard.json'}")
    console.print(f"report:    {run_dir / 'report.html'}")


def print_world_summary(summary: dict[str, Any], run: Path) -> None:
    head = Table(title="World", show_header=False)
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
