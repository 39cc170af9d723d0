"""A hand-built world small enough that every outcome is known in advance."""

from __future__ import annotations

from datetime import date

import polars as pl

from trailbench.world import World

D = date


def address(n: int, unit: str | None = None) -> str:
    return f"{n} ASHWICK ST{' APT ' + unit if unit else ''} QUELMOOR ZZ 00001"


# units 0..6 are houses at 1..7 ASHWICK ST, unit 7 is 18 ASHWICK ST; units 8 and 9 are APT 1 and
# APT 2 of 19 ASHWICK ST
UNITS = [(i, i, i + 1, None) for i in range(7)] + [(7, 7, 18, None), (8, 8, 19, "1"), (9, 8, 19, "2")]


def build() -> tuple[World, pl.DataFrame, pl.DataFrame]:
    """(world, truth records, register)."""
    units = pl.DataFrame(
        {
            "unit_id": [u[0] for u in UNITS],
            "building_id": [u[1] for u in UNITS],
            "kind": ["house"] * 8 + ["small"] * 2,
            "number": [u[2] for u in UNITS],
            "street": ["ASHWICK ST"] * len(UNITS),
            "unit": [u[3] for u in UNITS],
            "town": ["QUELMOOR"] * len(UNITS),
            "zip": ["00001"] * len(UNITS),
            "x": [0.0] * len(UNITS),
            "y": [0.0] * len(UNITS),
            "address": [address(u[2], u[3]) for u in UNITS],
        }
    )
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
        10: ("white", "rent", [(80, "householder", D(1979, 1, 1))]),
        11: ("black", "rent", [(90, "householder", D(1977, 1, 1)), (91, "spouse", D(1978, 1, 1))]),
    }
    # person 20 (James Okafor) and person 30 (Jim Okafor) share a name up to a nickname
    names = {20: ("JAMES", "OKAFOR"), 30: ("JIM", "OKAFOR")}
    hh_rows, people_rows = [], []
    for hid, (group, tenure, members) in households.items():
        hh_rows.append({"household_id": hid, "form": "couple", "group": group, "tenure": tenure, "size": len(members)})
        for pid, role, dob in members:
            letters = "".join(chr(65 + int(d)) for d in str(pid))  # a name of letters unique to the person
            given, surname = names.get(pid, (f"Q{letters}", f"X{letters}"))
            people_rows.append(
                {
                    "person_id": pid,
                    "household_id": hid,
                    "role": role,
                    "dob": dob,
                    "group": group,
                    "foreign_born": False,
                    "given": given,
                    "surname": surname,
                }
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
            {"household_id": 10, "unit_id": 8, "start": start, "end": None},
            {"household_id": 11, "unit_id": 9, "start": start, "end": None},
        ],
        schema={"household_id": pl.Int64, "unit_id": pl.Int64, "start": pl.Date, "end": pl.Date},
    )
    ties = pl.DataFrame(
        [
            {"person_a": 0, "person_b": 1, "kind": "spouse", "start": start, "end": None},
            {"person_a": 0, "person_b": 2, "kind": "coworker", "start": D(2018, 1, 1), "end": None},
            {"person_a": 0, "person_b": 3, "kind": "friend", "start": D(2024, 6, 1), "end": None},
            {"person_a": 0, "person_b": 9, "kind": "friend", "start": start, "end": D(2020, 1, 1)},
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
        "R16": (0, 0),
    }
    seen = {r: D(2020, 1, 1) for r in recs} | {"R16": D(2024, 3, 1)}  # R16: after the as-of date
    truth_records = pl.DataFrame(
        {
            "record_id": list(recs),
            "person_id": [v[0] for v in recs.values()],
            "unit_id": [v[1] for v in recs.values()],
            "error_bits": [0] * len(recs),
            "stale": [False] * len(recs),
        }
    )
    register = units.select(
        "address", "number", "street", "unit", "town", state=pl.lit("ZZ"), zip="zip", x="x", y="y"
    ).sort("address")
    records = pl.DataFrame({"record_id": list(seen), "observed_at": list(seen.values())})
    return world, truth_records.join(records, on="record_id"), register


AS_OF = D(2024, 1, 1)
CASES = pl.DataFrame(
    {
        "case_id": ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9"],
        "person_id": [0, 10, 20, 40, 60, 70, 80, 60, 20],
        "as_of": [AS_OF] * 9,
    }
)
LOCATE = pl.DataFrame(
    {
        "case_id": ["C1", "C2", "C3", "C4", "C5", "C7", "C8", "C9"],
        "rank": [1] * 8,
        "address_text": [
            "1 Ashwick Street, Quelmoor ZZ 00001",  # correct, written another way
            "2 ASHWICK ST, QUELMOOR, ZZ 00009",  # stale (ZIP typo still resolves)
            "5 ASHWICK ST, QUELMOOR, ZZ 00001",  # namesake: Jim Okafor's home (James Okafor is wanted)
            "99 NOWHERE ST, QUELMOOR, ZZ 00001",  # no such address
            "18 ASHWICK ST, QUELMOOR, ZZ 00001",  # other-wrong: an empty unit
            "19 ASHWICK ST, QUELMOOR, ZZ 00001",  # the subject's building, no unit
            "19 ASHWICK ST, QUELMOOR, ZZ 00001",  # a building the subject never lived in, no unit
            "3 ASHWICK ST, QUELMOOR, ZZ 00001",  # one digit from the subject's 4 ASHWICK ST
        ],
        "evidence": [["R1", "R16"], ["R2"], ["R3"], ["R4"], ["R5"], [], [], ["R3"]],
        "score": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2],
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
