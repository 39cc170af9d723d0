"""The report's licence-plate section: flags and hotlist hits with their base rates in words, the
error types of both tasks, and explained flags drawn as a vehicle's reads against its trips.

Every rate is read from the scorecard (the metrics declared by tasks/flag and tasks/hotlist); the
words put each one beside what it is a share of, as base-rate reporting asks: a precision of 5%
at a base rate of 1 in 500 is said as "of every 10,000 vehicles flagged, 9,500 were innocent".
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from trailbench.report import charts
from trailbench.tasks import registry

PLATE_TASKS = ("flag", "hotlist")


def _value(view: Any, system: str, metric: str) -> float | None:
    r = view.metric(system, metric)
    return None if r is None else r["value"]


def _count(v: float | None) -> str:
    return "–" if v is None else f"{v:,.0f}"


def year_bounds(p: float, days: int) -> tuple[float, float]:
    """The share of drivers flagged at least once in a year, from the share ``p`` flagged in a
    window of ``days``: at least ``p`` (the same drivers flagged in every window) and at most
    ``1 - (1 - p) ** (365 / days)`` (each window's flags independent of the last)."""
    p = min(max(p, 0.0), 1.0)
    return p, 1.0 - (1.0 - p) ** (365.0 / max(days, 1))


def base_rate_words(card: dict[str, Any], view: Any, system: str) -> list[str]:
    """Sentences that put each plate rate of ``system`` beside its base rate."""
    out = []
    pc = card["scenario"].get("plates", {})
    days = int(card["scenario"].get("movement", {}).get("window_days", 14))
    share = float(pc.get("target_share", 0.0))
    prec = _value(view, system, "flag_precision")
    if prec is not None:
        base = f"1 in {1 / share:,.0f}" if share > 0 else "none"
        out.append(
            f"Of every 10,000 plates {system} flagged, {_count(10_000 * (1 - prec))} did not belong to a planted "
            f"target (the base rate: {base} vehicles is a target); it found "
            f"{100 * (_value(view, system, 'flag_recall') or 0):.0f}% of the targets."
        )
        ff = _value(view, system, "false_flags_per_10k_innocent_vehicles")
        if ff is not None:
            out.append(f"Of every 10,000 innocent vehicles, {ff:,.1f} were flagged in the {days}-day window.")
        dr = _value(view, system, "innocent_drivers_flagged_per_10k")
        if dr is not None:
            lo, hi = year_bounds(dr / 10_000, days)
            out.append(
                f"Of every 10,000 innocent drivers, {dr:,.1f} drove a flagged vehicle in the window; over a year, "
                f"between {100 * lo:.2f}% (the same drivers every window) and {100 * hi:.2f}% (each window "
                "independent) of them would be flagged at least once."
            )
        wc = _value(view, system, "wrong_car_stops_per_10k_innocent_vehicles")
        if wc is not None:
            out.append(f"Of every 10,000 innocent vehicles, {wc:,.1f} were flagged only on another car's reads.")
    hp = _value(view, system, "hit_precision")
    if hp is not None:
        mh = _value(view, system, "misread_hits_per_10k_reads")
        out.append(
            f"Of every 10,000 hotlist hits {system} reported, {_count(10_000 * (1 - hp))} were not a right read of a "
            f"wanted vehicle; {mh if mh is not None else 0:,.2f} hits per 10,000 reads came from a misread plate "
            "(a different, innocent car)."
        )
        st = _value(view, system, "innocent_vehicles_stopped_per_10k")
        if st is not None:
            out.append(f"Of every 10,000 vehicles that are not wanted, {st:,.1f} had a hit reported on their reads.")
    return out


def plates_context(card: dict[str, Any], view: Any, cells: Any) -> dict[str, Any] | None:
    """The section's tables and words, or None where no system answered a plate task.
    ``cells(system, metric)`` renders a metric's value and interval cells."""
    declared = [m for m in registry.metrics().values() if m.task in PLATE_TASKS]
    present = {r["metric"] for r in card["metrics"]}
    metrics = [m for m in declared if m.name in present and (m.headline or m.summary)]
    if not metrics:
        return None
    systems = [s for s in view.systems if any(view.metric(s, m.name) is not None for m in metrics)]
    rows = [
        {
            "system": s,
            "cells": Markup("").join(cells(s, m.name) for m in metrics),
            "words": base_rate_words(card, view, s),
        }
        for s in systems
    ]
    days = float(card["scenario"].get("movement", {}).get("window_days", 14))
    cases = []
    for c in card["explained_cases"]:
        if c.get("task") not in PLATE_TASKS:
            continue
        tl = c.get("vehicle_timeline")
        title = f"{c['system']}, {c['case_id']}: {str(c['cause']).replace('-', ' ')}"
        cases.append(c | {"chart": charts.vehicle_timeline(tl, title, days) if tl else None})
    return {
        "metrics": metrics,
        "rows": rows,
        "units": card.get("units", {}),
        "cases": cases,
        "definitions": {m.name: m.definition for m in metrics},
    }
