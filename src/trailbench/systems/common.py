"""Helpers the reference systems share: reading the working directory and standardising fields.

These are the kind of standardisation steps a vendor would apply; they use only what a system
is given (trails and docket). The address key is the systems' own cheap text normalisation (case,
punctuation, street types, unit designators, no state or ZIP), as a vendor's pipeline would have:
the bench's parser-based resolver (``trailbench.address``) is for scoring, and parsing every
record would cost each system seconds it would not spend in practice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from trailbench.address import normalise_expr


def name_std(col: str) -> pl.Expr:
    """Letters only, upper case (``De la Cruz`` -> ``DELACRUZ``)."""
    return pl.col(col).str.to_uppercase().str.replace_all(r"[^A-Z]", "")


def first_token(col: str) -> pl.Expr:
    """The first word of a name (``LOPEZ-JAUVERA`` -> ``LOPEZ``), letters only."""
    return (
        pl.col(col)
        .str.to_uppercase()
        .str.replace_all(r"[^A-Z \-]", "")
        .str.split_exact(" ", 1)
        .struct[0]
        .str.split("-")
        .list.first()
    )


def address_key(col: pl.Expr) -> pl.Expr:
    """Normalised text without state and ZIP, unit numbers without leading zeros."""
    key = normalise_expr(col).str.replace(r" ZZ[ \d-]*$", "").str.replace(r" \d{5}(-\d{4})?$", "")
    return key.str.replace_all(r" APT 0+(\d)", " APT $1")


def dob_std(col: str) -> pl.Expr:
    """Dates of birth as ``YYYY-MM-DD`` (or ``YYYY-MM``) whatever the source wrote: the broker
    writes ``MM/DD/YYYY``."""
    us = pl.col(col).str.extract_groups(r"^(\d{2})/(\d{2})/(\d{4})$")
    return (
        pl.when(pl.col(col).str.contains(r"^\d{2}/\d{2}/\d{4}$"))
        .then(pl.concat_str([us.struct[2], us.struct[0], us.struct[1]], separator="-"))
        .otherwise(pl.col(col))
        .alias(col)
    )


def standardise(df: pl.DataFrame) -> pl.DataFrame:
    """Add the standardised name and address columns the reference systems compare."""
    return df.with_columns(
        dob=dob_std("dob"),
        given_std=name_std("given"),
        surname_std=name_std("surname"),
        surname_first=first_token("surname"),
        address_key=address_key(pl.col("address_text")),
    )


def read_records(workdir: Path) -> pl.DataFrame:
    return standardise(pl.read_parquet(workdir / "trails" / "records.parquet"))


def read_cases(workdir: Path) -> pl.DataFrame:
    return standardise(pl.read_parquet(workdir / "docket" / "cases.parquet"))


def latest_address_answers(matched: pl.DataFrame, max_rank: int = 3) -> pl.DataFrame:
    """Locate answers from (case_id, record_id, observed_at, address_text, address_key) rows.

    Addresses are ranked by the most recent record carrying them; evidence is every matched
    record with that address. Only records observed on or before the case's as-of date count
    (the caller filters).
    """
    m = matched.filter(pl.col("address_key").is_not_null())
    per = m.group_by("case_id", "address_key").agg(
        last_seen=pl.col("observed_at").max(),
        address_text=pl.col("address_text").sort_by("observed_at", "record_id").last(),
        evidence=pl.col("record_id").sort(),
    )
    per = per.sort(["case_id", "last_seen", "address_key"], descending=[False, True, False])
    per = per.with_columns(rank=pl.int_range(1, pl.len() + 1).over("case_id"))
    return per.filter(pl.col("rank") <= max_rank).select("case_id", "rank", "address_text", "evidence")


# -- connectivity as of a date (the as-of contract, DESIGN §5) --------------------------------


def day_number(col: str) -> pl.Expr:
    """A date as whole days since 1970-01-01 (the time stamps :class:`AsOfForest` compares)."""
    return pl.col(col).cast(pl.Date).cast(pl.Int64)


class AsOfForest:
    """Connected components of a graph whose edges appear over time, readable at any date.

    Edge ``i`` joins nodes ``a[i]`` and ``b[i]`` from time ``t[i]`` on; for records, the time both
    exist: the later of the two ``observed_at``. One union–find pass over the edges in time order
    (incremental connectivity: edges are only added) records each merge as a new tree node
    stamped with its time, a Kruskal reconstruction tree. The component of node ``x`` at time
    ``T`` is then its highest ancestor stamped on or before ``T``, and the members of any
    component are a contiguous range of the leaves in tree order. Every case so reads its own
    as-of clustering from the one pass, in any order, without re-clustering; no edge later than
    ``T``, hence no record observed after ``T``, joins anything at ``T``, and every member of a
    component at ``T`` (other than a lone node) entered it through an edge of time ``<= T``.

    Nodes ``0..n-1`` are the leaves (records); ``n..`` are the merges.
    """

    def __init__(self, n: int, a: Any, b: Any, t: Any) -> None:
        a_ = np.asarray(a, dtype=np.int64)
        b_ = np.asarray(b, dtype=np.int64)
        t_ = np.asarray(t, dtype=np.int64)
        if not (a_.shape == b_.shape == t_.shape):
            raise ValueError("a, b and t must have the same length")
        order = np.lexsort((b_, a_, t_))  # by time, ties in a fixed order: the result is deterministic
        uf = list(range(n))  # union-find over the current components
        top = list(range(n))  # the tree node that stands for each union-find root
        weight = [1] * n
        parent = [-1] * n
        stamp = [np.iinfo(np.int64).min] * n
        kids: list[tuple[int, int]] = []
        for x, y, when in zip(a_[order].tolist(), b_[order].tolist(), t_[order].tolist(), strict=True):
            while uf[x] != x:
                uf[x] = uf[uf[x]]
                x = uf[x]
            while uf[y] != y:
                uf[y] = uf[uf[y]]
                y = uf[y]
            if x == y:
                continue
            if weight[x] < weight[y]:
                x, y = y, x
            uf[y] = x
            weight[x] += weight[y]
            k = len(parent)
            parent[top[x]] = parent[top[y]] = k
            kids.append((top[x], top[y]))
            parent.append(-1)
            stamp.append(when)
            top[x] = k
        self.n = n
        self.parent = np.asarray(parent, dtype=np.int64)
        self.stamp = np.asarray(stamp, dtype=np.int64)
        size = [1] * n + [0] * len(kids)
        for j, (first, second) in enumerate(kids):
            size[n + j] = size[first] + size[second]
        roots = [k for k, p in enumerate(parent) if p < 0]
        lo = [0] * len(parent)
        offset = 0
        for k in roots:
            lo[k] = offset
            offset += size[k]
        for j in range(len(kids) - 1, -1, -1):  # a parent is always numbered after its children
            first, second = kids[j]
            lo[first] = lo[n + j]
            lo[second] = lo[n + j] + size[first]
        self.size = np.asarray(size, dtype=np.int64)
        self.lo = np.asarray(lo, dtype=np.int64)
        self.leaf_order = np.empty(n, dtype=np.int64)
        self.leaf_order[self.lo[:n]] = np.arange(n)

    def component_at(self, x: Any, t: Any) -> np.ndarray:
        """The component (a tree node) holding each leaf ``x[i]`` at time ``t[i]``.

        The caller makes sure each leaf itself exists at ``t[i]``."""
        cur = np.asarray(x, dtype=np.int64).copy()
        when = np.broadcast_to(np.asarray(t, dtype=np.int64), cur.shape)
        active = np.arange(cur.size)
        while active.size:
            p = self.parent[cur[active]]
            up = p >= 0
            up[up] = self.stamp[p[up]] <= when[active[up]]
            cur[active[up]] = p[up]
            active = active[up]
        return cur

    def members(self, node: int) -> np.ndarray:
        """The leaves of a component, in tree order."""
        return self.leaf_order[self.lo[node] : self.lo[node] + self.size[node]]

    def member_table(self, nodes: pl.Series) -> pl.DataFrame:
        """(``node``, ``leaf``) for every leaf of every listed component."""
        idx = nodes.cast(pl.Int64).to_numpy()
        df = pl.DataFrame({"node": idx, "lo": self.lo[idx], "hi": self.lo[idx] + self.size[idx]})
        df = df.select("node", pos=pl.int_ranges("lo", "hi")).explode("pos")
        return pl.DataFrame({"node": df["node"], "leaf": self.leaf_order[df["pos"].to_numpy()]})


# -- scores (higher = more confident; the bench sweeps them as an abstention threshold) ---------

SUPPORT_HALF = 2
"""Agreeing records at which the support term of a score is one half: n / (n + SUPPORT_HALF)."""
RECENCY_HALF_LIFE_DAYS = 2 * 365.25
"""The recency term of a score halves for every two years an address has gone unseen."""


def support_recency(
    answers: pl.DataFrame, records: pl.DataFrame, as_of: pl.DataFrame, dates: pl.Expr | None = None
) -> pl.DataFrame:
    """(case_id, rank, n, support, recency) for locate answers (case_id, rank, evidence).

    ``n`` counts the answer's evidence records; support = n / (n + SUPPORT_HALF); recency halves
    for every ``RECENCY_HALF_LIFE_DAYS`` between the latest evidence record (among those
    ``dates`` selects, if given; none of them: 0) and the case's as-of date. ``records`` has
    record_id, observed_at (and whatever ``dates`` reads); ``as_of`` has case_id, as_of."""
    ev = answers.select("case_id", "rank", record_id="evidence").explode("record_id").drop_nulls("record_id")
    ev = ev.join(records, on="record_id", how="left")
    dated = pl.col("observed_at") if dates is None else pl.col("observed_at").filter(dates)
    per = ev.group_by("case_id", "rank").agg(n=pl.col("record_id").n_unique(), last=dated.max())
    per = per.join(as_of.select("case_id", "as_of"), on="case_id", how="left")
    age = (pl.col("as_of") - pl.col("last")).dt.total_days()
    return per.select(
        "case_id",
        "rank",
        "n",
        support=pl.col("n") / (pl.col("n") + SUPPORT_HALF),
        recency=(0.5 ** (age / RECENCY_HALF_LIFE_DAYS)).fill_null(0.0),
    )


def with_score(answers: pl.DataFrame, scores: pl.DataFrame) -> pl.DataFrame:
    """``answers`` with ``score`` from ``scores`` (case_id, rank, score), never above the score of
    the answer ranked before it, so that score order never contradicts rank order."""
    out = answers.join(scores.select("case_id", "rank", "score"), on=["case_id", "rank"], how="left")
    return out.sort("case_id", "rank").with_columns(score=pl.col("score").fill_null(0.0).cum_min().over("case_id"))
