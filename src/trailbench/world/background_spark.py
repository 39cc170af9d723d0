"""The background population generated as Spark tasks (issue 13): the same blocks, the same parts.

:func:`trailbench.world.background.write_background` builds output parts of whole seeded blocks on
threads; here each part is one Spark task that builds it with the same function
(:func:`~trailbench.world.background.background_block`) and writes it with the same writer, so the
files are byte-identical to ``write_background``'s whatever the cluster (a block draws only from
its own streams, so where it runs changes nothing). On a cluster ``out_dir`` must be a directory
every executor can write (a shared file system); :func:`background_frame` instead hands the
people to Spark as a DataFrame (one task per group of blocks), for linking without files.

Needs ``pyspark`` (the ``spark`` extra).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa

from trailbench.scenario import NamesConfig, WorldConfig
from trailbench.scenario.background import BackgroundConfig
from trailbench.trails.parts import part_path, write_part
from trailbench.world.background import SCHEMA, background_block


def build_part(cfg: BackgroundConfig, seed: int, world: WorldConfig, names_cfg: NamesConfig, part: int) -> pa.Table:
    """Output part ``part``: its whole blocks, in order (as ``write_background`` builds it)."""
    per = cfg.blocks_per_part
    blocks = range(part * per, min((part + 1) * per, cfg.blocks))
    return pa.concat_tables([background_block(cfg, seed, b, world, names_cfg) for b in blocks])


def _write(
    cfg: BackgroundConfig, seed: int, out_dir: str, world: WorldConfig, names_cfg: NamesConfig, part: int
) -> int:
    table = build_part(cfg, seed, world, names_cfg, part)
    write_part(table, part_path(Path(out_dir), part))
    return int(table.num_rows)


def write_background_spark(
    spark: Any, cfg: BackgroundConfig, seed: int, out_dir: Path, world: WorldConfig, names_cfg: NamesConfig
) -> int:
    """Every background person to ``out_dir/part-NNNNN.parquet``, one Spark task per part; the
    number of people written. The files are those :func:`~trailbench.world.background.write_background`
    writes (part files already in ``out_dir`` are removed first)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("part-*.parquet"):
        old.unlink()
    if cfg.people == 0:
        return 0
    parts = spark.sparkContext.parallelize(range(cfg.parts), cfg.parts)
    counts = parts.map(partial(_write, cfg, seed, str(out_dir.absolute()), world, names_cfg)).collect()
    return int(sum(counts))


PLAIN = pa.schema([pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type) for f in SCHEMA])
""":data:`~trailbench.world.background.SCHEMA` with dictionary columns as plain strings (Spark has
no dictionary type)."""


def _blocks(
    cfg: BackgroundConfig, seed: int, world: WorldConfig, names_cfg: NamesConfig, batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        for block in batch.column("id").to_pylist():
            yield from background_block(cfg, seed, int(block), world, names_cfg).cast(PLAIN).to_batches()


def background_frame(
    spark: Any, cfg: BackgroundConfig, seed: int, world: WorldConfig, names_cfg: NamesConfig, partitions: int = 0
) -> Any:
    """The background people as a Spark DataFrame (columns of ``PLAIN``), blocks spread over
    ``partitions`` tasks (default: one per output part). Row order within a partition is block
    order; sort by ``background_id`` for a stable order."""
    from pyspark.sql.pandas.types import from_arrow_schema

    n = partitions or max(1, cfg.parts)
    ids = spark.range(0, cfg.blocks, 1, n)
    return ids.mapInArrow(partial(_blocks, cfg, seed, world, names_cfg), from_arrow_schema(PLAIN))
