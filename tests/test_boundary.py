"""The boundary: every synthetic identifier is unmistakably not real, and the package has no network code."""

from __future__ import annotations

import ast
from pathlib import Path

import polars as pl

from trailbench.trails import Trails
from trailbench.world import World

SRC = Path(__file__).parents[1] / "src" / "trailbench"
NETWORK_MODULES = {
    "socket",
    "requests",
    "httpx",
    "aiohttp",
    "urllib",
    "urllib3",
    "http",
    "ftplib",
    "smtplib",
    "websocket",
    "websockets",
    "paramiko",
}
# US states and the largest US cities: none may name a place in the region.
REAL_PLACES = {
    "ALABAMA",
    "ALASKA",
    "ARIZONA",
    "ARKANSAS",
    "CALIFORNIA",
    "COLORADO",
    "CONNECTICUT",
    "DELAWARE",
    "FLORIDA",
    "GEORGIA",
    "HAWAII",
    "IDAHO",
    "ILLINOIS",
    "INDIANA",
    "IOWA",
    "KANSAS",
    "KENTUCKY",
    "LOUISIANA",
    "MAINE",
    "MARYLAND",
    "MASSACHUSETTS",
    "MICHIGAN",
    "MINNESOTA",
    "MISSISSIPPI",
    "MISSOURI",
    "MONTANA",
    "NEBRASKA",
    "NEVADA",
    "OHIO",
    "OKLAHOMA",
    "OREGON",
    "PENNSYLVANIA",
    "TENNESSEE",
    "TEXAS",
    "UTAH",
    "VERMONT",
    "VIRGINIA",
    "WASHINGTON",
    "WISCONSIN",
    "WYOMING",
    "NEW YORK",
    "LOS ANGELES",
    "CHICAGO",
    "HOUSTON",
    "PHOENIX",
    "PHILADELPHIA",
    "SAN ANTONIO",
    "SAN DIEGO",
    "DALLAS",
    "JACKSONVILLE",
    "AUSTIN",
    "FORT WORTH",
    "COLUMBUS",
    "CHARLOTTE",
    "INDIANAPOLIS",
    "SAN FRANCISCO",
    "SEATTLE",
    "DENVER",
    "BOSTON",
    "DETROIT",
    "PORTLAND",
    "RICHMOND",
    "SPRINGFIELD",
    "FRANKLIN",
    "CLINTON",
    "GREENVILLE",
    "MADISON",
    "SALEM",
    "GEORGETOWN",
}
US_STATE_CODES = {
    "AL",
    "AK",
    "AZ",
    "AR",
    "CA",
    "CO",
    "CT",
    "DE",
    "FL",
    "GA",
    "HI",
    "ID",
    "IL",
    "IN",
    "IA",
    "KS",
    "KY",
    "LA",
    "ME",
    "MD",
    "MA",
    "MI",
    "MN",
    "MS",
    "MO",
    "MT",
    "NE",
    "NV",
    "NH",
    "NJ",
    "NM",
    "NY",
    "NC",
    "ND",
    "OH",
    "OK",
    "OR",
    "PA",
    "RI",
    "SC",
    "SD",
    "TN",
    "TX",
    "UT",
    "VT",
    "VA",
    "WA",
    "WV",
    "WI",
    "WY",
    "DC",
    "PR",
    "GU",
    "VI",
    "AS",
    "MP",
}


def test_phone_numbers_use_never_assigned_area_codes(tiny_world: World, tiny_trails: Trails) -> None:
    for phones in (tiny_world.phones["phone"], tiny_trails.records["phone"].drop_nulls()):
        assert phones.len() > 0
        assert phones.str.contains(r"^[01]\d{2}-\d{3}-\d{4}$").all()


def test_id_numbers_are_in_never_issued_ranges(tiny_trails: Trails) -> None:
    r = tiny_trails.records
    ssn = r["ssn"].drop_nulls()
    lic = r["licence_number"].drop_nulls()
    assert ssn.len() > 0 and lic.len() > 0
    assert ssn.str.contains(r"^(000|666)-\d{2}-\d{4}$").all()
    assert lic.str.contains(r"^ZZ\d{9}$").all()
    assert r["case_number"].drop_nulls().str.starts_with("ZZ-CR-").all()
    assert r["handle"].drop_nulls().str.starts_with("tb:").all()


def test_addresses_are_fictional(tiny_world: World, tiny_trails: Trails) -> None:
    u = tiny_world.units
    assert u["zip"].str.starts_with("000").all()
    assert u["address"].str.contains(r", ZZ 000\d\d$").all()
    assert "ZZ" not in US_STATE_CODES
    towns = set(u["town"].unique())
    streets = {s.rsplit(" ", 1)[0] for s in u["street"].unique()}
    assert not (towns | streets) & REAL_PLACES
    reg = tiny_trails.address_register
    assert reg["state"].unique().to_list() == ["ZZ"]


def test_no_network_code_in_the_package() -> None:
    found = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in NETWORK_MODULES]
    assert found == []


def test_truth_never_appears_in_trails(tiny_run: Path) -> None:
    truth_cols = {"person_id", "unit_id", "household_id", "address_id", "employer_id", "building_id", "error_bits"}
    files = sorted((tiny_run / "trails").glob("*.parquet"))
    assert {f.name for f in files} == {"records.parquet", "record_links.parquet", "address_register.parquet"}
    for f in files:
        cols = set(pl.read_parquet_schema(f))
        assert not cols & truth_cols, (f.name, cols & truth_cols)
    truth = pl.read_parquet(tiny_run / "truth" / "records.parquet")
    records = pl.read_parquet(tiny_run / "trails" / "records.parquet")
    assert truth["record_id"].sort().equals(records["record_id"].sort())
    # record ids carry no order of the truth: ids sorted do not follow person ids
    joined = records.select("record_id").join(truth.select("record_id", "person_id"), on="record_id")
    corr = joined.select(pl.corr(pl.col("record_id").str.slice(1).cast(pl.Int64), pl.col("person_id"))).item()
    assert abs(corr) < 0.05
