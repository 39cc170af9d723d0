"""A system that writes a file that is not Parquet, and a locate file with the wrong columns."""

import sys
from pathlib import Path

work = Path(sys.argv[-1])
out = work / "answers" / "malformed"
(out / "associates.parquet").write_bytes(b"this is not parquet")
import polars as pl  # noqa: E402

pl.DataFrame({"case": ["C000001"], "where": ["nowhere"]}).write_parquet(out / "locate.parquet")
