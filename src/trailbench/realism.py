"""Realism checks, declared once: what a generated world is measured against, and how.

Each :class:`Check` names a figure cited in FACTS.md (``source`` quotes where it comes from), the
tolerance within which a world counts as realistic, and the function that measures it on a
:class:`~trailbench.world.World`. The tests (tests/test_realism.py) assert every check on a
100,000-person world; :func:`realism_table` measures them pooled over replicate worlds for the
report and the scorecard.

The cited figures are constants here, not the scenario's parameters: a scenario that moves a
parameter away from its cited value (a counterfactual switch, say) gets a world that fails the
check, which is what the table should show.

Measures need only the world's tables. Annual rates (moves, number changes) are counted over the
calendar years strictly inside the period the world's spells cover, from the year after its first
day (the earliest residence start: every household has a spell from the period's first day) to
the year before its last recorded event; those years lie wholly inside the period whatever its
start and length (at least three calendar years must be spanned, or the rate is not a number).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Literal

import polars as pl

from trailbench.world import World

Measure = Callable[[World], float]


@dataclass(frozen=True)
class Check:
    """One realism figure: ``measure(world)`` against ``cited``.

    ``tolerance`` is absolute (in the units of ``cited``: shares as fractions, sizes in people,
    gaps in days) unless ``relative``, when it is a fraction of ``cited``. ``bound`` "both": the
    measure must lie within the tolerance on either side; "at_least": it must be at least
    ``cited`` minus the tolerance (a floor such as "no number reassigned before 45 days").
    ``weight(world)`` is the count the measure is a share or mean of (households, people, person-
    years); pooling over worlds weights each world's measure by it, or takes the minimum when
    ``pool`` is "min".
    """

    name: str
    level: str | None
    measures: str
    cited: float
    tolerance: float
    source: str
    measure: Measure
    weight: Measure
    relative: bool = False
    bound: Literal["both", "at_least"] = "both"
    pool: Literal["mean", "min"] = "mean"

    @property
    def allowed(self) -> float:
        """The tolerance in the units of ``cited``."""
        return self.tolerance * abs(self.cited) if self.relative else self.tolerance

    def within(self, measured: float) -> bool:
        if math.isnan(measured):
            return False
        if self.bound == "at_least":
            return measured >= self.cited - self.allowed
        return abs(measured - self.cited) <= self.allowed


# -- sources (FACTS.md) ------------------------------------------------------------------------

HVS = "Census CPS/HVS, Q4 2023 (FACTS: non-Hispanic White 73.8%, Asian 63%, Hispanic 49.8%, Black 45.9%; all 65.7%)"
MOVERS = "CPS 2013-14, Census release of 18 Mar 2015 (FACTS: annual mover rate, renters 24.5%, owners 5.0%)"
AVG1 = "Census CPS 2004, table AVG1 (FACTS: average household size Hispanic 3.34, non-Hispanic 2.48)"
ACS_SIZE = "ACS 2020s (FACTS: all households about 2.5)"
MULTIGEN = (
    "2009-11 ACS (FACTS: multigenerational family households 5.6%; Hispanic > 10%, Asian about 9%, "
    "non-Hispanic White 3.7%)"
)
FOREIGN = "2018 ACS, Pew tabulation (FACTS: foreign-born share of the US population 13.7%; about 14.3% in 2023)"
SURNAMES = "Census 2010 surname file (FACTS: 26 surnames cover 25% of Hispanic Americans; recomputed as 25.4%)"
COMPOUND = (
    "North Carolina voter registration, in ihmeuw/vivarium_census_prl_synth_pop constants/data_values.py "
    "(FACTS: hyphen 6.84% Latino vs 0.47% White; space 12.81% vs 0.35%)"
)
FCC_CHURN = (
    "derived: FCC Reassigned Numbers Database order, Dec 2018 (FACTS: over 35 million US numbers disconnected "
    "a year) over about 350 million numbers in use (the denominator is an assumption)"
)
FCC_AGING = (
    "FCC Reassigned Numbers Database order, Dec 2018 (FACTS: a disconnected number must age at least 45 days "
    "before reassignment)"
)


# -- measures ---------------------------------------------------------------------------------


def _households(world: World, group: str | None = None) -> pl.DataFrame:
    hh = world.households
    return hh if group is None else hh.filter(pl.col("group") == group)


def _people(world: World, group: str | None = None) -> pl.DataFrame:
    p = world.people
    return p if group is None else p.filter(pl.col("group") == group)


def _share(df: pl.DataFrame, expr: pl.Expr) -> float:
    return float(df.select(expr.cast(pl.Float64).mean()).item()) if df.height else math.nan


def homeownership(group: str | None) -> Measure:
    """Share of the group's households owning their home."""
    return lambda w: _share(_households(w, group), pl.col("tenure") == "own")


def multigenerational(group: str | None) -> Measure:
    """Share of the group's households that are multigenerational."""
    return lambda w: _share(_households(w, group), pl.col("form") == "multigenerational")


def household_size(groups: tuple[str, ...] | None) -> Measure:
    """Mean people per household among households of the given groups (all when None)."""

    def measure(w: World) -> float:
        hh = w.households if groups is None else w.households.filter(pl.col("group").is_in(groups))
        return float(hh["size"].mean()) if hh.height else math.nan  # type: ignore[arg-type]

    return measure


def household_count(groups: tuple[str, ...] | None) -> Measure:
    """Households of the given groups (all when None)."""
    return lambda w: float(
        w.households.height if groups is None else w.households.filter(pl.col("group").is_in(groups)).height
    )


def foreign_born_share(w: World) -> float:
    """Share of people born abroad."""
    return _share(w.people, pl.col("foreign_born"))


def top26_surname_share(w: World) -> float:
    """Share of Hispanic people whose (paternal) surname is one of the group's 26 commonest."""
    h = _people(w, "hispanic")
    if h.height == 0:
        return math.nan
    top = h.group_by("surname_paternal").len().sort("len", descending=True)
    return float(top["len"].head(26).sum() / h.height)


def surname_containing(group: str, char: str) -> Measure:
    """Share of the group's people whose surname contains ``char`` (a hyphen or a space)."""
    return lambda w: _share(_people(w, group), pl.col("surname").str.contains(char, literal=True))


def _period_start(w: World) -> date:
    return w.residences["start"].min()  # type: ignore[return-value]


def _last_event(w: World) -> date:
    """The latest start of a residence, job or phone spell."""
    ends = [t["start"].max() for t in (w.residences, w.jobs, w.phones) if t.height]
    return max(d for d in ends if isinstance(d, date))


def interior_years(w: World) -> list[int]:
    """The calendar years wholly inside the world's period (see the module docstring)."""
    if w.residences.height == 0:
        return []
    return list(range(_period_start(w).year + 1, _last_event(w).year))


def _yearly_rate(spells: pl.DataFrame, holder: str, holders: pl.DataFrame, years: list[int]) -> float:
    """Share of holders with at least one new spell starting in a year, over ``years``."""
    if not years or holders.height == 0:
        return math.nan
    changed = (
        spells.filter(pl.col("start").dt.year().is_in(years))
        .select(holder, year=pl.col("start").dt.year())
        .unique()
        .join(holders.select(holder), on=holder)
    )
    return changed.height / (holders.height * len(years))


def mover_rate(tenure: str) -> Measure:
    """Share of households of the tenure moving at least once in a year (households keep their
    tenure through moves), averaged over the interior years."""

    def measure(w: World) -> float:
        holders = w.households.filter(pl.col("tenure") == tenure)
        moves = w.residences.filter(pl.col("start") > pl.lit(_period_start(w)))
        return _yearly_rate(moves, "household_id", holders, interior_years(w))

    return measure


def mover_weight(tenure: str) -> Measure:
    return lambda w: float(w.households.filter(pl.col("tenure") == tenure).height * len(interior_years(w)))


def _phone_holders(w: World) -> pl.DataFrame:
    return w.phones.select("person_id").unique()


def phone_churn(w: World) -> float:
    """Share of phone holders taking a new number at least once in a year (interior years)."""
    changes = w.phones.filter(pl.col("start") > pl.lit(_period_start(w)))
    return _yearly_rate(changes, "person_id", _phone_holders(w), interior_years(w))


def phone_weight(w: World) -> float:
    return float(_phone_holders(w).height * len(interior_years(w)))


def reassignment_gap_days(w: World) -> float:
    """Fewest days between a number's release by one holder and its issue to the next
    (infinite when no number is ever reassigned)."""
    ph = w.phones.sort("number", "start").with_columns(
        prev_end=pl.col("end").shift(1).over("number"), prev_owner=pl.col("person_id").shift(1).over("number")
    )
    re = ph.filter(pl.col("prev_owner").is_not_null())
    if re.height == 0:
        return math.inf
    return float((re["start"] - re["prev_end"]).dt.total_days().min())  # type: ignore[arg-type]


def reassignment_count(w: World) -> float:
    """Numbers issued to a second or later holder."""
    return float(w.phones.height - w.phones["number"].n_unique())


def _count_people(group: str | None) -> Measure:
    return lambda w: float(_people(w, group).height)


# -- the table ---------------------------------------------------------------------------------

NON_HISPANIC = ("white", "black", "api", "aian", "multi")


def _ownership(level: str | None, cited: float, tol: float) -> Check:
    who = "all households" if level is None else f"{level} households"
    return Check(
        "homeownership",
        level,
        f"share of {who} owning their home",
        cited,
        tol,
        HVS,
        homeownership(level),
        household_count(None if level is None else (level,)),
    )


def _multigen(level: str | None, cited: float, tol: float, bound: Literal["both", "at_least"] = "both") -> Check:
    who = "all households" if level is None else f"{level} households"
    return Check(
        "multigenerational",
        level,
        f"share of {who} that are multigenerational",
        cited,
        tol,
        MULTIGEN,
        multigenerational(level),
        household_count(None if level is None else (level,)),
        bound=bound,
    )


CHECKS: tuple[Check, ...] = (
    # homeownership by group: 3 points for the large groups; 6 for Asian (the world's "api" group
    # also holds Pacific Islanders, and it is small: about 2,400 households in 100,000 people)
    _ownership("white", 0.738, 0.03),
    _ownership("hispanic", 0.498, 0.03),
    _ownership("black", 0.459, 0.03),
    _ownership("api", 0.63, 0.06),
    _ownership(None, 0.657, 0.03),
    Check(
        "annual_mover_rate",
        "rent",
        "share of renting households moving at least once a year",
        0.245,
        0.02,
        MOVERS,
        mover_rate("rent"),
        mover_weight("rent"),
    ),
    Check(
        "annual_mover_rate",
        "own",
        "share of owning households moving at least once a year",
        0.05,
        0.01,
        MOVERS,
        mover_rate("own"),
        mover_weight("own"),
    ),
    # household sizes: 3% of the cited mean (about 0.1 person for Hispanic households)
    Check(
        "household_size",
        "hispanic",
        "mean people per Hispanic household",
        3.34,
        0.03,
        AVG1,
        household_size(("hispanic",)),
        household_count(("hispanic",)),
        relative=True,
    ),
    Check(
        "household_size",
        "non-hispanic",
        "mean people per non-Hispanic household",
        2.48,
        0.03,
        AVG1,
        household_size(NON_HISPANIC),
        household_count(NON_HISPANIC),
        relative=True,
    ),
    # "about 2.5", from later years than AVG1's: with the 2020 group mix the group means above give about 2.6
    Check(
        "household_size",
        None,
        "mean people per household",
        2.5,
        0.15,
        ACS_SIZE,
        household_size(None),
        household_count(None),
    ),
    _multigen(None, 0.056, 0.01),
    _multigen("white", 0.037, 0.01),
    _multigen("api", 0.09, 0.02),
    _multigen("hispanic", 0.10, 0.005, bound="at_least"),  # "> 10%"; half a point of sampling allowance
    Check(
        "foreign_born",
        None,
        "share of people born abroad",
        0.137,
        0.01,
        FOREIGN,
        foreign_born_share,
        _count_people(None),
    ),
    Check(
        "top26_surname_share",
        "hispanic",
        "share of Hispanic people holding one of the group's 26 commonest paternal surnames",
        0.254,
        0.03,
        SURNAMES,
        top26_surname_share,
        _count_people("hispanic"),
    ),
    Check(
        "compound_surname_hyphen",
        "hispanic",
        "share of Hispanic people whose surname has a hyphen",
        0.0684,
        0.01,
        COMPOUND,
        surname_containing("hispanic", "-"),
        _count_people("hispanic"),
    ),
    Check(
        "compound_surname_space",
        "hispanic",
        "share of Hispanic people whose surname has a space",
        0.1281,
        0.01,
        COMPOUND,
        surname_containing("hispanic", " "),
        _count_people("hispanic"),
    ),
    Check(
        "compound_surname_hyphen",
        "white",
        "share of White people whose surname has a hyphen",
        0.0047,
        0.005,
        COMPOUND,
        surname_containing("white", "-"),
        _count_people("white"),
    ),
    Check(
        "compound_surname_space",
        "white",
        "share of White people whose surname has a space",
        0.0035,
        0.005,
        COMPOUND,
        surname_containing("white", " "),
        _count_people("white"),
    ),
    Check(
        "phone_churn",
        None,
        "share of phone holders taking a new number at least once a year",
        0.10,
        0.01,
        FCC_CHURN,
        phone_churn,
        phone_weight,
    ),
    Check(
        "phone_number_aging",
        None,
        "fewest days between a number's release and its reassignment",
        45.0,
        0.0,
        FCC_AGING,
        reassignment_gap_days,
        reassignment_count,
        bound="at_least",
        pool="min",
    ),
)


def check_id(check: Check) -> str:
    """``name`` or ``name[level]``: unique within :data:`CHECKS`."""
    return check.name if check.level is None else f"{check.name}[{check.level}]"


def measurements(world: World, checks: tuple[Check, ...] = CHECKS) -> list[tuple[float, float]]:
    """Each check's (measure, weight) on one world: what :func:`pool` needs of it, so worlds can
    be measured one at a time and never held in memory together."""
    return [(c.measure(world), c.weight(world)) for c in checks]


def pool(check: Check, values: list[tuple[float, float]]) -> float:
    """The check over several worlds from each world's (measure, weight).

    ``pool`` "mean": each world's measure weighted by its ``weight`` (the households, people or
    person-years the measure is a share or mean of), which equals the measure on the worlds
    concatenated for every share and mean here; the top-26 surname share, a concentration, is
    the people-weighted mean of each world's own share (each world being one region). Worlds
    where the measure is not a number (nobody to measure) are left out. ``pool`` "min": the
    smallest measure over the worlds.
    """
    if check.pool == "min":
        finite = [v for v, _ in values if not math.isnan(v)]
        return min(finite) if finite else math.nan
    total = math.fsum(wt for v, wt in values if not math.isnan(v) and wt > 0)
    if total == 0:
        return math.nan
    return math.fsum(v * wt for v, wt in values if not math.isnan(v) and wt > 0) / total


def pooled(check: Check, worlds: list[World]) -> float:
    """The check measured over several worlds (see :func:`pool`)."""
    return pool(check, [(check.measure(w), check.weight(w)) for w in worlds])


def realism_table(worlds: list[World], checks: tuple[Check, ...] = CHECKS) -> list[dict[str, object]]:
    """One row per check, measured pooled over ``worlds`` (see :func:`realism_rows`)."""
    if not worlds:
        raise ValueError("realism_table needs at least one world")
    return realism_rows([measurements(w, checks) for w in worlds], checks)


def realism_rows(
    per_world: list[list[tuple[float, float]]], checks: tuple[Check, ...] = CHECKS
) -> list[dict[str, object]]:
    """One row per check from each world's :func:`measurements`, pooled (see :func:`pool`).

    Rows: ``check`` (name), ``level`` (group, tenure or None), ``measures`` (what is measured),
    ``measured`` (None when not a finite number: no one to measure, or no number ever
    reassigned), ``cited``, ``tolerance`` (in the units of ``cited``), ``tolerance_kind``
    ("absolute" or "relative": the declared tolerance was a share of ``cited``), ``bound``
    ("both" or "at_least"), ``source`` and ``within``.
    """
    if not per_world:
        raise ValueError("realism needs at least one world's measurements")
    rows: list[dict[str, object]] = []
    for i, c in enumerate(checks):
        m = pool(c, [values[i] for values in per_world])
        rows.append(
            {
                "check": c.name,
                "level": c.level,
                "measures": c.measures,
                "measured": m if math.isfinite(m) else None,
                "cited": c.cited,
                "tolerance": c.allowed,
                "tolerance_kind": "relative" if c.relative else "absolute",
                "bound": c.bound,
                "source": c.source,
                "within": c.within(m),
            }
        )
    return rows
