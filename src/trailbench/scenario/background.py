"""Scenario section for the background population (issue 13): people outside the region whom the
national sources (the broker, the phone directory, social profiles) hold beside the region's own.

:class:`BackgroundConfig` sets how many background people there are (``[background] people``, up
to 500 million: a national broker file), the generator's seeded block and output part sizes, and
the cited structure they are drawn with: the group mix (the world's default), foreign-born
shares of adults, ages, phones, out-of-region addresses and one earlier address. Names come from
the region's name tables with each group's conventions (``[names]``). Every parameter names its
source or says "assumption".

This module imports only :mod:`trailbench.scenario.types`, so ``schema.py`` may import it.
"""

from __future__ import annotations

import math

from pydantic import model_validator

from trailbench.scenario.types import SUM_TOLERANCE, ByGroup, Problem, Rate, Section, param

MAX_PEOPLE = 500_000_000
AGE_BANDS = ((18, 25), (25, 35), (35, 45), (45, 55), (55, 65), (65, 75), (75, 85), (85, 100))
"""Age bands of ``age_mix``, years [from, to); ages are uniform within a band."""
PEW_2021_CELL = "Pew Research Center, Mobile Fact Sheet (2021): 97% of US adults own a cellphone of some kind"
WORLD_MIX = (
    "the world's default (world.group_mix): US Census 2020 P.L. 94-171: Hispanic 18.7%, non-Hispanic White 57.8%, "
    "Black 12.1%, Asian+NHPI 6.1%, AIAN 0.7%, two or more races 4.1%"
)
ADULT_FOREIGN_BORN = (
    "derived: the world's default world.foreign_born (shares of all ages) / (1 - 0.22 x (1 - 0.3)): children "
    "taken as 22% of each group (assumption) and born abroad at fixed.child_foreign_born = 0.3 of the adult rate, "
    "so adults are born abroad at the rate that gives the all-ages share; weighted by the mix, 16.2% of adults"
)


class BackgroundConfig(Section):
    """The background population: people outside the region, as the national sources hold them."""

    people: int = param(
        0,
        "scenario choice",
        "background people (0: none); a national broker file holds hundreds of millions",
        ge=0,
        le=MAX_PEOPLE,
    )
    block: int = param(
        65_536,
        "model setting",
        "people per seeded block: each block draws from its own stream (background/block/<index>), so the records "
        "do not depend on how blocks are grouped into parts or on the number of threads (changing it changes them)",
        ge=256,
        le=4_194_304,
    )
    people_per_part: int = param(
        524_288,
        "model setting",
        "people per output file, rounded down to whole blocks (at least one); it bounds memory (one part per "
        "thread is held at a time: about 200 MB for 524,288 people) and never changes the records",
        ge=1,
        le=MAX_PEOPLE,
    )
    group_mix: ByGroup = param(
        ByGroup(hispanic=0.187, white=0.578, black=0.121, api=0.061, aian=0.007, multi=0.041),
        WORLD_MIX,
        "share of background people by group (normalised to sum to 1)",
    )
    foreign_born: ByGroup = param(
        ByGroup(hispanic=0.39, white=0.05, black=0.124, api=0.697, aian=0.024, multi=0.073),
        ADULT_FOREIGN_BORN,
        "share of each group's background adults born abroad (with the names conventions of foreign-born API "
        "adults: English aliases, family name first)",
    )
    male: Rate = param(0.49, "assumption (US adults are a little over half women)", "share of background men")
    age_mix: tuple[Rate, Rate, Rate, Rate, Rate, Rate, Rate, Rate] = param(
        (0.119, 0.177, 0.163, 0.159, 0.166, 0.124, 0.066, 0.026),
        "assumption (close to the US adult age distribution in recent ACS estimates; not in FACTS.md)",
        "share of background adults aged 18-24, 25-34, 35-44, 45-54, 55-64, 65-74, 75-84 and 85-99 at the start "
        "of the period (uniform within a band); background people are adults only",
    )
    phone: Rate = param(
        0.97, PEW_2021_CELL, "background adults with a phone number (the sources' coverage applies on top)"
    )
    moved: Rate = param(
        0.5,
        "assumption (annual mover rates of 24.5% for renters and 5% for owners, FACTS via housing.*_move_rate, "
        "give many adults a move over a ten-year period; moves are concentrated in the same people)",
        "background adults who moved once in the period: they carry the address before the move (the broker keeps "
        "every address it has seen) and the date of the move",
    )
    moved_same_state: Rate = param(
        0.85,
        "assumption (most US moves are within a state; CPS mobility tables)",
        "moves within the same state (the rest to another fictional state)",
    )
    states: int = param(
        39,
        "model setting: the ISO 3166-1 user-assigned two-letter codes QM-QZ and XA-XZ less XK (39 codes), none a "
        "USPS state or territory abbreviation and none the region's ZZ",
        "fictional states the background lives in",
        ge=1,
        le=39,
    )
    state_zipf: float = param(
        0.6,
        "assumption (the largest US state holds about 3.7 times the people of the tenth: a rank exponent near 0.6)",
        "states' sizes fall with rank as rank^-state_zipf",
        ge=0,
        le=3,
    )
    towns_per_state: int = param(
        1000,
        "assumption (of the order of the 19,500 incorporated US places, over 39 states)",
        "towns per fictional state",
        ge=1,
        le=1200,
    )
    town_zipf: float = param(
        1.0,
        "Gabaix 1999, Quarterly Journal of Economics 114:739 (Zipf's law for US cities: rank exponent about 1)",
        "towns' sizes within a state fall with rank as rank^-town_zipf",
        ge=0,
        le=3,
    )
    join_memory_mb: int = param(
        512,
        "model setting",
        "memory DuckDB may hold while finding the background people who share a name key with the region "
        "(it spills to disk past it; the people found are the same; 10 million people: 11 s and a 0.65 GB peak "
        "at 256, benchmarks/RESULTS.md)",
        ge=256,
        le=1_048_576,
    )
    file_sizes: tuple[int, ...] = param(
        (),
        "scenario choice",
        "smaller broker files to audit beside this one, as the people each covers (the region's people plus the "
        "first background people): the broker system is run on each for 'Errors by the size of the broker's file'",
    )
    multi_unit: Rate = param(
        0.26,
        "assumption (about a quarter of US housing units are in buildings of two or more units, ACS)",
        "background addresses with a unit number (a multi-unit building)",
    )

    @model_validator(mode="after")
    def _shares(self) -> BackgroundConfig:
        problems = []
        total = sum(self.group_mix.as_array())
        if abs(total - 1.0) > 0.01:
            problems.append(("group_mix", f"shares must sum to 1 (they sum to {total:.3f}); scale the shares"))
        total = math.fsum(self.age_mix)
        if abs(total - 1.0) > SUM_TOLERANCE:
            problems.append(("age_mix", f"shares must sum to 1 (these sum to {total:.6g})"))
        if any(b <= a for a, b in zip(self.file_sizes, self.file_sizes[1:], strict=False)):
            problems.append(("file_sizes", "sizes must increase; list each once, smallest first"))
        if problems:
            raise Problem(*problems)
        return self

    @property
    def blocks(self) -> int:
        """Seeded blocks holding ``people``."""
        return -(-self.people // self.block)

    @property
    def blocks_per_part(self) -> int:
        """Whole blocks per output part (``people_per_part`` rounded down, at least one)."""
        return max(1, self.people_per_part // self.block)

    @property
    def parts(self) -> int:
        return -(-self.blocks // self.blocks_per_part)
