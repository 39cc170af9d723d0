"""``splink``: probabilistic linkage with Splink 5 on DuckDB, trained without labels.

A reconstruction of a standard open-source linkage pipeline, not any vendor's product. Every
record except social profiles, plus each case's clue as one more record, is deduplicated with a
Fellegi-Sunter model (Splink): u probabilities by random sampling, m probabilities by
expectation maximisation on two blocking rules, the prior from a deterministic rule, all without
labels, as a vendor would have to. Records are clustered at the scenario's threshold.

The as-of contract (DESIGN §5): a case may use only records observed on or before its as-of
date, and that holds for the clustering too (a later record must not bridge two clusters).

- the model is trained only on records observed on or before the docket's earliest as-of date
  (:func:`training_mask`);
- pairwise match probabilities are predicted once over all records and clues (a pair's
  probability depends only on its two records, so that alone leaks nothing);
- each case clusters only the records observed by its as-of date: one union–find pass over the
  record pairs at or above the threshold, in the order both records exist
  (:class:`~trailbench.systems.common.AsOfForest`), read back at each as-of date. The subject's
  file is the clusters of the records its clue links to (at or above the threshold, observed by
  the as-of date); clues link only to records, never to other cases' clues.

- locate: the most recent address in the subject's file; ``score`` = the best clue-to-record
  match probability of the clusters holding the address's records (how sure the file is the
  subject's) x support x recency (:func:`~trailbench.systems.common.support_recency`): n / (n + 2)
  for the n records of the file at the address, times one half for every two years between the
  address's latest first-hand record (not a broker copy: the broker re-dates addresses it never
  checked) and the as-of date; 0 when only broker copies vouch for it. Never above the score of
  the address ranked before it;
- associates: other clusters (as of the as-of date) with a record sharing an address or a phone
  with the subject's file within a year (``hops`` times outward);
  ``score`` = distinct addresses and phones shared, divided by the hop.

Where Splink runs (``[systems.splink] backend``, issue 13): the same settings, training and
prediction run through one :class:`Backend`, either DuckDB in this process (one thread, a
memory limit ``duckdb_memory_mb`` past which it spills to a directory in the system's temporary
directory) or Spark (:mod:`trailbench.systems.splink_spark`: ``local[N]`` or a cluster,
``spark_master``), which gives the same answers at small scale; the clustering and answers
below are computed from the predicted pairs alike for both.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import duckdb
import polars as pl

from trailbench.systems.common import (
    AsOfForest,
    day_number,
    latest_address_answers,
    read_cases,
    read_records,
    support_recency,
    with_score,
)
from trailbench.systems.protocol import read_config, write_answer

OVERLAP_DAYS = 365
CLUE_PREFIX = "case:"
MIN_TRAINING_RECORDS = 1000


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


@dataclass(frozen=True)
class Backend:
    """Where Splink runs: its database API (DuckDB's or Spark's), how a frame is handed to it and
    how a query's result comes back."""

    db: Any
    to_input: Callable[[pl.DataFrame], Any]
    fetch: Callable[[str], pl.DataFrame]


BackendFactory = Callable[[], AbstractContextManager[Backend]]
"""Opens a :class:`Backend` for one step (training, prediction) and closes it after."""


def single_thread_db(memory_mb: int | None = None, spill: Path | None = None) -> tuple[Any, duckdb.DuckDBPyConnection]:
    """A DuckDB backend on one thread: results must not depend on thread scheduling. With
    ``memory_mb``, DuckDB holds at most that much and spills the rest to ``spill``."""
    from splink import DuckDBAPI

    con = duckdb.connect()
    con.execute("SET threads TO 1")
    if memory_mb is not None:
        con.execute(f"SET memory_limit = '{int(memory_mb)}MB'")
    if spill is not None:
        con.execute("SET temp_directory = ?", [str(spill)])
    return DuckDBAPI(connection=con), con


def _frame(data: Any) -> pl.DataFrame:
    out = pl.from_arrow(data)
    assert isinstance(out, pl.DataFrame)
    return out


@contextmanager
def duckdb_backend(memory_mb: int | None = None) -> Iterator[Backend]:
    """DuckDB on one thread; with ``memory_mb``, out of core past it (spilling to a fresh
    directory in the temporary directory: the system's private ``/tmp`` when sandboxed)."""
    spill = Path(tempfile.mkdtemp(prefix="trailbench-splink-spill-")) if memory_mb is not None else None
    db, con = single_thread_db(memory_mb, spill)
    try:
        yield Backend(db, lambda df: df.to_arrow(), lambda sql: _frame(con.sql(sql).arrow()))
    finally:
        con.close()
        if spill is not None:
            shutil.rmtree(spill, ignore_errors=True)


@contextmanager
def backend_for(cfg: dict[str, Any]) -> Iterator[BackendFactory]:
    """The backend the ``[systems.splink]`` settings ``cfg`` choose, for as long as the system runs
    (a Spark session is started once and stopped at the end)."""
    backend = cfg.get("backend", "duckdb")
    if backend == "duckdb":
        yield partial(duckdb_backend, int(cfg.get("duckdb_memory_mb", 4096)))
    elif backend == "spark":
        from trailbench.systems.splink_spark import spark_backends

        with spark_backends(
            master=str(cfg.get("spark_master", "local[2]")),
            memory_mb=int(cfg.get("spark_memory_mb", 2048)),
            partitions=int(cfg.get("spark_partitions", 8)),
        ) as factory:
            yield factory
    else:
        raise ValueError(f"unknown splink backend {backend!r}: use duckdb or spark")


def train_model(
    inp: pl.DataFrame, max_u_pairs: float, seed: int = 1, backend: BackendFactory = duckdb_backend
) -> dict[str, Any]:
    """The reference model trained (without labels) on ``inp``; Splink's settings with parameters."""
    from splink import Linker

    with backend() as b:
        sdf = b.db.register(b.to_input(inp), dataset_display_name="training")
        linker = Linker(sdf, reference_settings(SYSTEM_COLUMNS, ["phone"]), log_level=logging.ERROR)
        train(linker, SYSTEM_COLUMNS, max_u_pairs, seed)
        model: dict[str, Any] = linker.misc.save_model_to_json()
    return model


def model_for_dialect(model: dict[str, Any], dialect: str) -> dict[str, Any]:
    """A model of :func:`train_model` (saved with its backend's SQL) for another backend's SQL
    dialect: the reference settings written for ``dialect``, with the model's trained parameters.
    (Splink reads a model's SQL as the backend's own: DuckDB's quoted names are string literals to
    Spark, and every pair would fall in the last level of every comparison.)"""
    if model.get("sql_dialect") == dialect:
        return model
    out: dict[str, Any] = reference_settings(SYSTEM_COLUMNS, ["phone"]).get_settings(dialect).as_dict()
    out["probability_two_random_records_match"] = model["probability_two_random_records_match"]
    for c_out, c_in in zip(out["comparisons"], model["comparisons"], strict=True):
        assert c_out["output_column_name"] == c_in["output_column_name"], (c_out, c_in)
        for l_out, l_in in zip(c_out["comparison_levels"], c_in["comparison_levels"], strict=True):
            assert l_out["label_for_charts"] == l_in["label_for_charts"], (l_out, l_in)
            l_out.update({k: l_in[k] for k in ("m_probability", "u_probability") if k in l_in})
    return out


def predict_pairs(
    inp: pl.DataFrame, model: dict[str, Any], threshold: float, backend: BackendFactory = duckdb_backend
) -> pl.DataFrame:
    """(``uid_l``, ``uid_r``, ``match_probability``) for every blocked pair at or above ``threshold``
    (``model`` from :func:`train_model` on any backend)."""
    from splink import Linker

    with backend() as b:
        sdf = b.db.register(b.to_input(inp), dataset_display_name="records")
        model = model_for_dialect(model, b.db.sql_dialect.sql_dialect_str)
        linker = Linker(sdf, model, log_level=logging.ERROR)
        pred = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
        out = b.fetch(f"select uid_l, uid_r, match_probability from {pred.physical_name}")
    return out.sort("uid_l", "uid_r")


def training_mask(records: pl.DataFrame, cases: pl.DataFrame) -> pl.Series:
    """The records the model is trained on: those observed on or before the docket's earliest
    as-of date, so no case's model has seen its future. Should fewer than
    ``MIN_TRAINING_RECORDS`` exist by then, the cut moves to the date by which that many exist
    (only the model's parameters then see past the earliest cases' dates, never a link)."""
    observed = records["observed_at"]
    first = cases["as_of"].min()
    if first is None:
        return pl.Series([True] * records.height)
    enough = observed.sort()[min(MIN_TRAINING_RECORDS, records.height) - 1] if records.height else first
    return observed <= max(first, enough)


def as_of_forest(pairs: pl.DataFrame, leaves: pl.DataFrame, threshold: float) -> AsOfForest:
    """The clustering of ``leaves`` (``uid``, ``leaf`` = 0..n-1, ``day``) at every date: record pairs
    at or above ``threshold`` join from the day both records exist."""
    lv = leaves.select("uid", "leaf", "day")
    edges = (
        pairs.filter(pl.col("match_probability") >= threshold)
        .join(lv.rename({"uid": "uid_l", "leaf": "a", "day": "day_a"}), on="uid_l")
        .join(lv.rename({"uid": "uid_r", "leaf": "b", "day": "day_b"}), on="uid_r")
    )
    t = edges.select(pl.max_horizontal("day_a", "day_b"))[:, 0]
    return AsOfForest(leaves.height, edges["a"].to_numpy(), edges["b"].to_numpy(), t.to_numpy())


class SplinkSystem:
    name = "splink"

    def run(self, workdir: Path) -> None:
        cfg = read_config(workdir).get("splink", {})
        threshold = float(cfg.get("threshold", 0.9))
        hops = int(cfg.get("hops", 1))
        records = (
            read_records(workdir)
            .filter(pl.col("source") != "social")
            .sort("record_id")
            .with_row_index("leaf")
            .with_columns(pl.col("leaf").cast(pl.Int64), day=day_number("observed_at"))
        )
        cases = read_cases(workdir).with_columns(day=day_number("as_of"))
        cols = ["uid", "given_std", "surname_first", "dob", "address_key", "phone"]
        rec_inp = records.select(pl.col("record_id").alias("uid"), *cols[1:])
        clue_inp = cases.select((pl.lit(CLUE_PREFIX) + pl.col("case_id")).alias("uid"), *cols[1:])
        with backend_for(cfg) as backend:
            # trained on what was observed by the earliest as-of date: no case's model has seen its future
            train_on = rec_inp.filter(training_mask(records, cases))
            model = train_model(train_on, float(cfg.get("max_u_pairs", 1e6)), backend=backend)
            pairs = predict_pairs(pl.concat([rec_inp, clue_inp]), model, threshold, backend=backend)
        forest = as_of_forest(pairs, records.select(uid="record_id", leaf="leaf", day="day"), threshold)
        subject = self._subject(pairs, records, cases, forest, threshold)
        rec = records.select(
            "leaf", "record_id", "day", "observed_at", "source", "address_text", "address_key", "phone"
        )
        members = forest.member_table(subject["node"].unique()).join(rec, on="leaf")
        mine = subject.select("case_id", "node").unique().join(members, on="node").unique(["case_id", "record_id"])
        located = latest_address_answers(mine)
        write_answer(workdir, self.name, "locate", self._locate_scores(located, mine, subject))
        write_answer(workdir, self.name, "associates", self._associates(subject, rec, forest, hops))

    @staticmethod
    def _subject(
        pairs: pl.DataFrame, records: pl.DataFrame, cases: pl.DataFrame, forest: AsOfForest, threshold: float
    ) -> pl.DataFrame:
        """(case_id, as_of, day, node, link_p): the clusters, at the case's as-of date, of the
        records observed by then that its clue links to, with the best clue-to-record probability."""
        clue_l = pl.col("uid_l").str.starts_with(CLUE_PREFIX)
        clue_r = pl.col("uid_r").str.starts_with(CLUE_PREFIX)
        links = pairs.filter((pl.col("match_probability") >= threshold) & (clue_l ^ clue_r)).select(
            case_id=pl.when(clue_l).then(pl.col("uid_l")).otherwise(pl.col("uid_r")).str.strip_prefix(CLUE_PREFIX),
            record_id=pl.when(clue_l).then(pl.col("uid_r")).otherwise(pl.col("uid_l")),
            p=pl.col("match_probability"),
        )
        links = (
            links.join(cases.select("case_id", "as_of", "day"), on="case_id")
            .join(records.select("record_id", "leaf", rec_day="day"), on="record_id")
            .filter(pl.col("rec_day") <= pl.col("day"))
        )
        links = links.with_columns(
            node=pl.Series(forest.component_at(links["leaf"].to_numpy(), links["day"].to_numpy()), dtype=pl.Int64)
        )
        return links.group_by("case_id", "as_of", "day", "node").agg(link_p=pl.col("p").max()).sort("case_id", "node")

    @staticmethod
    def _locate_scores(located: pl.DataFrame, mine: pl.DataFrame, subject: pl.DataFrame) -> pl.DataFrame:
        """``score`` = the best clue-to-record match probability of the clusters holding the
        address's records (how sure the file is the subject's) x support x recency
        (:func:`~trailbench.systems.common.support_recency`, dated by first-hand records)."""
        sr = support_recency(
            located,
            mine.select("record_id", "observed_at", "source").unique("record_id"),
            subject.select("case_id", "as_of").unique(),
            pl.col("source") != "broker",
        )
        ev = located.select("case_id", "rank", record_id="evidence").explode("record_id")
        node_p = mine.select("case_id", "record_id", "node").join(
            subject.select("case_id", "node", "link_p"), on=["case_id", "node"]
        )
        link = (
            ev.join(node_p, on=["case_id", "record_id"]).group_by("case_id", "rank").agg(link_p=pl.col("link_p").max())
        )
        scores = sr.join(link, on=["case_id", "rank"], how="left").select(
            "case_id", "rank", score=pl.col("link_p").fill_null(0.0) * pl.col("support") * pl.col("recency")
        )
        return with_score(located, scores)

    def _associates(self, subject: pl.DataFrame, rec: pl.DataFrame, forest: AsOfForest, hops: int) -> pl.DataFrame:
        """Clusters (as of each case's date) sharing an address or phone with the subject's file
        within a year, ``hops`` times outward; every record used is observed by the as-of date."""
        days = subject.select("case_id", "day").unique()
        frontier = subject.select("case_id", "node").unique()
        seen = frontier
        found_all = []
        for hop in range(1, hops + 1):
            members = forest.member_table(frontier["node"].unique())
            mine = frontier.join(members, on="node").join(rec.drop("day"), on="leaf").join(days, on="case_id")
            near = []
            for key in ("address_key", "phone"):
                m = mine.select("case_id", "day", key, seen_at="observed_at").drop_nulls(key)
                o = rec.select(key, "leaf", other_day="day", observed_at="observed_at").drop_nulls(key)
                j = m.join(o, on=key).filter(
                    (pl.col("other_day") <= pl.col("day"))
                    & ((pl.col("observed_at") - pl.col("seen_at")).dt.total_days().abs() <= OVERLAP_DAYS)
                )
                near.append(j.select("case_id", "day", "leaf", link=pl.col(key).cast(pl.String)))
            cand = pl.concat(near)
            at = cand.select("leaf", "day").unique()
            at = at.with_columns(
                node=pl.Series(forest.component_at(at["leaf"].to_numpy(), at["day"].to_numpy()), dtype=pl.Int64)
            )
            found = (
                cand.join(at, on=["leaf", "day"])
                .group_by("case_id", "node")
                .agg(shared=pl.col("link").n_unique())
                .join(seen, on=["case_id", "node"], how="anti")
            )
            seen = pl.concat([seen, found.select("case_id", "node")])
            frontier = found.select("case_id", "node")
            found_all.append(found.with_columns(hop=pl.lit(hop)))
        scores = pl.concat(found_all)
        members = forest.member_table(scores["node"].unique()).join(rec.select("leaf", "record_id"), on="leaf")
        ents = (
            scores.join(members, on="node")
            .group_by("case_id", "node", "hop", "shared")
            .agg(entity=pl.col("record_id").sort())
            .with_columns(first=pl.col("entity").list.first(), score=pl.col("shared") / pl.col("hop"))
        )
        ents = ents.sort(["case_id", "hop", "shared", "first"], descending=[False, False, True, False])
        return ents.with_columns(rank=pl.int_range(1, pl.len() + 1).over("case_id")).select(
            "case_id", "rank", "entity", "score"
        )
