"""The scorecard's JSON Schema, generated from the declarations (tasks, metrics, groups, system
states), never kept by hand. ``docs/scorecard.schema.json`` is this schema written out by
``scripts/docs.py``; a test keeps it current."""

from __future__ import annotations

from typing import Any

from trailbench.scenario import GROUPS
from trailbench.tasks import registry

STATES = ("ok", "partial", "crashed", "timeout", "out-of-memory", "output-too-large", "failed-to-start")
ISOLATION = ("bubblewrap", "process", "none")
PROVENANCE = ("reference", "plugin", "command")


def _obj(required: list[str], props: dict[str, Any] | None = None, closed: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "required": required}
    if props:
        out["properties"] = props
    if closed:
        out["additionalProperties"] = False
    return out


def scorecard_schema() -> dict[str, Any]:
    tasks = [t.name for t in registry.tasks()]
    metrics = list(registry.metrics())
    num = {"type": ["number", "null"]}
    group = {"enum": list(GROUPS)}
    metric_row = _obj(
        ["system", "metric", "task", "slice", "level", "value", "lo", "hi", "denominator", "cases", "estimable"],
        {
            "system": {"type": "string"},
            "metric": {"enum": metrics},
            "task": {"enum": tasks},
            "slice": {"type": "string"},
            "level": {"type": "string"},
            "value": num,
            "lo": num,
            "hi": num,
            "denominator": num,
            "cases": {"type": "integer", "minimum": 0},
            "estimable": {"type": "boolean"},
        },
        closed=True,
    )
    disparity_row = _obj(
        ["system", "metric", "slice", "level", "reference", "ratio", "lo", "hi", "p", "p_holm", "detected"],
        {
            "system": {"type": "string"},
            "metric": {"enum": metrics},
            "slice": {"type": "string"},
            "level": group,
            "reference": group,
            "ratio": num,
            "lo": num,
            "hi": num,
            "p": num,
            "p_holm": num,
            "detected": {"type": "boolean"},
        },
        closed=True,
    )
    system = _obj(
        ["system", "state", "reason", "tasks", "answers", "provenance", "isolation"],
        {
            "state": {"enum": list(STATES)},
            "tasks": {"type": "object", "propertyNames": {"enum": tasks}},
            "answers": {"type": "array", "items": {"enum": tasks}},
            "provenance": _obj(["kind"], {"kind": {"enum": list(PROVENANCE)}}),
            "isolation": _obj(["kind"], {"kind": {"enum": list(ISOLATION)}}),
        },
    )
    props: dict[str, Any] = {
        "trailbench_version": {"type": "string"},
        "scenario_name": {"type": "string"},
        "seed": {"type": "integer", "minimum": 0},
        "worlds": {"type": "integer", "minimum": 1},
        "world_seeds": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1},
        "scenario_hash": {"type": "string", "pattern": "^[0-9a-f]{8}$"},
        "stage_hashes": {"type": "object", "additionalProperties": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
        "scenario": {"type": "object"},
        "versions": _obj(["python", "trailbench", "polars", "splink"]) | {"additionalProperties": {"type": "string"}},
        "git_revision": {"type": "string"},
        "reference_group": group,
        "confidence": {"type": "number", "exclusiveMinimum": 0.5, "exclusiveMaximum": 1},
        "bootstrap": {"type": "integer", "minimum": 1},
        "multiplicity": _obj(["method", "family", "alpha", "test"], {"method": {"enum": ["holm"]}}),
        "population": _obj(["people", "by_group"], {"people": {"type": "integer"}, "by_group": {"type": "object"}}),
        "docket": _obj(["cases", "by_group"]),
        "units": {"type": "object", "additionalProperties": _obj(["count", "by_group"])},
        "systems": {"type": "object", "additionalProperties": system},
        "ignored_plugins": {"type": "array", "items": _obj(["name", "distribution", "version", "value"])},
        "definitions": _obj(metrics, {m: {"type": "string"} for m in metrics}, closed=True),
        "declarations": _obj(
            ["tasks", "metrics"],
            {
                "tasks": _obj(tasks, {t: {"type": "integer"} for t in tasks}, closed=True),
                "metrics": _obj(metrics, {m: {"type": "integer"} for m in metrics}, closed=True),
            },
        ),
        "metrics": {"type": "array", "items": metric_row},
        "disparities": {"type": "array", "items": disparity_row},
        "world_spread": {
            "type": "array",
            "items": _obj(
                ["system", "metric", "slice", "level", "values"],
                {
                    "system": {"type": "string"},
                    "metric": {"enum": metrics},
                    "slice": {"type": "string"},
                    "level": {"type": "string"},
                    "values": {"type": "array", "items": num},
                },
                closed=True,
            ),
        },
        "realism": {
            "type": "array",
            "items": _obj(
                ["check", "level", "measures", "measured", "cited", "tolerance", "bound", "source", "within"],
                {"measured": num, "cited": {"type": "number"}, "within": {"type": "boolean"}},
            ),
        },
        "exposure": {"type": "array", "items": _obj(["system", "people", "share", "lo", "hi"])},
        "error_types": {
            "type": "array",
            "items": _obj(["system", "task", "cause", "count", "share"], {"task": {"enum": tasks}}),
        },
        "explained_cases": {
            "type": "array",
            "items": _obj(["system", "task", "case_id", "outcome", "cause", "chain"], {"task": {"enum": tasks}}),
        },
        "curves": {
            "type": "array",
            "items": _obj(
                ["system", "task", "slice", "level", "columns", "points"],
                {"task": {"enum": tasks}, "points": {"type": "array"}},
            ),
        },
        "wrong_door_budget": {"type": "number", "minimum": 0},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "trailbench scorecard",
        "type": "object",
        "required": list(props),
        "additionalProperties": False,
        "properties": props,
    }
