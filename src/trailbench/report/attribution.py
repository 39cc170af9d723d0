"""The report's "What carries each gap": ``attribution.json`` (written by ``trailbench attribute``)
shaped for ``attribution.html.j2``. Every string reaches the page through Jinja2's autoescaping."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trailbench.scenario import GROUPS
from trailbench.tasks import registry

FILE = "attribution.json"


def _ratio(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}×"


def _ci(lo: float | None, hi: float | None, pct: bool = False) -> str:
    if lo is None or hi is None:
        return ""
    f = (lambda x: f"{100 * x:.0f}") if pct else (lambda x: f"{x:.2f}")
    return f"({f(lo)} to {f(hi)})" if pct else f"({f(lo)}–{f(hi)})"


def _shrink(row: dict[str, Any]) -> str:
    s = row["shrink"]
    if s is None:
        return "no gap to remove"
    return f"removes {100 * s:.0f}% {_ci(row['shrink_lo'], row['shrink_hi'], pct=True)}".strip()


def _setting(value: Any) -> str:
    """``0.6513 for every group`` for a per-group table of one value; otherwise the value itself."""
    if isinstance(value, dict) and value and len({json.dumps(v) for v in value.values()}) == 1:
        return f"{next(iter(value.values()))} for every group"
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _excludes_one(lo: float | None, hi: float | None) -> bool:
    return lo is not None and hi is not None and (lo > 1.0 or hi < 1.0)


def _metric_tables(data: dict[str, Any]) -> list[dict[str, Any]]:
    switches = [s["name"] for s in data["switches"]]
    by_key: dict[tuple[str, str, str, str], dict[str, dict[str, Any]]] = {}
    metrics: dict[str, str] = {}
    for r in data["rows"]:
        by_key.setdefault((r["metric"], r["slice"], r["system"], r["group"]), {})[r["switch"]] = r
        metrics.setdefault(r["metric"], r["slice"])
    declared = registry.metrics()
    first = next((m.name for m in declared.values() if m.summary and not m.higher_is_better and m.disparity), None)
    order = [m for m in declared if m in metrics] + sorted(m for m in metrics if m not in declared)
    tables = []
    for metric in order:
        kind = metrics[metric]
        rows = []
        for system in data["systems"]:
            for group in GROUPS:
                own = by_key.get((metric, kind, system, group))
                if not own:
                    continue
                any_row = next(iter(own.values()))
                gap = _excludes_one(any_row["base_lo"], any_row["base_hi"])
                cells = []
                for name in switches:
                    r = own.get(name)
                    cells.append(
                        {
                            "key": f"{system}|{metric}|{kind}|{group}|{name}",
                            "ratio": _ratio(r["ratio"]) if r else "–",
                            "ci": _ci(r["lo"], r["hi"]) if r else "",
                            # a share of a gap is shown only where there is one to share out
                            "shrink": _shrink(r) if r and gap else "",
                            "raw_ratio": "" if not r or r["ratio"] is None else repr(r["ratio"]),
                            "raw_shrink": "" if not r or r["shrink"] is None else repr(r["shrink"]),
                            "parity": r is not None and not _excludes_one(r["lo"], r["hi"]),
                        }
                    )
                rows.append(
                    {
                        "system": system,
                        "group": group,
                        "base": _ratio(any_row["base_ratio"]),
                        "base_ci": _ci(any_row["base_lo"], any_row["base_hi"]),
                        "raw_base": "" if any_row["base_ratio"] is None else repr(any_row["base_ratio"]),
                        "gap": gap,
                        "cells": cells,
                    }
                )
        who = "bystander's own group" if kind == "bystander_group" else "subject's group"
        tables.append(
            {"metric": metric, "label": metric.replace("_", " "), "who": who, "open": metric == first, "rows": rows}
        )
    return tables


def attribution_context(run_dir: Path, scenario_hash: str | None = None) -> dict[str, Any] | None:
    """The section's content, or None where ``attribution.json`` is absent, unreadable, or was
    made for another scenario than the scorecard's (``scenario_hash``; read from the run's
    scorecard when not given)."""
    try:
        data = json.loads((run_dir / FILE).read_text())
        if scenario_hash is None:
            scenario_hash = json.loads((run_dir / "scorecard.json").read_text())["scenario_hash"]
        if not isinstance(data, dict) or data.get("scenario_hash") != scenario_hash:
            return None
        switches = [
            {
                "name": s["name"],
                "title": s["title"],
                "description": s["description"],
                "source": s["source"],
                "settings": [f"{k} = {_setting(v)}" for k, v in s["overrides"].items()],
            }
            for s in data["switches"]
        ]
        return {
            "reference": data["reference_group"],
            "confidence": round(100 * float(data["confidence"])),
            "bootstrap": data["bootstrap"],
            "worlds": data["worlds"],
            "world_seeds": data["world_seeds"],
            "switches": switches,
            "tables": _metric_tables(data),
        }
    except (OSError, ValueError, KeyError, TypeError):
        return None
