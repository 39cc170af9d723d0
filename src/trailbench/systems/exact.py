"""``exact``: normalised exact match on name and date of birth.

A reconstruction from public descriptions of the simplest skip-tracing rule, not any vendor's
product. Locate: the most recently observed address among records whose normalised given name,
surname and date of birth equal the clue's. Associates: other people (records grouped by the same
exact key) seen at one of the subject's addresses within a year of the subject.

Only records observed on or before a case's as-of date are used, for every answer (DESIGN §5).

Scores (higher = more confident):

- locate: support x recency (:func:`~trailbench.systems.common.support_recency`): n / (n + 2)
  for the n agreeing records (same name and date of birth) at the address, times one half for
  every two years between the address's latest first-hand agreeing record (not a broker copy:
  the broker re-dates addresses it never checked) and the as-of date; 0 when only broker copies
  vouch for it. Never above the score of the address ranked before it.
- associates: the number of the subject's addresses the person was seen at within a year of the
  subject (the rank order).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from trailbench.systems.common import latest_address_answers, read_cases, read_records, support_recency, with_score
from trailbench.systems.protocol import write_answer

KEY = ["given_std", "surname_std", "dob"]
OVERLAP_DAYS = 365


class ExactSystem:
    name = "exact"

    def run(self, workdir: Path) -> None:
        records = read_records(workdir).filter(pl.col("dob").is_not_null())
        cases = read_cases(workdir).filter(pl.col("dob").is_not_null())
        matched = (
            cases.select("case_id", "as_of", *KEY)
            .join(records, on=KEY)
            .filter(pl.col("observed_at") <= pl.col("as_of"))
        )
        located = latest_address_answers(matched)
        sr = support_recency(
            located, records.select("record_id", "observed_at", "source"), cases, pl.col("source") != "broker"
        )
        located = with_score(located, sr.select("case_id", "rank", score=pl.col("support") * pl.col("recency")))
        write_answer(workdir, self.name, "locate", located)
        write_answer(workdir, self.name, "associates", self._associates(records, matched))

    def _associates(self, records: pl.DataFrame, matched: pl.DataFrame) -> pl.DataFrame:
        keyed = records.with_columns(entity_key=pl.concat_str(KEY, separator="|"))
        mine = matched.select("case_id", "as_of", "address_key", seen="observed_at").drop_nulls("address_key")
        subject_key = matched.select("case_id", own=pl.concat_str(KEY, separator="|")).unique()
        near = mine.join(keyed.select("record_id", "entity_key", "address_key", "observed_at"), on="address_key")
        near = (
            near.filter(
                (pl.col("observed_at") <= pl.col("as_of"))
                & ((pl.col("observed_at") - pl.col("seen")).dt.total_days().abs() <= OVERLAP_DAYS)
            )
            .join(subject_key, on="case_id")
            .filter(pl.col("entity_key") != pl.col("own"))
        )
        scored = near.group_by("case_id", "entity_key").agg(
            shared=pl.col("address_key").n_unique(), as_of=pl.col("as_of").first()
        )
        ents = scored.join(keyed.select("entity_key", "record_id", "observed_at"), on="entity_key").filter(
            pl.col("observed_at") <= pl.col("as_of")
        )
        ents = ents.group_by("case_id", "entity_key", "shared").agg(entity=pl.col("record_id").sort())
        ents = ents.sort(["case_id", "shared", "entity_key"], descending=[False, True, False])
        return ents.with_columns(rank=pl.int_range(1, pl.len() + 1).over("case_id")).select(
            "case_id", "rank", "entity", score=pl.col("shared").cast(pl.Float64)
        )
