"""Writing a resolved scenario back out as TOML (``Scenario.to_toml``).

Kept apart from the schema and the loader so that both can use it without importing each other.
"""

from __future__ import annotations

import json
from typing import Any


def dump_toml(data: dict[str, Any], prefix: str = "") -> str:
    """``data`` (a scenario as ``model_dump(mode="json")`` gives it) as TOML text; ``None`` values are left out."""
    scalars: list[str] = []
    tables: list[str] = []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, dict):
            tables.append(dump_toml(value, f"{prefix}{key}."))
        else:
            scalars.append(f"{key} = {_toml_value(value)}")
    head = f"[{prefix[:-1]}]\n" if prefix and scalars else ""
    body = head + "".join(s + "\n" for s in scalars)
    return body + ("\n" if body and tables else "") + "\n".join(t for t in tables if t)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v))
