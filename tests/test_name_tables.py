"""The derived Census name tables: contents, and the script that rebuilds them."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from trailbench.scenario import GROUPS
from trailbench.world.names import RARE, load_tables, load_variants

DATA = Path(__file__).parents[1] / "src" / "trailbench" / "data"


def test_null_surname_is_restored() -> None:
    s = pl.read_parquet(DATA / "surnames.parquet")
    row = s.filter(pl.col("surname") == "NULL")
    assert row.height == 1 and row["count"].item() == 7170
    assert s.height == 162_254  # 162,253 ranked surnames + "NULL" ... + the residual row
    assert s.filter(pl.col("surname") == RARE).height == 1


def test_tables_reproduce_census_concentration() -> None:
    """Top 26 surnames cover 25.4% of Hispanic people, the top 10 16.3% (FACTS, recomputed)."""
    s = pl.read_parquet(DATA / "surnames.parquet")
    total = s["hispanic"].sum()
    top = s.filter(pl.col("surname") != RARE).sort("hispanic", descending=True)["hispanic"]
    assert top.head(26).sum() / total == pytest.approx(0.254, abs=0.001)
    assert top.head(10).sum() / total == pytest.approx(0.163, abs=0.001)


def test_probabilities_are_normalised() -> None:
    t = load_tables()
    assert t.surname_p.shape[0] == len(GROUPS)
    assert abs(t.surname_p.sum(axis=1) - 1).max() < 1e-9
    assert abs(t.given_p.sum(axis=2) - 1).max() < 1e-9
    assert (t.rare_share > 0).all() and (t.rare_share < 0.3).all()


def test_variants_cover_muhammad_spellings() -> None:
    nick, fams = load_variants()
    muhammad = next(f for f in fams if "MUHAMMAD" in f)
    assert {"MOHAMMED", "MOHAMED", "MOHAMMAD"} <= set(muhammad)
    assert all(len(set(f)) == len(f) >= 2 for f in fams)
    assert nick["WILLIAM"]


@pytest.mark.slow
def test_build_script_rebuilds_byte_identically(tmp_path: Path) -> None:
    """Needs PyPI (pip download); run with -m slow."""
    script = Path(__file__).parents[1] / "scripts" / "build_name_tables.py"
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True)
    for name in ("surnames.parquet", "given_names.parquet"):
        a = hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
        b = hashlib.sha256((DATA / name).read_bytes()).hexdigest()
        assert a == b, name
