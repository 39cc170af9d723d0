"""The pattern-of-life scorers (``home_work``, ``device_link``, ``colocation``) on a hand-built world
whose homes, work places, devices and meetings are known, with one case of each outcome and cause.

The world (x along one street, metres): subject B (person 200) lives in APT 1 of a two-unit
building at (1000, 0) with a spouse (201, a tie) and a roommate (202, no tie); a neighbour
household (210 and a child, 211) lives in APT 2. B works nights at a workplace at (8000, 0),
holds a second job at (6000, 0) one afternoon, shops at (3000, 0) once, where a stranger (800, a
friend whose tie ended years ago) and a friend (902) are at the same time. Subject A (100) works
days at (2000, 0); D (500) does not work; I (600) works informally at another home (1050, 0).
"""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import small_scenario
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trailbench.tasks import colocation, device_link, home_work, registry
from trailbench.tasks import pattern_truth as pt
from trailbench.tasks.declare import ScoreContext
from trailbench.trails import Trails
from trailbench.world import World
from trailbench.world.signal_world import SignalWorld
from trailbench.world.window import Window

T0 = datetime(2024, 12, 16)
DAYS = 14
START = date(2015, 1, 1)
SCENARIO = small_scenario()


def addr(n: int, unit: str | None = None) -> str:
    return f"{n} ASHWICK ST{' APT ' + unit if unit else ''}, QUELMOOR, ZZ 00001"


# unit: (building, kind, number, unit label, x, y)
UNITS = {
    0: (0, "house", 1, None, 0.0, 0.0),  # A
    1: (1, "small", 10, "1", 1000.0, 0.0),  # B, 201, 202
    2: (1, "small", 10, "2", 1000.0, 0.0),  # 210, 211
    3: (2, "house", 12, None, 1050.0, 0.0),  # 300; I's informal work site
    4: (3, "house", 50, None, 5000.0, 0.0),  # 400
    5: (4, "house", 14, None, 1200.0, 0.0),  # D (500)
    6: (5, "house", 30, None, 3000.0, 3000.0),  # I (600)
    7: (6, "house", 80, None, 8000.0, 500.0),  # 700
    8: (7, "house", 90, None, 9000.0, 500.0),  # 701
    9: (8, "house", 60, None, 6000.0, 3000.0),  # 800
    10: (9, "house", 70, None, 7000.0, 3000.0),  # 900
    11: (10, "house", 72, None, 7200.0, 3000.0),  # 902
}
# household: (unit, members (person, role, dob))
HOUSEHOLDS = {
    10: (0, [(100, "householder", date(1980, 1, 1))]),
    20: (
        1,
        [
            (200, "householder", date(1985, 1, 1)),
            (201, "spouse", date(1986, 1, 1)),
            (202, "roommate", date(1990, 1, 1)),
        ],
    ),
    21: (2, [(210, "householder", date(1970, 1, 1)), (211, "child", date(2015, 6, 1))]),
    30: (3, [(300, "householder", date(1975, 1, 1))]),
    40: (4, [(400, "householder", date(1975, 1, 1))]),
    50: (5, [(500, "householder", date(1950, 1, 1))]),
    60: (6, [(600, "householder", date(1988, 1, 1))]),
    70: (7, [(700, "householder", date(1980, 1, 1))]),
    71: (8, [(701, "householder", date(1980, 1, 1))]),
    80: (9, [(800, "householder", date(1980, 1, 1))]),
    90: (10, [(900, "householder", date(1980, 1, 1))]),
    92: (11, [(902, "householder", date(1980, 1, 1))]),
}
# place: (kind, employer, x, y)
PLACES = {
    0: ("workplace", 0, 2000.0, 0.0),
    1: ("workplace", 1, 8000.0, 0.0),
    2: ("shop", None, 3000.0, 0.0),
    3: ("school", None, 4000.0, 0.0),
    4: ("shop", None, 8080.0, 0.0),
    5: ("workplace", 2, 6000.0, 0.0),
}
SHIFTS = {100: "day", 200: "night", 700: "night", 701: "day", 600: "irregular"}


def ad(tag: str) -> str:
    return "tb:ad:" + tag.rjust(16, "0")


# device: (owner, role, ad ids)
DEVICES = {
    0: (200, "primary", [ad("b0"), ad("b1")]),  # B's clue phone; its ID reset on day 7
    1: (200, "second", [ad("b2")]),  # never pings: not to be found
    2: (201, "primary", [ad("s0")]),  # the spouse's phone, B carries it the second week
    3: (202, "primary", [ad("h2")]),
    4: (210, "primary", [ad("n0")]),
    5: (700, "primary", [ad("c0")]),
    6: (800, "primary", [ad("x0")]),
    7: (900, "primary", [ad("f0")]),
    8: (100, "primary", [ad("a0")]),
    9: (500, "primary", [ad("d0")]),
    10: (600, "primary", [ad("i0")]),
    11: (701, "primary", [ad("c1")]),
}
B_PRIVATE_MAC = "tb:02:00:00:00:00:b0"  # seen by a Wi-Fi sensor: to be found
UNKNOWN = "tb:ad:ffffffffffffffff"


def hw(k: int) -> str:
    return f"tb:00:00:00:00:00:{k:02x}"


def at(day: int, minute: int) -> datetime:
    return T0 + timedelta(days=day, minutes=minute)


def build_stays() -> list[tuple[int, str, int | None, int | None, datetime, datetime]]:
    """(person, kind, place, unit, start, end)."""
    s: list[tuple[int, str, int | None, int | None, datetime, datetime]] = []
    for d in range(DAYS):
        # B: nights at work, days at home; a shop stay on day 2, a second job on day 5
        if d == 2:
            s += [(200, "home", None, 1, at(d, 390), at(d, 720)), (200, "shop", 2, None, at(d, 720), at(d, 750))]
            s += [(200, "home", None, 1, at(d, 765), at(d, 1260))]
        elif d == 5:
            s += [(200, "home", None, 1, at(d, 390), at(d, 720)), (200, "second_job", 5, None, at(d, 730), at(d, 960))]
            s += [(200, "home", None, 1, at(d, 975), at(d, 1260))]
        else:
            s.append((200, "home", None, 1, at(d, 390), at(d, 1260)))
        if d < DAYS - 1:
            s.append((200, "work", 1, None, at(d, 1320), at(d + 1, 360)))
            s.append((700, "work", 1, None, at(d, 1320), at(d + 1, 360)))
        s.append((700, "home", None, 7, at(d, 420), at(d, 1260)))
        # A: days at work, evenings and nights at home, a shop stay on day 3
        s += [(100, "home", None, 0, at(d, 0), at(d, 510)), (100, "work", 0, None, at(d, 540), at(d, 1020))]
        if d == 3:
            s += [(100, "shop", 2, None, at(d, 1035), at(d, 1065)), (100, "home", None, 0, at(d, 1080), at(d, 1440))]
        else:
            s.append((100, "home", None, 0, at(d, 1035), at(d, 1440)))
        s += [(701, "work", 1, None, at(d, 540), at(d, 1020)), (701, "home", None, 8, at(d, 1040), at(d, 1440))]
        s += [
            (600, "informal_work", None, 3, at(d, 540), at(d, 1020)),
            (600, "home", None, 6, at(d, 1040), at(d, 1440)),
        ]
        for p, u in ((201, 1), (202, 1), (210, 2), (211, 2), (300, 3), (400, 4), (500, 5), (900, 10)):
            s.append((p, "home", None, u, at(d, 0), at(d + 1, 0)))
        if d == 2:
            s += [(800, "shop", 2, None, at(d, 730), at(d, 760)), (902, "shop", 2, None, at(d, 720), at(d, 750))]
    return s


def write_world(where: Path) -> tuple[World, SignalWorld]:
    for sub in ("world", "truth/pings", "trails/pings", "trails/wifi_sightings", "truth/wifi_sightings", "docket"):
        (where / sub).mkdir(parents=True, exist_ok=True)
    units = pl.DataFrame(
        {
            "unit_id": list(UNITS),
            "building_id": [u[0] for u in UNITS.values()],
            "kind": [u[1] for u in UNITS.values()],
            "number": [u[2] for u in UNITS.values()],
            "street": ["ASHWICK ST"] * len(UNITS),
            "unit": [u[3] for u in UNITS.values()],
            "town": ["QUELMOOR"] * len(UNITS),
            "zip": ["00001"] * len(UNITS),
            "x": [u[4] for u in UNITS.values()],
            "y": [u[5] for u in UNITS.values()],
            "address": [addr(u[2], u[3]) for u in UNITS.values()],
        },
        schema_overrides={"unit": pl.String},
    )
    people = pl.DataFrame(
        [
            {
                "person_id": p,
                "household_id": h,
                "role": role,
                "dob": dob,
                "group": "black" if h in (20, 21) else "white",
                "foreign_born": False,
                "given": f"G{p}",
                "surname": f"S{p}",
            }
            for h, (_, members) in HOUSEHOLDS.items()
            for p, role, dob in members
        ]
    )
    households = pl.DataFrame(
        [
            {"household_id": h, "form": "couple", "group": "white", "tenure": "rent", "size": len(m)}
            for h, (_, m) in HOUSEHOLDS.items()
        ]
    )
    residences = pl.DataFrame(
        [{"household_id": h, "unit_id": u, "start": START, "end": None} for h, (u, _) in HOUSEHOLDS.items()],
        schema={"household_id": pl.Int64, "unit_id": pl.Int64, "start": pl.Date, "end": pl.Date},
    )
    jobs = pl.DataFrame(
        [
            {"person_id": 100, "employer_id": 0, "informal": False, "start": START, "end": None},
            {"person_id": 200, "employer_id": 1, "informal": False, "start": START, "end": None},
            {"person_id": 200, "employer_id": 2, "informal": False, "start": START, "end": None},
            {"person_id": 700, "employer_id": 1, "informal": False, "start": START, "end": None},
            {"person_id": 701, "employer_id": 1, "informal": False, "start": START, "end": None},
            {"person_id": 600, "employer_id": None, "informal": True, "start": START, "end": None},
        ],
        schema={
            "person_id": pl.Int64,
            "employer_id": pl.Int64,
            "informal": pl.Boolean,
            "start": pl.Date,
            "end": pl.Date,
        },
    )
    ties = pl.DataFrame(
        [
            {"person_a": 200, "person_b": 201, "kind": "spouse", "start": START, "end": None},
            {"person_a": 900, "person_b": 200, "kind": "friend", "start": START, "end": None},
            {"person_a": 200, "person_b": 902, "kind": "friend", "start": START, "end": None},
            {"person_a": 200, "person_b": 800, "kind": "friend", "start": START, "end": date(2020, 1, 1)},
        ],
        schema={"person_a": pl.Int64, "person_b": pl.Int64, "kind": pl.String, "start": pl.Date, "end": pl.Date},
    )
    world = World(
        units=units,
        households=households,
        people=people,
        residences=residences,
        jobs=jobs,
        employers=pl.DataFrame({"employer_id": [0, 1, 2]}),
        phones=pl.DataFrame({"number": [0]}),
        ties=ties,
    )
    pl.DataFrame(
        {
            "place_id": list(PLACES),
            "kind": [p[0] for p in PLACES.values()],
            "employer_id": [p[1] for p in PLACES.values()],
            "town": ["QUELMOOR"] * len(PLACES),
            "x": [p[2] for p in PLACES.values()],
            "y": [p[3] for p in PLACES.values()],
            "mass": [1.0] * len(PLACES),
        },
        schema_overrides={"employer_id": pl.Int64},
    ).write_parquet(where / "world" / "places.parquet")
    rows = build_stays()
    loc_xy = {("p", k): (v[2], v[3]) for k, v in PLACES.items()} | {("u", k): (v[4], v[5]) for k, v in UNITS.items()}
    pl.DataFrame(
        {
            "stay_id": list(range(len(rows))),
            "person_id": [r[0] for r in rows],
            "kind": [r[1] for r in rows],
            "place_id": [r[2] for r in rows],
            "unit_id": [r[3] for r in rows],
            "x": [loc_xy[("p", r[2]) if r[2] is not None else ("u", r[3])][0] for r in rows],
            "y": [loc_xy[("p", r[2]) if r[2] is not None else ("u", r[3])][1] for r in rows],
            "start": [r[4] for r in rows],
            "end": [r[5] for r in rows],
        },
        schema_overrides={
            "place_id": pl.Int64,
            "unit_id": pl.Int64,
            "start": pl.Datetime("ms"),
            "end": pl.Datetime("ms"),
        },
    ).write_parquet(where / "world" / "stays.parquet")
    everyone = people["person_id"].to_list()
    pl.DataFrame(
        {
            "person_id": everyone,
            "shift": [SHIFTS.get(p) for p in everyone],
            "informal": [p == 600 for p in everyone],
            "multiple_jobs": [p == 200 for p in everyone],
        },
        schema_overrides={"shift": pl.String},
    ).write_parquet(where / "world" / "schedules.parquet")
    t0, t1 = T0, T0 + timedelta(days=DAYS)
    pl.DataFrame(
        {
            "device_key": list(DEVICES),
            "person_id": [d[0] for d in DEVICES.values()],
            "role": [d[1] for d in DEVICES.values()],
            "os": ["android"] * len(DEVICES),
            "in_panel": [True] * len(DEVICES),
            "wifi_on": [True] * len(DEVICES),
            "mac_mode": ["per_network"] * len(DEVICES),
            "hardware_mac": [hw(k) for k in DEVICES],
            "start": [t0] * len(DEVICES),
            "end": [t1] * len(DEVICES),
        },
        schema_overrides={"start": pl.Datetime("ms"), "end": pl.Datetime("ms")},
    ).write_parquet(where / "world" / "devices.parquet")
    ads = []
    for k, (_, _, ids) in DEVICES.items():
        if len(ids) == 2:
            ads += [(k, ids[0], t0, at(7, 0)), (k, ids[1], at(7, 0), t1)]
        else:
            ads += [(k, ids[0], t0, t1)]
    pl.DataFrame(
        {
            "device_key": [a[0] for a in ads],
            "ad_id": [a[1] for a in ads],
            "start": [a[2] for a in ads],
            "end": [a[3] for a in ads],
        },
        schema_overrides={"start": pl.Datetime("ms"), "end": pl.Datetime("ms")},
    ).write_parquet(where / "world" / "ad_ids.parquet")
    holders = [(k, d[0], t0, t1) for k, d in DEVICES.items() if k != 2]
    holders += [(2, 201, t0, at(7, 0)), (2, 200, at(7, 0), t1)]
    pl.DataFrame(
        {
            "device_key": [h[0] for h in holders],
            "person_id": [h[1] for h in holders],
            "start": [h[2] for h in holders],
            "end": [h[3] for h in holders],
        },
        schema_overrides={"start": pl.Datetime("ms"), "end": pl.Datetime("ms")},
    ).write_parquet(where / "world" / "device_holders.parquet")
    ident = [(a[1], "ad_id", a[0]) for a in ads] + [(hw(k), "hardware_mac", k) for k in DEVICES]
    ident.append((B_PRIVATE_MAC, "private_mac", 0))
    pl.DataFrame(
        {
            "identifier": [i[0] for i in ident],
            "kind": [i[1] for i in ident],
            "device_key": [i[2] for i in ident],
            "person_id": [DEVICES[i[2]][0] for i in ident],
        }
    ).sort("identifier").write_parquet(where / "truth" / "device_ids.parquet")
    # pings: B's clue pings at home by day and at work by night; one ping a day for every other ID
    pings: list[tuple[str, datetime, float, float, int, int]] = []  # (ad id, t, x, y, carrier, device)
    for d in range(7):
        pings += [(ad("b0"), at(d, 600), 1003.0, 4.0, 200, 0), (ad("b0"), at(d, 1380), 8002.0, -3.0, 200, 0)]
    for d in range(7, DAYS):
        pings.append((ad("b1"), at(d, 600), 1003.0, 4.0, 200, 0))
    others = {"s0": 2, "h2": 3, "n0": 4, "c0": 5, "x0": 6, "f0": 7, "a0": 8, "d0": 9, "i0": 10, "c1": 11}
    for tag, k in others.items():
        pings += [(ad(tag), at(d, 700), 0.0, 0.0, DEVICES[k][0], k) for d in range(3)]
    pk = pl.DataFrame(
        {
            "device_id": [p[0] for p in pings],
            "t": [p[1] for p in pings],
            "x": [p[2] for p in pings],
            "y": [p[3] for p in pings],
            "accuracy_m": [10.0] * len(pings),
            "source": ["gps"] * len(pings),
            "person_id": [p[4] for p in pings],
            "device_key": [p[5] for p in pings],
            "stay_id": [None] * len(pings),
            "true_x": [p[2] for p in pings],
            "true_y": [p[3] for p in pings],
        },
        schema_overrides={
            "t": pl.Datetime("ms"),
            "x": pl.Float32,
            "y": pl.Float32,
            "accuracy_m": pl.Float32,
            "stay_id": pl.Int64,
            "true_x": pl.Float32,
            "true_y": pl.Float32,
        },
    ).sort("device_id", "t")
    pk.select("device_id", "t", "x", "y", "accuracy_m", "source").write_parquet(
        where / "trails/pings/part-00000.parquet"
    )
    pk.select("person_id", "device_key", "stay_id", "true_x", "true_y").write_parquet(
        where / "truth/pings/part-00000.parquet"
    )
    wifi = pl.DataFrame(
        {
            "sensor_id": ["tb:ws:00000001"] * 2,
            "mac": [B_PRIVATE_MAC, hw(5)],
            "t": [at(2, 730), at(2, 1400)],
            "rssi": [-60, -70],
        },
        schema_overrides={"t": pl.Datetime("ms"), "rssi": pl.Int16},
    )
    wifi.write_parquet(where / "trails/wifi_sightings/part-00000.parquet")
    pl.DataFrame({"device_key": [0, 5], "person_id": [200, 700], "stay_id": [None, None]}).write_parquet(
        where / "truth/wifi_sightings/part-00000.parquet"
    )
    sig = SignalWorld(where, Window(np.datetime64("2024-12-16", "D"), DAYS))
    return world, sig


# case: (subject, device_key) — every case of subject 200 holds B's clue phone
CASES = {
    "H01": (200, 0),
    "H02": (200, 0),
    "H03": (200, 0),
    "H04": (200, 0),
    "H05": (200, 0),
    "H06": (200, 0),
    "H07": (200, 0),
    "H08": (200, 0),
    "H09": (200, 0),
    "H10": (200, 0),
    "A01": (100, 8),
    "A02": (100, 8),
    "D01": (500, 9),
    "I01": (600, 10),
    "N01": (400, None),  # no device clue: weighs nothing
}
CLUE = {"A01": ad("a0"), "A02": ad("a0"), "D01": ad("d0"), "I01": ad("i0")}


def clue_of(case: str) -> str | None:
    return ad("b0") if CASES[case][0] == 200 else CLUE.get(case)


def docket_truth() -> pl.DataFrame:
    n_b0 = 14  # B's clue pings
    return pl.DataFrame(
        {
            "case_id": list(CASES),
            "person_id": [c[0] for c in CASES.values()],
            "as_of": [date(2024, 6, 1)] * len(CASES),
            "clue_record_id": [None] * len(CASES),
            "device_key": [c[1] for c in CASES.values()],
            "clue_pings": [None if c[1] is None else (n_b0 if c[0] == 200 else 3) for c in CASES.values()],
        },
        schema_overrides={"clue_record_id": pl.String, "device_key": pl.Int64, "clue_pings": pl.UInt32},
    )


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, SignalWorld, Path]:
    where = tmp_path_factory.mktemp("pattern")
    world, sig = write_world(where)
    pl.DataFrame({"case_id": list(CASES), "device_id": [clue_of(c) for c in CASES]}).write_parquet(
        where / "docket" / "cases.parquet"
    )
    return world, sig, where


def context(hand: tuple[World, SignalWorld, Path], signals: bool = True, seed: int = 0) -> ScoreContext:
    world, sig, _ = hand
    register = world.units.select(
        "address", "number", "street", "unit", "town", state=pl.lit("ZZ"), zip="zip", x="x", y="y"
    )
    trails = Trails(pl.DataFrame(), pl.DataFrame(), register, pl.DataFrame())
    return ScoreContext(
        "sys", SCENARIO, world, trails, docket_truth(), np.random.default_rng(seed), sig if signals else None
    )


def hw_answers() -> pl.DataFrame:
    # (case, place, x, y, address)
    rows = [
        ("H01", "home", 1000.0, 0.0, addr(10, "1")),  # unit
        ("H01", "work", 8010.0, 0.0, None),  # place
        ("H02", "home", 20000.0, 20000.0, "10 Ashwick Street Apt. 1, Quelmoor ZZ 00001"),  # unit: the address rules
        ("H02", "work", 8060.0, 0.0, None),  # nearest place is the shop at 8080: within 100 m
        ("H03", "home", 1000.0, 0.0, None),  # the building, no unit
        ("H03", "work", 8200.0, 0.0, None),  # within 250 m
        ("H04", "home", 1000.0, 0.0, addr(10, "2")),  # the neighbours' unit
        ("H04", "work", 1000.0, 0.0, None),  # work at home
        ("H05", "home", 1050.0, 0.0, None),  # a house 50 m away
        ("H05", "work", 3000.0, 0.0, None),  # the shop B went to
        ("H06", "home", 1200.0, 0.0, None),  # a house 200 m away
        ("H06", "work", 20000.0, 20000.0, None),
        ("H07", "home", 8000.0, 0.0, None),  # the night-shift workplace
        ("H08", "home", 3000.0, 10.0, None),  # the shop
        ("H08", "work", 6000.0, 0.0, None),  # the second job
        ("H09", "home", 20000.0, 20000.0, None),
        # H10: no answer at all
        ("A01", "home", 1000.0, 0.0, addr(10)),  # B's building named without a unit: not A's
        ("A01", "work", 2000.0, 0.0, None),
        ("A02", "home", 2000.0, 5.0, None),  # A's day-shift workplace
        ("D01", "home", 1200.0, 0.0, addr(14)),
        ("D01", "work", 1200.0, 0.0, None),  # D does not work
        ("I01", "work", 1050.0, 0.0, None),  # the informal work site (a unit)
        ("N01", "home", 5000.0, 0.0, addr(50)),  # right, but no device clue
    ]
    main = pl.DataFrame(
        {
            "case_id": [r[0] for r in rows],
            "rank": [1] * len(rows),
            "place": [r[1] for r in rows],
            "x": [r[2] for r in rows],
            "y": [r[3] for r in rows],
            "address_text": [r[4] for r in rows],
        }
    )
    # lower-ranked rows and rows of another place are ignored
    extra = pl.DataFrame(
        {
            "case_id": ["H09", "H09"],
            "rank": [2, 1],
            "place": ["home", "school"],
            "x": [1000.0, 1000.0],
            "y": [0.0, 0.0],
            "address_text": [addr(10, "1"), None],
        }
    )
    return pl.concat([main, extra])


HOME = {  # case: (outcome, cause, residents, children)
    "H01": ("unit", None, 0.0, 0.0),
    "H02": ("unit", None, 0.0, 0.0),
    "H03": ("building", "unit-missing", 0.0, 0.0),
    "H04": ("building", "neighbour-unit", 2.0, 1.0),
    "H05": ("within_100m", "nearby-building", 1.0, 0.0),
    "H06": ("within_250m", "nearby-building", 1.0, 0.0),
    "H07": ("wrong", "home-at-night-shift-workplace", 1.0, 0.0),
    "H08": ("wrong", "frequent-place", 1.0, 0.0),
    "H09": ("wrong", "home-elsewhere", 1.0, 0.0),
    "H10": ("no-answer", None, 0.0, 0.0),
    "A01": ("wrong", "home-elsewhere", 2.5, 0.5),  # B's building: 3 + 2 residents over its 2 occupied units
    "A02": ("wrong", "home-at-workplace", 1.0, 0.0),
    "D01": ("unit", None, 0.0, 0.0),
    "I01": ("no-answer", None, 0.0, 0.0),
}
WORK = {
    "H01": ("place", None),
    "H02": ("within_100m", "work-nearby"),
    "H03": ("within_250m", "work-nearby"),
    "H04": ("wrong", "work-at-home"),
    "H05": ("wrong", "work-at-other-stay"),
    "H06": ("wrong", "work-elsewhere"),
    "H07": ("no-answer", None),
    "H08": ("wrong", "work-at-other-job"),
    "H09": ("no-answer", None),
    "H10": ("no-answer", None),
    "A01": ("place", None),
    "A02": ("no-answer", None),
    "D01": ("not-working", "no-work-in-window"),
    "I01": ("place", None),
}


def test_truth_of_the_window(hand: tuple[World, SignalWorld, Path]) -> None:
    ctx = context(hand)
    cases = pt.task_cases(ctx).filter(pl.col("device_case") == 1)
    assert pt.middle_day(hand[1]) == date(2024, 12, 23)
    truth = pt.true_places(hand[1], hand[0], cases, pt.subject_stays(hand[1], cases))
    row = {r["case_id"]: r for r in truth.iter_rows(named=True)}
    assert row["H01"]["home_unit"] == 1 and row["H01"]["work_place"] == 1 and row["H01"]["shift"] == "night"
    assert row["A01"]["home_unit"] == 0 and row["A01"]["work_place"] == 0
    assert row["I01"]["work_unit"] == 3 and row["I01"]["work_place"] is None
    assert not row["D01"]["worked"]


def test_home_work_outcomes_and_causes(hand: tuple[World, SignalWorld, Path]) -> None:
    out = home_work.score(context(hand), hw_answers())
    t = out.tables["home_work"]
    assert set(t["case_id"]) == set(CASES) - {"N01"}  # device cases only
    got = {(r["case_id"], r["place"]): r for r in t.iter_rows(named=True)}
    for case, (outcome, cause, residents, children) in HOME.items():
        r = got[(case, "home")]
        assert (r["outcome"], r["cause"]) == (outcome, cause), case
        assert r["residents"] == pytest.approx(residents) and r["children"] == pytest.approx(children), case
    for case, (outcome, cause) in WORK.items():
        r = got[(case, "work")]
        assert (r["outcome"], r["cause"]) == (outcome, cause), case
    assert got[("H05", "home")]["distance_m"] == pytest.approx(50.0)
    assert got[("H04", "home")]["pointed_unit"] == 2
    people = out.tables["home_work_residents"]
    assert set(people.filter(pl.col("case_id") == "H04")["person_id"]) == {210, 211}
    own = people.filter(pl.col("case_id").str.starts_with("H"))  # subject B's cases
    assert not set(own["person_id"]) & {200, 201, 202}  # the subject's household is never counted


def test_home_work_counts(hand: tuple[World, SignalWorld, Path]) -> None:
    c = home_work.score(context(hand), hw_answers()).counts
    assert c.height == len(CASES) and set(c.columns) == {"case_id", *home_work.COUNTS}
    by = {r["case_id"]: r for r in c.iter_rows(named=True)}
    assert all(v == 0 for k, v in by["N01"].items() if k != "case_id")  # weighs nothing
    tot = c.select(pl.exclude("case_id")).sum().row(0, named=True)
    assert tot["home_work_cases"] == 14
    assert tot["home_answered"] == 12
    assert tot["home_unit"] == 3  # H01, H02, D01
    assert tot["home_building"] == 5  # + H03, H04
    assert tot["home_within_100m"] == 6  # + H05
    assert tot["home_within_250m"] == 7  # + H06
    assert tot["home_wrong_door"] == 8  # H04-H09, A01, A02 (not H03: the subject's own building)
    assert tot["home_at_workplace"] == 2  # H07, A02
    assert tot["home_residents"] == pytest.approx(2 + 1 + 1 + 1 + 1 + 1 + 2.5 + 1)
    assert tot["home_children"] == pytest.approx(1.5)
    assert tot["home_bystanders_black"] == pytest.approx(2 + 2.5)  # the neighbours, and B's building for A01
    assert tot["worked"] == 13  # all but D01
    assert tot["work_answered"] == 9
    assert (tot["work_place"], tot["work_within_100m"], tot["work_within_250m"]) == (3, 4, 5)


def test_home_work_error_types_and_explained(hand: tuple[World, SignalWorld, Path]) -> None:
    out = home_work.score(context(hand), hw_answers())
    causes = {e["cause"]: e for e in out.error_types}
    assert all(e["task"] == "home_work" and e["system"] == "sys" for e in out.error_types)
    assert causes["nearby-building"]["count"] == 2 and causes["work-nearby"]["count"] == 2
    assert sum(e["count"] for e in out.error_types) == 16
    assert sum(e["share"] for e in out.error_types) == pytest.approx(1.0, abs=1e-5)
    assert {e["cause"] for e in out.explained} == set(causes)
    json.dumps(out.explained)  # plain JSON: no numpy types, no datetimes
    night = next(e for e in out.explained if e["cause"] == "home-at-night-shift-workplace")
    assert night["task"] == "home_work" and night["case_id"] == "H07" and night["outcome"] == "wrong"
    tl = night["timeline"]
    assert tl["t0"] == "2024-12-16T00:00:00"
    assert len(tl["pings"]) == 14 and len(tl["pings"][0]) == 4  # the clue's pings (b0, before its reset)
    at_work = [p for p in tl["pings"] if p[2] > 5000]  # far from the true home...
    assert at_work and all(p[1] < 10 for p in at_work)  # ...and at the answered home: the workplace
    assert {k for _, _, k in tl["stays"]} == {"home", "work", "shop", "second_job"}
    assert tl["truth"]["shift"] == "night" and tl["answer"]["x"] == 8000.0
    # per cause at most audit.explained_cases, drawn with the context's generator
    assert len(out.explained) <= len(causes) * SCENARIO.audit.explained_cases
    again = home_work.score(context(hand), hw_answers())
    assert [e["case_id"] for e in again.explained] == [e["case_id"] for e in out.explained]


def test_timeline_is_subsampled(hand: tuple[World, SignalWorld, Path]) -> None:
    sig = hand[1]
    n = 1000
    pings = pl.DataFrame(
        {
            "t": [T0 + timedelta(minutes=i) for i in range(n)],
            "x": np.arange(n, dtype=np.float32),
            "y": np.zeros(n, dtype=np.float32),
            "source": ["gps"] * n,
        },
        schema_overrides={"t": pl.Datetime("ms")},
    )
    stays = pl.DataFrame({"kind": ["home"], "start": [T0], "end": [T0 + timedelta(hours=8)]})
    tl = pt.timeline(sig, pings, stays, (0.0, 0.0), (None, None), {}, {})
    assert len(tl["pings"]) == pt.TIMELINE_PINGS
    assert tl["pings"][0] == [0.0, 0.0, None, "gps"] and tl["pings"][-1][0] == n - 1
    assert tl["stays"] == [[0, 480, "home"]]
    json.dumps(tl)


def dl_answers() -> pl.DataFrame:
    ids = [ad("b0"), ad("b1"), ad("s0"), ad("h2"), ad("n0"), ad("c0"), ad("x0"), ad("f0"), UNKNOWN]
    return pl.DataFrame(
        {
            "case_id": ["H01"] * len(ids) + ["H02", "N01"],
            "rank": [*range(1, len(ids) + 1), 1, 1],
            "device_id": [*ids, ad("b1"), ad("c0")],
        }
    )


def test_device_link(hand: tuple[World, SignalWorld, Path]) -> None:
    out = device_link.score(context(hand), dl_answers())
    t = out.tables["device_link"]
    cls = dict(
        zip(t.filter(pl.col("case_id") == "H01")["device_id"], t.filter(pl.col("case_id") == "H01")["cls"], strict=True)
    )
    assert cls == {
        ad("b0"): "clue",
        ad("b1"): "own",
        ad("s0"): "own",  # the spouse's phone, carried by the subject
        ad("h2"): "household",
        ad("n0"): "neighbour",
        ad("c0"): "coworker",
        ad("x0"): "stranger",  # a tie that ended years ago is no tie
        ad("f0"): "tie",
        UNKNOWN: "unknown",
    }
    assert set(t["case_id"]) == {"H01", "H02"}  # the case without a device clue is not scored
    by = {r["case_id"]: r for r in out.counts.iter_rows(named=True)}
    h1 = by["H01"]
    assert (h1["dl_returned"], h1["dl_own"], h1["dl_others"], h1["dl_unknown"], h1["dl_others_people"]) == (
        8,
        2,
        5,
        1,
        5,
    )
    assert all(h1[f"dl_{c}"] == 1 for c in device_link.CLASSES)
    # to find: b1 (pings), s0 (a phone the subject carried), B's private MAC (Wi-Fi); not b2 (never seen)
    assert (h1["dl_found"], h1["dl_to_find"]) == (2, 3)
    assert (by["H02"]["dl_own"], by["H02"]["dl_returned"], by["H02"]["dl_found"]) == (1, 1, 1)
    assert all(v == 0 for k, v in by["N01"].items() if k != "case_id")
    assert by["H03"]["device_link_cases"] == 1 and by["H03"]["dl_answered"] == 0
    causes = {e["cause"]: e["count"] for e in out.error_types}
    assert causes == {f"{c}-device": 1 for c in device_link.CLASSES} | {"unknown-identifier": 1}
    assert all(e["task"] == "device_link" for e in out.error_types)
    assert out.drawn is not None and set(out.drawn["person_id"]) == {202, 210, 700, 800, 900}
    coworker = t.filter(pl.col("device_id") == ad("c0")).row(0, named=True)
    assert coworker["met_minutes"] > 0 and coworker["met_at"] == "work"
    assert {e["cause"] for e in out.explained} == set(causes)
    json.dumps(out.explained)


def co_answers() -> pl.DataFrame:
    ents = [[ad("s0")], [ad("h2")], [ad("n0"), hw(4)], [ad("c0")], [ad("c1")], [ad("x0")], [ad("f0")], [ad("b1")]]
    return pl.DataFrame(
        {
            "case_id": ["H01"] * len(ents) + ["N01"],
            "rank": [*range(1, len(ents) + 1), 1],
            "entity": [*ents, [ad("c0")]],
        }
    )


def test_colocation(hand: tuple[World, SignalWorld, Path]) -> None:
    out = colocation.score(context(hand), co_answers())
    p = out.tables["colocation_people"]
    cls = dict(zip(p["person_id"], p["cls"], strict=True))
    assert cls == {
        201: "tie",  # the spouse's shared phone stands for its owner
        202: "household",
        210: "neighbour",
        700: "coworker-same-shift",
        701: "coworker",
        800: "stranger",
        900: "tie",
    }
    met = dict(zip(p["person_id"], p["met_minutes"], strict=True))
    assert met[800] == 20 and met[210] == 0 and met[701] == 0 and met[202] > 0
    by = {r["case_id"]: r for r in out.counts.iter_rows(named=True)}
    h = by["H01"]
    assert (h["co_entities"], h["co_people_drawn"], h["co_true_links"], h["co_false_links"]) == (8, 7, 2, 5)
    assert (h["co_household"], h["co_neighbours"], h["co_coworkers"], h["co_coworkers_same_shift"]) == (1, 1, 2, 1)
    assert (h["co_strangers"], h["co_false_met"]) == (1, 3)
    # met ties: the spouse (at home) and the friend met at the shop (902); not the friend never met (900)
    assert (h["co_ties_found"], h["co_ties_total"]) == (1, 2)
    assert all(v == 0 for k, v in by["N01"].items() if k != "case_id")
    assert by["H02"]["colocation_cases"] == 1 and by["H02"]["co_ties_total"] == 2 and by["H02"]["co_answered"] == 0
    dup = out.tables["colocation"].filter(pl.col("rank") == 8).row(0, named=True)
    assert dup["cls"] == "duplicate"
    assert out.drawn is not None and set(out.drawn["person_id"]) == {201, 202, 210, 700, 701, 800, 900}
    assert {e["cause"]: e["count"] for e in out.error_types} == {
        "household": 1,
        "neighbour": 1,
        "coworker-same-shift": 1,
        "coworker": 1,
        "stranger": 1,
    }
    json.dumps(out.explained)


@pytest.mark.parametrize("task", [home_work, device_link, colocation])
def test_no_answer_and_no_signals_score_zero(hand: tuple[World, SignalWorld, Path], task: object) -> None:
    declared = task.TASK  # type: ignore[attr-defined]
    answers = {"home_work": hw_answers(), "device_link": dl_answers(), "colocation": co_answers()}[declared.name]
    schema = declared.score(context(hand), answers).counts.schema
    for ctx, what in ((context(hand), None), (context(hand, signals=False), answers)):
        out = declared.score(ctx, what)
        assert out.counts.schema == schema  # the audit stacks every system's counts
        assert out.tables == {} and out.error_types == [] and out.explained == []
        assert out.counts.height == len(CASES) and set(out.counts.columns) == {"case_id", *declared.counts}
        cases_col = declared.counts[0]
        expected = 14 if ctx.signals is not None else 0
        assert out.counts[cases_col].sum() == expected
        assert out.counts.select(pl.exclude("case_id", cases_col)).sum().sum_horizontal().item() == 0


def test_metrics_weigh_device_cases_only() -> None:
    for name in ("home_work", "device_link", "colocation"):
        t = registry.task(name)
        assert all(m.denominator != "cases" for m in t.metrics), name
        # the CLI summary shows at most three figures a task (one table for the pattern system
        # fits 80 columns): checked with the summary itself in tests/test_pattern_audit.py
        assert sum(m.summary for m in t.metrics) <= 2
        assert set(t.strata) == {
            "shift",
            "multiple_jobs",
            "informal_work",
            "building_density",
            "shared_device",
            "ping_density",
        }
    mine = [c for n in ("home_work", "device_link", "colocation") for c in registry.task(n).counts]
    theirs = {c for t in registry.tasks() if t.name not in ("home_work", "device_link", "colocation") for c in t.counts}
    assert len(mine) == len(set(mine)) and not set(mine) & theirs  # the case table joins them side by side


def test_clue_found_without_the_docket(hand: tuple[World, SignalWorld, Path], tmp_path: Path) -> None:
    """Without docket/cases.parquet the clue is the clue device's advertising ID with the clue's pings."""
    shutil.copytree(hand[2], tmp_path / "w")
    shutil.rmtree(tmp_path / "w" / "docket")
    sig = SignalWorld(tmp_path / "w", hand[1].window)
    ctx = context((hand[0], sig, tmp_path / "w"))
    got = dict(pt.clue_ids(ctx, pt.task_cases(ctx)).iter_rows())
    assert got == {c: clue_of(c) for c in CASES if c != "N01"}


POOL = [ad(t) for t in ("h2", "n0", "c0", "x0", "f0", "a0", "d0", "i0", "c1")] + [UNKNOWN, hw(5), hw(3)]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pad=st.lists(st.sampled_from(POOL), min_size=1, max_size=8))
def test_padding_never_raises_precision(hand: tuple[World, SignalWorld, Path], pad: list[str]) -> None:
    """Identifiers of other people's devices (or none) added to an answer never raise precision nor
    lower the people misattributed; added to entities, never lower false links."""
    base = pl.DataFrame({"case_id": ["H01"] * 2, "rank": [1, 2], "device_id": [ad("b1"), ad("n0")]})
    padded = pl.concat(
        [base, pl.DataFrame({"case_id": ["H01"] * len(pad), "rank": list(range(3, 3 + len(pad))), "device_id": pad})]
    )

    def dl(a: pl.DataFrame) -> dict[str, int]:
        return device_link.score(context(hand), a).counts.filter(pl.col("case_id") == "H01").row(0, named=True)

    b, p = dl(base), dl(padded)
    assert p["dl_own"] / p["dl_returned"] <= b["dl_own"] / b["dl_returned"]
    assert p["dl_others_people"] >= b["dl_others_people"] and p["dl_found"] == b["dl_found"]
    ents = pl.DataFrame({"case_id": ["H01"], "rank": [1], "entity": [[ad("s0")]]})
    more = pl.concat([ents, pl.DataFrame({"case_id": ["H01"], "rank": [2], "entity": [pad]})])

    def co(a: pl.DataFrame) -> dict[str, int]:
        return colocation.score(context(hand), a).counts.filter(pl.col("case_id") == "H01").row(0, named=True)

    cb, cp = co(ents), co(more)
    assert cp["co_true_links"] / cp["co_people_drawn"] <= cb["co_true_links"] / cb["co_people_drawn"]
    assert cp["co_false_links"] >= cb["co_false_links"]


@pytest.mark.parametrize("task", [home_work, device_link, colocation])
def test_a_docket_without_device_clues(hand: tuple[World, SignalWorld, Path], task: object) -> None:
    """A world with signals whose docket holds no device clue (or predates them): answers are
    scored over no case, every count is 0 and the tables are empty."""
    declared = task.TASK  # type: ignore[attr-defined]
    answers = {"home_work": hw_answers(), "device_link": dl_answers(), "colocation": co_answers()}[declared.name]
    ctx = context(hand)
    for truth in (
        ctx.docket_truth.with_columns(device_key=pl.lit(None, dtype=pl.Int64)),
        ctx.docket_truth.drop("device_key"),
    ):
        ctx.docket_truth = truth
        out = declared.score(ctx, answers)
        assert out.counts.height == len(CASES)
        assert out.counts.select(pl.exclude("case_id")).sum().sum_horizontal().item() == 0
        assert all(t.height == 0 for t in out.tables.values())
        assert out.error_types == [] and out.explained == []
