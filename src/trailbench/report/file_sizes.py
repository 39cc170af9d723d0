"""The report's "Errors by the size of the broker's file" (issue 13): ``file_sizes.json`` (a sweep
over the size of the data broker's file, each size a run directory of its own) shaped for the
section in ``report.html.j2``. Every string reaches the page through Jinja2's autoescaping."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from markupsafe import Markup

from trailbench.report import charts
from trailbench.tasks import registry
from trailbench.tasks.locate import CAUSES

FILE = "file_sizes.json"
RATE = "wrong_door_rate"
SHARES = tuple(f"error_share_{c.replace('-', '_')}" for c in CAUSES)
COLUMNS = (
    (RATE, "wrong-door rate"),
    *((m, f"{c.replace('-', ' ')} share") for m, c in zip(SHARES, CAUSES, strict=True)),
)
NAMESAKE = "error_share_namesake"


def _card(path: Path) -> tuple[dict[str, Any] | None, str]:
    """A level's scorecard, or None and why not ("not run": no scorecard yet)."""
    try:
        card = json.loads(path.read_text())
    except FileNotFoundError:
        return None, "not run"
    except (OSError, ValueError):
        return None, "scorecard unreadable"
    if not isinstance(card, dict) or not isinstance(card.get("metrics"), list):
        return None, "scorecard unreadable"
    return card, ""


def _explanation(system: str, region: int | None) -> list[str]:
    region_text = f" ({region:,} people)" if region is not None else ""
    return [
        "Namesakes are people who share the subject's name (or a variant of it). The broker reference system "
        f"({system}) merges records into one profile on the exact surname plus the first three letters of the given "
        "name, or on the surname plus the date of birth. A bigger file holds more namesakes of each subject, so more "
        "of its profiles merge in a stranger's records, and with them a stranger's address.",
        "Background people live outside the region, at fictional addresses. Each size is the same region"
        f"{region_text} with the first N background people added: the smaller files are prefixes of the larger, so "
        "one size differs from the next only by the people added.",
        f"The wrong-door rate is over all cases: {registry.metrics()[RATE].definition}. The shares split the wrong "
        "answers by cause (stale, namesake, digit error, unit missing, other) and add up to 100% at each size.",
        "Not everyone the rule merges is a namesake: a JOHANNA SMITH shares a JOHN SMITH's surname and first "
        "three letters but not his name, and someone sharing only a surname and a date of birth is a stranger too. "
        "Answers at such a background person's door are wrong doors of cause 'other'; in a large file they can "
        "outnumber the namesakes' own.",
    ]


def load_file_sizes(run_dir: Path) -> dict[str, Any] | None:
    """The section's content, or None where the run has no ``file_sizes.json`` (or it cannot be
    read). A level whose run has no scorecard yet is shown as "not run"."""
    # html imports this module for build_context; its helpers are imported here, when both are loaded
    from trailbench.report.html import ci_cells, ci_label

    try:
        data = json.loads((run_dir / FILE).read_text())
        system, task = str(data["system"]), str(data.get("task", "locate"))
        levels = [
            (int(lv["covered"]), int(lv["region_people"]), int(lv["background_people"]), str(lv["run"]))
            for lv in data["levels"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    ci = ""
    rows: list[dict[str, Any]] = []
    points: list[charts.Point] = []
    labels: list[str] = []
    for covered, region, background, run in levels:
        card, why = _card(run_dir / run / "scorecard.json")
        label = f"{covered:,} people" + (f" ({why})" if why else "")
        labels.append(label)
        row: dict[str, Any] = {
            "label": label,
            "covered": f"{covered:,}",
            "region": f"{region:,}",
            "background": f"{background:,}",
            "run": run,
            "status": why,
            "cases": None,
            "metrics": {},
            "cells": Markup(f"<td class='small' colspan='{3 * len(COLUMNS)}'>{why}</td>"),
        }
        if card is not None:
            ci = ci or (ci_label(card) if "confidence" in card else "")
            found = {
                r["metric"]: r
                for r in card["metrics"]
                if (r.get("system"), r.get("task"), r.get("slice"), r.get("level")) == (system, task, "overall", "all")
            }
            row["metrics"] = {m: found.get(m) for m, _ in COLUMNS}
            row["cases"] = (found.get(RATE) or {}).get("cases")
            row["cells"] = Markup("").join(
                ci_cells(found.get(m), m, f"file_sizes={covered}|{system}|{m}|overall|all") for m, _ in COLUMNS
            )
            for m, name in ((NAMESAKE, "namesakes"), (RATE, "wrong doors")):
                r = found.get(m)
                if r is not None and r.get("value") is not None and r.get("estimable", True):
                    points.append(charts.Point(label, name, r["value"], r.get("lo"), r.get("hi")))
        rows.append(row)
    chart = (
        charts.dot_whisker(
            points,
            labels,
            ["namesakes", "wrong doors"],
            f"{system}: namesake share of wrong answers and wrong-door rate by the size of its file",
            "namesakes: share of wrong answers; wrong doors: rate over all cases",
            lambda x: f"{100 * x:g}%",
        )
        if points
        else None
    )
    return {
        "system": system,
        "task": task,
        "ci": ci or "CI",
        "columns": [label for _, label in COLUMNS],
        "rows": rows,
        "chart": chart,
        "explanation": _explanation(system, levels[0][1] if levels else None),
    }
