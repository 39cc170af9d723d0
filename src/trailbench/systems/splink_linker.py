"""``splink``: probabilistic linkage with Splink 5 on DuckDB, trained without labels.

A reconstruction of a standard open-source linkage pipeline, not any vendor's product. Every
record except social profiles, plus each case's clue as one more record, is deduplicated with a
Fellegi-Sunter model (Splink): u probabilities by random sampling, m probabilities by
expectation maximisation on two blocking rules, the prior from a deterministic rule, all without
labels, as a vendor would have to. Records are clustered at the scenario's threshold.

- locate: the most recent address in the cluster holding the case's clue record;
- associates: other clusters with a record sharing an address or a phone with the subject's
  cluster within a year (``hops`` times outward).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import duckdb
import polars as pl

from trailbench.systems.common import latest_address_answers, read_cases, read_records
from trailbench.systems.protocol import read_config, write_answer

OVERLAP_DAYS = 365
CLUE_PREFIX = "case:"


SYSTEM_COLUMNS = {"given": "given_std", "surname": "surname_first", "dob": "dob", "address": "address_key"}


def reference_settings(
    cols: dict[str, str],
    exact: list[str],
    link_type: Literal["link_only", "link_and_dedupe", "dedupe_only"] = "dedupe_only",
    uid: str = "uid",
    retain_matching_columns: bool = False,
) -> Any:
    """The reference configuration: fuzzy given name, surname, date of birth and address, plus
    exact-match columns; ``cols`` maps the roles ``given, surname, dob, address`` to columns."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    g, s, d, a = cols["given"], cols["surname"], cols["dob"], cols["address"]
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name=uid,
        comparisons=[
            cl.JaroWinklerAtThresholds(g, [0.92, 0.8]),
            cl.JaroWinklerAtThresholds(s, [0.92, 0.8]),
            cl.DamerauLevenshteinAtThresholds(d, [1, 2]),
            cl.LevenshteinAtThresholds(a, [2]),
            *(cl.ExactMatch(c) for c in exact),
        ],
        blocking_rules_to_generate_predictions=[
            block_on(s, g),
            block_on(s, d),
            block_on(g, d),
            *(block_on(c) for c in exact[:1]),
            block_on(a, g),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=retain_matching_columns,
    )


def train(linker: Any, cols: dict[str, str], max_u_pairs: float, seed: int = 1) -> None:
    """Unsupervised training, as a vendor without labels would: prior from a deterministic rule,
    u by random sampling, m by expectation maximisation on two blocking rules."""
    from splink import block_on

    g, s, d = cols["given"], cols["surname"], cols["dob"]
    linker.training.estimate_probability_two_random_records_match([block_on(g, s, d)], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=max_u_pairs, seed=seed)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on(s, g))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on(d))


def single_thread_db() -> tuple[Any, duckdb.DuckDBPyConnection]:
    """A DuckDB backend on one thread: results must not depend on thread scheduling."""
    from splink import DuckDBAPI

    con = duckdb.connect()
    con.execute("SET threads TO 1")
    return DuckDBAPI(connection=con), con


def cluster(inp: pl.DataFrame, threshold: float, max_u_pairs: float, seed: int = 1) -> pl.DataFrame:
    """``uid`` -> ``cluster_id`` for every input row."""
    from splink import Linker

    db, con = single_thread_db()
    sdf = db.register(inp.to_arrow(), dataset_display_name="records")
    linker = Linker(sdf, reference_settings(SYSTEM_COLUMNS, ["phone"]), log_level=logging.ERROR)
    train(linker, SYSTEM_COLUMNS, max_u_pairs, seed)
    pred = linker.inference.predict(threshold_match_probability=min(0.5, threshold))
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, threshold_match_probability=threshold)
    out = pl.from_arrow(con.sql(f"select uid, cluster_id from {clusters.physical_name}").arrow())
    assert isinstance(out, pl.DataFrame)
    con.close()
    return out.sort("uid")


class SplinkSystem:
    name = "splink"

    def run(self, workdir: Path) -> None:
        cfg = read_config(workdir).get("splink", {})
        threshold = float(cfg.get("threshold", 0.9))
        hops = int(cfg.get("hops", 1))
        records = read_records(workdir).filter(pl.col("source") != "social")
        cases = read_cases(workdir)
        cols = ["uid", "given_std", "surname_first", "dob", "address_key", "phone"]
        inp = pl.concat(
            [
                records.select(pl.col("record_id").alias("uid"), *cols[1:]),
                cases.select((pl.lit(CLUE_PREFIX) + pl.col("case_id")).alias("uid"), *cols[1:]),
            ]
        )
        clusters = cluster(inp, threshold, float(cfg.get("max_u_pairs", 1e6)))
        rec = records.select("record_id", "observed_at", "address_text", "address_key", "phone").join(
            clusters.rename({"uid": "record_id"}), on="record_id"
        )
        subject = (
            cases.select("case_id", "as_of", uid=pl.lit(CLUE_PREFIX) + pl.col("case_id"))
            .join(clusters, on="uid")
            .drop("uid")
        )
        mine = subject.join(rec, on="cluster_id").filter(pl.col("observed_at") <= pl.col("as_of"))
        write_answer(workdir, self.name, "locate", latest_address_answers(mine))
        write_answer(workdir, self.name, "associates", self._associates(subject, rec, hops))

    def _associates(self, subject: pl.DataFrame, rec: pl.DataFrame, hops: int) -> pl.DataFrame:
        frontier = subject.select("case_id", "as_of", "cluster_id")
        seen = frontier.select("case_id", "cluster_id", hop=pl.lit(0))
        past = rec.select("record_id", "cluster_id", "observed_at", "address_key", "phone")
        for hop in range(1, hops + 1):
            mine = frontier.join(past, on="cluster_id").filter(pl.col("observed_at") <= pl.col("as_of"))
            near = []
            for key in ("address_key", "phone"):
                m = mine.select("case_id", "as_of", key, seen_at="observed_at").drop_nulls(key)
                o = past.select(key, other="cluster_id", observed_at="observed_at").drop_nulls(key)
                j = m.join(o, on=key).filter(
                    (pl.col("observed_at") <= pl.col("as_of"))
                    & ((pl.col("observed_at") - pl.col("seen_at")).dt.total_days().abs() <= OVERLAP_DAYS)
                )
                near.append(j.select("case_id", "as_of", cluster_id="other", link=pl.col(key).cast(pl.String)))
            found = (
                pl.concat(near)
                .group_by("case_id", "cluster_id")
                .agg(shared=pl.col("link").n_unique(), as_of=pl.col("as_of").first())
            )
            found = found.join(seen.select("case_id", "cluster_id"), on=["case_id", "cluster_id"], how="anti")
            seen = pl.concat([seen, found.select("case_id", "cluster_id", hop=pl.lit(hop))])
            frontier = found.select("case_id", "as_of", "cluster_id")
            if hop == 1:
                scores = found.select("case_id", "cluster_id", "shared", hop=pl.lit(hop))
            else:
                scores = pl.concat([scores, found.select("case_id", "cluster_id", "shared", hop=pl.lit(hop))])
        as_of = subject.select("case_id", "as_of")
        ents = scores.join(as_of, on="case_id").join(
            past.select("record_id", "cluster_id", "observed_at"), on="cluster_id"
        )
        ents = (
            ents.filter(pl.col("observed_at") <= pl.col("as_of"))
            .group_by("case_id", "cluster_id", "hop", "shared")
            .agg(entity=pl.col("record_id").sort())
        )
        ents = ents.sort(["case_id", "hop", "shared", "cluster_id"], descending=[False, False, True, False])
        return ents.with_columns(rank=pl.int_range(1, pl.len() + 1).over("case_id")).select("case_id", "rank", "entity")
