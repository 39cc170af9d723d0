"""Comparing two runs: the same figures side by side, their difference, and whether the
intervals overlap (for example a scenario with a mechanism switched off against the default)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trailbench.io import write_text
from trailbench.report.html import ci_label, environment, fmt
from trailbench.tasks import registry


def _load(run: Path) -> dict[str, Any]:
    path = run / "scorecard.json"
    if not path.exists():
        raise FileNotFoundError(f"{run}: no scorecard.json (run `trailbench run` into this directory first)")
    return dict(json.loads(path.read_text()))


def comparison(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows for every system in both runs: overall values, difference, overlap; and the worst
    group disparity in the wrong-door rate."""
    ma = {(r["system"], r["metric"], r["slice"], r["level"]): r for r in a["metrics"]}
    mb = {(r["system"], r["metric"], r["slice"], r["level"]): r for r in b["metrics"]}
    systems = [s for s in a["scenario"]["systems"]["run"] if s in b["scenario"]["systems"]["run"]]
    declared = registry.metrics()
    compared = [m for m in declared.values() if not m.by_bystander]
    gaps = [m.name for m in compared if m.headline and m.disparity]
    rows = []
    for s in systems:
        for m in compared:
            ra, rb = ma.get((s, m.name, "overall", "all")), mb.get((s, m.name, "overall", "all"))
            if ra is None or rb is None:
                continue
            rows.append(_row(s, m.name, "overall", ra["value"], ra["lo"], ra["hi"], rb["value"], rb["lo"], rb["hi"]))
        da = {(d["system"], d["metric"], d["level"]): d for d in a["disparities"] if d["slice"] == "group"}
        db = {(d["system"], d["metric"], d["level"]): d for d in b["disparities"] if d["slice"] == "group"}
        for metric in gaps:
            for (sys_, m_, level), d1 in sorted(da.items()):
                if sys_ != s or m_ != metric or level == d1["reference"]:
                    continue
                d2 = db.get((sys_, metric, level))
                if d2 is None:
                    continue
                rows.append(
                    _row(
                        s,
                        f"{metric} disparity",
                        level,
                        d1["ratio"],
                        d1["lo"],
                        d1["hi"],
                        d2["ratio"],
                        d2["lo"],
                        d2["hi"],
                        ratio=True,
                    )
                )
    return rows


def _row(
    system: str,
    metric: str,
    level: str,
    va: float | None,
    la: float | None,
    ha: float | None,
    vb: float | None,
    lb: float | None,
    hb: float | None,
    ratio: bool = False,
) -> dict[str, Any]:
    f = "ratio" if ratio else metric
    overlap = None if None in (la, ha, lb, hb) else not (ha < lb or hb < la)  # type: ignore[operator]
    diff = None if va is None or vb is None else vb - va
    return {
        "system": system,
        "metric": metric,
        "level": level,
        "a": fmt(f, va),
        "a_ci": f"[{fmt(f, la)}, {fmt(f, ha)}]",
        "b": fmt(f, vb),
        "b_ci": f"[{fmt(f, lb)}, {fmt(f, hb)}]",
        "diff": "–" if diff is None else (f"{diff:+.2f}" if ratio else _signed(metric, diff)),
        "overlap": "–" if overlap is None else ("yes" if overlap else "no"),
    }


def _signed(metric: str, d: float) -> str:
    text = fmt(metric, abs(d))
    return ("+" if d >= 0 else "−") + text


def render_compare(run_a: Path, run_b: Path, out: Path) -> tuple[Path, list[dict[str, Any]]]:
    a, b = _load(run_a), _load(run_b)
    rows = comparison(a, b)
    html = (
        environment()
        .get_template("compare.html.j2")
        .render(a=a, b=b, run_a=str(run_a), run_b=str(run_b), rows=rows, ci=ci_label(a))
    )
    write_text(html, out)
    return out, rows
