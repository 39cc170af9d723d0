"""``broker``: answers straight from the commercial broker's file.

A reconstruction of how a people-search product is used, not any vendor's product: find the
broker profiles whose records match the clue under the broker's own rule (exact surname plus the
same first three letters of the given name, or the same date of birth), take the profile with
the most matching records, report its most recent address, and list the profiles the broker
links to it as "possible relatives and associates".

The file is read as it stood on each case's as-of date (DESIGN §5): only broker records observed
by then are used. A profile is the broker's merge (``group_key``) replayed over those records
with the broker's own rule (records of one profile sharing surname and the first three letters
of the given name, or surname and date of birth), so a later record never bridges two pieces of
a profile; a listed link between two profiles counts only if the two, as of that date, share an
address (the broker's reason for a link), and is a "possible relative" if their latest surnames
by then agree.

Scores (higher = more confident), from the profile's own signals:

- locate: (m / (m + 1) for the m profile records that matched the clue) x support x recency
  (:func:`~trailbench.systems.common.support_recency`): n / (n + 2) for the n profile records at
  the address, times one half for every two years since the broker last dated it. Never above the
  score of the address ranked before it.
- associates: the number of addresses the two profiles share by the as-of date, plus one for a
  possible relative.
"""

from __future__ import annotations

from pathlib import Path

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
from trailbench.systems.protocol import write_answer

MERGE_RULES = (("surname_std", "broker_g3"), ("surname_std", "dob"))
"""The broker's own merge rule: records sharing either key (within one of its profiles) merge."""


def profiles_as_of(records: pl.DataFrame) -> AsOfForest:
    """The broker's profiles at every date. ``records`` has leaf (0..n-1), day, group_key and the
    merge keys; within a profile, the records sharing a key are chained in date order, so on any
    date the ones observed by then are connected exactly when the rule connects them."""
    edges = []
    for keys in MERGE_RULES:
        by = ["group_key", *keys]
        chain = records.drop_nulls(by).sort("day", "leaf").with_columns(prev=pl.col("leaf").shift(1).over(by))
        edges.append(chain.drop_nulls("prev").select(a="prev", b="leaf", t="day"))
    e = pl.concat(edges)
    return AsOfForest(records.height, e["a"].to_numpy(), e["b"].to_numpy(), e["t"].to_numpy())


class BrokerSystem:
    name = "broker"

    def run(self, workdir: Path) -> None:
        records = (
            read_records(workdir)
            .filter(pl.col("source") == "broker")
            .sort("record_id")
            .with_row_index("leaf")
            .with_columns(
                pl.col("leaf").cast(pl.Int64),
                day=day_number("observed_at"),
                g3=pl.col("given_std").str.slice(0, 3),
                broker_g3=pl.col("given").str.to_uppercase().str.slice(0, 3),
                shared_key=pl.col("address_text").str.to_uppercase().str.replace_all(r"[^A-Z0-9]", ""),
            )
        )
        forest = profiles_as_of(records)
        cases = read_cases(workdir).with_columns(g3=pl.col("given_std").str.slice(0, 3), day=day_number("as_of"))
        c = cases.select("case_id", "as_of", "day", "surname_std", "g3", "dob")
        cols: list[str | pl.Expr] = ["record_id", "leaf", "group_key", pl.col("day").alias("rec_day")]
        by_name = c.join(records.select(*cols, "surname_std", "g3"), on=["surname_std", "g3"])
        by_dob = c.drop_nulls("dob").join(records.select(*cols, "surname_std", "dob"), on=["surname_std", "dob"])
        keep = ["case_id", "day", "record_id", "leaf", "group_key", "rec_day"]
        hits = pl.concat([by_name.select(keep), by_dob.select(keep)]).unique()
        hits = hits.filter(pl.col("rec_day") <= pl.col("day"))
        hits = hits.with_columns(node=pl.Series(forest.component_at(hits["leaf"], hits["day"]), dtype=pl.Int64))
        best = hits.group_by("case_id", "day", "group_key", "node").agg(n=pl.len(), last=pl.col("rec_day").max())
        best = best.sort(
            ["case_id", "n", "last", "group_key", "node"], descending=[False, True, True, False, False]
        ).unique("case_id", keep="first", maintain_order=True)
        members = forest.member_table(best["node"].unique())
        rec = records.select("leaf", "record_id", "observed_at", "address_text", "address_key", "surname", "shared_key")
        profile = best.select("case_id", "day", "node", "group_key").join(members, on="node").join(rec, on="leaf")
        located = latest_address_answers(profile)
        sr = support_recency(located, records.select("record_id", "observed_at"), cases)
        hits_term = best.select("case_id", match=pl.col("n") / (pl.col("n") + 1))
        sr = sr.join(hits_term, on="case_id", how="left")
        located = with_score(
            located, sr.select("case_id", "rank", score=pl.col("match") * pl.col("support") * pl.col("recency"))
        )
        write_answer(workdir, self.name, "locate", located)
        write_answer(workdir, self.name, "associates", self._associates(workdir, profile, records, rec, forest))

    @staticmethod
    def _associates(
        workdir: Path,
        profile: pl.DataFrame,
        records: pl.DataFrame,
        rec: pl.DataFrame,
        forest: AsOfForest,
    ) -> pl.DataFrame:
        """The profiles the broker links to the subject's, as the file stood on the as-of date."""
        links = pl.read_parquet(workdir / "trails" / "record_links.parquet").filter(pl.col("source") == "broker")
        profile_of = records.select("record_id", "group_key")
        pairs = (
            links.join(profile_of, on="record_id")
            .join(profile_of.rename({"record_id": "linked_record_id", "group_key": "other_key"}), on="linked_record_id")
            .select("group_key", "other_key")
        )
        pairs = pl.concat([pairs, pairs.select(group_key="other_key", other_key="group_key")]).unique()
        # the subject profile's addresses by the as-of date, and every other broker record there by then
        mine = profile.select("case_id", "day", "group_key", "shared_key").drop_nulls("shared_key").unique()
        there = records.select("leaf", "shared_key", other_key="group_key", rec_day="day").drop_nulls("shared_key")
        near = (
            mine.join(there, on="shared_key")
            .filter((pl.col("rec_day") <= pl.col("day")) & (pl.col("other_key") != pl.col("group_key")))
            .join(pairs, on=["group_key", "other_key"], how="semi")
        )
        near = near.with_columns(other=pl.Series(forest.component_at(near["leaf"], near["day"]), dtype=pl.Int64))
        found = near.group_by("case_id", "other_key", "other").agg(shared=pl.col("shared_key").n_unique())
        ents = found.join(forest.member_table(found["other"].unique()).rename({"node": "other"}), on="other").join(
            rec.select("leaf", "record_id", "observed_at", "surname"), on="leaf"
        )
        latest = pl.col("surname").sort_by("observed_at", "record_id").last()
        ents = ents.group_by("case_id", "other_key", "other", "shared").agg(
            entity=pl.col("record_id").sort(), surname=latest
        )
        own = profile.group_by("case_id").agg(own_surname=latest)
        ents = ents.join(own, on="case_id", how="left").with_columns(
            relative=(pl.col("surname") == pl.col("own_surname")).fill_null(False)
        )
        ents = ents.sort(["case_id", "relative", "other_key", "other"], descending=[False, True, False, False])
        return ents.with_columns(rank=pl.int_range(1, pl.len() + 1).over("case_id")).select(
            "case_id", "rank", "entity", score=(pl.col("shared") + pl.col("relative").cast(pl.Int64)).cast(pl.Float64)
        )
