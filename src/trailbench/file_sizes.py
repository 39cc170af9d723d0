"""Errors by the size of the broker's file (issue 13): the broker system run again on smaller files.

A run with ``[background] file_sizes`` also audits the broker reference system with the broker's
file covering fewer people: for each size, the same scenario with ``background.people`` cut to
the size less the region's people, run in ``run/file_sizes/<background people>/`` like any run
(cached stages reused). The background is drawn so that a smaller one is the first people of a
larger one (:func:`trailbench.world.background.background_block`), so the files are nested: a
bigger file is the smaller one plus more people, and the curve measures what the added people do.

``run/file_sizes.json`` lists the levels, smallest first, the run itself last; the report's
"Errors by the size of the broker's file" reads it (:mod:`trailbench.report.file_sizes`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from trailbench.io import write_json
from trailbench.scenario import Scenario

SYSTEM = "broker"
"""The system the sweep runs: answering straight from the broker's file."""
TASK = "locate"
FOLDER = "file_sizes"
FILE = "file_sizes.json"


def level_scenario(sc: Scenario, covered: int) -> Scenario:
    """``sc`` with the broker's file covering ``covered`` people, running only the broker system."""
    bg = sc.background.model_copy(update={"people": covered - sc.world.people, "file_sizes": ()})
    systems = sc.systems.model_copy(update={"run": (SYSTEM,)})
    return sc.model_copy(update={"background": bg, "systems": systems})


def level_dir(run: Path, sc: Scenario, covered: int) -> Path:
    return run / FOLDER / str(covered - sc.world.people)


def levels(sc: Scenario) -> list[dict[str, Any]]:
    """Every file size of the sweep, smallest first, the run itself last (``run`` relative to it)."""
    region = sc.world.people
    sizes = [*sc.background.file_sizes, region + sc.background.people]
    return [
        {
            "covered": n,
            "region_people": region,
            "background_people": n - region,
            "run": "." if i == len(sizes) - 1 else f"{FOLDER}/{n - region}",
        }
        for i, n in enumerate(sizes)
    ]


def run_file_sizes(
    sc: Scenario,
    run: Path,
    run_level: Callable[[Scenario, Path, Callable[[str], None]], Any],
    note: Callable[[str], None],
) -> None:
    """Run (or reuse) every smaller file size with ``run_level(scenario, run_dir, note)`` and write
    ``run/file_sizes.json``. Nothing is written when the scenario asks for no sweep."""
    if not sc.background.file_sizes:
        (run / FILE).unlink(missing_ok=True)
        return
    for covered in sc.background.file_sizes:
        run_level(level_scenario(sc, covered), level_dir(run, sc, covered), _prefixed(note, f"file of {covered:,}"))
    write_json({"system": SYSTEM, "task": TASK, "levels": levels(sc)}, run / FILE)


def _prefixed(note: Callable[[str], None], label: str) -> Callable[[str], None]:
    return lambda msg: note(f"{label}: {msg}")
