"""A hand-built world small enough that every outcome is known in advance."""

from __future__ import annotations

from datetime import date

import polars as pl

from trailbench.world import World

D = date


def address(n: int) -> str:
    return f"{n} ASHWICK ST, QUELMOOR, ZZ 00001"


def build() -> tuple[World, pl.DataFrame, pl.DataFrame]:
    """(world, truth records, register). Units 0..7 are 1..8 ASHWICK ST."""
    units = pl.DataFrame({"unit_id": list(range(8)), "address": [address(i + 1) for i in range(8)]})
    # household: (id, group, tenure, members: [(person, role, dob)])
    households = {
        0: ("white", "own", [(0, "householder", D(1980, 1, 1)), (1, "spouse", D(1981, 1, 1))]),
        1: ("white", "rent", [(10, "householder", D(1970, 5, 5))]),
        2: ("black", "rent", [(20, "householder", D(1975, 2, 2))]),
        3: ("black", "own", [(30, "householder", D(1975, 3, 3)), (31, "child", D(2015, 6, 1))]),
        4: ("hispanic", "rent", [(40, "householder", D(1990, 4, 4))]),
        5: (
            "hispanic",
            "rent",
            [(50, "householder", D(1960, 1, 1)), (51, "spouse", D(1962, 1, 1)), (52, "child", D(2012, 1, 1))],
        ),
        6: ("api", "rent", [(60, "householder", D(1985, 6, 6))]),
        7: ("api", "rent", [(70, "householder", D(1988, 7, 7))]),
        9: ("white", "rent", [(2, "householder", D(1982, 1, 1)), (9, "roommate", D(1983, 1, 1))]),
    }
    hh_rows, people_rows = [], []
    for hid, (group, tenure, members) in households.items():
        hh_rows.append({"household_id": hid, "form": "couple", "group": group, "tenure": tenure, "size": len(members)})
        for pid, role, dob in members:
            people_rows.append(
                {"person_id": pid, "household_id": hid, "role": role, "dob": dob, "group": group, "foreign_born": False}
            )
    start = D(2015, 1, 1)
    residences = pl.DataFrame(
        [
            {"household_id": 0, "unit_id": 0, "start": start, "end": None},
            {"household_id": 1, "unit_id": 1, "start": start, "end": D(2020, 1, 1)},
            {"household_id": 1, "unit_id": 2, "start": D(2020, 1, 1), "end": None},
            {"household_id": 5, "unit_id": 1, "start": D(2020, 6, 1), "end": None},
            {"household_id": 2, "unit_id": 3, "start": start, "end": None},
            {"household_id": 3, "unit_id": 4, "start": start, "end": None},
            {"household_id": 4, "unit_id": 5, "start": start, "end": None},
            {"household_id": 6, "unit_id": 6, "start": start, "end": None},
            {"household_id": 9, "unit_id": 7, "start": start, "end": D(2016, 1, 1)},
        ],
        schema={"household_id": pl.Int64, "unit_id": pl.Int64, "start": pl.Date, "end": pl.Date},
    )
    ties = pl.DataFrame(
        [
            {"person_a": 0, "person_b": 1, "kind": "spouse", "start": start, "end": None},
            {"person_a": 0, "person_b": 2, "kind": "coworker", "start": D(2018, 1, 1), "end": None},
            {"person_a": 0, "person_b": 3, "kind": "friend", "start": D(2024, 6, 1), "end": None},
        ],
        schema={"person_a": pl.Int64, "person_b": pl.Int64, "kind": pl.String, "start": pl.Date, "end": pl.Date},
    )
    jobs = pl.DataFrame(
        schema={
            "person_id": pl.Int64,
            "employer_id": pl.Int64,
            "informal": pl.Boolean,
            "start": pl.Date,
            "end": pl.Date,
        }
    )
    world = World(
        units=units,
        households=pl.DataFrame(hh_rows),
        people=pl.DataFrame(people_rows),
        residences=residences,
        jobs=jobs,
        employers=pl.DataFrame({"employer_id": [0]}),
        phones=pl.DataFrame({"number": [0]}),
        ties=ties,
    )
    # records: id -> (person, true unit)
    recs = {
        "R1": (0, 0),
        "R2": (10, 1),
        "R3": (30, 4),
        "R4": (40, 5),
        "R5": (60, 6),
        "R10": (1, 0),
        "R11": (1, 0),
        "R12": (9, 7),
        "R13": (0, 0),
        "R14": (2, 7),
        "R15": (2, 7),
    }
    truth_records = pl.DataFrame(
        {
            "record_id": list(recs),
            "person_id": [v[0] for v in recs.values()],
            "unit_id": [v[1] for v in recs.values()],
            "error_bits": [0] * len(recs),
            "stale": [False] * len(recs),
        }
    )
    register = units.select("address")
    return world, truth_records, register


AS_OF = D(2024, 1, 1)
CASES = pl.DataFrame(
    {"case_id": ["C1", "C2", "C3", "C4", "C5", "C6"], "person_id": [0, 10, 20, 40, 60, 70], "as_of": [AS_OF] * 6}
)
LOCATE = pl.DataFrame(
    {
        "case_id": ["C1", "C2", "C3", "C4", "C5"],
        "rank": [1, 1, 1, 1, 1],
        "address_text": [
            "1 Ashwick Street, Quelmoor ZZ 00001",  # correct, written another way
            "2 ASHWICK ST, QUELMOOR, ZZ 00009",  # stale (ZIP typo still resolves)
            "5 ASHWICK ST, QUELMOOR, ZZ 00001",  # namesake: person 30's home, from their record
            "99 NOWHERE ST, QUELMOOR, ZZ 00001",  # no such address
            "8 ASHWICK ST, QUELMOOR, ZZ 00001",  # other-wrong: an empty unit
        ],
        "evidence": [["R1"], ["R2"], ["R3"], ["R4"], ["R5"]],
    }
)
# C6 has no answer.
ASSOCIATES = pl.DataFrame(
    {
        "case_id": ["C1"] * 5,
        "rank": [1, 2, 3, 4, 5],
        "entity": [
            ["R10", "R11"],  # spouse: tie
            ["R12"],  # person 9: no tie
            ["R13", "R1"],  # the subject again: duplicate
            ["R10", "R11", "R12", "R14"],  # 2 of person 1, 1 of 9, 1 of 2: mixed
            ["R14", "R15", "R12"],  # 2 of 3 are person 2: a coworker tie at the 2/3 majority
        ],
    }
)
