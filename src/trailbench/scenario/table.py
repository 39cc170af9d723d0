"""The parameter table: every scenario parameter and fixed assumption with its value and source.

``scripts/parameters_md.py`` renders it as docs/PARAMETERS.md and the HTML report lists it.
"""

from __future__ import annotations

import json
from datetime import date

from pydantic import BaseModel

from trailbench.scenario.schema import ByGroup, Scenario


def parameter_table(scenario: Scenario | None = None) -> list[dict[str, str]]:
    """Every parameter with its value, source (or "assumption") and description."""
    sc = scenario or Scenario()
    rows: list[dict[str, str]] = []

    def walk(model: BaseModel, prefix: str, inherited: str | None) -> None:
        for name, field in type(model).model_fields.items():
            value = getattr(model, name)
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            source = str(extra.get("source", inherited or ""))
            key = f"{prefix}{name}"
            if isinstance(value, ByGroup):
                rows.append(
                    {
                        "key": key,
                        "value": json.dumps(value.model_dump()),
                        "source": source,
                        "description": field.description or "",
                    }
                )
            elif isinstance(value, BaseModel):
                walk(value, key + ".", source or None)
            elif isinstance(value, dict):
                rows.append(
                    {
                        "key": key,
                        "value": json.dumps(value, sort_keys=True),
                        "source": source,
                        "description": field.description or "",
                    }
                )
            else:
                shown = value.isoformat() if isinstance(value, date) else json.dumps(value)
                rows.append({"key": key, "value": shown, "source": source, "description": field.description or ""})

    walk(sc, "", None)
    from trailbench.assumptions import A

    for name, a in A.items():
        rows.append(
            {"key": f"fixed.{name}", "value": json.dumps(a.value), "source": "assumption", "description": a.description}
        )
    return rows
