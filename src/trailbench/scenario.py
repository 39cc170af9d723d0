"""Scenario: the validated configuration of one audit, its presets, loading and hashing.

Every numeric parameter is declared with :func:`param`, which records its source (or the
label "assumption"); :func:`parameter_table` lists them all, and a test fails if any
parameter lacks one.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trailbench import __version__

GROUPS: tuple[str, ...] = ("hispanic", "white", "black", "api", "aian", "multi")
PRESETS: tuple[str, ...] = ("county-10k", "county-100k", "city-1m")


class ScenarioError(ValueError):
    """A scenario that cannot be used, with one line per problem naming the field."""


def param(default: Any, source: str, description: str = "", **constraints: Any) -> Any:
    """A scenario parameter with its provenance (a citation or the word "assumption")."""
    return Field(default, description=description, json_schema_extra={"source": source}, **constraints)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ByGroup(Section):
    """One value per Census group used by the name tables."""

    hispanic: float = Field(ge=0, le=1)
    white: float = Field(ge=0, le=1)
    black: float = Field(ge=0, le=1)
    api: float = Field(ge=0, le=1)
    aian: float = Field(ge=0, le=1)
    multi: float = Field(ge=0, le=1)

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


class NamesConfig(Section):
    structure: Literal["cited", "flat"] = param(
        "cited",
        "mechanism switch",
        "'cited': each group draws from its own Census surname distribution with its naming "
        "conventions; 'flat': every group draws surnames uniformly from one shared list and given names from "
        "one pooled table, with no compound surnames, English aliases or name-order conventions",
    )
    hispanic_hyphen: float = param(
        0.0684,
        "FACTS: NC voter file via vivarium_census_prl_synth_pop",
        "Hispanic surnames hyphenated",
        ge=0,
        le=1,
    )
    hispanic_space: float = param(
        0.1281,
        "FACTS: NC voter file via vivarium_census_prl_synth_pop",
        "Hispanic surnames with a space",
        ge=0,
        le=1,
    )
    other_hyphen: float = param(
        0.0047,
        "FACTS: White rate, NC voter file; applied to all non-Hispanic groups (assumption)",
        "",
        ge=0,
        le=1,
    )
    other_space: float = param(
        0.0035,
        "FACTS: White rate, NC voter file; applied to all non-Hispanic groups (assumption)",
        "",
        ge=0,
        le=1,
    )
    spouse_takes_surname: float = param(
        0.7, "assumption", "non-Hispanic wives taking the husband's surname", ge=0, le=1
    )
    english_alias: float = param(
        0.3, "assumption", "foreign-born API adults who also use an adopted English given name", ge=0, le=1
    )
    family_name_first: float = param(
        0.5, "assumption", "foreign-born API adults whose documents put the family name first", ge=0, le=1
    )
    middle_name: float = param(0.6, "assumption", "people with a middle name", ge=0, le=1)
    flat_list_size: int = param(2000, "mechanism switch", "size of the shared list under 'flat'", ge=10)


class HousingConfig(Section):
    ownership: ByGroup = param(
        ByGroup(hispanic=0.498, white=0.738, black=0.459, api=0.63, aian=0.52, multi=0.57),
        "FACTS: Census CPS/HVS Q4 2023 (Hispanic, White, Black, Asian); AIAN and multi: assumption",
        "share of households owning their home",
    )
    renter_move_rate: float = param(
        0.245, "FACTS: CPS 2013-14, Census 18 Mar 2015", "annual mover rate, renters", ge=0, le=1
    )
    owner_move_rate: float = param(
        0.05, "FACTS: CPS 2013-14, Census 18 Mar 2015", "annual mover rate, owners", ge=0, le=1
    )
    multigenerational: ByGroup = param(
        ByGroup(hispanic=0.105, white=0.037, black=0.08, api=0.09, aian=0.08, multi=0.06),
        "FACTS: 2009-11 ACS (Hispanic >10%, Asian ~9%, White 3.7%); Black, AIAN, multi: assumption",
        "share of households that are multigenerational",
    )
    one_person: float = param(
        0.28, "assumption (Census CPS 2023 reports about 29% one-person households)", "", ge=0, le=1
    )
    shared_nonfamily: float = param(0.06, "assumption", "households of unrelated adults sharing a unit", ge=0, le=1)
    children_mean: float = param(1.9, "assumption", "mean children in households with children", ge=1, le=6)
    family_forms: tuple[float, float, float] = param(
        (0.45, 0.40, 0.15),
        "assumption",
        "other family households: couple, couple with children, single parent",
    )
    owner_kinds: tuple[float, float, float] = param(
        (0.85, 0.15, 0.0), "assumption", "owners' units: single-family house, small multi-unit, large complex"
    )
    renter_kinds: tuple[float, float, float] = param(
        (0.30, 0.40, 0.30),
        "assumption",
        "renters' units: single-family house, small multi-unit, large complex",
    )
    same_sex_couples: float = param(0.015, "assumption", "couples of the same sex", ge=0, le=1)
    adult_child_elsewhere: float = param(
        0.5, "assumption", "young householders (18-35) whose parents live elsewhere in the region", ge=0, le=1
    )


class WorkConfig(Section):
    employment: float = param(0.72, "assumption", "adults 18-64 in work", ge=0, le=1)
    informal: float = param(0.06, "assumption", "US-born workers whose work leaves no employer record", ge=0, le=1)
    informal_foreign_born: float = param(
        0.2, "assumption", "foreign-born workers whose work leaves no employer record", ge=0, le=1
    )
    employer_zipf: float = param(
        1.06, "Axtell 2001, Science 293:1818 (US firm sizes, Zipf exponent ~1.06)", "", ge=0.5, le=3
    )
    mean_employer_size: float = param(12.0, "assumption", "formal workers per employer, on average", ge=1)
    job_change_rate: float = param(0.2, "assumption", "annual probability of changing employer", ge=0, le=1)


class PhonesConfig(Section):
    churn_rate: float = param(
        0.1,
        "derived: FCC 2018 (35M numbers disconnected a year) over ~350M numbers in use (assumption)",
        "annual probability that a person changes number",
        ge=0,
        le=1,
    )
    reuse: float = param(
        0.5,
        "assumption",
        "new numbers taken from the pool of aged, released numbers when one is free",
        ge=0,
        le=1,
    )
    aging_min_days: int = param(45, "FACTS: FCC Reassigned Numbers Database order, 2018", "", ge=0, le=365)
    aging_max_days: int = param(90, "FACTS: FCC Reassigned Numbers Database order, 2018", "", ge=0, le=365)

    @model_validator(mode="after")
    def _aging_order(self) -> PhonesConfig:
        if self.aging_max_days < self.aging_min_days:
            raise ValueError("aging_max_days must be >= aging_min_days")
        return self


class TiesConfig(Section):
    friends: float = param(4.0, "assumption", "mean friend ties per adult", ge=0, le=50)
    weak_ties: float = param(3.0, "assumption", "mean weak (acquaintance) ties per adult", ge=0, le=50)
    coworkers: float = param(3.0, "assumption", "mean coworker ties per worker", ge=0, le=50)
    homophily: float = param(0.6, "assumption", "share of friend ties chosen within the same town", ge=0, le=1)


class ErrorsConfig(Section):
    """Per-record error rates (DESIGN §4); sources scale them by their own ``error_scale``."""

    name_typo: float = param(0.01, "FACTS: pseudopeople default cell noise 0.01", "", ge=0, le=1)
    typo_kinds: tuple[float, float, float, float] = param(
        (0.59, 0.16, 0.10, 0.02),
        "FACTS: Damerau 1964 (substitution, deletion, insertion, transposition; renormalised)",
    )
    nickname: float = param(0.08, "assumption", "records giving a known nickname or anglicised form", ge=0, le=1)
    alias: float = param(0.5, "assumption", "records of a person with an English alias that use it", ge=0, le=1)
    transliteration: float = param(
        0.25,
        "assumption",
        "records rendering a name in a transliteration family with another spelling",
        ge=0,
        le=1,
    )
    compound_first_only: float = param(
        0.35, "assumption", "records of compound surnames keeping only the first", ge=0, le=1
    )
    compound_reformat: float = param(
        0.25, "assumption", "records re-joining a compound surname (hyphen/space/none)", ge=0, le=1
    )
    order_swap: float = param(0.005, "assumption", "records swapping given and family names", ge=0, le=1)
    order_swap_convention: float = param(
        0.15, "assumption", "the same, for people whose documents put the family name first", ge=0, le=1
    )
    dob_swap: float = param(0.01, "assumption", "records swapping DOB day and month (when both are <= 12)", ge=0, le=1)
    dob_digit: float = param(0.01, "FACTS: pseudopeople default cell noise 0.01", "", ge=0, le=1)
    dob_partial: float = param(0.03, "assumption", "records giving only year and month", ge=0, le=1)
    address_format: float = param(0.3, "assumption", "records with a formatting variant of the address", ge=0, le=1)
    address_digit: float = param(0.01, "FACTS: pseudopeople default cell noise 0.01", "", ge=0, le=1)
    unit_missing: float = param(0.05, "assumption", "multi-unit addresses recorded without the unit", ge=0, le=1)
    zip_digit: float = param(0.01, "FACTS: pseudopeople default cell noise 0.01", "", ge=0, le=1)
    missing: float = param(0.01, "FACTS: pseudopeople default cell noise 0.01", "missing DOB or phone", ge=0, le=1)


class SourceConfig(Section):
    coverage: float = param(0.9, "assumption", "share of eligible people or events the source holds", ge=0, le=1)
    lag_days: int = param(30, "assumption", "mean delay from event to record", ge=0, le=3650)
    stale: float = param(
        0.2,
        "assumption",
        "out-of-date addresses: court, previous address; DMV, moves never reported; broker, old addresses "
        "re-dated as recently seen; social, 'lives in' never updated (not used by other sources)",
        ge=0,
        le=1,
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
    dmv_foreign_born_coverage: float = param(
        0.6, "assumption", "DMV coverage among foreign-born adults (licensing access differs)", ge=0, le=1
    )
    court: SourceConfig = _src(0.04, 90, 0.3, 2.0)
    phone_directory: SourceConfig = _src(0.7, 45, 0.0, 1.0)
    phone_name_lag_days: int = param(
        365, "assumption", "how long a reassigned number keeps the old owner's name in the directory", ge=0
    )
    broker: SourceConfig = _src(0.8, 90, 0.5, 1.5)
    social: SourceConfig = _src(0.6, 0, 0.3, 1.0)


class DocketConfig(Section):
    cases: int = param(1000, "scenario choice", "cases on the docket (capped at the eligible adults)", ge=1)
    foreign_born_weight: float = param(
        3.0, "scenario choice (an enforcement docket over-samples foreign-born adults)", "", ge=0
    )
    as_of_years: float = param(2.0, "assumption", "as-of dates fall in this many final years of the period", gt=0)
    clue_min_years: float = param(1.0, "assumption", "clues come from a record at least this old", ge=0)
    clue_max_years: float = param(6.0, "assumption", "and at most this old", gt=0)
    old_address_clue: float = param(0.5, "assumption", "cases whose clues include the old record's address", ge=0, le=1)
    phone_clue: float = param(0.3, "assumption", "cases whose clues include a phone number held then", ge=0, le=1)


class SplinkSystemConfig(Section):
    threshold: float = param(0.9, "scenario choice", "match probability at which records are clustered", gt=0, lt=1)
    hops: int = param(1, "scenario choice", "address/phone hops from the subject for associates", ge=1, le=3)
    max_u_pairs: float = param(1e6, "scenario choice", "pairs sampled to estimate u probabilities", ge=1e3)


class SystemsConfig(Section):
    run: tuple[str, ...] = param(("exact", "splink", "broker"), "scenario choice", "systems under test, in order")
    commands: dict[str, str] = param(
        {}, "scenario choice", "external systems: name -> command line, run with the sandbox directory appended"
    )
    timeout_s: float = param(900.0, "scenario choice", "wall-time limit per system", gt=0)
    memory_mb: int = param(8192, "scenario choice", "address-space limit per system", ge=256)
    splink: SplinkSystemConfig = Field(default_factory=SplinkSystemConfig)


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
            raise ValueError(f"audit.reference_group must be one of {', '.join(GROUPS)}")
        return self


class Scenario(Section):
    name: str = param("custom", "scenario choice", "label used in the run directory's name", min_length=1)
    seed: int = param(20261124, "scenario choice", "root of every random stream", ge=0)
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
    def _mix_sums_to_one(self) -> Scenario:
        total = sum(self.world.group_mix.as_array())
        if abs(total - 1.0) > 0.01:
            raise ValueError(f"world.group_mix must sum to 1 (it sums to {total:.3f}); scale the shares")
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


STAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "world": ("world", "names", "housing", "work", "phones", "ties"),
    "trails": ("errors", "sources"),
    "docket": ("docket",),
    "systems": ("systems",),
    "audit": ("audit",),
}
STAGE_PARENT: dict[str, str] = {"trails": "world", "docket": "trails", "systems": "docket", "audit": "systems"}


# -- loading ---------------------------------------------------------------------------


def _format_errors(err: ValidationError, model: type[BaseModel]) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, e["loc"][:-1])
            lines.append(f"{loc}: unknown key; allowed keys here: {', '.join(allowed)}")
        elif e["type"] == "missing" and e["loc"] and isinstance(e["loc"][-1], int):
            parent = ".".join(str(p) for p in e["loc"][:-1])
            lines.append(f"{parent}: too few values (got {e.get('input')!r})")
        else:
            got = e.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"{loc}: {e['msg']}{shown}")
    return "invalid scenario:\n  " + "\n  ".join(dict.fromkeys(lines))


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
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_format_errors(err, Scenario)) from None


def load_scenario(spec: str | Path = "county-10k", seed: int | None = None) -> Scenario:
    """Load a preset by name or a TOML file by path; ``seed`` overrides the file's seed."""
    text: str
    if isinstance(spec, str) and spec in PRESETS:
        text = resources.files("trailbench.scenarios").joinpath(f"{spec}.toml").read_text()
    else:
        path = Path(spec)
        if not path.exists():
            raise ScenarioError(f"scenario {spec!r}: no such file and not a preset; presets: {', '.join(PRESETS)}")
        text = path.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"scenario {spec}: not valid TOML: {err}") from None
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
