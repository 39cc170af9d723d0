"""A system that answers with record ids that do not exist."""

import sys
from pathlib import Path

import polars as pl

work = Path(sys.argv[-1])
cases = pl.read_parquet(work / "docket" / "cases.parquet")
out = work / "answers" / "unknown_ids"
pl.DataFrame(
    {
        "case_id": cases["case_id"].head(3),
        "rank": [1, 1, 1],
        "address_text": ["1 A ST"] * 3,
        "evidence": [["R999999999"], ["RX"], ["R000000001"]],
    }
).write_parquet(out / "locate.parquet")
pl.DataFrame({"case_id": cases["case_id"].head(1), "rank": [1], "entity": [["NOPE"]]}).write_parquet(
    out / "associates.parquet"
)
