"""Scenario section for vehicles, plates, roads, plate cameras, reads and the hotlist (issue 12).

:class:`PlatesConfig` sets how many vehicles households own and who drives them, the plates
they carry, the road grid trips are routed on, where fixed and patrol-car readers stand, how
reads fail (misses, character misreads, wrong-state reads) and the hotlist's errors. A small
planted share of vehicles (``target_share``, the base rate) are the targets a travel-pattern
system is meant to find: they are defined by their trips only (repeated one-day round trips to
the port-of-entry zone at odd hours), never by anyone's group. Every parameter names its source
or says "assumption".
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from trailbench.scenario.types import Problem, Rate, Section, param

ACS_NO_VEHICLE = (
    "ACS (American Community Survey) via University of Nebraska Omaha, Center for Public Affairs Research, "
    "'Vehicle availability for metros' (2020): 8.6% of US occupied housing units have no vehicle available"
)
ACS_VEHICLES = "assumption (of the order of the ACS's vehicles available per household, about 1.9)"
IPVM = "FACTS (Licence plates): Flock cameras misread the plate's state about 1 time in 10 (IPVM testing)"
OCR = "FACTS (Licence plates): whole-plate accuracy of open plate-OCR models 92.5-94.2% (fast-plate-ocr documentation)"
ITRE = "FACTS (Licence plates): specialty, personalised and stacked-character plates are read less often (NCSU ITRE)"
EFF_2015 = "FACTS (Licence plates): readers concentrated in low-income, Black and Latino neighbourhoods (EFF, Oakland)"
HITS = "FACTS (Licence plates): hit error rates 5% (vendor claim) to 35%, 10-20% typical (San Leandro staff document)"


class PlatesConfig(Section):
    """Vehicles, plates, roads, plate cameras, reads and the hotlist."""

    # -- vehicles ------------------------------------------------------------------------
    no_vehicle: Rate = param(0.086, ACS_NO_VEHICLE, "households with no vehicle")
    vehicles_per_household: float = param(
        1.9, ACS_VEHICLES, "mean vehicles per household, households without one included", ge=0, le=6
    )
    max_vehicles: int = param(6, "assumption", "most vehicles one household keeps", ge=1, le=20)
    driving_age: int = param(16, "assumption (the usual US age for a driver's licence)", "", ge=14, le=25)
    borrowers: Rate = param(
        0.25,
        "assumption",
        "drivers in households without a vehicle who borrow one from another household (a tie's, where they have "
        "one with a vehicle; otherwise any)",
    )
    borrow_days: Rate = param(0.5, "assumption", "days on which a borrower has the borrowed vehicle")
    walk_m: float = param(
        400.0,
        "assumption (about five minutes' walk; most US trips under a mile are still driven, NHTS)",
        "trips shorter than this are walked, not driven",
        ge=0,
    )
    # -- planted targets and innocent port trips -------------------------------------------
    target_share: Rate = param(
        0.002,
        "assumption (no published base rate; FACTS: no false-flag rate is published for CMPRS, AP Nov 2025)",
        "vehicles planted as targets (the base rate of the flag task)",
    )
    target_trips_per_week: float = param(
        2.0, "assumption", "one-day round trips to the port-of-entry zone a target makes a week", gt=0, le=7
    )
    target_hours: tuple[float, float] = param(
        (0.5, 4.5),
        "assumption (FACTS: Border Patrol flags by origin, destination and route; odd hours is a reported cue)",
        "a target leaves home between these hours after midnight",
    )
    port_dwell_min: float = param(45.0, "assumption", "mean minutes spent in the port zone on a round trip", gt=0)
    port_visitors: Rate = param(
        0.02,
        "assumption (family across the border, shopping, work at the port)",
        "innocent vehicles whose driver makes occasional one-day round trips to the port zone",
    )
    port_visits_per_week: float = param(0.5, "assumption", "such round trips a week", gt=0, le=7)
    port_visit_night: Rate = param(0.15, "assumption", "innocent port round trips that leave at the targets' odd hours")
    # -- plates --------------------------------------------------------------------------
    out_of_region: Rate = param(
        0.04, "assumption", "vehicles kept in the region with plates of another (fictional) jurisdiction"
    )
    specialty: Rate = param(0.08, "assumption", "plates of the region that are specialty or personalised series")
    stacked: Rate = param(
        0.3, "assumption", "specialty plates with stacked characters (small letters one above another)"
    )
    # -- roads ---------------------------------------------------------------------------
    arterial_blocks: int = param(
        2, "assumption", "blocks (130 m) between arterials: every arterial crossing is a node", ge=1, le=40
    )
    highway_min_m: float = param(
        6000.0, "assumption", "trips running further east-west than this take the highway corridor", ge=0
    )
    port_offset_m: float = param(
        6000.0, "assumption", "the port-of-entry zone lies this far beyond the region's eastern edge", gt=0
    )
    highway_kmh: float = param(80.0, "assumption", "speed on the highway corridor (port round trips)", gt=1, le=200)
    # -- cameras -------------------------------------------------------------------------
    fixed_cameras: float = param(
        10.0,
        "assumption (of the order of one fixed reader per 1,000 residents in cities that deploy them; no survey)",
        "fixed readers at arterial crossings per 10,000 residents (at most one a built-up crossing)",
        ge=0,
        le=10_000,
    )
    corridor_cameras: int = param(
        6, "assumption", "fixed readers on the highway corridor between the region and the port zone", ge=0, le=100
    )
    camera_placement: Literal["evenly", "concentrated"] = param(
        "concentrated",
        EFF_2015 + "; the switch: 'evenly' spreads readers over built-up crossings",
        "where fixed and patrol readers stand; 'concentrated' favours the declared neighbourhoods",
    )
    dense_share: Rate = param(
        0.25,
        "assumption (multi-unit housing stands in for the low-income areas of EFF 2015; no group enters)",
        "the declared neighbourhoods: this share of built-up crossings with the most multi-unit housing nearby",
    )
    concentrated_weight: Rate = param(
        0.6, "assumption", "under 'concentrated', share of fixed readers and patrol posts in those neighbourhoods"
    )
    patrol_cars: float = param(2.0, "assumption", "patrol cars with a reader per 10,000 residents", ge=0, le=100)
    patrol_posts_per_day: int = param(12, "assumption", "crossings a patrol car watches in a day", ge=0, le=200)
    patrol_post_min: float = param(30.0, "assumption", "minutes a patrol car watches one crossing", gt=0, le=600)
    patrol_shift_start: float = param(8.0, "assumption", "patrol shift start, hours after midnight", ge=0, lt=24)
    patrol_shift_hours: float = param(10.0, "assumption", "", gt=0, le=24)
    # -- reads ---------------------------------------------------------------------------
    detection: Rate = param(
        0.92, "assumption (no published per-pass detection rate)", "passes of a standard plate that are read at all"
    )
    patrol_detection: Rate = param(0.8, "assumption", "the same for patrol-car readers (angle, speed)")
    specialty_detection: Rate = param(0.85, ITRE + "; the size of the drop is an assumption", "relative to standard")
    stacked_detection: Rate = param(0.7, ITRE + "; the size of the drop is an assumption", "relative to standard")
    misread: Rate = param(
        0.065, OCR + ": about 6.5% of reads wrong", "reads of a standard plate with a wrong character"
    )
    specialty_misread: float = param(
        1.5, ITRE + "; the size is an assumption", "misread rate of specialty plates, relative", ge=1, le=10
    )
    stacked_misread: float = param(
        2.5, ITRE + "; the size is an assumption", "misread rate of stacked plates, relative", ge=1, le=10
    )
    second_char: Rate = param(0.2, "assumption", "misreads that get a further character wrong (repeatedly)")
    wrong_state: Rate = param(0.1, IPVM, "reads whose state is read wrong")
    confidence_right: tuple[float, float] = param(
        (18.0, 2.0), "assumption", "beta(a, b) of the confidence the reader reports for a right read"
    )
    confidence_wrong: tuple[float, float] = param(
        (6.0, 3.0), "assumption", "beta(a, b) of the confidence it reports for a misread"
    )
    # -- hotlist -------------------------------------------------------------------------
    hotlist_share: Rate = param(
        0.005,
        "assumption (FACTS: average hit rate 0.5% of scans, EFF/MuckRock; 0.2% of Maryland reads, ACLU 2013)",
        "vehicles of the region with a hotlist entry",
    )
    hotlist_keyed_wrong: Rate = param(
        0.05, HITS + "; keying errors are one part of that, so their share is an assumption", "entries keyed wrong"
    )
    hotlist_stale: Rate = param(
        0.1, HITS + "; stale entries are one part of that, so their share is an assumption", "entries no longer valid"
    )
    hotlist_age_days: float = param(
        180.0, "assumption", "mean age of an entry at the window's start (stale ones twice that)", gt=0
    )
    # -- generation ----------------------------------------------------------------------
    vehicles_per_part: int = param(
        2048,
        "model setting",
        "vehicles (in plate order) per generation block of reads (each block its own random stream), so output "
        "does not depend on threads",
        ge=1,
        le=10_000_000,
    )

    @model_validator(mode="after")
    def _ranges(self) -> PlatesConfig:
        problems = []
        lo, hi = self.target_hours
        if not 0 <= lo < hi <= 24:
            problems.append(
                ("target_hours", f"give (earliest, latest) with 0 <= earliest < latest <= 24; got {lo, hi}")
            )
        if self.vehicles_per_household > (1 - self.no_vehicle) * self.max_vehicles:
            problems.append(("vehicles_per_household", "more than max_vehicles allows once no_vehicle is set aside"))
        if self.patrol_shift_start + self.patrol_shift_hours > 24:
            problems.append(("patrol_shift_hours", "a patrol shift must end by midnight (posts are kept per day)"))
        if min(*self.confidence_right, *self.confidence_wrong) <= 0:
            problems.append(("confidence_right", "beta parameters must be positive"))
        if problems:
            raise Problem(*problems)
        return self
