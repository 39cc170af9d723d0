"""Same scenario and seed: byte-identical Parquet; another seed: different; workers and threads: no effect."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from conftest import small_scenario

from trailbench.pipeline import make_world


def digests(run: Path) -> dict[str, str]:
    return {
        str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run.rglob("*"))
        if p.is_file() and p.suffix in {".parquet", ".json", ".toml"}
    }


def test_same_seed_is_byte_identical(tiny_run: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    make_world(small_scenario(), again)
    a, b = digests(tiny_run), digests(again)
    assert len([k for k in a if k.endswith(".parquet")]) >= 12
    assert a == b


def test_other_seed_differs(tiny_run: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    make_world(small_scenario(seed=7), other)
    a, b = digests(tiny_run), digests(other)
    for name in ("world/people.parquet", "trails/records.parquet", "truth/records.parquet"):
        assert a[name] != b[name], name


def test_workers_do_not_change_results(tiny_run: Path, tmp_path: Path) -> None:
    par = tmp_path / "par"
    make_world(small_scenario(), par, workers=3)
    assert digests(par) == digests(tiny_run)


def test_thread_count_does_not_change_results(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "one-thread"
    code = (
        "from pathlib import Path; import sys; sys.path.insert(0, 'tests');"
        "from conftest import small_scenario; from trailbench.pipeline import make_world;"
        f"make_world(small_scenario(), Path({str(out)!r}))"
    )
    env = {**os.environ, "POLARS_MAX_THREADS": "1", "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=Path(__file__).parents[1])
    assert digests(out) == digests(tiny_run)


def test_cached_stages_are_reused(tiny_run: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in tiny_run.rglob("*.parquet")}
    notes: list[str] = []
    make_world(small_scenario(), tiny_run, note=notes.append)
    assert notes == ["world: cached", "trails: cached"]
    assert {p: p.stat().st_mtime_ns for p in tiny_run.rglob("*.parquet")} == before
