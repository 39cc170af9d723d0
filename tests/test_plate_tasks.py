"""The flag and hotlist scorers on a hand-built world of five vehicles: every outcome of each task,
the counts per vehicle and per driver, and the stop of the wrong car."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from trailbench.io import write_parquet
from trailbench.tasks import flag, hotlist
from trailbench.tasks.declare import ScoreContext
from trailbench.tasks.plate_truth import PlateWorld
from trailbench.world.window import Window

T0 = datetime(2030, 1, 1)
ZZ = "ZZ"
# vehicle_key: (plate, driver, target)
A, B, C, D, G = 1, 2, 3, 4, 5
VEHICLES = {
    A: ("AAA1111", 10, True),
    B: ("BBB2222", 20, False),
    C: ("CCC3338", 30, False),
    D: ("CCC3333", 40, False),
    G: ("FFF6666", 50, False),
}
# read_id: (vehicle, plate as read, misread)
READS = {
    "tb:read:000000000001": (A, "AAA1111", False),
    "tb:read:000000000002": (B, "BBB2222", False),
    "tb:read:000000000003": (C, "CCC3333", True),  # C misread as D's plate
    "tb:read:000000000004": (G, "FFF6666", False),
    "tb:read:000000000005": (C, "CCC3338", False),
    "tb:read:000000000006": (B, "EEE5555", True),  # B misread as a plate no vehicle carries
    "tb:read:000000000007": (C, "CCC3333", True),
    "tb:read:000000000008": (C, "CCC3333", True),
    "tb:read:000000000009": (B, "BBB2222", False),
}


def _write(where: Path) -> PlateWorld:
    ids = list(READS)
    n = len(ids)
    t = [T0 + timedelta(hours=3 * i) for i in range(n)]
    write_parquet(
        pl.DataFrame(
            {
                "read_id": ids,
                "camera_id": ["tb:lpr:00000001"] * n,
                "t": t,
                "plate_as_read": [READS[r][1] for r in ids],
                "state_as_read": [ZZ] * n,
                "confidence": np.full(n, 0.9, dtype=np.float32),
            }
        ),
        where / "trails" / "plate_reads" / "part-00000.parquet",
    )
    write_parquet(
        pl.DataFrame(
            {
                "read_id": ids,
                "vehicle_key": [READS[r][0] for r in ids],
                "trip_id": list(range(n)),
                "person_id": [VEHICLES[READS[r][0]][1] for r in ids],
                "purpose": ["errand"] * n,
                "misread": [READS[r][2] for r in ids],
                "wrong_state": [False] * n,
            }
        ),
        where / "truth" / "plate_reads" / "part-00000.parquet",
    )
    keys = list(VEHICLES)
    write_parquet(
        pl.DataFrame(
            {
                "vehicle_key": keys,
                "household_id": keys,
                "plate": [VEHICLES[k][0] for k in keys],
                "state": [ZZ] * len(keys),
                "specialty": [False] * len(keys),
                "stacked": [False] * len(keys),
                "drivers": [2 if k == A else 1 for k in keys],
                "borrowed_by": [0] * len(keys),
                "target": [VEHICLES[k][2] for k in keys],
                "port_visitor": [False] * len(keys),
            }
        ),
        where / "truth" / "vehicles.parquet",
    )
    write_parquet(
        pl.DataFrame(
            {
                "person_id": [10, 11, 20, 30, 40, 50],
                "vehicle_key": [A, A, B, C, D, G],
                "borrowed": [False] * 6,
            }
        ),
        where / "truth" / "vehicle_drivers.parquet",
    )
    # trips: 10 drives A on a target run, 11 drives A on an errand, 20, 30, 50 their own; 40 does not drive
    trips = [(A, 10, "target_run"), (A, 11, "errand"), (B, 20, "errand"), (C, 30, "commute"), (G, 50, "errand")]
    write_parquet(
        pl.DataFrame(
            {
                "trip_id": list(range(len(trips))),
                "vehicle_key": [v for v, _, _ in trips],
                "person_id": [p for _, p, _ in trips],
                "purpose": [u for _, _, u in trips],
                "to_port": [u == "target_run" for _, _, u in trips],
                "depart": [T0] * len(trips),
                "arrive": [T0 + timedelta(minutes=20)] * len(trips),
                **{c: [0.0] * len(trips) for c in ("x0", "y0", "x1", "y1")},
            }
        ),
        where / "truth" / "trips.parquet",
    )
    # hotlist: A valid; B stale; D valid (C's misreads hit it); FFF6666 keyed wrong for a vehicle not in the region
    write_parquet(
        pl.DataFrame({"plate": ["AAA1111", "BBB2222", "CCC3333", "FFF6666"], "state": [ZZ] * 4, "entered": [T0] * 4}),
        where / "trails" / "hotlist.parquet",
    )
    write_parquet(
        pl.DataFrame(
            {
                "vehicle_key": [A, B, D, 99],
                "stale": [False, True, False, False],
                "keyed_wrong": [False, False, False, True],
            }
        ),
        where / "truth" / "hotlist.parquet",
    )
    write_parquet(
        pl.DataFrame({"camera_id": ["tb:lpr:00000001"], "x": [0.0], "y": [0.0], "kind": ["intersection"]}),
        where / "trails" / "cameras.parquet",
    )
    write_parquet(
        pl.DataFrame({"camera_id": ["tb:lpr:00000001"], "dense": [False]}), where / "truth" / "cameras.parquet"
    )
    return PlateWorld(where, Window(np.datetime64(date(2030, 1, 1), "D"), 14))


@pytest.fixture()
def pw(tmp_path: Path) -> PlateWorld:
    return _write(tmp_path)


def _by_key(df: pl.DataFrame, key: str) -> dict[int, dict[str, int]]:
    return {r[key]: r for r in df.fill_null(0).iter_rows(named=True)}


def test_flag_outcomes_registered_car_and_source(pw: PlateWorld) -> None:
    answers = pl.DataFrame(
        {
            "plate": ["AAA1111", "BBB2222", "CCC3333", "EEE5555"],
            "state": [ZZ] * 4,
            "score": [1.0, 1.0, 1.0, 1.0],
        }
    )
    t = flag.flag_outcomes(pw, answers)
    got = dict(zip(t["plate"], t["outcome"], strict=True))
    assert got == {"AAA1111": "target", "BBB2222": "own-travel", "CCC3333": "wrong-car", "EEE5555": "no-such-plate"}
    row = t.filter(pl.col("plate") == "CCC3333").row(0, named=True)
    assert (row["registered"], row["source"], row["reads"]) == (D, C, 3)  # D stopped, on C's misreads
    assert t.filter(pl.col("plate") == "EEE5555")["vehicle_key"].item() == B  # counted at its source


def test_flag_counts_per_vehicle_and_driver(pw: PlateWorld) -> None:
    answers = pl.DataFrame({"plate": ["AAA1111", "BBB2222", "CCC3333", "EEE5555"], "state": [ZZ] * 4})
    # the flag scorer reads only the plate tables and the number of explained cases to draw
    sc = SimpleNamespace(audit=SimpleNamespace(explained_cases=2))
    ctx = ScoreContext("sys", sc, None, None, pl.DataFrame(), np.random.default_rng(0), None, pw)  # type: ignore[arg-type]
    scored = flag.score(ctx, answers)
    v = _by_key(scored.units["vehicles"], "vehicle_key")
    assert (v[A]["flags"], v[A]["true_flags"], v[A]["false_flags"], v[A]["targets"]) == (1, 1, 0, 1)
    assert (v[B]["flags"], v[B]["innocent_flags"], v[B]["false_flags"], v[B]["wrong_car_stops"]) == (2, 2, 1, 0)
    assert (v[D]["flags"], v[D]["false_flags"], v[D]["wrong_car_stops"]) == (1, 1, 1)
    assert (v[C]["flags"], v[C]["false_flags"]) == (0, 0)  # its reads flagged D, not it
    assert sum(r["innocent"] for r in v.values()) == 4
    d = _by_key(scored.units["drivers"], "person_id")
    assert set(d) == {10, 11, 20, 30, 50}  # 40 did not drive in the window
    assert d[10]["innocent_drivers"] == 0  # drove the target run
    assert (d[11]["innocent_drivers"], d[11]["innocent_drivers_flagged"]) == (1, 1)  # drove the flagged target car
    assert d[20]["innocent_drivers_flagged"] == 1
    assert d[30]["innocent_drivers_flagged"] == 0
    causes = {e["cause"]: e["count"] for e in scored.error_types}
    assert causes == {"own-travel": 1, "wrong-car": 1, "no-such-plate": 1}
    wrong_car = [e for e in scored.explained if e["cause"] == "wrong-car"]
    assert wrong_car and wrong_car[0]["vehicle_timeline"]["others"]  # C's reads drawn under D's plate


def test_hotlist_outcomes_and_the_misread_stop(pw: PlateWorld) -> None:
    reported = pl.DataFrame({"read_id": [f"tb:read:00000000000{i}" for i in (1, 2, 3, 4, 5)]})
    t = hotlist.hit_outcomes(pw, reported)
    got = dict(zip(t["read_id"].str.slice(-1), t["outcome"], strict=True))
    assert got == {"1": "true", "2": "stale", "3": "misread", "4": "keyed-wrong", "5": "unlisted"}
    # the misread stop: an innocent car (C), read as D's hotlisted plate, is the car stopped
    row = t.filter(pl.col("outcome") == "misread").row(0, named=True)
    assert (row["vehicle_key"], row["entry_vehicle"]) == (C, D)
    v = _by_key(hotlist.vehicle_counts(pw, t), "vehicle_key")
    assert (v[C]["reads"], v[C]["hits"], v[C]["misread_hits"], v[C]["unlisted_hits"]) == (4, 2, 1, 1)
    assert (v[C]["not_wanted"], v[C]["innocent_stopped"]) == (1, 1)
    assert (v[A]["true_hits"], v[A]["wanted_reads"], v[A]["innocent_stopped"], v[A]["not_wanted"]) == (1, 1, 0, 0)
    assert (v[B]["stale_hits"], v[B]["innocent_stopped"]) == (1, 1)  # a stale entry stops an innocent car
    assert (v[G]["keyed_wrong_hits"], v[G]["innocent_stopped"]) == (1, 1)
    assert v[D]["not_wanted"] == 0 and v[D]["reads"] == 0


def test_no_answer_scores_nothing_flagged(pw: PlateWorld) -> None:
    t = flag.flag_outcomes(pw, pl.DataFrame(schema={"plate": pl.String, "state": pl.String, "score": pl.Float64}))
    assert t.height == 0
    counts = flag.vehicle_counts(t)
    assert counts.height == 0
    h = hotlist.vehicle_counts(pw, hotlist.hit_outcomes(pw, pl.DataFrame(schema={"read_id": pl.String})))
    assert h["hits"].sum() == 0 and h["reads"].sum() == len(READS)
