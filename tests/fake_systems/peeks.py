"""A system that tries to read the truth: every path it can think of, then fails if none opened."""

import sys
from pathlib import Path

work = Path(sys.argv[-1])
found = [p for p in (work / "truth", work.parent / "truth", Path("truth"), Path("../truth")) if p.exists()]
found += list(work.rglob("truth")) + list(work.rglob("world"))
if found:
    print("FOUND TRUTH", found)
    sys.exit(0)
(work / "truth" / "records.parquet").read_bytes()  # raises FileNotFoundError: recorded as a crash
