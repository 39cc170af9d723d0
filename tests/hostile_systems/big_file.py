"""Tries to write a one-gigabyte file into its answers directory."""

import sys
from pathlib import Path

block = b"\0" * (1024 * 1024)
with open(Path(sys.argv[-1]) / "answers" / "big_file" / "locate.parquet", "wb") as fh:
    for _ in range(1024):
        fh.write(block)
print("WROTE 1 GB")
