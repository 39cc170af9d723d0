"""Ties between people, with the span over which each holds.

Kinds: ``spouse``, ``parent_child``, ``sibling``, ``grandparent`` (family, inside a household
or, for adult children living apart, across two), ``housemate``, ``coworker``, ``friend`` and
``acquaintance`` (weak ties). Each pair appears once (person_a < person_b), with the kind of
highest priority in that order.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from trailbench.scenario import Scenario

KINDS = (
    "spouse",
    "parent_child",
    "sibling",
    "grandparent",
    "housemate",
    "coworker",
    "friend",
    "acquaintance",
)


def _pairs_within(groups: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All unordered pairs of ids sharing a group value (groups are small: households)."""
    order = np.argsort(groups, kind="stable")
    g, i = groups[order], ids[order]
    a_list, b_list = [], []
    # offsets 1..max_size-1 within runs of equal group
    run_start = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    run_len = np.diff(np.r_[run_start, len(g)])
    max_len = int(run_len.max()) if len(run_len) else 0
    pos = np.arange(len(g)) - np.repeat(run_start, run_len)
    rl = np.repeat(run_len, run_len)
    for off in range(1, max_len):
        ok = pos + off < rl
        src = np.flatnonzero(ok)
        a_list.append(i[src])
        b_list.append(i[src + off])
    if not a_list:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(a_list), np.concatenate(b_list)


def household_ties(people: pl.DataFrame) -> pl.DataFrame:
    a, b = _pairs_within(people["household_id"].to_numpy(), people["person_id"].to_numpy())
    role = people["role"].to_numpy()
    ra, rb = role[a], role[b]

    def either(x: str, y: str) -> np.ndarray:
        return ((ra == x) & (rb == y)) | ((ra == y) & (rb == x))

    kind = np.select(
        [
            either("householder", "spouse"),
            either("householder", "child") | either("spouse", "child") | either("householder", "elder"),
            either("child", "child"),
            either("elder", "child"),
            either("elder", "spouse") | either("elder", "elder"),
        ],
        ["spouse", "parent_child", "sibling", "grandparent", "parent_child"],
        default="housemate",
    )
    # elder-spouse are in-laws and elder-elder a couple; recorded as family (parent_child / spouse)
    kind = np.where(either("elder", "elder"), "spouse", kind)
    return pl.DataFrame(
        {"person_a": a, "person_b": b, "kind": kind.astype(object)}, schema_overrides={"kind": pl.String}
    )


def _random_partner_within(
    rng: np.random.Generator, key: np.ndarray, ids: np.ndarray, n_pick: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each id, ``n_pick`` random partners sharing its key (with replacement)."""
    order = np.lexsort((ids, key))
    k, i = key[order], ids[order]
    lo = np.searchsorted(k, k, side="left")
    hi = np.searchsorted(k, k, side="right")
    reps = n_pick[order]
    src = np.repeat(np.arange(len(i)), reps)
    span = (hi - lo)[src]
    partner = lo[src] + (rng.random(len(src)) * span).astype(np.int64)
    return i[src], i[partner]


def build_ties(
    sc: Scenario,
    rng: np.random.Generator,
    people: pl.DataFrame,
    jobs: pl.DataFrame,
    home_town: np.ndarray,
    start: np.datetime64,
    end: np.datetime64,
) -> pl.DataFrame:
    t = sc.ties
    frames = []
    fam = household_ties(people).with_columns(start=pl.lit(start), end=pl.lit(None, dtype=pl.Date))
    frames.append(fam)
    # adult children living apart
    pe = people.filter(pl.col("parent_elsewhere").is_not_null()).select(
        person_a=pl.col("person_id"), person_b=pl.col("parent_elsewhere"), kind=pl.lit("parent_child")
    )
    frames.append(pe.with_columns(start=pl.lit(start), end=pl.lit(None, dtype=pl.Date)))
    # coworkers: random partners among spells at the same employer, span = overlap
    formal = jobs.filter(pl.col("employer_id").is_not_null())
    emp = formal["employer_id"].to_numpy()
    if len(emp):
        n_pick = rng.poisson(t.coworkers, len(emp))
        sa, sb = _random_partner_within(rng, emp, np.arange(len(emp)), n_pick)
        s0, e0 = formal["start"].to_numpy(), formal["end"].fill_null(end).to_numpy()
        pid = formal["person_id"].to_numpy()
        ov_s, ov_e = np.maximum(s0[sa], s0[sb]), np.minimum(e0[sa], e0[sb])
        ok = (ov_s < ov_e) & (pid[sa] != pid[sb])
        frames.append(
            pl.DataFrame(
                {
                    "person_a": pid[sa][ok],
                    "person_b": pid[sb][ok],
                    "kind": "coworker",
                    "start": ov_s[ok],
                    "end": ov_e[ok],
                }
            ).with_columns(pl.col("start").cast(pl.Date), pl.col("end").cast(pl.Date))
        )
    # friends (town homophily) and weak ties (anywhere), adults only
    age0 = (start - people["dob"].to_numpy()).astype(np.int64) / 365.25
    adults = people["person_id"].to_numpy()[age0 >= 16]
    n_f = rng.poisson(t.friends / 2.0, len(adults))  # each tie has two ends
    local = rng.random(len(adults)) < t.homophily
    fa1, fb1 = _random_partner_within(rng, home_town[adults], adults, np.where(local, n_f, 0))
    fa2, fb2 = _random_partner_within(rng, np.zeros(len(adults)), adults, np.where(local, 0, n_f))
    n_w = rng.poisson(t.weak_ties / 2.0, len(adults))
    wa, wb = _random_partner_within(rng, np.zeros(len(adults)), adults, n_w)
    days = int((end - start).astype(np.int64))
    for a, b, kind in ((np.r_[fa1, fa2], np.r_[fb1, fb2], "friend"), (wa, wb, "acquaintance")):
        s = rng.integers(-days, days, len(a))
        dur = rng.exponential(days * 0.8, len(a)).astype(np.int64) + 30
        st = np.maximum(s, 0)
        en = s + dur
        ok = (en > 0) & (a != b)
        frames.append(
            pl.DataFrame(
                {
                    "person_a": a[ok],
                    "person_b": b[ok],
                    "kind": kind,
                    "start": start + st[ok].astype("timedelta64[D]"),
                    "end": np.where(en[ok] >= days, np.datetime64("NaT"), start + en[ok].astype("timedelta64[D]")),
                }
            ).with_columns(pl.col("start").cast(pl.Date), pl.col("end").cast(pl.Date))
        )
    ties = pl.concat([f.select("person_a", "person_b", "kind", "start", "end") for f in frames], how="vertical_relaxed")
    prio = pl.col("kind").replace_strict(list(KINDS), list(range(len(KINDS))))
    lo = pl.min_horizontal("person_a", "person_b")
    hi = pl.max_horizontal("person_a", "person_b")
    return (
        ties.with_columns(person_a=lo, person_b=hi, _p=prio)
        .sort(["person_a", "person_b", "_p", "start", "end"], nulls_last=True, maintain_order=True)
        .unique(["person_a", "person_b"], keep="first", maintain_order=True)
        .drop("_p")
    )
