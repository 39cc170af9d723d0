"""A system whose answers carry markup: the report must show it as text, never run it."""

import sys
from pathlib import Path

import polars as pl

PAYLOAD = "<script>alert('planted')</script><img src=x onerror=alert(1)><b>bold</b>"
work = Path(sys.argv[-1])
cases = pl.read_parquet(work / "docket" / "cases.parquet")
rid = pl.read_parquet(work / "trails" / "records.parquet", columns=["record_id"])["record_id"][0]
out = work / "answers" / "markup"
pl.DataFrame(
    {
        "case_id": cases["case_id"],
        "rank": [1] * cases.height,
        "address_text": [PAYLOAD] * cases.height,
        "evidence": [[rid]] * cases.height,
    }
).write_parquet(out / "locate.parquet")
pl.DataFrame(schema={"case_id": pl.String, "rank": pl.Int64, "entity": pl.List(pl.String)}).write_parquet(
    out / "associates.parquet"
)
