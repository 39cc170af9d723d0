"""A small Parquet answer that expands to five million rows."""

import sys
from pathlib import Path

import polars as pl

out = Path(sys.argv[-1]) / "answers" / "expand"
n = 5_000_000
pl.select(
    case_id=pl.repeat("C000001", n),
    rank=pl.repeat(1, n, dtype=pl.Int64),
    address_text=pl.repeat("1 MAIN ST", n),
    evidence=pl.repeat(pl.lit(["R1"], dtype=pl.List(pl.String)), n),
).write_parquet(out / "locate.parquet")
print("WROTE", (out / "locate.parquet").stat().st_size, "bytes")
