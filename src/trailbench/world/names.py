"""Name tables (derived from Census data, see data/PROVENANCE.md) and vectorised samplers."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import polars as pl

from trailbench.scenario import GROUPS

RARE = "ALL OTHER NAMES"


@dataclass(frozen=True)
class NameTables:
    surnames: np.ndarray  # object array of named surnames (rank order)
    surname_p: np.ndarray  # (groups, n) P(surname | group), over named surnames only
    rare_share: np.ndarray  # (groups,) share of each group in "ALL OTHER NAMES"
    given: np.ndarray
    given_p: np.ndarray  # (groups, 2, n): P(given | group, sex); sex 0 = female, 1 = male
    given_pooled_p: np.ndarray  # (2, n): P(given | sex), all groups pooled
    given_rare: np.ndarray  # (groups, 2): share of each group and sex in "ALL OTHER NAMES"
    surname_pool: tuple[np.ndarray, ...]  # per group: its 5,000 commonest surnames (rare-name parts)
    given_pool: tuple[tuple[np.ndarray, ...], ...]  # per group and sex: its 3,000 commonest given names


def _data(name: str) -> pl.DataFrame:
    with resources.files("trailbench.data").joinpath(name).open("rb") as fh:
        return pl.read_parquet(fh)


def _top(p: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest probabilities, largest first (ties by index): O(n) selection."""
    k = min(k, len(p))
    part = np.argpartition(-p, k - 1)[:k]
    return part[np.lexsort((part, -p[part]))]


@lru_cache(maxsize=1)
def load_tables() -> NameTables:
    s = _data("surnames.parquet")
    rare = s.filter(pl.col("surname") == RARE)
    named = s.filter(pl.col("surname") != RARE)
    counts = named.select(GROUPS).to_numpy().T.astype(np.float64)
    rare_counts = rare.select(GROUPS).to_numpy()[0].astype(np.float64)
    totals = counts.sum(axis=1) + rare_counts
    g_all = _data("given_names.parquet")
    g = g_all.filter(pl.col("given") != RARE)
    g_rare = g_all.filter(pl.col("given") == RARE)

    def by_group_sex(df: pl.DataFrame) -> np.ndarray:
        return np.stack([np.stack([df[f"{grp}_f"].to_numpy(), df[f"{grp}_m"].to_numpy()]) for grp in GROUPS]).astype(
            np.float64
        )

    gc = by_group_sex(g)
    grc = by_group_sex(g_rare)[:, :, 0]
    pooled = gc.sum(axis=0)
    surnames = named["surname"].to_numpy().astype(object)
    surname_p = counts / counts.sum(axis=1, keepdims=True)
    given = g["given"].to_numpy().astype(object)
    given_p = gc / gc.sum(axis=2, keepdims=True)
    return NameTables(
        surnames=surnames,
        surname_p=surname_p,
        rare_share=rare_counts / totals,
        given=given,
        given_p=given_p,
        given_pooled_p=pooled / pooled.sum(axis=1, keepdims=True),
        given_rare=grc / (grc + gc.sum(axis=2)),
        surname_pool=tuple(surnames[_top(p, 5000)] for p in surname_p),
        given_pool=tuple(tuple(given[_top(p, 3000)] for p in by_sex) for by_sex in given_p),
    )


@lru_cache(maxsize=1)
def load_variants() -> tuple[dict[str, list[str]], list[list[str]]]:
    text = resources.files("trailbench.data").joinpath("name_variants.toml").read_text()
    data = tomllib.loads(text)
    return data["nicknames"], data["transliteration"]["families"]


def _choice(rng: np.random.Generator, p: np.ndarray, size: int) -> np.ndarray:
    """Categorical draws by inverse CDF (fast for large tables)."""
    cdf = np.cumsum(p)
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(p) - 1)


def rare_names(rng: np.random.Generator, pool: np.ndarray, size: int) -> np.ndarray:
    """Invented rare names (a table's "ALL OTHER NAMES" mass): the head of one listed name
    joined to the tail of another, so each is plausible in form but rare."""
    if size == 0:
        return np.array([], dtype=object)
    a = pl.Series(pool[rng.integers(0, len(pool), size)].astype(str))
    b = pl.Series(pool[rng.integers(0, len(pool), size)].astype(str))
    head = a.str.slice(0, pl.Series(rng.integers(2, 5, size)))
    tail_len = pl.Series(rng.integers(2, 5, size))
    tail = b.str.slice(-tail_len.cast(pl.Int64), tail_len)
    return (head + tail).to_numpy().astype(object)


def draw_surnames(rng: np.random.Generator, group_idx: np.ndarray, structure: str, flat_size: int) -> np.ndarray:
    """One surname per person for the given group indices."""
    t = load_tables()
    out = np.empty(len(group_idx), dtype=object)
    if structure == "flat":
        # one shared list, uniform draws: no group differs in concentration
        out[:] = t.surnames[rng.integers(0, min(flat_size, len(t.surnames)), len(group_idx))]
        return out
    for gi in range(len(GROUPS)):
        idx = np.flatnonzero(group_idx == gi)
        if len(idx) == 0:
            continue
        rare = rng.random(len(idx)) < t.rare_share[gi]
        named = idx[~rare]
        out[named] = t.surnames[_choice(rng, t.surname_p[gi], len(named))]
        out[idx[rare]] = rare_names(rng, t.surname_pool[gi], int(rare.sum()))
    return out


def draw_given(rng: np.random.Generator, group_idx: np.ndarray, male: np.ndarray, structure: str) -> np.ndarray:
    t = load_tables()
    out = np.empty(len(group_idx), dtype=object)
    for sex in (0, 1):
        if structure == "flat":
            idx = np.flatnonzero(male == sex)
            out[idx] = t.given[_choice(rng, t.given_pooled_p[sex], len(idx))]
            continue
        for gi in range(len(GROUPS)):
            idx = np.flatnonzero((group_idx == gi) & (male == sex))
            if len(idx) == 0:
                continue
            rare = rng.random(len(idx)) < t.given_rare[gi, sex]
            out[idx[~rare]] = t.given[_choice(rng, t.given_p[gi, sex], int((~rare).sum()))]
            out[idx[rare]] = rare_names(rng, t.given_pool[gi][sex], int(rare.sum()))
    return out
