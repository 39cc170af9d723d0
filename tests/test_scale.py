"""Scale tests (run with ``make slow``): the 1M-person world and the county-100k audit behave as
the small ones do. Timings live in benchmarks/, not here."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from trailbench.audit.scorecard import validate_scorecard
from trailbench.pipeline import make_world, run_all
from trailbench.scenario import load_scenario

pytestmark = pytest.mark.slow


def test_city_1m_world_and_trails(tmp_path: Path) -> None:
    sc = load_scenario("city-1m")
    summary = make_world(sc, tmp_path / "run")
    assert summary["people"] == 1_000_000
    assert 8 <= summary["records"] / summary["people"] <= 12
    phones = pl.scan_parquet(tmp_path / "run" / "world" / "phones.parquet")
    gaps = (
        phones.sort("number", "start")
        .with_columns(prev_end=pl.col("end").shift(1).over("number"))
        .filter(pl.col("prev_end").is_not_null())
        .select(gap=(pl.col("start") - pl.col("prev_end")).dt.total_days().min())
        .collect()
    )
    assert gaps["gap"][0] >= sc.phones.aging_min_days
    rec = pl.scan_parquet(tmp_path / "run" / "trails" / "records.parquet")
    bad = rec.filter(pl.col("phone").is_not_null() & ~pl.col("phone").str.contains(r"^[01]\d{2}-")).select(pl.len())
    assert bad.collect().item() == 0


def test_county_100k_audit(tmp_path: Path) -> None:
    card = run_all(load_scenario("county-100k"), tmp_path / "run")
    validate_scorecard(card)
    assert all(s["state"] == "ok" for s in card["systems"].values())
    assert card["docket"]["cases"] == 1000 * card["worlds"] and card["worlds"] == 5
    assert (tmp_path / "run" / "report.html").stat().st_size < 5 * 1024 * 1024
