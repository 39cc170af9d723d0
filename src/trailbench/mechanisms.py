"""Mechanisms (DESIGN §3, §6): every structural parameter through which groups differ, declared
once as a named counterfactual switch.

A switch sets one or more scenario keys to the value that makes the groups alike in that respect
and nothing else. Equal values are built from the scenario's own parameters (so a user's
scenario is equalised at its own overall rate): per-household rates (ownership,
multigenerational households) are averaged over households, each group weighted by its share of
people over its mean household size; per-person shares (foreign-born) over people, by
``world.group_mix``. ``trailbench attribute``, the report's "What carries each gap" and
docs read :data:`MECHANISMS`; :func:`apply` turns switches on.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from trailbench.scenario import GROUPS, Scenario, ScenarioError, load_scenario

ALL = "all"  # every switch together
DIGITS = 4  # equal values are rounded to this many decimals (they are written into scenario files)

Rule = Callable[[Scenario], Any]  # the equalising value, computed from the scenario it is applied to


@dataclass(frozen=True)
class Mechanism:
    """One counterfactual switch: ``overrides`` maps dotted scenario keys to the value that
    equalises the groups, given as such or as a rule computing it from the scenario."""

    name: str
    title: str
    description: str
    overrides: Mapping[str, Any | Rule]
    source: str

    def values(self, sc: Scenario) -> dict[str, Any]:
        """The overrides this switch makes to ``sc`` (rules evaluated on ``sc``)."""
        return {k: (v(sc) if callable(v) else v) for k, v in self.overrides.items()}


def household_shares(sc: Scenario) -> dict[str, float]:
    """Each group's share of households: its share of people over its mean household size."""
    raw = {g: getattr(sc.world.group_mix, g) / getattr(sc.housing.household_size, g) for g in GROUPS}
    total = sum(raw.values())
    return {g: v / total for g, v in raw.items()}


def per_household(section: str, field: str) -> Rule:
    """The household-weighted mean of a per-group household rate, the same for every group."""

    def rule(sc: Scenario) -> dict[str, float]:
        by_group = getattr(getattr(sc, section), field)
        mean = sum(w * getattr(by_group, g) for g, w in household_shares(sc).items())
        return dict.fromkeys(GROUPS, round(mean, DIGITS))

    return rule


def people_per_household(sc: Scenario) -> dict[str, float]:
    """The overall mean household size (people over households), the same for every group."""
    raw = sum(getattr(sc.world.group_mix, g) / getattr(sc.housing.household_size, g) for g in GROUPS)
    return dict.fromkeys(GROUPS, round(sum(sc.world.group_mix.as_array()) / raw, DIGITS))


def foreign_born_share(sc: Scenario) -> dict[str, float]:
    """The population's foreign-born share (weighted by the group mix), the same for every group."""
    share = sum(getattr(sc.world.group_mix, g) * getattr(sc.world.foreign_born, g) for g in GROUPS)
    return dict.fromkeys(GROUPS, round(share / sum(sc.world.group_mix.as_array()), DIGITS))


def background_foreign_born_share(sc: Scenario) -> dict[str, float]:
    """The background's adult foreign-born share (weighted by its group mix), the same for every group."""
    bg = sc.background
    share = sum(getattr(bg.group_mix, g) * getattr(bg.foreign_born, g) for g in GROUPS)
    return dict.fromkeys(GROUPS, round(share / sum(bg.group_mix.as_array()), DIGITS))


def one_building_mix(sc: Scenario) -> list[float]:
    """The kinds of building households live in, owners and renters together (weighted by the
    scenario's household-weighted ownership rate): one mix for both tenures."""
    own = sum(w * getattr(sc.housing.ownership, g) for g, w in household_shares(sc).items())
    mix = [own * o + (1 - own) * r for o, r in zip(sc.housing.owner_kinds, sc.housing.renter_kinds, strict=True)]
    rounded = [round(v, DIGITS) for v in mix]
    rounded[0] = round(1.0 - rounded[1] - rounded[2], DIGITS)  # still sums to one after rounding
    return rounded  # a list, as the value reads back from a scenario file


def _frozen(d: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(d)


MECHANISMS: tuple[Mechanism, ...] = (
    Mechanism(
        "flat_names",
        "flat name structure",
        "every group draws surnames uniformly from one shared list and given names from one pooled table: no "
        "group's surnames are more concentrated, and no compound surnames, English aliases or family-name-first "
        "documents",
        _frozen({"names.structure": "flat"}),
        "mechanism switch (names.structure = 'flat')",
    ),
    Mechanism(
        "equal_tenure",
        "equal tenure",
        "every group owns its home at the same rate, the scenario's household-weighted overall rate: renters, "
        "who move about five times as often as owners, are then no likelier in one group than another",
        _frozen({"housing.ownership": per_household("housing", "ownership")}),
        "the scenario's own housing.ownership averaged over households; FACTS: all households 65.7% (Census "
        "CPS/HVS Q4 2023)",
    ),
    Mechanism(
        "equal_building_density",
        "equal building density",
        "owners and renters live in the same mix of houses, small multi-unit buildings and large complexes (the "
        "scenario's tenure-weighted mix), so no group lives in dense buildings more than another through its "
        "tenure: dense buildings put many unrelated people within metres of each other every night, which "
        "co-location and device linkage read as ties",
        _frozen({"housing.owner_kinds": one_building_mix, "housing.renter_kinds": one_building_mix}),
        "the scenario's own housing.owner_kinds and housing.renter_kinds, weighted by its household-weighted "
        "ownership rate",
    ),
    Mechanism(
        "even_camera_placement",
        "cameras placed evenly",
        "fixed plate readers and patrol-car posts spread evenly over built-up crossings, not concentrated in the "
        "neighbourhoods with the most multi-unit housing: where readers stand decides whose routes are read, "
        "whose plates are misread and whose odd-hour trips a route rule sees",
        _frozen({"plates.camera_placement": "evenly"}),
        "mechanism switch (plates.camera_placement = 'evenly'); FACTS: readers concentrated in low-income, Black "
        "and Latino neighbourhoods (EFF, Oakland data, 2015)",
    ),
    Mechanism(
        "equal_multigenerational",
        "equal multigenerational share",
        "every group's households are multigenerational at the same rate: the scenario's household-weighted "
        "overall share",
        _frozen({"housing.multigenerational": per_household("housing", "multigenerational")}),
        "the scenario's own housing.multigenerational averaged over households; FACTS: multigenerational family "
        "households 5.6% (2009-11 ACS)",
    ),
    Mechanism(
        "equal_household_size",
        "equal household size",
        "every group's households have the same mean size: the scenario's overall people per household (so the "
        "number of households stays the same)",
        _frozen({"housing.household_size": people_per_household}),
        "the scenario's own housing.household_size, people over households; FACTS: all households about 2.5 "
        "(ACS 2020s)",
    ),
    Mechanism(
        "equal_foreign_born",
        "equal foreign-born share",
        "every group has the same share of people born abroad, the scenario's overall share: nativity, through "
        "which DMV coverage, informal work and the docket's sampling differ, then no longer differs by group",
        _frozen({"world.foreign_born": foreign_born_share, "background.foreign_born": background_foreign_born_share}),
        "the scenario's own world.foreign_born weighted by world.group_mix (and background.foreign_born by "
        "background.group_mix, for the background population's name conventions); FACTS: foreign-born share of "
        "the US population 13.7% (2018 ACS, Pew tabulation)",
    ),
    Mechanism(
        "equal_source_coverage",
        "equal DMV coverage",
        "the DMV holds foreign-born adults at the rate it holds everyone else (sources.dmv.coverage)",
        _frozen({"sources.dmv_foreign_born_coverage": lambda sc: sc.sources.dmv.coverage}),
        "mechanism switch: sources.dmv_foreign_born_coverage = sources.dmv.coverage",
    ),
    Mechanism(
        "equal_informal_work",
        "equal informal work",
        "foreign-born workers work informally (leaving no employer record) at the US-born rate (work.informal)",
        _frozen({"work.informal_foreign_born": lambda sc: sc.work.informal}),
        "mechanism switch: work.informal_foreign_born = work.informal",
    ),
    Mechanism(
        "equal_docket_sampling",
        "equal docket sampling",
        "the docket samples foreign-born and US-born adults alike (a docket blind to nativity)",
        _frozen({"docket.foreign_born_weight": 1.0}),
        "mechanism switch: docket.foreign_born_weight = 1",
    ),
)

BY_NAME: Mapping[str, Mechanism] = MappingProxyType({m.name: m for m in MECHANISMS})


def names_of(switches: Iterable[str]) -> list[str]:
    """The mechanisms ``switches`` name (``all``: every one), in table order; an unknown name is a
    :class:`ScenarioError` naming the nearest."""
    wanted = set()
    for s in switches:
        if s == ALL:
            wanted |= set(BY_NAME)
        elif s in BY_NAME:
            wanted.add(s)
        else:
            near = difflib.get_close_matches(s, [*BY_NAME, ALL], n=2, cutoff=0.5)
            hint = f"; did you mean {' or '.join(near)}?" if near else ""
            raise ScenarioError(f"no mechanism {s!r}{hint} (known: {', '.join([*BY_NAME, ALL])})")
    return [m.name for m in MECHANISMS if m.name in wanted]


def overrides(sc: Scenario, switches: Iterable[str]) -> dict[str, Any]:
    """The dotted-key overrides of ``switches`` on ``sc``, every value computed from ``sc`` itself
    (so switches turned on together take the same values as each on its own)."""
    out: dict[str, Any] = {}
    for name in names_of(switches):
        out |= BY_NAME[name].values(sc)
    return out


def apply(sc: Scenario, switches: Iterable[str]) -> Scenario:
    """``sc`` with ``switches`` turned on (``all``: every mechanism), validated like a file."""
    return load_scenario(sc, overrides=overrides(sc, switches))


def mechanisms_markdown() -> str:
    """docs/MECHANISMS.md (``scripts/mechanisms_md.py``; a test keeps it current): every switch,
    what it sets, and the values it sets on the default scenario."""
    sc = load_scenario("county-10k")
    lines = [
        "# Mechanisms",
        "",
        "Generated from `trailbench.mechanisms.MECHANISMS` (`python scripts/mechanisms_md.py`); do not edit by hand.",
        "Groups differ only through these mechanisms; each is a counterfactual switch that makes the groups alike in",
        "that respect alone. `trailbench attribute` re-runs the audit on the same worlds with each switched on, alone",
        f"and all together (`{ALL}`; `a+b` for two together), and measures how much of every disparity each removes.",
        "Equal values are computed from the scenario being attributed; the values below are those of `county-10k`.",
        "",
        "| switch | what it changes | sets (on `county-10k`) | source of the equal value |",
        "|---|---|---|---|",
    ]
    for m in MECHANISMS:
        sets = "<br>".join(f"`{k} = {_shown(v)}`" for k, v in m.values(sc).items())
        lines.append(f"| `{m.name}` ({m.title}) | {m.description} | {sets} | {m.source} |")
    return "\n".join(lines) + "\n"


def _shown(value: Any) -> str:
    if isinstance(value, dict) and len(set(value.values())) == 1:
        return f"{next(iter(value.values()))} for every group"
    return repr(value) if isinstance(value, str) else str(value)
