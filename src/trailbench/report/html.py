"""report.html: one self-contained page built from scorecard.json (and nothing a system wrote
is ever trusted: Jinja2 autoescaping covers every string, the charts escape their labels)."""

from __future__ import annotations

import json
from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from trailbench.audit.cases import STRATA_LABELS as CASE_STRATA_LABELS
from trailbench.io import write_text
from trailbench.report import charts
from trailbench.report.attribution import attribution_context
from trailbench.report.file_sizes import load_file_sizes
from trailbench.report.plates import PLATE_TASKS, plates_context
from trailbench.scenario import GROUPS, Scenario, parameter_table
from trailbench.tasks import registry
from trailbench.tasks.locate import CAUSES, OUTCOMES
from trailbench.tasks.plate_truth import PLATE_STRATA_LABELS

STRATA_LABELS = {**CASE_STRATA_LABELS, **PLATE_STRATA_LABELS}
WHOSE_GROUP = {
    "cases": "the subject's group",
    "vehicles": "the group of its main driver",
    "drivers": "the driver's group",
}

CAUSE_LABELS = {c: c.replace("-", " ") for c in CAUSES}
NOT_CLAIMED = (
    "The population, its records and their errors are synthetic. Rates measure how the systems behave on this "
    "world; they estimate a real deployment's rates only as far as the mechanisms and parameters (listed below, "
    "with their sources or marked as assumptions) match that deployment's data.",
    "Group differences arise only from cited structure: name concentration and naming conventions, tenure and "
    "moving, household form, informal work and source coverage. No parameter assigns a group more errors. A "
    "disparity here says which mechanisms can produce a gap, not how large the gap is in any real system.",
    "The reference systems are reconstructions from public descriptions of common methods, not any vendor's product.",
    "Intervals are two-stage bootstrap intervals (replicate worlds, then cases within each): they cover the "
    "variation between worlds built from the same parameters and the docket's sampling, not uncertainty in the "
    "parameters themselves.",
    "A gap is named only where it survives Holm's correction over every disparity of the system; an interval "
    "that excludes 1 before the correction is not, on its own, a finding.",
)


def fmt(metric: str, v: float | None) -> str:
    """The one formatting rule for every number shown: a metric's own (from its declaration),
    ``ratio`` for disparities, ``exposure_share`` as a percentage."""
    if v is None:
        return "–"
    if metric == "ratio":
        return f"{v:.2f}×"
    if metric == "exposure_share":
        return f"{100 * v:.1f}%"
    declared = registry.metrics().get(metric)
    return declared.format(v) if declared is not None else f"{v:.2f}"


def ci_label(card: dict[str, Any]) -> str:
    """ "95% CI" for the configured confidence, everywhere intervals are shown."""
    return f"{round(100 * float(card['confidence']))}% CI"


def cell(row: dict[str, Any] | None, metric: str, field: str = "value", key: str = "") -> Markup:
    """A table cell carrying the scorecard's raw value and its key, so tests can check it."""
    v = None if row is None else row.get(field)
    raw = "" if v is None else repr(v)
    return Markup(
        f"<td class='num' data-key='{escape(key)}|{field}' data-value='{escape(raw)}'>{escape(fmt(metric, v))}</td>"
    )


def ci_cells(row: dict[str, Any] | None, metric: str, key: str) -> Markup:
    """Value, low and high; a slice with too few cases to estimate says so instead, and a metric of
    a task the system does not take part in (no row) says that."""
    if row is None:
        return Markup("<td class='num small' colspan='3'>not answered</td>")
    if row.get("estimable") is False:
        return Markup(
            f"<td class='num small' colspan='3' data-key='{escape(key)}|estimable' data-value='False'>"
            f"too few cases ({escape(row['cases'])})</td>"
        )
    return cell(row, metric, "value", key) + cell(row, metric, "lo", key) + cell(row, metric, "hi", key)


def p_cell(row: dict[str, Any] | None, key: str) -> Markup:
    """Holm-adjusted p-value; a detected gap is marked."""
    p = None if row is None else row.get("p_holm")
    if p is None:
        return Markup(f"<td class='num' data-key='{escape(key)}|p_holm' data-value=''>–</td>")
    mark = " gap" if row and row.get("detected") else ""
    shown = f"{p:.2g}" + (" ◆" if mark else "")
    return Markup(
        f"<td class='num{mark}' data-key='{escape(key)}|p_holm' data-value='{escape(repr(p))}'>{escape(shown)}</td>"
    )


class View:
    """Lookups over one scorecard."""

    def __init__(self, card: dict[str, Any]) -> None:
        self.card = card
        self.systems: list[str] = list(card["scenario"]["systems"]["run"])
        self.m = {(r["system"], r["metric"], r["slice"], r["level"]): r for r in card["metrics"]}
        self.d = {(r["system"], r["metric"], r["slice"], r["level"]): r for r in card["disparities"]}

    def metric(self, system: str, metric: str, slice_: str = "overall", level: str = "all") -> dict[str, Any] | None:
        return self.m.get((system, metric, slice_, level))

    def key(self, system: str, metric: str, slice_: str = "overall", level: str = "all") -> str:
        return f"{system}|{metric}|{slice_}|{level}"

    def points(self, metric: str, slice_: str, levels: list[str]) -> list[charts.Point]:
        pts = []
        for s in self.systems:
            for lv in levels:
                r = self.metric(s, metric, slice_, lv)
                if r is not None and r["cases"] > 0 and r.get("estimable", True):
                    pts.append(charts.Point(lv, s, r["value"], r["lo"], r["hi"]))
        return pts


def _group_levels(view: View) -> list[str]:
    by = view.card["docket"]["by_group"]
    return [g for g in GROUPS if by.get(g, 0) > 0]


def build_context(card: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    v = View(card)
    ref = card["reference_group"]
    groups = _group_levels(v)
    exposure = {e["system"]: e for e in card["exposure"]}
    declared = registry.metrics()
    # metrics of tasks some system took part in (a task nobody answered has no rows to show)
    present = {r["metric"] for r in card["metrics"]}
    # the docket's tasks in the headline table; the plate tasks (over vehicles and drivers) in their own section
    all_headline = [m for m in declared.values() if m.headline and m.name in present]
    headline_metrics = [m for m in all_headline if m.over == "cases"]
    headline = []
    for s in v.systems:
        st = card["systems"][s]
        cells = Markup("").join(ci_cells(v.metric(s, m.name), m.name, v.key(s, m.name)) for m in headline_metrics)
        cells += Markup("").join(
            cell(exposure.get(s), "exposure_share", f, key=f"{s}|exposure") for f in ("share", "lo", "hi")
        )
        headline.append({"system": s, "state": st["state"], "reason": st["reason"], "cells": cells})
    curves = []
    for task_name in dict.fromkeys(c["task"] for c in card.get("curves", [])):
        own = [c for c in card["curves"] if c["task"] == task_name and c["slice"] == "overall"]
        cols = own[0]["columns"]
        budget = card.get("wrong_door_budget") if task_name == "locate" else None
        curves.append(
            {
                "task": task_name,
                "columns": cols,
                "chart": charts.lines(
                    [(c["system"], [(p[2], p[1]) for p in c["points"]]) for c in own],
                    f"{task_name}: {cols[1]} against {cols[2]}",
                    cols[2],
                    cols[1],
                    lambda x: f"{x:g}",
                    lambda y: f"{y:.2g}",
                    vline=budget,
                    vline_label=f"budget: {budget:g}" if budget is not None else "",
                ),
                "rows": [
                    {
                        "system": c["system"],
                        "points": [[("–" if v is None else f"{v:.4g}") for v in p] for p in c["points"]],
                    }
                    for c in own
                ],
            }
        )
    isolation = [
        {
            "system": s,
            "isolation": isolation_text(card["systems"][s].get("isolation", {})),
            "unisolated": card["systems"][s].get("isolation", {}).get("kind") in ("none", None),
            "provenance": provenance_text(card["systems"][s].get("provenance", {})),
            "limits": card["systems"][s].get("limits", {}),
        }
        for s in v.systems
    ]
    detail_metrics = [m.name for m in declared.values() if not m.headline and not m.by_bystander and m.name in present]
    details = [
        {"system": s, "cells": Markup("").join(ci_cells(v.metric(s, m), m, v.key(s, m)) for m in detail_metrics)}
        for s in v.systems
    ]

    def table(metric: str, slice_: str, levels: list[str]) -> list[dict[str, Any]]:
        rows = []
        for lv in levels:
            cells = Markup("")
            n = None
            for s in v.systems:
                r = v.metric(s, metric, slice_, lv)
                n = r["cases"] if r else n
                cells += ci_cells(r, metric, v.key(s, metric, slice_, lv))
            rows.append({"level": lv, "cases": n, "cells": cells})
        return rows

    group_sections = []
    for metric in [m.name for m in all_headline if "group" in m.slices]:
        group_sections.append(
            {
                "metric": metric,
                "definition": card["definitions"][metric],
                "rows": table(metric, "group", groups),
                "chart": charts.dot_whisker(
                    v.points(metric, "group", groups),
                    groups,
                    v.systems,
                    f"{metric.replace('_', ' ')} by {WHOSE_GROUP.get(declared[metric].over, 'group')}",
                    metric.replace("_", " "),
                    partial(fmt, metric),
                ),
            }
        )
    harm = [
        {"metric": m.name, "definition": m.definition, "rows": table(m.name, "bystander_group", groups)}
        for m in declared.values()
        if m.by_bystander and m.name in present
    ]
    disparity = []
    for metric, kind in [
        (m.name, "bystander_group" if m.by_bystander else "group")
        for m in declared.values()
        if m.disparity and (m.headline or m.by_bystander) and m.name in present
    ]:
        pts, rows = [], []
        for g in groups:
            cells = Markup("")
            for s in v.systems:
                d = v.d.get((s, metric, kind, g))
                if d is not None and d["ratio"] is not None and g != ref:
                    pts.append(charts.Point(g, s, d["ratio"], d["lo"], d["hi"]))
                k = f"{s}|{metric}|{kind}|{g}|disparity"
                if v.metric(s, metric, kind, g) is None:  # a task it does not take part in
                    cells += Markup("<td class='num small' colspan='4'>not answered</td>")
                    continue
                cells += Markup("").join(cell(d, "ratio", f, k) for f in ("ratio", "lo", "hi")) + p_cell(d, k)
            rows.append({"level": g, "cells": cells})
        who = "subject's" if kind == "group" else "bystander's own"
        disparity.append(
            {
                "metric": metric,
                "rows": rows,
                "chart": charts.dot_whisker(
                    pts,
                    [g for g in groups if g != ref],
                    v.systems,
                    f"{metric.replace('_', ' ')}: ratio of each {who} group to {ref} (log scale)",
                    f"ratio to the {ref} group (1 = parity)",
                    lambda x: f"{x:g}×",
                    log=True,
                    reference=1.0,
                    reference_label=f"{ref} (reference)",
                ),
            }
        )
    strata = []
    strata_metric = "wrong_door_rate" if "wrong_door_rate" in present else headline_metrics[0].name
    for t in registry.tasks():
        first = next((m for m in all_headline if m.task == t.name and "strata" in m.slices), None)
        for s_key in t.strata if first is not None else ():
            levels = sorted({lv for (_, m, sl, lv) in v.m if sl == s_key and m == first.name})  # type: ignore[union-attr]
            label = STRATA_LABELS.get(s_key, s_key)
            strata.append(
                {"key": s_key, "label": label, "metric": first.label, "rows": table(first.name, s_key, levels)}  # type: ignore[union-attr]
            )
    strata_keys = registry.task(declared[strata_metric].task).strata
    strata_levels = [
        f"{STRATA_LABELS.get(k, k)}: {lv}"
        for k in strata_keys
        for lv in sorted({lv for (_, m, sl, lv) in v.m if sl == k and m == strata_metric})
    ]
    strata_points = [
        charts.Point(f"{STRATA_LABELS.get(p_key, p_key)}: {p.row}", p.series, p.value, p.lo, p.hi)
        for p_key in strata_keys
        for p in v.points(
            strata_metric, p_key, sorted({lv for (_, m, sl, lv) in v.m if sl == p_key and m == strata_metric})
        )
    ]
    group_points = [
        charts.Point(f"group: {p.row}", p.series, p.value, p.lo, p.hi) for p in v.points(strata_metric, "group", groups)
    ]
    strata_chart = charts.dot_whisker(
        group_points + strata_points,
        [f"group: {g}" for g in groups] + strata_levels,
        v.systems,
        f"{declared[strata_metric].label.capitalize()} by group and by stratum",
        declared[strata_metric].label,
        lambda x: fmt(strata_metric, x),
    )
    cause_metric = {c: "error_share_" + c.replace("-", "_") for c in CAUSES}
    error_rows = [
        {
            "system": s,
            "cells": Markup("").join(
                ci_cells(v.metric(s, cause_metric[c]), cause_metric[c], v.key(s, cause_metric[c])) for c in CAUSES
            ),
        }
        for s in v.systems
    ]
    shares = [
        (s, [(CAUSE_LABELS[c], (v.metric(s, cause_metric[c]) or {}).get("value") or 0.0) for c in CAUSES])
        for s in v.systems
    ]
    error_chart = charts.stacked_shares(
        shares,
        [CAUSE_LABELS[c] for c in CAUSES],
        "What kind of error sent officers to the wrong place (share of wrong answers)",
    )
    explained: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in card["explained_cases"]:
        if c.get("task", "locate") == "locate":
            explained[CAUSE_LABELS.get(c["cause"], c["cause"])].append(c)
    sc = Scenario.model_validate(card["scenario"])
    summary = [m for m in declared.values() if m.summary and m.name in present]
    by_key = {(r["system"], r["metric"], r["slice"], r["level"]): r["values"] for r in card.get("world_spread", [])}
    spread = [
        {
            "system": s,
            "cells": [
                {
                    "pooled": fmt(m.name, (v.metric(s, m.name) or {}).get("value")),
                    "worlds": ", ".join(fmt(m.name, x) for x in by_key.get((s, m.name, "overall", "all"), [])),
                }
                for m in summary
            ],
        }
        for s in v.systems
    ]
    gaps = [
        {
            "system": d["system"],
            "metric": d["metric"].replace("_", " "),
            "level": d["level"],
            "ratio": fmt("ratio", d["ratio"]),
            "ci": f"{fmt('ratio', d['lo'])}–{fmt('ratio', d['hi'])}",
            "p": f"{d['p_holm']:.2g}",
        }
        for d in card["disparities"]
        if d.get("detected")
        and (declared.get(d["metric"]) is not None)
        and (declared[d["metric"]].headline or declared[d["metric"]].by_bystander)
    ]
    tests = {s: sum(1 for d in card["disparities"] if d["system"] == s and d.get("p") is not None) for s in v.systems}
    small = sorted({r["level"] for r in card["metrics"] if r.get("estimable") is False and r["slice"] == "group"})
    realism = [
        {
            "check": r["check"].replace("_", " "),
            "level": r["level"] or "all",
            "measures": r["measures"],
            "measured": _figure(r["measured"], r["cited"]),
            "cited": _figure(r["cited"], r["cited"]),
            "tolerance": ("≥ " if r["bound"] == "at_least" else "± ") + _figure(r["tolerance"], r["cited"]),
            "source": r["source"],
            "within": r["within"],
        }
        for r in card.get("realism", [])
    ]
    return {
        "plates": plates_context(card, v, lambda s, m: ci_cells(v.metric(s, m), m, v.key(s, m))),
        "task_errors": [e for e in task_errors(card, v.systems) if e["task"] not in PLATE_TASKS],
        "plate_errors": [e for e in task_errors(card, v.systems) if e["task"] in PLATE_TASKS],
        "timelines": timelines(card),
        "realism": realism,
        "spread": spread,
        "summary_metrics": summary,
        "gaps": gaps,
        "tests": tests,
        "small_groups": small,
        "multiplicity": card.get("multiplicity", {}),
        "card": card,
        "systems": v.systems,
        "reference": ref,
        "headline": headline,
        "isolation": isolation,
        "curves": curves,
        "ignored_plugins": card.get("ignored_plugins", []),
        "details": details,
        "detail_metrics": detail_metrics,
        "group_sections": group_sections,
        "harm": harm,
        "headline_metrics": headline_metrics,
        "ci": ci_label(card),
        "disparity": disparity,
        "attribution": attribution_context(run_dir, card.get("scenario_hash")),
        "file_sizes": load_file_sizes(run_dir),
        "strata": strata,
        "strata_chart": strata_chart,
        "error_rows": error_rows,
        "error_chart": error_chart,
        "causes": [CAUSE_LABELS[c] for c in CAUSES],
        "explained": dict(explained),
        "parameters": parameter_table(sc),
        "definitions": card["definitions"],
        "outcomes": OUTCOMES,
        "not_claimed": NOT_CLAIMED,
        "fmt": fmt,
        "command": f"trailbench run {run_dir / 'scenario.toml'} --out {run_dir}",
        "scenario_toml": sc.to_toml(),
    }


def task_errors(card: dict[str, Any], systems: list[str]) -> list[dict[str, Any]]:
    """Each task's error types other than locate's (which has its own section): per cause, every
    system's count and share of that system's wrong answers to the task."""
    out = []
    rows = [r for r in card["error_types"] if r.get("task", "locate") != "locate"]
    for t in registry.tasks():
        own = [r for r in rows if r["task"] == t.name]
        if not own:
            continue
        causes = sorted({r["cause"] for r in own})
        by = {(r["system"], r["cause"]): r for r in own}
        present = [s for s in systems if any(r["system"] == s for r in own)]
        out.append(
            {
                "task": t.name,
                "systems": present,
                "rows": [
                    {
                        "cause": c.replace("-", " "),
                        "cells": [
                            (by[(s, c)]["count"], f"{100 * by[(s, c)]['share']:.1f}%") if (s, c) in by else ("–", "")
                            for s in present
                        ],
                    }
                    for c in causes
                ],
            }
        )
    return out


def timelines(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The explained cases of every task but locate (which has its own section), each with its
    chain; those with a timeline (home_work's) drawn: the subject's true stays against the clue
    device's pings."""
    days = float(card["scenario"].get("movement", {}).get("window_days", 14))
    out = []
    for c in card["explained_cases"]:
        if c.get("task", "locate") in ("locate", *PLATE_TASKS):
            continue
        tl = c.get("timeline")
        title = f"{c['system']}, case {c['case_id']}: {str(c['cause']).replace('-', ' ')}"
        out.append(c | {"chart": charts.timeline(tl, title, days) if tl else None})
    return out


def _figure(v: float | None, cited: float) -> str:
    """A realism figure in its cited figure's units: shares as percentages, the rest as numbers."""
    if v is None:
        return "–"
    return f"{100 * v:.1f}%" if 0 < cited < 1 else f"{v:.2f}"


def isolation_text(iso: dict[str, Any]) -> str:
    kind = iso.get("kind")
    if kind == "bubblewrap":
        return f"sandboxed (bubblewrap {iso.get('version', '')}; namespaces: {', '.join(iso.get('namespaces', []))})"
    if kind == "process":
        return f"a process of its own, no namespaces: {iso.get('note', '')}"
    return "ran without isolation"


def provenance_text(prov: dict[str, Any]) -> str:
    if prov.get("kind") == "command":
        return f"command line: {prov.get('command', '')}"
    if prov.get("kind") in ("reference", "plugin"):
        what = "reference system" if prov["kind"] == "reference" else "plug-in"
        return f"{what}: {prov.get('entry_point', '')} from {prov.get('distribution', '')} {prov.get('version', '')}"
    return "unknown"


def environment() -> Environment:
    return Environment(
        loader=PackageLoader("trailbench.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(run_dir: Path, out: Path | None = None) -> Path:
    card = json.loads((run_dir / "scorecard.json").read_text())
    html = environment().get_template("report.html.j2").render(**build_context(card, run_dir))
    target = out or run_dir / "report.html"
    write_text(html, target)
    return target
