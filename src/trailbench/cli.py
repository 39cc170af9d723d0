"""Command line: ``trailbench world`` (and, as they land, run, report, compare)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from trailbench.pipeline import default_run_dir, make_world
from trailbench.scenario import ScenarioError, load_scenario

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="trailbench: an audit bench for people-finding systems."
)
console = Console()


@app.callback()
def main() -> None:
    """trailbench: measures how often people-finding systems are wrong, and who pays for it."""


def _load(spec: str, seed: int | None) -> Any:
    try:
        return load_scenario(spec, seed=seed)
    except ScenarioError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from None


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
    run = out or default_run_dir(sc)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=2)

        def note(msg: str) -> None:
            if msg.endswith("cached") or progress.tasks[task].description != "starting":
                progress.advance(task)
            progress.update(task, description=msg)

        summary = make_world(sc, run, workers=workers, note=note, fresh=fresh)
        progress.update(task, completed=2)
    print_world_summary(summary, run)


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
