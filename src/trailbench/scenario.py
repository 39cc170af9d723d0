"""Scenario: the validated configuration of one audit, its presets, loading and hashing.

Every numeric parameter is declared with :func:`param`, which records its source (or the
label "assumption"); :func:`parameter_table` lists them all, and a test fails if any
parameter lacks one.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from trailbench import __version__

GROUPS: tuple[str, ...] = ("hispanic", "white", "black", "api", "aian", "multi")
PRESETS: tuple[str, ...] = ("county-10k", "county-100k", "city-1m")
MAX_FILE_BYTES = 1_000_000  # a scenario file is a few hundred bytes; refuse anything over 1 MB
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


class WorldConfig(Section):
    people: int = param(10_000, "scenario choice", "number of people in the region", ge=200, le=5_000_000)
    start: date = param(date(2015, 1, 1), "scenario choice", "first day of the scenario period")
    years: int = param(10, "DESIGN.md §3 (default 10 years)", "length of the period", ge=2, le=30)
    group_mix: ByGroup = param(
        ByGroup(hispanic=0.187, white=0.578, black=0.121, api=0.061, aian=0.007, multi=0.041),
        "US Census 2020 P.L. 94-171: Hispanic 18.7%, non-Hispanic White 57.8%, Black 12.1%, "
        "Asian+NHPI 6.1%, AIAN 0.7%, two or more races 4.1% (normalised to sum to 1)",
        "share of people by group",
    )
    foreign_born: ByGroup = param(
        ByGroup(hispanic=0.32, white=0.04, black=0.10, api=0.57, aian=0.02, multi=0.06),
        "assumption; calibrated so the population share is about 13.7% (FACTS: 2018 ACS, Pew)",
        "share of each group's householders born abroad",
    )
    vacancy: float = param(0.08, "assumption", "share of housing units vacant at the start", ge=0.02, le=0.3)
    towns: int = param(6, "assumption", "towns in the region (the unit of 'lives in' locations)", ge=1, le=60)

    @model_validator(mode="after")
    def _period_in_calendar(self) -> WorldConfig:
        if self.start.year + self.years > 9999:
            raise Problem(
                (
                    "start",
                    f"the period must end by the year 9999; with world.years = {self.years} start by "
                    f"{9999 - self.years}-12-31; got {self.start.isoformat()}",
                )
            )
        return self


class NamesConfig(Section):
    structure: Literal["cited", "flat"] = param(
        "cited",
        "mechanism switch",
        "'cited': each group draws from its own Census surname distribution with its naming "
        "conventions; 'flat': every group draws surnames uniformly from one shared list and given names from "
        "one pooled table, with no compound surnames, English aliases or name-order conventions",
    )
    hispanic_hyphen: Rate = param(
        0.0684,
        "FACTS: NC voter file via vivarium_census_prl_synth_pop",
        "Hispanic surnames hyphenated",
    )
    hispanic_space: Rate = param(
        0.1281,
        "FACTS: NC voter file via vivarium_census_prl_synth_pop",
        "Hispanic surnames with a space",
    )
    other_hyphen: Rate = param(
        0.0047,
        "FACTS: White rate, NC voter file; applied to all non-Hispanic groups (assumption)",
        "",
    )
    other_space: Rate = param(
        0.0035,
        "FACTS: White rate, NC voter file; applied to all non-Hispanic groups (assumption)",
        "",
    )
    spouse_takes_surname: Rate = param(0.7, "assumption", "non-Hispanic wives taking the husband's surname")
    english_alias: Rate = param(0.3, "assumption", "foreign-born API adults who also use an adopted English given name")
    family_name_first: Rate = param(
        0.5, "assumption", "foreign-born API adults whose documents put the family name first"
    )
    middle_name: Rate = param(0.6, "assumption", "people with a middle name")
    flat_list_size: int = param(2000, "mechanism switch", "size of the shared list under 'flat'", ge=10)


class HousingConfig(Section):
    ownership: ByGroup = param(
        ByGroup(hispanic=0.498, white=0.738, black=0.459, api=0.63, aian=0.52, multi=0.57),
        "FACTS: Census CPS/HVS Q4 2023 (Hispanic, White, Black, Asian); AIAN and multi: assumption",
        "share of households owning their home",
    )
    renter_move_rate: Rate = param(0.245, "FACTS: CPS 2013-14, Census 18 Mar 2015", "annual mover rate, renters")
    owner_move_rate: Rate = param(0.05, "FACTS: CPS 2013-14, Census 18 Mar 2015", "annual mover rate, owners")
    multigenerational: ByGroup = param(
        ByGroup(hispanic=0.105, white=0.037, black=0.08, api=0.09, aian=0.08, multi=0.06),
        "FACTS: 2009-11 ACS (Hispanic >10%, Asian ~9%, White 3.7%); Black, AIAN, multi: assumption",
        "share of households that are multigenerational",
    )
    one_person: Rate = param(0.28, "assumption (Census CPS 2023 reports about 29% one-person households)", "")
    shared_nonfamily: Rate = param(0.06, "assumption", "households of unrelated adults sharing a unit")
    children_mean: float = param(1.9, "assumption", "mean children in households with children", ge=1, le=6)
    family_forms: Probabilities3 = param(
        (0.45, 0.40, 0.15),
        "assumption",
        "other family households: couple, couple with children, single parent",
    )
    owner_kinds: Probabilities3 = param(
        (0.85, 0.15, 0.0), "assumption", "owners' units: single-family house, small multi-unit, large complex"
    )
    renter_kinds: Probabilities3 = param(
        (0.30, 0.40, 0.30),
        "assumption",
        "renters' units: single-family house, small multi-unit, large complex",
    )
    same_sex_couples: Rate = param(0.015, "assumption", "couples of the same sex")
    adult_child_elsewhere: Rate = param(
        0.5, "assumption", "young householders (18-35) whose parents live elsewhere in the region"
    )


class WorkConfig(Section):
    employment: Rate = param(0.72, "assumption", "adults 18-64 in work")
    informal: Rate = param(0.06, "assumption", "US-born workers whose work leaves no employer record")
    informal_foreign_born: Rate = param(0.2, "assumption", "foreign-born workers whose work leaves no employer record")
    employer_zipf: float = param(
        1.06, "Axtell 2001, Science 293:1818 (US firm sizes, Zipf exponent ~1.06)", "", ge=0.5, le=3
    )
    mean_employer_size: float = param(12.0, "assumption", "formal workers per employer, on average", ge=1)
    job_change_rate: Rate = param(0.2, "assumption", "annual probability of changing employer")


class PhonesConfig(Section):
    churn_rate: Rate = param(
        0.1,
        "derived: FCC 2018 (35M numbers disconnected a year) over ~350M numbers in use (assumption)",
        "annual probability that a person changes number",
    )
    reuse: Rate = param(
        0.5,
        "assumption",
        "new numbers taken from the pool of aged, released numbers when one is free",
    )
    aging_min_days: int = param(45, "FACTS: FCC Reassigned Numbers Database order, 2018", "", ge=0, le=365)
    aging_max_days: int = param(90, "FACTS: FCC Reassigned Numbers Database order, 2018", "", ge=0, le=365)

    @model_validator(mode="after")
    def _aging_order(self) -> PhonesConfig:
        if self.aging_max_days < self.aging_min_days:
            raise Problem(
                (
                    "aging_max_days",
                    f"must be >= phones.aging_min_days ({self.aging_min_days}); got {self.aging_max_days}",
                )
            )
        return self


class TiesConfig(Section):
    friends: float = param(4.0, "assumption", "mean friend ties per adult", ge=0, le=50)
    weak_ties: float = param(3.0, "assumption", "mean weak (acquaintance) ties per adult", ge=0, le=50)
    coworkers: float = param(3.0, "assumption", "mean coworker ties per worker", ge=0, le=50)
    homophily: Rate = param(0.6, "assumption", "share of friend ties chosen within the same town")


class ErrorsConfig(Section):
    """Per-record error rates (DESIGN §4); sources scale them by their own ``error_scale``."""

    name_typo: Rate = param(0.01, "FACTS: pseudopeople default cell noise 0.01", "")
    typo_kinds: Weights4 = param(
        (0.59, 0.16, 0.10, 0.02),
        "FACTS: Damerau 1964 (substitution, deletion, insertion, transposition; renormalised)",
        "kinds of typo (substitution, deletion, insertion, transposition): relative weights, normalised to sum to 1",
    )
    nickname: Rate = param(0.08, "assumption", "records giving a known nickname or anglicised form")
    alias: Rate = param(0.5, "assumption", "records of a person with an English alias that use it")
    transliteration: Rate = param(
        0.25,
        "assumption",
        "records rendering a name in a transliteration family with another spelling",
    )
    compound_first_only: Rate = param(0.35, "assumption", "records of compound surnames keeping only the first")
    compound_reformat: Rate = param(0.25, "assumption", "records re-joining a compound surname (hyphen/space/none)")
    order_swap: Rate = param(0.005, "assumption", "records swapping given and family names")
    order_swap_convention: Rate = param(
        0.15, "assumption", "the same, for people whose documents put the family name first"
    )
    dob_swap: Rate = param(0.01, "assumption", "records swapping DOB day and month (when both are <= 12)")
    dob_digit: Rate = param(0.01, "FACTS: pseudopeople default cell noise 0.01", "")
    dob_partial: Rate = param(0.03, "assumption", "records giving only year and month")
    address_format: Rate = param(0.3, "assumption", "records with a formatting variant of the address")
    address_digit: Rate = param(0.01, "FACTS: pseudopeople default cell noise 0.01", "")
    unit_missing: Rate = param(0.05, "assumption", "multi-unit addresses recorded without the unit")
    zip_digit: Rate = param(0.01, "FACTS: pseudopeople default cell noise 0.01", "")
    missing: Rate = param(0.01, "FACTS: pseudopeople default cell noise 0.01", "missing DOB or phone")


class SourceConfig(Section):
    coverage: Rate = param(0.9, "assumption", "share of eligible people or events the source holds")
    lag_days: int = param(30, "assumption", "mean delay from event to record", ge=0, le=3650)
    stale: Rate = param(
        0.2,
        "assumption",
        "out-of-date addresses: court, previous address; DMV, moves never reported; broker, old addresses "
        "re-dated as recently seen; social, 'lives in' never updated (not used by other sources)",
    )
    error_scale: float = param(1.0, "assumption", "multiplier on the error rates for this source", ge=0, le=20)


def _src(coverage: float, lag: int, stale: float, scale: float) -> Any:
    return Field(
        default_factory=lambda: SourceConfig(coverage=coverage, lag_days=lag, stale=stale, error_scale=scale),
        json_schema_extra={"source": "assumption"},
    )


class SourcesConfig(Section):
    utility: SourceConfig = _src(0.9, 20, 0.0, 1.0)
    lease_property: SourceConfig = _src(0.85, 60, 0.0, 0.5)
    dmv: SourceConfig = _src(0.85, 30, 0.4, 0.5)
    dmv_foreign_born_coverage: Rate = param(
        0.6, "assumption", "DMV coverage among foreign-born adults (licensing access differs)"
    )
    court: SourceConfig = _src(0.04, 90, 0.3, 2.0)
    phone_directory: SourceConfig = _src(0.7, 45, 0.0, 1.0)
    phone_name_lag_days: int = param(
        365, "assumption", "how long a reassigned number keeps the old owner's name in the directory", ge=0, le=3650
    )
    broker: SourceConfig = _src(0.8, 90, 0.5, 1.5)
    social: SourceConfig = _src(0.6, 0, 0.3, 1.0)


class DocketConfig(Section):
    cases: int = param(1000, "scenario choice", "cases on the docket (capped at the eligible adults)", ge=1)
    foreign_born_weight: float = param(
        3.0, "scenario choice (an enforcement docket over-samples foreign-born adults)", "", ge=0, le=1e6
    )
    as_of_years: float = param(2.0, "assumption", "as-of dates fall in this many final years of the period", gt=0)
    clue_min_years: float = param(1.0, "assumption", "clues come from a record at least this old", ge=0)
    clue_max_years: float = param(6.0, "assumption", "and at most this old", gt=0, le=100)
    old_address_clue: Rate = param(0.5, "assumption", "cases whose clues include the old record's address")
    phone_clue: Rate = param(0.3, "assumption", "cases whose clues include a phone number held then")

    @model_validator(mode="after")
    def _windows(self) -> DocketConfig:
        problems = []
        if int(self.as_of_years * 365) < 1:
            problems.append(("as_of_years", f"must be at least one day (1/365 = 0.0028 years); got {self.as_of_years}"))
        if self.clue_min_years > self.clue_max_years:
            problems.append(
                (
                    "clue_min_years",
                    f"must be <= docket.clue_max_years ({self.clue_max_years}); got {self.clue_min_years}",
                )
            )
        if problems:
            raise Problem(*problems)
        return self


class SplinkSystemConfig(Section):
    threshold: float = param(0.9, "scenario choice", "match probability at which records are clustered", gt=0, lt=1)
    hops: int = param(1, "scenario choice", "address/phone hops from the subject for associates", ge=1, le=3)
    max_u_pairs: float = param(1e6, "scenario choice", "pairs sampled to estimate u probabilities", ge=1e3)


class SystemsConfig(Section):
    run: tuple[Name, ...] = param(("exact", "splink", "broker"), "scenario choice", "systems under test, in order")
    commands: dict[Name, Command] = param(
        {}, "scenario choice", "external systems: name -> command line, run with the sandbox directory appended"
    )
    timeout_s: float = param(900.0, "scenario choice", "wall-time limit per system", gt=0, le=86_400)
    memory_mb: int = param(
        8192,
        "scenario choice",
        "memory limit per system, for its whole process tree (and address-space limit per process)",
        ge=256,
        le=1_048_576,
    )
    max_output_mb: int = param(
        1024,
        "scenario choice",
        "what a system may write in all (answers and its private /tmp); past it the system is killed",
        ge=1,
        le=1_048_576,
    )
    max_answer_rows: int = param(
        2_000_000, "scenario choice", "rows an answer file may hold; a larger one is refused unread", ge=1
    )
    splink: SplinkSystemConfig = Field(default_factory=SplinkSystemConfig)

    @field_validator("run")
    @classmethod
    def _each_once(cls, run: tuple[str, ...]) -> tuple[str, ...]:
        if not run:
            raise ValueError('list at least one system, e.g. run = ["exact"]')
        twice = sorted({n for n in run if run.count(n) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} listed more than once; list each system once")
        return run


class AuditConfig(Section):
    bootstrap: int = param(1000, "scenario choice", "bootstrap resamples (cases resampled)", ge=50, le=20000)
    confidence: float = param(0.95, "scenario choice", "interval coverage", gt=0.5, lt=1)
    reference_group: str | None = param(
        None, "DESIGN.md §6 (default: the largest group)", "group whose rate is the denominator of disparities"
    )
    min_group_cases: int = param(20, "scenario choice", "groups with fewer cases get no disparity ratio", ge=1)
    explained_cases: int = param(3, "scenario choice", "explained cases kept per system and error type", ge=0)

    @model_validator(mode="after")
    def _known_group(self) -> AuditConfig:
        if self.reference_group is not None and self.reference_group not in GROUPS:
            raise Problem(
                (
                    "reference_group",
                    f"must be one of {', '.join(GROUPS)} (or left out for the largest group); "
                    f"got {self.reference_group!r}",
                )
            )
        return self


class Scenario(Section):
    name: Name = param("custom", "scenario choice", "label used in the run directory's name")
    seed: Seed = param(20261124, "scenario choice", "root of every random stream")
    world: WorldConfig = Field(default_factory=WorldConfig)
    names: NamesConfig = Field(default_factory=NamesConfig)
    housing: HousingConfig = Field(default_factory=HousingConfig)
    work: WorkConfig = Field(default_factory=WorkConfig)
    phones: PhonesConfig = Field(default_factory=PhonesConfig)
    ties: TiesConfig = Field(default_factory=TiesConfig)
    errors: ErrorsConfig = Field(default_factory=ErrorsConfig)
    sources: SourcesConfig = Field(default_factory=SourcesConfig)
    docket: DocketConfig = Field(default_factory=DocketConfig)
    systems: SystemsConfig = Field(default_factory=SystemsConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        """Checks across sections: the group mix, and settings that would leave the docket no one to sample."""
        problems = []
        total = sum(self.world.group_mix.as_array())
        if abs(total - 1.0) > 0.01:
            problems.append(("world.group_mix", f"shares must sum to 1 (they sum to {total:.3f}); scale the shares"))
        # The docket (docket.py) picks as-of dates in the last ``as_of_years`` of the period and a
        # clue record observed at least ``clue_min_years`` before the as-of date; records are
        # observed from the first day of the period on. Refuse only what no world could satisfy.
        days = period_days(self.world.start, self.world.years)
        d = self.docket
        if int(d.as_of_years * 365) > days:
            problems.append(
                (
                    "docket.as_of_years",
                    f"as-of dates would fall before the period starts; must be at most world.years "
                    f"({self.world.years}); got {d.as_of_years}",
                )
            )
        if int(d.clue_min_years * 365) >= days:
            problems.append(
                (
                    "docket.clue_min_years",
                    f"no record can be that old before an as-of date in a {self.world.years}-year period; "
                    f"must be less than world.years ({self.world.years}); got {d.clue_min_years}",
                )
            )
        s = self.sources
        if not (s.dmv.coverage or s.dmv_foreign_born_coverage or s.court.coverage or s.lease_property.coverage):
            problems.append(
                (
                    "sources.dmv.coverage",
                    "the docket's clues come from DMV, court and lease/property records, and all their coverages "
                    "(sources.dmv.coverage, sources.dmv_foreign_born_coverage, sources.court.coverage, "
                    "sources.lease_property.coverage) are 0; give one a coverage above 0",
                )
            )
        if problems:
            raise Problem(*problems)
        return self

    # -- hashing -------------------------------------------------------------------
    def canonical(self, *sections: str) -> str:
        data = self.model_dump(mode="json", include=set(sections) if sections else None)
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def stage_hash(self, stage: str) -> str:
        """Hash of everything a stage's output depends on (config sections, seed, version)."""
        deps = STAGE_SECTIONS[stage]
        text = f"{stage}|{__version__}|{self.canonical('seed', *deps)}"
        if stage != "world":
            text += "|" + self.stage_hash(STAGE_PARENT[stage])
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def hash8(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()[:8]

    def to_toml(self) -> str:
        return _to_toml(self.model_dump(mode="json"))


def period_days(start: date, years: int) -> int:
    """Days in the scenario period, as :func:`trailbench.world.period` counts them: from the first
    of ``start``'s month to the same day ``years`` later."""
    first = start.replace(day=1)
    return (first.replace(year=first.year + years) - first).days


STAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "world": ("world", "names", "housing", "work", "phones", "ties"),
    "trails": ("errors", "sources"),
    "docket": ("docket",),
    "systems": ("systems",),
    "audit": ("audit",),
}
STAGE_PARENT: dict[str, str] = {"trails": "world", "docket": "trails", "systems": "docket", "audit": "systems"}


# -- loading ---------------------------------------------------------------------------


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


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: type[BaseModel] = model
    for part in loc:
        field = current.model_fields.get(str(part))
        ann = field.annotation if field is not None else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return []
        current = ann
    return sorted(current.model_fields)


def parse_scenario(data: dict[str, Any]) -> Scenario:
    """Validate a scenario given as a mapping (as read from TOML); :class:`ScenarioError` if it is unusable."""
    if not isinstance(data, dict):
        raise ScenarioError(_problems([f"(top level): expected a table of settings, got {type(data).__name__}"]))
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_format_errors(err, Scenario)) from None


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


def load_scenario(spec: str | Path = "county-10k", seed: int | None = None) -> Scenario:
    """Load a preset by name or a TOML file by path; ``seed`` overrides the file's seed.

    Every problem is a :class:`ScenarioError` with one line per problem, naming the field (or
    the file) and what is allowed, raised before anything is built.
    """
    text: str
    if isinstance(spec, str) and spec in PRESETS:
        text = resources.files("trailbench.scenarios").joinpath(f"{spec}.toml").read_text(encoding="utf-8")
    else:
        text = _read(Path(spec))
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as err:
        reason = str(err) if isinstance(err, tomllib.TOMLDecodeError) else "nested too deeply"
        raise ScenarioError(f"scenario {_one_line(str(spec))}: not valid TOML: {_one_line(reason)}") from None
    if seed is not None:
        data["seed"] = seed
    return parse_scenario(data)


# -- the parameter table -------------------------------------------------------------


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


def _to_toml(data: dict[str, Any], prefix: str = "") -> str:
    scalars: list[str] = []
    tables: list[str] = []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, dict):
            tables.append(_to_toml(value, f"{prefix}{key}."))
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
