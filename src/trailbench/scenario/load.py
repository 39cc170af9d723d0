"""Loading scenarios: presets, TOML files, dotted-key overrides, and one-line error messages.

Every problem is a :class:`~trailbench.scenario.types.ScenarioError` with one line per problem,
naming the field (or the file) and what is allowed, raised before anything is built.
"""

from __future__ import annotations

import copy
import difflib
import json
import tomllib
from collections.abc import Mapping
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, get_origin

from pydantic import BaseModel, ValidationError

from trailbench.scenario.schema import Scenario
from trailbench.scenario.types import Problem, ScenarioError

PRESETS: tuple[str, ...] = ("county-10k", "county-10k-national", "county-100k", "city-1m")
MAX_FILE_BYTES = 1_000_000  # a scenario file is a few hundred bytes; refuse anything over 1 MB


# -- formatting validation errors --------------------------------------------------------


def _one_line(text: str) -> str:
    """``text`` with control characters (newlines, tabs, escapes) shown escaped, so it stays on one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _field(loc: tuple[Any, ...]) -> str:
    """A pydantic location as a dotted field name, list positions in brackets: ``housing.family_forms[1]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def _as_toml(value: Any) -> str:
    """A value as it would be written in TOML (``true``, ``nan``, ``"text"``, ``[1, 2]``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_as_toml(v) for v in value) + "]"
    if isinstance(value, date):
        return value.isoformat()
    return repr(value)


def _shown(value: Any) -> str:
    """`` (got X)`` for a value given in the scenario, short; nothing for a whole table."""
    if isinstance(value, (dict, BaseModel)):
        return ""
    text = _as_toml(value)
    return f" (got {text if len(text) <= 60 else text[:57] + '...'})"


def _format_errors(err: ValidationError, model: type[BaseModel]) -> str:
    """One line per problem, each naming the field and what is allowed."""
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        where = _field(loc) or "(top level)"
        cause = (e.get("ctx") or {}).get("error")
        msg = e["msg"].removeprefix("Value error, ")
        if isinstance(cause, Problem):
            for sub, text in cause.problems:
                lines.append(f"{_field(loc + tuple(sub.split('.'))) if sub else where}: {text}")
        elif e["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            lines.append(f"{where}: unknown key; allowed keys here: {', '.join(allowed)}")
        elif e["type"] == "missing" and loc and isinstance(loc[-1], int):
            lines.append(f"{_field(loc[:-1])}: too few values{_shown(e.get('input'))}")
        elif len(loc) >= 2 and loc[-1] == "[key]":
            lines.append(f"{_field(loc[:-2])}: key {loc[-2]!r}: {msg}")
        else:
            lines.append(f"{where}: {msg}{_shown(e.get('input'))}")
    return _problems(lines)


def _problems(lines: list[str]) -> str:
    lines = list(dict.fromkeys(_one_line(line) for line in lines))
    if len(lines) == 1:
        return f"invalid scenario: {lines[0]}"
    return "invalid scenario:\n  " + "\n  ".join(lines)


def _section(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    """The model of ``model``'s field ``name`` if that field is a table of settings, else None."""
    field = model.model_fields.get(name)
    ann = field.annotation if field is not None else None
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: type[BaseModel] | None = model
    for part in loc:
        current = _section(current, str(part)) if current is not None else None
        if current is None:
            return []
    return sorted(current.model_fields) if current is not None else []


# -- validating a mapping ----------------------------------------------------------------


def parse_scenario(data: dict[str, Any]) -> Scenario:
    """Validate a scenario given as a mapping (as read from TOML); :class:`ScenarioError` if it is unusable."""
    if not isinstance(data, dict):
        raise ScenarioError(_problems([f"(top level): expected a table of settings, got {type(data).__name__}"]))
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_format_errors(err, Scenario)) from None


# -- dotted-key overrides ----------------------------------------------------------------


def override_keys(model: type[BaseModel] = Scenario, prefix: str = "") -> list[str]:
    """Every dotted key an override may set: each table (``world.group_mix``) and each value in it."""
    keys = []
    for name in model.model_fields:
        keys.append(prefix + name)
        sub = _section(model, name)
        if sub is not None:
            keys.extend(override_keys(sub, f"{prefix}{name}."))
    return keys


def _is_mapping_field(model: type[BaseModel], name: str) -> bool:
    """Whether ``model``'s field ``name`` is a free-form table (``systems.commands``: any key)."""
    field = model.model_fields.get(name)
    return field is not None and get_origin(field.annotation) is dict


def _default_table(model: type[BaseModel], name: str) -> dict[str, Any]:
    """The default of a table field, as a mapping (so that setting one key in it keeps the others)."""
    default = model.model_fields[name].get_default(call_default_factory=True)
    if isinstance(default, BaseModel):
        return default.model_dump(mode="json")
    return dict(default) if isinstance(default, Mapping) else {}


def _unknown(key: str, known: str, model: type[BaseModel]) -> str:
    """The problem line for an override key that names no setting, with the nearest allowed keys."""
    near = difflib.get_close_matches(key, override_keys(), n=3, cutoff=0.6)
    if near:
        hint = "did you mean " + (near[0] if len(near) == 1 else ", ".join(near[:-1]) + " or " + near[-1]) + "?"
    else:
        where = f"under {known}" if known else "at the top level"
        hint = f"allowed keys {where}: {', '.join(sorted(model.model_fields))}"
    shown = key if len(key) <= 80 else key[:77] + "..."
    return f"{shown}: unknown key (in the overrides); {hint}"


def _set(data: dict[str, Any], key: Any, value: Any) -> str | None:
    """Set dotted ``key`` in ``data`` (in place) to ``value``; the problem line if ``key`` names no setting."""
    if not isinstance(key, str):
        return f"{key!r}: an override key must be a dotted name such as world.people"
    parts = key.split(".")
    model: type[BaseModel] = Scenario
    node = data
    for i, part in enumerate(parts):
        known = ".".join(parts[:i])
        if part not in model.model_fields:
            return _unknown(key, known, model)
        if i == len(parts) - 1:
            node[part] = value.model_dump(mode="json") if isinstance(value, BaseModel) else copy.deepcopy(value)
            return None
        sub = _section(model, part)
        if sub is None and _is_mapping_field(model, part):
            if i != len(parts) - 2:
                return f"{key}: {'.'.join(parts[: i + 1])} takes one more key, e.g. {'.'.join(parts[: i + 1])}.mine"
        elif sub is None:
            return f"{key}: {'.'.join(parts[: i + 1])} is a single value, not a table; set it as a whole"
        if not isinstance(node.get(part), dict):
            # Absent (or not a table, which validation refuses anyway): start from the default table, so
            # that ``sources.dmv.coverage`` changes the coverage and keeps the DMV's other defaults.
            node[part] = _default_table(model, part)
        if sub is None:  # a free-form table: the last part is its key (systems.commands.mine)
            node[part][parts[-1]] = copy.deepcopy(value)
            return None
        model, node = sub, node[part]
    return None  # not reached: the loop returns at the last part


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` (a scenario as a mapping) with each dotted key in ``overrides`` set to its value.

    ``{"world.people": 2000, "names.structure": "flat"}`` sets ``data["world"]["people"]`` and
    ``data["names"]["structure"]``; a table missing from ``data`` starts from its defaults. A key
    that names no setting is a :class:`ScenarioError` naming it and the nearest allowed keys. The
    values are not checked here: :func:`parse_scenario` checks the result as it checks a file.
    """
    if not isinstance(data, dict):
        raise ScenarioError(_problems([f"(top level): expected a table of settings, got {type(data).__name__}"]))
    out = copy.deepcopy(data)
    problems = [p for key, value in overrides.items() if (p := _set(out, key, value)) is not None]
    if problems:
        raise ScenarioError(_problems(problems))
    return out


# -- reading files -------------------------------------------------------------------------


def _read(path: Path) -> str:
    """The text of a scenario file, or :class:`ScenarioError` saying in one line why it cannot be read."""
    label = _one_line(str(path) if len(str(path)) <= 200 else str(path)[:197] + "...")
    presets = ", ".join(PRESETS)
    try:
        is_dir, exists = path.is_dir(), path.exists()
    except (OSError, ValueError) as err:  # a name too long, or with a NUL byte
        raise ScenarioError(f"scenario {label!r}: not a usable file name ({_one_line(str(err))})") from None
    if is_dir:
        raise ScenarioError(f"scenario {label}: is a directory; give a TOML file or a preset name ({presets})")
    if not exists:
        raise ScenarioError(f"scenario {label!r}: no such file and not a preset; presets: {presets}")
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise ScenarioError(f"scenario {label}: cannot be read ({_one_line(err.strerror or str(err))})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(
            f"scenario {label}: larger than {MAX_FILE_BYTES // 1_000_000} MB; a scenario is a short TOML file"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ScenarioError(
            f"scenario {label}: not UTF-8 text (byte {err.start} is {raw[err.start : err.start + 1]!r}); "
            "give a TOML file saved as UTF-8"
        ) from None


def _data(spec: str | Path | Scenario) -> dict[str, Any]:
    """The settings of ``spec`` as a mapping: a scenario's own, a preset's or a TOML file's."""
    if isinstance(spec, Scenario):
        return spec.model_dump(mode="json")
    text: str
    if isinstance(spec, str) and spec in PRESETS:
        text = resources.files("trailbench.scenarios").joinpath(f"{spec}.toml").read_text(encoding="utf-8")
    else:
        text = _read(Path(spec))
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as err:
        reason = str(err) if isinstance(err, tomllib.TOMLDecodeError) else "nested too deeply"
        raise ScenarioError(f"scenario {_one_line(str(spec))}: not valid TOML: {_one_line(reason)}") from None


def load_scenario(
    spec: str | Path | Scenario = "county-10k",
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Scenario:
    """Load a preset by name, a TOML file by path, or re-check a :class:`Scenario`, with changes.

    ``overrides`` maps dotted keys to values (``{"world.people": 2000}``, see
    :func:`apply_overrides`); ``seed``, when given, replaces the seed after them. The result is
    validated exactly as a file is. Every problem is a :class:`ScenarioError` with one line per
    problem, naming the field (or the file) and what is allowed, raised before anything is built.
    """
    data = _data(spec)
    if overrides:
        data = apply_overrides(data, overrides)
    if seed is not None:
        data["seed"] = seed
    return parse_scenario(data)
