"""Fixed structural assumptions: values the code uses that no scenario changes.

Each has a description and is listed in the parameter table (docs/PARAMETERS.md) with the
source "assumption". Modules import their values from here, so there is one table.
"""

from __future__ import annotations

from typing import NamedTuple


class Assumption(NamedTuple):
    value: float | int | tuple[float, ...] | tuple[int, ...]
    description: str


A: dict[str, Assumption] = {
    "block_slots": Assumption(12, "building slots per block (house 1, small multi-unit 3, large complex 12)"),
    "units_small": Assumption((2, 12), "units per small multi-unit building (uniform range)"),
    "units_large": Assumption((40, 240), "units per large apartment complex (uniform range)"),
    "multigen_spouse": Assumption(0.7, "multigenerational households with the householder's spouse present"),
    "multigen_two_elders": Assumption(0.5, "multigenerational households with two elders rather than one"),
    "shared_extra_roommate": Assumption(0.4, "per extra roommate (up to two) in shared housing"),
    "spouse_same_birthplace": Assumption(0.8, "spouses sharing the householder's foreign-born status"),
    "child_foreign_born": Assumption(0.3, "children of a foreign-born householder born abroad"),
    "utility_phone": Assumption(0.5, "utility accounts that list a phone number"),
    "lease_spouse": Assumption(0.6, "leases and deeds naming the spouse as well as the householder"),
    "lease_ssn": Assumption(0.5, "leases carrying a social-security number (credit check)"),
    "renewal_years": Assumption(8, "licence renewal cycle in the fictional jurisdiction, years"),
    "social_older_factor": Assumption(0.6, "social-profile coverage for people 50 and over, relative to younger"),
    "social_surname": Assumption((0.6, 0.25, 0.15), "social display names: full surname, initial only, none"),
    "social_link_coverage": Assumption(0.7, "true ties shown as friend edges when both people have profiles"),
    "social_second_profile": Assumption(0.08, "people with a social profile who keep a second one (old or alternate)"),
    "social_nickname": Assumption(
        0.25, "social profiles showing a known nickname or short form of the given name (documents: errors.nickname)"
    ),
    "social_alias": Assumption(0.8, "social profiles of people with an English alias that show the alias"),
    "social_given_initial": Assumption(0.03, "social profiles showing only the initial of the given name"),
    "social_pseudonym_handle": Assumption(
        0.45, "social handles that are pseudonyms (invented words), not made from the name the profile shows"
    ),
    "social_handle_digits": Assumption(0.5, "social handles ending in digits (before any added to make them unique)"),
    "social_friend_mix": Assumption(
        (0.30, 0.25, 0.20, 0.15, 0.10),
        "friend-list edges by kind: true ties of the world, friends of friends (no tie), people met once "
        "in the same town (no tie), strangers, pages and brands",
    ),
    "social_pages": Assumption(0.03, "pages and brands (profiles of no person) per person profile"),
    "broker_name_width": Assumption(
        (20, 25),
        "broker name fields (given, surname), characters; longer names are cut (the first-name and surname "
        "widths of the Metro 2 credit-reporting base segment, as moov-io/metro2 lays it out)",
    ),
    "broker_max_shared": Assumption(40, "addresses shared by more broker profiles than this give no links"),
}


def value(name: str) -> float:
    v = A[name].value
    assert not isinstance(v, tuple)
    return v


def pair(name: str) -> tuple[float, ...]:
    v = A[name].value
    assert isinstance(v, tuple)
    return v
