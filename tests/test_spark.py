"""The Spark paths (issue 13) agree with the single-machine paths on a small world: the ``splink``
system with ``backend = "spark"`` gives the DuckDB backend's answers, and background people built
as Spark tasks are ``write_background``'s, byte for byte. One local Spark session (``local[2]``)
serves the module; the system finds it active and uses it.

Needs pyspark (the ``test`` extra) and Java; without them the module is skipped, except under CI
(``CI`` set), where .ci/run installs a Java runtime and a missing one fails instead."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import small_scenario

from trailbench.docket import build_docket
from trailbench.scenario import NamesConfig, WorldConfig
from trailbench.scenario.background import BackgroundConfig
from trailbench.systems.splink_linker import SplinkSystem
from trailbench.trails import build_trails
from trailbench.world import build_world
from trailbench.world.background import read_background, write_background

pytestmark = pytest.mark.spark

if not os.environ.get("CI"):
    pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs a Java runtime", allow_module_level=True)

# Scores are products of match probabilities; Spark adds the EM's partial sums in another order
# than DuckDB, so the trained m probabilities (and so the scores) may differ in the last bits.
SCORE_TOL = 1e-9


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from trailbench.systems.splink_spark import SMALL_DATA_CONF, spark_session

    session = spark_session("local[2]", 1024, 1, tmp_path_factory.mktemp("spark"), SMALL_DATA_CONF)
    yield session
    session.stop()


def _workdir(root: Path) -> Path:
    """A system's working directory for a 1,000-person world (trails, docket)."""
    sc = small_scenario(world={"people": 1000, "towns": 2})
    world = build_world(sc)
    trails = build_trails(world, sc)
    docket = build_docket(sc, world, trails)
    (root / "trails").mkdir(parents=True)
    (root / "docket").mkdir()
    trails.records.write_parquet(root / "trails" / "records.parquet")
    trails.record_links.write_parquet(root / "trails" / "record_links.parquet")
    trails.address_register.write_parquet(root / "trails" / "address_register.parquet")
    docket.cases.write_parquet(root / "docket" / "cases.parquet")
    return root


def _answers(base: Path, name: str, backend: str) -> dict[str, pl.DataFrame]:
    work = base / name
    shutil.copytree(base / "world", work)
    (work / "config.json").write_text(json.dumps({"splink": {"backend": backend}}))
    SplinkSystem().run(work)
    return {t: pl.read_parquet(work / "answers" / "splink" / f"{t}.parquet") for t in ("locate", "associates")}


def test_spark_and_duckdb_backends_give_the_same_answers(spark: Any, tmp_path: Path) -> None:
    _workdir(tmp_path / "world")
    duck = _answers(tmp_path, "duckdb", "duckdb")
    jobs_before = len(spark.sparkContext.statusTracker().getJobIdsForGroup())
    on_spark = _answers(tmp_path, "spark", "spark")
    assert len(spark.sparkContext.statusTracker().getJobIdsForGroup()) > jobs_before, "Spark ran no job"
    for task, want in duck.items():
        got = on_spark[task]
        assert want.height > 0, task
        assert got.columns == want.columns, task
        # the same rows (cases, ranks, entities, addresses) in the same order ...
        assert got.drop("score").equals(want.drop("score")), task
        # ... with the same scores, to the last bits of the trained parameters
        diff = (got["score"] - want["score"]).abs().max()
        assert isinstance(diff, float) and diff <= SCORE_TOL, (task, diff)


def test_background_parts_built_on_spark_are_write_backgrounds(spark: Any, tmp_path: Path) -> None:
    from trailbench.world.background_spark import PLAIN, background_frame, write_background_spark

    cfg = BackgroundConfig(people=3000, block=256, people_per_part=1000)  # 12 blocks, 4 parts of 3
    world, names_cfg = WorldConfig(), NamesConfig()
    n_local = write_background(cfg, 7, tmp_path / "local", 2, world, names_cfg)
    n_spark = write_background_spark(spark, cfg, 7, tmp_path / "spark", world, names_cfg)
    assert n_local == n_spark == 3000
    local = sorted(p.name for p in (tmp_path / "local").glob("part-*.parquet"))
    assert local == sorted(p.name for p in (tmp_path / "spark").glob("part-*.parquet"))
    assert len(local) == cfg.parts == 4
    for name in local:
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "spark" / name).read_bytes(), name
    # as a DataFrame: the same people (dictionary columns as plain strings)
    frame = pl.from_arrow(background_frame(spark, cfg, 7, world, names_cfg, partitions=3).toArrow())
    assert isinstance(frame, pl.DataFrame)
    want = read_background(tmp_path / "local").collect().cast({f.name: pl.String for f in PLAIN if f.type == "string"})
    assert frame.sort("background_id").equals(want.sort("background_id"))
