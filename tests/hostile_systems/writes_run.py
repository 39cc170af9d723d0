"""Tries to write into the run: its trails and docket, the sandbox root, other systems' answers,
and every Parquet file it can see outside its own answers directory."""

import os
import sys
from pathlib import Path

work = Path(sys.argv[-1])
mine = work / "answers" / "writes_run"
targets = [
    work / "trails" / "records.parquet",
    work / "docket" / "cases.parquet",
    work / "new_file",
    work / "answers" / "exact" / "locate.parquet",
    Path("/scorecard.json"),
]
for root, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys", "/dev", "/usr")]
    targets += [Path(root) / f for f in files if f.endswith((".parquet", ".json", ".html"))]
for t in targets:
    if mine in t.parents:
        continue
    try:
        t.parent.mkdir(parents=True, exist_ok=True)
        with open(t, "r+b" if t.exists() else "wb") as fh:
            fh.truncate(10)
        print("WROTE", t)
    except OSError:
        pass
print("ATTEMPTS DONE", len(targets))
