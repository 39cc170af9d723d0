"""The building blocks of the scenario schema: value types, the base section, the error types.

Every section derives from :class:`Section`, which refuses unknown keys, NaN and infinities, and
``true``/``false`` where a number is expected. Every numeric parameter is declared with
:func:`param`, which records its source (or the label "assumption").
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

GROUPS: tuple[str, ...] = ("hispanic", "white", "black", "api", "aian", "multi")
SUM_TOLERANCE = 1e-6  # how far a list of probabilities may sum from 1
NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")  # names of scenarios and systems: they name directories


class ScenarioError(ValueError):
    """A scenario that cannot be used, with one line per problem naming the field."""


class Problem(ValueError):
    """Raised inside validators: problems as (field, message) pairs.

    ``field`` is dotted and relative to the model that raises it ("" for the model itself); the
    loader prefixes the model's own location, so each problem is reported with its full field name.
    """

    def __init__(self, *problems: tuple[str, str]) -> None:
        super().__init__("; ".join(f"{f}: {m}" if f else m for f, m in problems))
        self.problems = problems


def param(default: Any, source: str, description: str = "", **constraints: Any) -> Any:
    """A scenario parameter with its provenance (a citation or the word "assumption")."""
    return Field(default, description=description, json_schema_extra={"source": source}, **constraints)


# -- reusable value types ----------------------------------------------------------------


def _sums_to_one(v: tuple[float, ...]) -> tuple[float, ...]:
    total = math.fsum(v)
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise ValueError(f"shares must sum to 1 (these sum to {total:.6g}); give each as a share of the whole")
    return v


def _not_all_zero(v: tuple[float, ...]) -> tuple[float, ...]:
    if not any(v):
        raise ValueError("weights are all 0; give at least one a positive weight")
    return v


def _check_name(v: str) -> str:
    if not NAME_RE.fullmatch(v):
        raise ValueError("use 1 to 40 letters, digits, '_' or '-' (no spaces, slashes or other characters)")
    return v


def _check_command(v: str) -> str:
    if not v.strip():
        raise ValueError("empty command line; give the program to run and its arguments")
    return v


Rate = Annotated[float, Field(ge=0, le=1)]
"""A share or probability: a finite number from 0 to 1."""
Weight = Annotated[float, Field(ge=0)]
"""A relative weight: a finite number, 0 or more."""
Probabilities3 = Annotated[tuple[Rate, Rate, Rate], AfterValidator(_sums_to_one)]
"""Three probabilities of mutually exclusive outcomes: each from 0 to 1, summing to 1 (within 1e-6)."""
Weights4 = Annotated[tuple[Weight, Weight, Weight, Weight], AfterValidator(_not_all_zero)]
"""Four relative weights, normalised in code to sum to 1: each finite and 0 or more, not all 0."""
Seed = Annotated[int, Field(ge=0, le=2**63 - 1)]
"""A random seed: an integer from 0 to 2**63 - 1."""
Name = Annotated[str, AfterValidator(_check_name)]
"""A name used in file and directory names: 1 to 40 letters, digits, '_' or '-'."""
Command = Annotated[str, AfterValidator(_check_command)]
"""A non-empty command line."""


# -- the base of every section: the NaN and boolean guards ---------------------------------


def _wants_number(annotation: Any) -> bool:
    """Whether a field holds a number or a tuple of numbers (where ``true``/``false`` are refused)."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if annotation in (int, float):
        return True
    if get_origin(annotation) is tuple:
        return any(_wants_number(a) for a in get_args(annotation) if a is not Ellipsis)
    return False


class Section(BaseModel):
    """A table of the scenario: unknown keys, NaN and infinities refused; read-only once built."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any, info: ValidationInfo) -> Any:
        """Refuse ``true``/``false`` where a number is expected (pydantic would read them as 1 and 0)."""
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and _wants_number(field.annotation):
            items = value if isinstance(value, (list, tuple)) else (value,)
            if any(isinstance(x, bool) for x in items):
                raise ValueError("expected a number, got a boolean")
        return value


class ByGroup(Section):
    """One value per Census group used by the name tables."""

    hispanic: Rate
    white: Rate
    black: Rate
    api: Rate
    aian: Rate
    multi: Rate

    def as_array(self) -> list[float]:
        return [getattr(self, g) for g in GROUPS]
