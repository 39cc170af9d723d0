"""The trails stage writes the trails as they are made (issue 13): the same bytes as the tables of
:func:`build_trails` written whole, at any thread count, and the trails it hands on read back."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import small_scenario

from trailbench.io import row_groups, write_parquet, write_parquet_frames, write_parquet_rows
from trailbench.pipeline import background_stage, trails_files, trails_stage
from trailbench.scenario import Scenario
from trailbench.trails import StoredTrails, Trails, build_trails
from trailbench.world import World, build_world

ROWS = "POLARS_IDEAL_SINK_MORSEL_SIZE_ROWS"  # polars' row-group target, lowered to split small tables


def frame(n: int, seed: int = 0) -> pl.DataFrame:
    """Short and long text with nulls, a column of nulls only, integers, flags and dates."""
    rng = np.random.default_rng(seed)
    words = np.array(["", "a", "Smith", "1 Long Street Name Apartment 12", "Ölçü ünïcode text", "x" * 40])
    text = pl.Series("text", words[rng.integers(0, len(words), n)])
    return pl.DataFrame(
        [
            text.set(pl.Series(rng.random(n) < 0.3), None),
            pl.Series("none", [None] * n, dtype=pl.String),
            pl.Series("id", rng.permutation(n)).cast(pl.String).str.zfill(9),
            pl.Series("n", rng.integers(0, 1000, n)),
            pl.Series("flag", rng.random(n) < 0.5),
            pl.Series("day", rng.integers(0, 20_000, n)).cast(pl.Date),
        ]
    )


def same_file(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("height", [0, 1, 1_000, 163_840, 163_841, 400_003])
def test_rows_written_a_row_group_at_a_time_are_the_whole_frame_written(tmp_path: Path, height: int) -> None:
    df = frame(height)
    asked: list[tuple[int, int]] = []

    def rows(start: int, stop: int) -> pl.DataFrame:
        asked.append((start, stop))
        middle = (start + stop) // 2  # in pieces: each row group is still one
        return pl.concat([df.slice(start, middle - start), df.slice(middle, stop - middle)], rechunk=False)

    write_parquet(df, tmp_path / "whole.parquet")
    write_parquet_rows(height, rows, tmp_path / "rows.parquet")
    assert same_file(tmp_path / "whole.parquet", tmp_path / "rows.parquet")
    assert len(asked) == max(1, len(row_groups(height)))
    assert sorted(asked) == asked and sum(b - a for a, b in asked) == height


def test_row_groups_follow_the_target_when_it_is_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ROWS, "1000")
    df = frame(54_321, seed=1)
    assert len(row_groups(df.height)) == 54
    write_parquet(df, tmp_path / "whole.parquet")
    write_parquet_rows(df.height, lambda a, b: df.slice(a, b - a), tmp_path / "rows.parquet")
    assert same_file(tmp_path / "whole.parquet", tmp_path / "rows.parquet")


def test_frames_written_one_after_another_are_their_concatenation(tmp_path: Path) -> None:
    """Frames of any heights, in pieces or not: each split into row groups as written whole."""
    parts = [frame(150_000, 1), frame(1_000, 2), frame(0, 3), frame(260_000, 4)]
    parts[3] = pl.concat([parts[3].slice(0, 100_000), parts[3].slice(100_000)], rechunk=False)
    made: list[int] = []

    def lazily() -> object:
        for p in parts:
            made.append(p.height)
            yield p

    write_parquet(pl.concat(parts), tmp_path / "whole.parquet")
    write_parquet_frames(lazily(), tmp_path / "frames.parquet")  # type: ignore[arg-type]
    assert same_file(tmp_path / "whole.parquet", tmp_path / "frames.parquet")
    assert made == [p.height for p in parts]
    with pytest.raises(ValueError, match="no frames"):
        write_parquet_frames(iter([]), tmp_path / "none.parquet")


def build_and_write(world: World, sc: Scenario, run: Path, background: Path | None = None) -> Trails:
    """The trails built in memory and written whole, as the trails stage did before it streamed."""
    t = build_trails(world, sc, background=background)
    for name, path in trails_files(run).items():
        write_parquet(getattr(t, name), path)
    return t


def test_the_stage_writes_the_files_of_the_tables_built_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny: Scenario, tiny_world: World
) -> None:
    """Split into row groups of about 3,000 rows (about 20,000 records, 2,500 links), then
    gathered into record order a row group at a time: the same bytes, the same tables."""
    monkeypatch.setenv(ROWS, "3000")
    built = build_and_write(tiny_world, tiny, tmp_path / "whole")
    assert len(row_groups(built.records.height)) > 4 and len(row_groups(built.record_links.height)) > 1
    t = trails_stage(tmp_path / "stream", tiny, tiny_world)
    assert isinstance(t, StoredTrails)
    for name, path in trails_files(tmp_path / "stream").items():
        assert same_file(trails_files(tmp_path / "whole")[name], path), name
        assert getattr(t, name).equals(getattr(built, name)), name
    again = trails_stage(tmp_path / "stream", tiny, tiny_world)  # reused: read from the same files
    assert again.records.equals(built.records)


def test_the_stage_writes_the_same_with_a_background(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sc = small_scenario(name="national", background={"people": 20_000, "block": 4_096})
    monkeypatch.setenv(ROWS, "3000")
    world = build_world(sc)
    where = background_stage(tmp_path / "run", sc)
    assert where is not None
    built = build_and_write(world, sc, tmp_path / "whole", where)
    assert built.background.height > 0 and built.truth_records["background_no"].is_not_null().any()
    trails_stage(tmp_path / "stream", sc, world, background=where)
    for name, path in trails_files(tmp_path / "stream").items():
        assert same_file(trails_files(tmp_path / "whole")[name], path), name


def test_one_thread_writes_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny: Scenario, tiny_world: World
) -> None:
    code = (
        "from pathlib import Path; import sys; sys.path.insert(0, 'tests');"
        "from conftest import small_scenario; from trailbench.pipeline import trails_stage;"
        "from trailbench.world import build_world; sc = small_scenario();"
        f"trails_stage(Path({str(tmp_path / 'one')!r}), sc, build_world(sc))"
    )
    env = {**os.environ, "POLARS_MAX_THREADS": "1", "OMP_NUM_THREADS": "1", ROWS: "3000"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=Path(__file__).parents[1])
    monkeypatch.setenv(ROWS, "3000")
    trails_stage(tmp_path / "many", tiny, tiny_world)
    for name, path in trails_files(tmp_path / "many").items():
        assert same_file(trails_files(tmp_path / "one")[name], path), name


def test_stored_trails_hold_only_the_table_last_asked_for(tmp_path: Path, tiny: Scenario, tiny_world: World) -> None:
    t = trails_stage(tmp_path / "run", tiny, tiny_world)
    records = t.records
    assert t.records is records  # read once while held
    truth = t.truth_records
    assert t.records is records and t.truth_records is truth  # held by the caller: not read again
    gone = weakref.ref(records)
    del records
    _ = t.record_links  # asking for another lets the last go
    gc.collect()
    assert gone() is None
    assert t.records.equals(pl.read_parquet(trails_files(tmp_path / "run")["records"]))
    mine = pl.DataFrame({"a": [1]})
    t.address_register = mine  # set: held like a plain Trails's
    _ = t.records
    assert t.address_register is mine


def test_stored_trails_read_a_table_once_for_threads_asking_together(
    tmp_path: Path, tiny: Scenario, tiny_world: World
) -> None:
    t = trails_stage(tmp_path / "run", tiny, tiny_world)
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda k: (t.records, t.truth_records)[k % 2], range(16)))
    assert len({id(df) for df in got}) == 2
