"""Benchmark: the ``splink`` system's prediction at 1M and 10M records (issue 13), on DuckDB with its
memory limit and on Spark ``local[2]``.

What is linked: background people (``write_background``, seed 20261124) rendered as record-like
rows, two records a person, as two sources would hold them: record ``a`` as generated (given name,
first token of the surname, date of birth, street address and town, phone); record ``b`` with
errors drawn per record (seeded): a given name with one letter replaced (10%), a surname with one
letter replaced (5%), a date of birth with two adjacent digits swapped (5%), the address before
the person's move for those who moved (half), no phone (30%). N records are N/2 people; the N/2
``a``-``b`` pairs are the true matches, and the share of them predicted at or above the threshold
is reported (``recall``) beside the pairs predicted.

The model is the system's (``train_model``: the reference settings, trained without labels on
DuckDB) trained once on the first 200,000 records; each prediction (``predict_pairs`` at the
default threshold 0.9, the system's blocking rules) runs in a fresh child process, timed from
reading the records to holding the predicted pairs. Peak memory is the child's process tree
(Python, and Spark's JVM and Python workers), its resident memory summed and sampled every 0.2 s,
and, for the Python process alone, ``resource.getrusage``.

Usage: python benchmarks/splink_scale.py [--records N ...] [--spark N ...] [--duckdb-mb MB]
       [--timeout S]
Prints one JSON line per run; RESULTS.md records them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

PREPARE = """
import json, sys
from pathlib import Path
import numpy as np
import polars as pl
from trailbench.scenario import NamesConfig, WorldConfig
from trailbench.scenario.background import BackgroundConfig
from trailbench.systems.splink_linker import train_model
from trailbench.world.background import read_background, write_background

records, out = int(sys.argv[1]), Path(sys.argv[2])
people = records // 2
write_background(BackgroundConfig(people=people), 20261124, out / "people", 2, WorldConfig(), NamesConfig())
p = read_background(out / "people").select(
    "background_id", "given", "surname", "dob", "address", "prev_address", "phone"
).collect()
rng = np.random.default_rng(20261124)
n = p.height
def street(col):  # number, street, unit and town; not the state and ZIP
    return pl.col(col).str.replace(r", [A-Z]{2} \\d{5}$", "")
def typo(col, share):
    hit = pl.Series(rng.random(n) < share)
    pos = pl.Series(rng.random(n))
    letter = pl.Series(rng.integers(65, 91, n).astype(np.uint8).view("S1").astype(str))
    s = pl.col(col)
    k = (pos * s.str.len_chars()).floor().cast(pl.Int64)
    changed = s.str.slice(0, k) + letter + s.str.slice(k + 1)
    return pl.when(hit & (s.str.len_chars() > 1)).then(changed).otherwise(s)
def swap_digits(col, share):
    hit = pl.Series(rng.random(n) < share)
    s = pl.col(col)
    swapped = s.str.slice(0, 8) + s.str.slice(9, 1) + s.str.slice(8, 1)  # YYYY-MM-DD: swap the day's digits
    return pl.when(hit).then(swapped).otherwise(s)
base = p.with_columns(
    given_std=pl.col("given"), surname_first=pl.col("surname").str.split(" ").list.first().str.split("-").list.first(),
    dob=pl.col("dob").cast(pl.String), address_key=street("address"),
)
cols = ["uid", "given_std", "surname_first", "dob", "address_key", "phone"]
a = base.select(uid=pl.col("background_id") + ":a", *cols[1:])
moved = pl.col("prev_address").is_not_null()
b = base.with_columns(
    given_std=typo("given_std", 0.10), surname_first=typo("surname_first", 0.05), dob=swap_digits("dob", 0.05),
    address_key=pl.when(moved).then(street("prev_address")).otherwise(pl.col("address_key")),
    phone=pl.when(pl.Series(rng.random(n) < 0.3)).then(None).otherwise(pl.col("phone")),
).select(uid=pl.col("background_id") + ":b", *cols[1:])
recs = pl.concat([a, b]).sort("uid")  # a and b of a person side by side; a fixed order
recs.write_parquet(out / "records.parquet")
model = train_model(recs.head(200_000), 1e6)
(out / "model.json").write_text(json.dumps(model))
# pairs each prediction blocking rule generates (before Splink drops those an earlier rule found),
# and a tighter rule for a national run (surname, given name and year of birth)
g, s, d, a_, ph = "given_std", "surname_first", "dob", "address_key", "phone"
keyed = recs.with_columns(yob=pl.col(d).str.slice(0, 4))
rules = {"s,g": [s, g], "s,d": [s, d], "g,d": [g, d], "phone": [ph], "a,g": [a_, g], "s,g,yob": [s, g, "yob"]}
pairs = {
    name: int(keyed.drop_nulls(k).group_by(k).len().select((pl.col("len") * (pl.col("len") - 1) // 2).sum()).item())
    for name, k in rules.items()
}
scored = None
if recs.height <= 2_000_000:  # the pairs Splink scores: the union over the system's rules (a self-join each)
    ids = keyed.with_row_index("i")
    def rule_pairs(k):
        side = ids.drop_nulls(k).select("i", *k)
        return side.join(side, on=k).filter(pl.col("i") < pl.col("i_right")).select("i", "i_right")
    found = [rule_pairs(k) for name, k in rules.items() if name != "s,g,yob"]
    scored = pl.concat(found).unique().height
print(json.dumps({"records": recs.height, "people": people, "blocked_pairs_by_rule": pairs, "pairs_scored": scored}))
"""

PREDICT = """
import json, os, resource, sys, time
from functools import partial
from pathlib import Path
import polars as pl
from trailbench.systems.splink_linker import duckdb_backend, predict_pairs

folder, backend, arg = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
model = json.loads((folder / "model.json").read_text())
load = os.getloadavg()[0]
t = time.perf_counter()
recs = pl.read_parquet(folder / "records.parquet")
if backend == "duckdb":
    pairs = predict_pairs(recs, model, 0.9, backend=partial(duckdb_backend, arg))
else:
    from trailbench.systems.splink_spark import spark_backends
    with spark_backends("local[2]", arg, 8) as factory:
        pairs = predict_pairs(recs, model, 0.9, backend=factory)
wall = time.perf_counter() - t
true = pairs.filter(pl.col("uid_l").str.head(-2) == pl.col("uid_r").str.head(-2)).height
r = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({
    "records": recs.height, "pairs": pairs.height, "true_pairs_found": true,
    "recall": round(true / (recs.height // 2), 4),
    "wall_s": round(wall, 1), "records_per_s": round(recs.height / wall), "python_peak_mb": round(r.ru_maxrss / 1024),
    "cpu_s": round(r.ru_utime + r.ru_stime, 1), "load_at_start": round(load, 2),
}))
"""


def _tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and every process below it, MB."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat[stat.rindex(")") + 2 :].split()[1]), []).append(int(entry.name))
    todo, total = [root], 0
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return total / 2**20


def run(code: str, args: list[str], timeout: float) -> dict[str, Any]:
    """``code`` in a child process; its JSON line, with the tree's sampled peak memory."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = [0.0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return {"timed_out_after_s": timeout, "tree_peak_mb": round(peak[0]), "stderr_tail": err.decode()[-800:]}
    sampler.join()
    if proc.returncode != 0:
        return {"failed": proc.returncode, "stderr_tail": err.decode()[-2000:], "tree_peak_mb": round(peak[0])}
    line = json.loads(out.decode().strip().splitlines()[-1])
    return line | {"tree_peak_mb": round(peak[0]), "child_wall_s": round(time.perf_counter() - started, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, nargs="*", default=[1_000_000, 10_000_000], help="DuckDB runs")
    ap.add_argument("--spark", type=int, nargs="*", default=[1_000_000], help="Spark local[2] runs")
    ap.add_argument("--duckdb-mb", type=int, default=4096, help="DuckDB memory limit (the system's default)")
    ap.add_argument("--spark-mb", type=int, default=4096, help="Spark driver memory")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per prediction")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in sorted(set(a.records) | set(a.spark)):
            folder = Path(tmp) / str(n)
            folder.mkdir()
            prep = run(PREPARE, [str(n), str(folder)], 3600)
            print(json.dumps({"what": "prepare", **prep}), flush=True)
            if n in a.records:
                res = run(PREDICT, [str(folder), "duckdb", str(a.duckdb_mb)], a.timeout)
                print(json.dumps({"what": "predict", "backend": "duckdb", "memory_mb": a.duckdb_mb, **res}), flush=True)
            if n in a.spark:
                res = run(PREDICT, [str(folder), "spark", str(a.spark_mb)], a.timeout)
                print(json.dumps({"what": "predict", "backend": "spark local[2]", **res}), flush=True)


if __name__ == "__main__":
    main()
