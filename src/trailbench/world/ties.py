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
    """Pairs within each household; ``kind`` is the tie kind's index in ``KINDS``."""
    a, b = _pairs_within(people["household_id"].to_numpy(), people["person_id"].to_numpy())
    roles = ("householder", "spouse", "elder", "child", "roommate")
    role = people["role"].replace_strict(list(roles), list(range(len(roles))), return_dtype=pl.Int8).to_numpy()
    ra, rb = role[a], role[b]
    hh, sp, el, ch = (roles.index(r) for r in ("householder", "spouse", "elder", "child"))

    def either(x: int, y: int) -> np.ndarray:
        return ((ra == x) & (rb == y)) | ((ra == y) & (rb == x))

    kind = np.select(
        [
            either(hh, sp),
            either(hh, ch) | either(sp, ch) | either(hh, el),
            either(ch, ch),
            either(el, ch),
            either(el, sp) | either(el, el),
        ],
        [KINDS.index(k) for k in ("spouse", "parent_child", "sibling", "grandparent", "parent_child")],
        default=KINDS.index("housemate"),
    )
    # elder-spouse are in-laws and elder-elder a couple; recorded as family (parent_child / spouse)
    kind = np.where(either(el, el), KINDS.index("spouse"), kind)
    return pl.DataFrame({"person_a": a, "person_b": b, "kind": kind.astype(np.int64)})


def _kind_names(code: np.ndarray | pl.Expr) -> pl.Series | pl.Expr:
    """Tie kinds as strings from their index in ``KINDS``."""
    col = code if isinstance(code, pl.Expr) else pl.Series("kind", code)
    return col.replace_strict(list(range(len(KINDS))), list(KINDS), return_dtype=pl.String)


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
    # kinds travel as their index in KINDS (their priority) and become strings once, at the end
    fam = household_ties(people).with_columns(start=pl.lit(start), end=pl.lit(None, dtype=pl.Date))
    frames.append(fam)
    # adult children living apart
    pe = people.filter(pl.col("parent_elsewhere").is_not_null()).select(
        person_a=pl.col("person_id"),
        person_b=pl.col("parent_elsewhere"),
        kind=pl.lit(KINDS.index("parent_child"), dtype=pl.Int64),
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
                    "kind": KINDS.index("coworker"),
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
                    "kind": KINDS.index(kind),
                    "start": start + st[ok].astype("timedelta64[D]"),
                    "end": np.where(en[ok] >= days, np.datetime64("NaT"), start + en[ok].astype("timedelta64[D]")),
                }
            ).with_columns(pl.col("start").cast(pl.Date), pl.col("end").cast(pl.Date))
        )
    ties = pl.concat([f.select("person_a", "person_b", "kind", "start", "end") for f in frames], how="vertical_relaxed")
    return _first_per_pair(ties)


def _first_per_pair(ties: pl.DataFrame) -> pl.DataFrame:
    """From ties whose ``kind`` is an index in ``KINDS`` (its priority), one row per unordered
    pair (person_a < person_b): the kind of highest priority, then the earliest start, then the
    earliest end (open ends last); rows in pair order; ``kind`` as its name.

    The same as a stable sort on (person_a, person_b, priority, start, end) keeping each pair's
    first row (rows equal on all five keys are equal in every column), with the keys packed into
    two integers and arg-sorted: far lighter than a five-key frame sort and a hashed unique.
    """
    a = ties["person_a"].to_numpy()
    b = ties["person_b"].to_numpy()
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    prio = ties["kind"].cast(pl.Int64).to_numpy()
    start = ties["start"].cast(pl.Int64)
    end = ties["end"].cast(pl.Int64)
    if len(lo) == 0 or start.null_count() or lo.min() < 0:
        return _first_per_pair_sorted(ties, lo, hi, prio)
    s_off = (start - start.min()).to_numpy()
    e_low = end.min()
    e_rel = (end - (e_low if e_low is not None else 0)).fill_null(-1).to_numpy()
    e_open = int(e_rel.max()) + 1  # open ends sort after every end
    e_off = np.where(e_rel < 0, e_open, e_rel)
    s_bits, e_bits = int(s_off.max()).bit_length(), e_open.bit_length()
    span = int(hi.max()) + 1
    if s_bits + e_bits + len(KINDS).bit_length() > 62 or span.bit_length() * 2 > 62:
        return _first_per_pair_sorted(ties, lo, hi, prio)
    pair = lo * span + hi
    rest = (prio << (s_bits + e_bits)) | (s_off << e_bits) | e_off
    keys = pl.DataFrame({"pair": pair, "rest": rest})
    order = keys.select(pl.arg_sort_by("pair", "rest", maintain_order=True)).to_series().to_numpy()
    pair_sorted = pair[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = pair_sorted[1:] != pair_sorted[:-1]
    take = pl.Series(order[first])
    return ties.select(
        person_a=pl.Series(lo).gather(take),
        person_b=pl.Series(hi).gather(take),
        kind=_kind_names(prio[take.to_numpy()]),
        start=pl.col("start").gather(take),
        end=pl.col("end").gather(take),
    )


def _first_per_pair_sorted(ties: pl.DataFrame, lo: np.ndarray, hi: np.ndarray, prio: np.ndarray) -> pl.DataFrame:
    """``_first_per_pair`` by a frame sort, for keys out of reach of its packing."""
    return (
        ties.with_columns(person_a=pl.Series(lo), person_b=pl.Series(hi), kind=pl.Series(prio))
        .sort(["person_a", "person_b", "kind", "start", "end"], nulls_last=True, maintain_order=True)
        .unique(["person_a", "person_b"], keep="first", maintain_order=True)
        .with_columns(kind=_kind_names(pl.col("kind")))
    )
