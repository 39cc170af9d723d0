"""Lives over the scenario period: residences with moves, jobs, and phones that churn.

Time runs in monthly steps; events get a day within their month. Each step is vectorised
over all households or people (the loop is over months, never over people).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from trailbench.rng import stream
from trailbench.scenario import Scenario
from trailbench.world.geography import KINDS
from trailbench.world.ids import KeyedPermutation

MONTH_DAYS = 28  # events fall on days 0..27 of their month, so every date is valid


def month_starts(start: date, months: int) -> np.ndarray:
    base = np.datetime64(start, "M")
    return (base + np.arange(months + 1)).astype("datetime64[D]")


def units_needed(sc: Scenario, tenure_own: np.ndarray) -> dict[str, int]:
    h = sc.housing
    own = int(tenure_own.sum())
    rent = len(tenure_own) - own
    demand = own * np.array(h.owner_kinds) / sum(h.owner_kinds) + rent * np.array(h.renter_kinds) / sum(h.renter_kinds)
    units = np.ceil(demand / (1.0 - sc.world.vacancy)).astype(np.int64) + 2
    return dict(zip(KINDS, (int(u) for u in units), strict=True))


def _kind_draw(rng: np.random.Generator, sc: Scenario, own: np.ndarray) -> np.ndarray:
    po = np.cumsum(sc.housing.owner_kinds) / sum(sc.housing.owner_kinds)
    pr = np.cumsum(sc.housing.renter_kinds) / sum(sc.housing.renter_kinds)
    cdf = np.where(own[:, None], po[None, :], pr[None, :])
    return np.minimum((rng.random(len(own))[:, None] > cdf).sum(axis=1), 2)


def _place(rng: np.random.Generator, want_kind: np.ndarray, vacant: np.ndarray, unit_kind: np.ndarray) -> np.ndarray:
    """Assign each household a distinct vacant unit, of its wanted kind where one is free."""
    out = np.full(len(want_kind), -1, dtype=np.int64)
    free = vacant.copy()
    for k in range(len(KINDS)):
        who = np.flatnonzero(want_kind == k)
        pool = np.flatnonzero(free & (unit_kind == k))
        take = min(len(who), len(pool))
        chosen = rng.choice(pool, size=take, replace=False) if take else pool[:0]
        out[who[:take]] = chosen
        free[chosen] = False
    left = np.flatnonzero(out < 0)
    if len(left):
        pool = np.flatnonzero(free)
        if len(pool) < len(left):
            raise RuntimeError("no vacant units left; raise world.vacancy")
        out[left] = rng.choice(pool, size=len(left), replace=False)
    return out


def build_residences(sc: Scenario, rng: np.random.Generator, hh: pl.DataFrame, units: pl.DataFrame) -> pl.DataFrame:
    """Residence spells: household_id, unit_id, start, end (exclusive; null while ongoing)."""
    months = sc.world.years * 12
    starts = month_starts(sc.world.start, months)
    own = (hh["tenure"] == "own").to_numpy()
    unit_kind = pl.Series(units["kind"]).replace_strict(list(KINDS), [0, 1, 2]).to_numpy()
    n_h = len(own)
    vacant = np.ones(len(unit_kind), dtype=bool)
    current = _place(rng, _kind_draw(rng, sc, own), vacant, unit_kind)
    vacant[current] = False
    rate = np.where(own, sc.housing.owner_move_rate, sc.housing.renter_move_rate)
    p_month = 1.0 - (1.0 - rate) ** (1.0 / 12.0)
    hs = [np.arange(n_h)]
    us = [current.copy()]
    ds = [np.full(n_h, starts[0])]
    for m in range(1, months):
        movers = np.flatnonzero(rng.random(n_h) < p_month)
        if len(movers) == 0:
            continue
        dest = _place(rng, _kind_draw(rng, sc, own[movers]), vacant, unit_kind)
        vacant[current[movers]] = True
        vacant[dest] = False
        current[movers] = dest
        hs.append(movers)
        us.append(dest)
        ds.append(starts[m] + rng.integers(0, MONTH_DAYS, len(movers)).astype("timedelta64[D]"))
    res = pl.DataFrame(
        {"household_id": np.concatenate(hs), "unit_id": np.concatenate(us), "start": np.concatenate(ds)}
    ).sort(["household_id", "start"])
    return res.with_columns(end=next_start("household_id"))


def next_start(key: str) -> pl.Expr:
    """The next row's start within the same ``key`` (null on its last row): the same as
    ``pl.col("start").shift(-1).over(key)`` on a frame whose rows of each key are contiguous,
    without hashing the key."""
    return pl.when(pl.col(key).shift(-1) == pl.col(key)).then(pl.col("start").shift(-1)).otherwise(None)


def _event_months(rng: np.random.Generator, n: int, months: int, annual: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-entity event months (1..months-1) at a constant monthly hazard (at most one a month),
    sorted by entity then month."""
    p = 1.0 - (1.0 - annual) ** (1.0 / 12.0)
    counts = rng.binomial(months - 1, p, size=n)
    who = np.repeat(np.arange(n), counts)
    when = rng.integers(1, months, size=len(who))
    key = np.unique(who.astype(np.int64) * months + when)  # at most one event per entity and month, sorted
    return key // months, key % months


def build_jobs(sc: Scenario, rng: np.random.Generator, people: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Job spells (person_id, employer_id or null for informal work, start, end) and employers."""
    w = sc.work
    months = sc.world.years * 12
    starts = month_starts(sc.world.start, months)
    age0 = (np.datetime64(sc.world.start, "D") - people["dob"].to_numpy()).astype(np.int64) / 365.25
    fb = people["foreign_born"].to_numpy()
    works = (age0 >= 18) & (age0 < 65) & (rng.random(len(age0)) < w.employment)
    workers = np.flatnonzero(works)
    informal = rng.random(len(workers)) < np.where(fb[workers], w.informal_foreign_born, w.informal)
    n_emp = max(3, round(int((~informal).sum()) / w.mean_employer_size))
    zipf = 1.0 / np.arange(1, n_emp + 1) ** w.employer_zipf
    cdf = np.cumsum(zipf / zipf.sum())
    who, when = _event_months(rng, len(workers), months, w.job_change_rate)
    spell_w = np.concatenate([np.arange(len(workers)), who])
    spell_m = np.concatenate([np.zeros(len(workers), dtype=np.int64), when])
    order = np.lexsort((spell_m, spell_w))
    spell_w, spell_m = spell_w[order], spell_m[order]
    day = np.where(spell_m == 0, 0, rng.integers(0, MONTH_DAYS, len(spell_w)))
    employer = np.minimum(np.searchsorted(cdf, rng.random(len(spell_w))), n_emp - 1)
    is_inf = informal[spell_w]
    jobs = pl.DataFrame(
        {
            "person_id": people["person_id"].to_numpy()[workers][spell_w],
            "employer_id": employer,
            "informal": is_inf,
            "start": starts[spell_m] + day.astype("timedelta64[D]"),
        },
        schema_overrides={"employer_id": pl.Int64},
    ).with_columns(
        employer_id=pl.when(pl.col("informal")).then(None).otherwise(pl.col("employer_id")),
        end=next_start("person_id"),
    )
    employers = pl.DataFrame({"employer_id": np.arange(n_emp, dtype=np.int64)})
    sizes = (
        jobs.filter(pl.col("employer_id").is_not_null())
        .group_by("employer_id")
        .agg(workers=pl.col("person_id").n_unique())
    )
    employers = (
        employers.join(sizes, on="employer_id", how="left")
        .sort("employer_id")
        .with_columns(
            pl.col("workers").fill_null(0),
            name=pl.format("EMPLOYER {} LLC", pl.col("employer_id")),
        )
    )
    return jobs, employers


PHONE_SPACE = 200 * 10**7  # area codes 000-199 (leading 0 or 1: never assigned) x 10^7 locals


def fresh_numbers(perm: KeyedPermutation, start: int, count: int) -> np.ndarray:
    """The issue indices ``start .. start+count-1`` as phone numbers: a keyed permutation of the
    number space, so a number says nothing of its owner's place in person or household order and
    numbers issued one after the other are no closer than any two (DESIGN §4)."""
    return perm(np.arange(start, start + count, dtype=np.int64))


def format_phone(num: pl.Expr) -> pl.Expr:
    """``0NN-NXX-XXXX``: area codes with a leading 0 or 1, which NANP never assigns."""
    area = (num // 10**7).cast(pl.String).str.zfill(3)
    exch = ((num // 10**4) % 1000).cast(pl.String).str.zfill(3)
    line = (num % 10**4).cast(pl.String).str.zfill(4)
    return pl.concat_str([area, pl.lit("-"), exch, pl.lit("-"), line])


def build_phones(sc: Scenario, rng: np.random.Generator, people: pl.DataFrame) -> pl.DataFrame:
    """Phone spells: number, person_id, start, end, released (end + aging = first reuse day).

    Fresh numbers come from their own stream (``world/phones/numbers``), churn and reuse from ``rng``.
    """
    ph = sc.phones
    perm = KeyedPermutation(PHONE_SPACE, stream(sc.seed, "world", "phones", "numbers"))
    months = sc.world.years * 12
    starts = month_starts(sc.world.start, months)
    age0 = (np.datetime64(sc.world.start, "D") - people["dob"].to_numpy()).astype(np.int64) / 365.25
    owners = people["person_id"].to_numpy()[age0 >= 16]
    counter = len(owners)
    current = fresh_numbers(perm, 0, len(owners))
    sp_num, sp_person, sp_start = [current.copy()], [owners.copy()], [np.full(len(owners), starts[0])]
    pool_num = np.zeros(0, dtype=np.int64)
    pool_free = np.zeros(0, dtype="datetime64[D]")
    who, when = _event_months(rng, len(owners), months, ph.churn_rate)
    bounds = np.searchsorted(when[np.argsort(when, kind="stable")], np.arange(months + 1))
    by_month = np.argsort(when, kind="stable")
    for m in range(1, months):
        ev = by_month[bounds[m] : bounds[m + 1]]
        if len(ev) == 0:
            continue
        idx = who[ev]  # at most one change a month per person (_event_months)
        day = starts[m] + rng.integers(0, MONTH_DAYS, len(idx)).astype("timedelta64[D]")
        released = current[idx]
        aging = rng.integers(ph.aging_min_days, ph.aging_max_days + 1, len(idx)).astype("timedelta64[D]")
        # numbers aged by the start of this month may be reassigned
        ready = np.flatnonzero(pool_free <= starts[m])
        want = np.flatnonzero(rng.random(len(idx)) < ph.reuse)
        take = min(len(want), len(ready))
        new = fresh_numbers(perm, counter, len(idx))
        if take:
            chosen = rng.choice(ready, size=take, replace=False)
            new[want[:take]] = pool_num[chosen]
            keep = np.ones(len(pool_num), dtype=bool)
            keep[chosen] = False
            pool_num, pool_free = pool_num[keep], pool_free[keep]
        counter += len(idx)
        pool_num = np.concatenate([pool_num, released])
        pool_free = np.concatenate([pool_free, day + aging])
        current[idx] = new
        sp_num.append(new)
        sp_person.append(owners[idx])
        sp_start.append(day)
    spells = pl.DataFrame(
        {
            "number": np.concatenate(sp_num),
            "person_id": np.concatenate(sp_person),
            "start": np.concatenate(sp_start),
        }
    ).sort(["person_id", "start"])
    spells = spells.with_columns(end=next_start("person_id"))
    return spells.with_columns(phone=format_phone(pl.col("number"))).sort(["number", "start"])
