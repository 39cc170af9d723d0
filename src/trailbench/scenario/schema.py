"""The scenario schema: one model per section of a scenario file, and :class:`Scenario` itself.

Every numeric parameter is declared with :func:`~trailbench.scenario.types.param`, which records
its source (or the label "assumption"); :func:`~trailbench.scenario.table.parameter_table` lists
them all, and a test fails if any parameter lacks one. ``canonical`` gives the text that stage
hashes are made from; the stage graph itself is declared in ``trailbench.stages``.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import date
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from trailbench.scenario.background import BackgroundConfig
from trailbench.scenario.movement import DevicesConfig, MovementConfig
from trailbench.scenario.plates import PlatesConfig
from trailbench.scenario.types import (
    GROUPS,
    ByGroup,
    Command,
    Name,
    Probabilities3,
    Problem,
    Rate,
    Section,
    Seed,
    Weights4,
    param,
)
from trailbench.scenario.write import dump_toml

SCHEMA_VERSION = 1  # the scenario format this trailbench reads; bump when a file's meaning changes


class GroupSizes(ByGroup):
    """One mean household size per group (people per household, from 1 to 20)."""

    hispanic: float = Field(ge=1, le=20)
    white: float = Field(ge=1, le=20)
    black: float = Field(ge=1, le=20)
    api: float = Field(ge=1, le=20)
    aian: float = Field(ge=1, le=20)
    multi: float = Field(ge=1, le=20)


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
        ByGroup(hispanic=0.33, white=0.042, black=0.105, api=0.59, aian=0.02, multi=0.062),
        "assumption (relative shares by group); scaled so that, weighted by the default group_mix, the population "
        "share is 13.7% (FACTS: foreign-born share of the US population, 2018 ACS, Pew tabulation)",
        "share of each group's people (all ages) born abroad; adults are drawn at the higher rate that gives this "
        "share once children, mostly born in the US to foreign-born parents, are counted",
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
    household_size: GroupSizes = param(
        GroupSizes(hispanic=3.34, white=2.48, black=2.48, api=2.48, aian=2.48, multi=2.48),
        "FACTS: Census CPS 2004, table AVG1 (Hispanic 3.34, non-Hispanic 2.48); the non-Hispanic figure is "
        "applied to each non-Hispanic group (assumption)",
        "mean people per household: each group's household forms and sizes are the shared base below "
        "(one_person, shared_nonfamily, family_forms, children_mean and the fixed multigenerational, roommate "
        "assumptions) tilted exponentially in household size until their mean is this, with the group's "
        "multigenerational share held fixed (the least change to the base that meets the cited mean)",
    )
    one_person: Rate = param(
        0.28,
        "assumption (Census CPS 2023 reports about 29% one-person households)",
        "base share of one-person households, before each group's household_size tilt",
    )
    shared_nonfamily: Rate = param(
        0.06, "assumption", "base share of households of unrelated adults sharing a unit (before the tilt)"
    )
    children_mean: float = param(
        1.9, "assumption", "base mean children in households with children (before the tilt)", ge=1, le=6
    )
    family_forms: Probabilities3 = param(
        (0.45, 0.40, 0.15),
        "assumption",
        "other family households: couple, couple with children, single parent (base, before the tilt)",
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

    def size_range(self, group: str) -> tuple[float, float]:
        """The mean household sizes the tilt can reach for ``group`` (open bounds; ``inf`` when
        households with children are possible): as the tilt goes to -inf every household takes its
        smallest possible form, as it goes to +inf its largest."""
        mg = getattr(self.multigenerational, group)
        rest = max(0.0, 1.0 - self.one_person - self.shared_nonfamily - mg)
        # (base weight, smallest size, largest size) of each non-multigenerational form
        forms = (
            (self.one_person, 1.0, 1.0),
            (rest * self.family_forms[0], 2.0, 2.0),
            (rest * self.family_forms[1], 3.0, math.inf),
            (rest * self.family_forms[2], 2.0, math.inf),
            (self.shared_nonfamily, 2.0, 4.0),
        )
        live = [(lo, hi) for w, lo, hi in forms if w > 0]
        if mg >= 1.0 or not live:
            return 3.0, math.inf
        lo = (1.0 - mg) * min(f[0] for f in live) + mg * 3.0
        hi = (1.0 - mg) * max(f[1] for f in live) + (math.inf if mg > 0 else 0.0)
        return lo, hi

    @model_validator(mode="after")
    def _sizes_reachable(self) -> HousingConfig:
        problems = []
        for g in GROUPS:
            lo, hi = self.size_range(g)
            want = getattr(self.household_size, g)
            if not lo < want < hi:
                shown = f"between {lo:.3g} and {hi:.3g}" if hi < math.inf else f"above {lo:.3g}"
                problems.append(
                    (
                        f"household_size.{g}",
                        f"the household forms given (one_person, shared_nonfamily, family_forms, "
                        f"multigenerational.{g}) can only reach a mean {shown}; got {want}",
                    )
                )
        if problems:
            raise Problem(*problems)
        return self


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
        0.72,
        "derived: Pew Research Center, 'Key findings about U.S. immigrants' (2017): 24% of immigrants were "
        "unauthorized in 2015; Pew Charitable Trusts, 'Deciding Who Drives' (Aug 2015): nearly 37% of unauthorized "
        "immigrants live in a jurisdiction where they may obtain a license; those who may are assumed to hold one at "
        "the US-born rate, sources.dmv.coverage 0.85 (assumption): 0.85 x (0.76 + 0.24 x 0.37) = 0.72",
        "DMV coverage among foreign-born adults: lawful immigrants, and unauthorized immigrants in states that "
        "license them, at the US-born rate; other unauthorized immigrants hold no licence (an upper estimate: "
        "unauthorized immigrants who may obtain a licence do not all take one up)",
    )
    court: SourceConfig = _src(0.04, 90, 0.3, 2.0)
    phone_directory: SourceConfig = _src(0.7, 45, 0.0, 1.0)
    phone_name_lag_days: int = param(
        365, "assumption", "how long a reassigned number keeps the old owner's name in the directory", ge=0, le=3650
    )
    broker: SourceConfig = _src(0.8, 90, 0.5, 1.5)
    social: SourceConfig = _src(0.6, 0, 0.3, 1.0)

    @model_validator(mode="before")
    @classmethod
    def _own_defaults(cls, data: Any) -> Any:
        """A partly written ``[sources.dmv]`` keeps the DMV's own defaults for what it leaves out
        (not the generic source defaults)."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, field in cls.model_fields.items():
            given = out.get(name)
            if isinstance(given, dict) and field.default_factory is not None:
                own = field.default_factory()  # type: ignore[call-arg]
                if isinstance(own, SourceConfig):
                    out[name] = {**own.model_dump(), **given}
        return out


class DocketConfig(Section):
    cases: int = param(1000, "scenario choice", "cases on the docket (capped at the eligible adults)", ge=1)
    foreign_born_weight: float = param(
        3.0,
        "assumption (scenario choice: no cited figure sets it; it depends on the docket modelled)",
        "how many times as likely a foreign-born adult is as a US-born one to be a case: the docket is assumed "
        "to be an enforcement docket that over-samples the foreign-born three to one (an immigration docket holds "
        "only the foreign-born, weight without bound; a docket blind to nativity has weight 1)",
        ge=0,
        le=1e6,
    )
    as_of_years: float = param(2.0, "assumption", "as-of dates fall in this many final years of the period", gt=0)
    clue_min_years: float = param(1.0, "assumption", "clues come from a record at least this old", ge=0)
    clue_max_years: float = param(6.0, "assumption", "and at most this old", gt=0, le=100)
    old_address_clue: Rate = param(0.5, "assumption", "cases whose clues include the old record's address")
    phone_clue: Rate = param(0.3, "assumption", "cases whose clues include a phone number held then")
    device_clue: Rate = param(
        0.5,
        "assumption (no published figure: an agency may buy a subject's advertising ID from a data broker or get "
        "it by legal process)",
        "cases whose subject carries a phone in the broker's panel during the audit window and whose clues "
        "include that phone's advertising ID (the cases of the home_work, device_link and colocation tasks)",
    )

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
    backend: Literal["duckdb", "spark"] = param(
        "duckdb",
        "model setting",
        "where Splink runs: DuckDB in the system's process, or Spark (local[N] or a cluster, spark_master); the "
        "same settings, training and prediction, and at small scale the same answers",
    )
    duckdb_memory_mb: int = param(
        4096,
        "model setting",
        "DuckDB's memory limit (backend duckdb); past it DuckDB spills to a directory in the system's temporary "
        "directory, so linkage runs out of core",
        ge=64,
    )
    spark_master: str = param(
        "local[2]",
        "model setting",
        "Spark master (backend spark): local[N] runs N cores in the system's process tree; a cluster's URL "
        "(spark://, yarn, k8s://) runs there",
        min_length=1,
    )
    spark_memory_mb: int = param(
        2048, "model setting", "Spark driver memory (backend spark; in local mode the executors run in it)", ge=256
    )
    spark_partitions: int = param(
        8, "model setting", "Spark shuffle partitions (backend spark): about 2-4 per core of the cluster", ge=1
    )


class PatternSystemConfig(Section):
    """The ``pattern`` reference system's settings (its inference settings are trackintel's
    defaults: see trailbench.systems.pattern_infer.PatternSettings)."""

    method: Literal["FREQ", "OSNA"] = param(
        "FREQ",
        "trackintel location_identifier (its default: FREQ)",
        "home/work rule: FREQ (most and second-most time) or OSNA (time by fixed rest, work and leisure hours)",
    )
    engine: Literal["port", "trackintel"] = param(
        "port",
        "model setting",
        "stay points and FREQ labels by trailbench's port of trackintel's sliding window and FREQ rule over plain "
        "arrays (the same results, tested) or by trackintel itself (slower)",
    )
    colocation_m: float = param(
        100.0, "ArcGIS Pro Find Meeting Locations default (FACTS)", "co-location distance, metres", gt=0
    )
    colocation_min: float = param(
        10.0, "ArcGIS Pro Find Meeting Locations default (FACTS)", "co-location time window, minutes", gt=0
    )
    night_hours: tuple[int, int] = param(
        (0, 6), "assumption", "hours (from, to) whose pings count as night-time, for co-residence"
    )
    co_residence_nights: int = param(
        3, "assumption", "nights two devices must spend within colocation_m of each other to be co-resident", ge=1
    )
    co_travel_share: Rate = param(
        0.6,
        "assumption",
        "a co-resident device is the subject's own (a second phone, a new handset) when it is also within "
        "colocation_m of the subject's device in at least this share of their daytime co-observed time slots",
    )
    wifi_min_visits: int = param(
        2,
        "assumption",
        "a Wi-Fi MAC is linked to the subject's device when seen at a sensor within colocation_min of the device's "
        "pings within colocation_m of the sensor on at least this many distinct days",
        ge=1,
    )
    max_entities: int = param(50, "scenario choice", "co-location entities returned per case, best first", ge=1)


AP_CMPRS = (
    "FACTS (Licence plates): Border Patrol's algorithm flags drivers by origin, destination and route; a one-day "
    "round trip led to a search (AP, Nov 2025)"
)


class RouteRulesConfig(Section):
    """The ``route_rules`` reference system: travel-pattern rules as public reporting describes
    them (origin or destination at the port zone, one-day round trips, repeated routes at odd
    hours), and hotlist alerts on exact matches. Not any agency's or vendor's rule set."""

    round_trips: int = param(
        2, AP_CMPRS + "; the count is an assumption", "one-day round trips to the port corridor that flag a plate", ge=1
    )
    odd_hours: tuple[int, int] = param(
        (0, 5), AP_CMPRS + "; the hours are an assumption", "hours (from, to) after midnight that count as odd"
    )
    odd_round_trip: bool = param(
        True, AP_CMPRS, "a single one-day round trip with a corridor read at odd hours flags a plate"
    )
    odd_route_days: int = param(
        4,
        "assumption (repeated routes at odd hours: FACTS, AP Nov 2025)",
        "distinct days with a read at odd hours by one camera that flag a plate (a repeated route)",
        ge=1,
    )
    pass_gap_min: float = param(
        20.0, "model setting", "corridor reads of one plate further apart than this are separate passes", gt=0
    )
    match_state: bool = param(
        False,
        "model setting (a state is read wrong about 1 time in 10, FACTS: reads are grouped by plate alone)",
        "group reads by plate and state (true) or by plate alone (false)",
    )
    hotlist_min_confidence: Rate = param(
        0.0,
        "model setting (alerts fire on every exact match, as deployed readers' hotlist alerts do)",
        "reads below this reader confidence raise no hotlist alert",
    )


class RouteAnomalyConfig(Section):
    """The ``route_anomaly`` reference system: scikit-learn's IsolationForest over per-plate travel
    features (reconstruction; no agency has published its model)."""

    contamination: Rate = param(
        0.005,
        "assumption (the share of plates the model flags; of the order of the 0.5% hotlist hit rate in FACTS)",
        "IsolationForest contamination: the share of plates flagged",
    )
    n_estimators: int = param(100, "scikit-learn IsolationForest default", "trees in the forest", ge=10)
    min_reads: int = param(3, "assumption", "plates read fewer times are not scored (too little to go on)", ge=1)
    odd_hours: tuple[int, int] = param((0, 5), AP_CMPRS + "; the hours are an assumption", "hours that count as odd")
    random_state: int = param(0, "model setting", "IsolationForest's random_state (answers are deterministic)")


class SystemsConfig(Section):
    run: tuple[Name, ...] = param(
        ("exact", "splink", "broker", "pattern", "route_rules", "route_anomaly"),
        "scenario choice",
        "systems under test, in order",
    )
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
    parallel: int = param(
        2,
        "scenario choice (2: on a 2-core machine one system's start-up and single-threaded steps overlap another's "
        "work; county-10k's four systems took 13.4 s a world at 2 against 21.0 s one at a time)",
        "systems run at once in each world, each in its own sandbox under its own limits (answers do not depend "
        "on it; timings do)",
        ge=1,
        le=16,
    )
    splink: SplinkSystemConfig = Field(default_factory=SplinkSystemConfig)
    pattern: PatternSystemConfig = Field(default_factory=PatternSystemConfig)
    route_rules: RouteRulesConfig = Field(default_factory=RouteRulesConfig)
    route_anomaly: RouteAnomalyConfig = Field(default_factory=RouteAnomalyConfig)

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
    worlds: int = param(
        5,
        "DESIGN.md §6 (replicate worlds, default at least 5)",
        "replicate worlds: world 0 has the scenario's seed, each other world a seed spawned from it; every "
        "figure is pooled over them with a two-stage bootstrap (worlds, then cases within a world)",
        ge=1,
        le=100,
    )
    bootstrap: int = param(
        1000, "scenario choice", "bootstrap resamples (worlds, then cases within each, resampled)", ge=50, le=20000
    )
    confidence: float = param(0.95, "scenario choice", "interval coverage", gt=0.5, lt=1)
    reference_group: str | None = param(
        None, "DESIGN.md §6 (default: the largest group)", "group whose rate is the denominator of disparities"
    )
    min_group_cases: int = param(
        20,
        "scenario choice",
        "a group or stratum slice with fewer cases, or fewer of what its rate is a share of (wrong answers for an "
        "error share), is flagged too small to estimate and gets no disparity ratio",
        ge=1,
    )
    explained_cases: int = param(3, "scenario choice", "explained cases kept per system and error type", ge=0)
    wrong_door_budget: float = param(
        5.0,
        "DESIGN.md §6 (NIST-style operating point; the budget itself is a scenario choice)",
        "wrong doors per 100 cases a system may send officers to at its operating point (located_within_budget)",
        ge=0,
        le=100,
    )

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
    schema_version: int = param(
        SCHEMA_VERSION, "file format", "version of the scenario format; this trailbench reads version 1"
    )
    name: Name = param("custom", "scenario choice", "label used in the run directory's name")
    seed: Seed = param(20261124, "scenario choice", "root of every random stream")
    world: WorldConfig = Field(default_factory=WorldConfig)
    names: NamesConfig = Field(default_factory=NamesConfig)
    housing: HousingConfig = Field(default_factory=HousingConfig)
    work: WorkConfig = Field(default_factory=WorkConfig)
    phones: PhonesConfig = Field(default_factory=PhonesConfig)
    ties: TiesConfig = Field(default_factory=TiesConfig)
    movement: MovementConfig = Field(default_factory=MovementConfig)
    devices: DevicesConfig = Field(default_factory=DevicesConfig)
    plates: PlatesConfig = Field(default_factory=PlatesConfig)
    errors: ErrorsConfig = Field(default_factory=ErrorsConfig)
    sources: SourcesConfig = Field(default_factory=SourcesConfig)
    background: BackgroundConfig = Field(default_factory=BackgroundConfig)
    docket: DocketConfig = Field(default_factory=DocketConfig)
    systems: SystemsConfig = Field(default_factory=SystemsConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, version: int) -> int:
        if version != SCHEMA_VERSION:
            raise ValueError(f"this trailbench reads version {SCHEMA_VERSION} scenarios")
        return version

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
        region, whole = self.world.people, self.world.people + self.background.people
        if any(not region <= n < whole for n in self.background.file_sizes):
            problems.append(
                (
                    "background.file_sizes",
                    f"each size is the people a smaller file covers: at least world.people ({region}) and below "
                    f"world.people + background.people ({whole}); got {list(self.background.file_sizes)}",
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

    @property
    def hash8(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()[:8]

    def to_toml(self) -> str:
        return dump_toml(self.model_dump(mode="json"))


def period_days(start: date, years: int) -> int:
    """Days in the scenario period, as :func:`trailbench.world.period` counts them: from the first
    of ``start``'s month to the same day ``years`` later."""
    first = start.replace(day=1)
    return (first.replace(year=first.year + years) - first).days
