"""``broker``: answers straight from the commercial broker's file.

A reconstruction of how a people-search product is used, not any vendor's product: find the
broker profiles whose records match the clue under the broker's own rule (exact surname plus the
same first three letters of the given name, or the same date of birth), take the profile with
the most matching records, report its most recent address, and list the profiles the broker
links to it as "possible relatives and associates".
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from trailbench.systems.common import latest_address_answers, read_cases, read_records
from trailbench.systems.protocol import write_answer


class BrokerSystem:
    name = "broker"

    def run(self, workdir: Path) -> None:
        records = (
            read_records(workdir)
            .filter(pl.col("source") == "broker")
            .with_columns(g3=pl.col("given_std").str.slice(0, 3))
        )
        cases = read_cases(workdir).with_columns(g3=pl.col("given_std").str.slice(0, 3))
        c = cases.select("case_id", "as_of", "surname_std", "g3", "dob")
        by_name = c.join(
            records.select("record_id", "group_key", "surname_std", "g3", "observed_at"), on=["surname_std", "g3"]
        )
        by_dob = c.drop_nulls("dob").join(
            records.select("record_id", "group_key", "surname_std", "dob", "observed_at"), on=["surname_std", "dob"]
        )
        hits = pl.concat(
            [
                by_name.select("case_id", "as_of", "record_id", "group_key", "observed_at"),
                by_dob.select("case_id", "as_of", "record_id", "group_key", "observed_at"),
            ]
        ).unique()
        hits = hits.filter(pl.col("observed_at") <= pl.col("as_of"))
        best = hits.group_by("case_id", "group_key").agg(n=pl.len(), last=pl.col("observed_at").max())
        best = best.sort(["case_id", "n", "last", "group_key"], descending=[False, True, True, False]).unique(
            "case_id", keep="first", maintain_order=True
        )
        as_of = cases.select("case_id", "as_of")
        profile = (
            best.select("case_id", "group_key")
            .join(as_of, on="case_id")
            .join(
                records.select("record_id", "group_key", "observed_at", "address_text", "address_key"), on="group_key"
            )
            .filter(pl.col("observed_at") <= pl.col("as_of"))
        )
        write_answer(workdir, self.name, "locate", latest_address_answers(profile))
        links = pl.read_parquet(workdir / "trails" / "record_links.parquet").filter(pl.col("source") == "broker")
        both = pl.concat(
            [
                links.select("record_id", "linked_record_id", "kind"),
                links.select(record_id="linked_record_id", linked_record_id="record_id", kind="kind"),
            ]
        )
        key_of = records.select("record_id", "group_key")
        linked = (
            profile.select("case_id", "as_of", "record_id", own="group_key")
            .join(both, on="record_id")
            .join(key_of.rename({"record_id": "linked_record_id", "group_key": "other"}), on="linked_record_id")
            .filter(pl.col("other") != pl.col("own"))
        )
        linked = linked.group_by("case_id", "other").agg(
            relative=(pl.col("kind") == "possible_relative").any(), as_of=pl.col("as_of").first()
        )
        ents = linked.join(
            records.select("record_id", "group_key", "observed_at"), left_on="other", right_on="group_key"
        )
        ents = (
            ents.filter(pl.col("observed_at") <= pl.col("as_of"))
            .group_by("case_id", "other", "relative")
            .agg(entity=pl.col("record_id").sort())
        )
        ents = ents.sort(["case_id", "relative", "other"], descending=[False, True, False])
        write_answer(
            workdir,
            self.name,
            "associates",
            ents.with_columns(rank=pl.int_range(1, pl.len() + 1).over("case_id")).select("case_id", "rank", "entity"),
        )
