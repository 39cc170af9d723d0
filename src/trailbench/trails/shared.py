"""What the sources of one trails build share: tables made once a world, and integer codes for text.

Within :func:`per_build`, :func:`cached` makes each world's table once (keyed by the world's id;
the world is alive for the whole block) instead of once per source. :func:`factorize` numbers
the distinct values of a column, so that grouping, joining and comparing text can be done on
integers, and text is written once at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
import polars as pl

from trailbench.world import World

T = TypeVar("T")

_CACHE: dict[tuple[int, str], Any] | None = None


@contextmanager
def per_build() -> Iterator[None]:
    """Make each world's shared tables once for the sources read inside the block."""
    global _CACHE
    outer = _CACHE
    if outer is None:
        _CACHE = {}
    try:
        yield
    finally:
        if outer is None:
            _CACHE = None


def cached(world: World, name: str, make: Callable[[], T]) -> T:
    """``make()``, once a world within :func:`per_build` (every call outside one)."""
    cache = _CACHE
    if cache is None:
        return make()
    key = (id(world), name)
    if key not in cache:
        cache[key] = make()
    return cache[key]


def factorize(values: pl.Series | pl.DataFrame) -> np.ndarray:
    """An integer code per value (per row of a frame): equal values share one, nulls (rows with a
    null) get -1; codes are dense from 0, in order of first appearance.

    Values are grouped by their hash, and each is then compared with its group's first; should two
    distinct values share a hash, the codes come from ranking the values instead (slower)."""
    frame = values.to_frame() if isinstance(values, pl.Series) else values
    out = np.full(frame.height, -1, dtype=np.int64)
    rows = np.flatnonzero(frame.select(pl.all_horizontal(pl.all().is_not_null())).to_series().to_numpy())
    if len(rows) == 0:
        return out
    import pandas as pd  # its hash table numbers the hashes faster than a sort

    v = frame[rows] if len(rows) < frame.height else frame.rechunk()  # (gathers are slow across pieces)
    codes = pd.factorize(v.hash_rows().to_numpy())[0].astype(np.int64)
    one = v[first_of(codes)[codes]]
    if not all((v[c] == one[c]).all() for c in v.columns):  # a collision of hashes
        codes = v.select(pl.struct(v.columns).rank("dense")).to_series().to_numpy().astype(np.int64) - 1
    out[rows] = codes
    return out


def first_of(codes: np.ndarray) -> np.ndarray:
    """For each code from 0 to the largest, the index of one value with that code."""
    one = np.zeros(int(codes.max()) + 1 if len(codes) else 0, dtype=np.int64)
    one[codes] = np.arange(len(codes))
    return one


def gather(values: pl.Series, at: np.ndarray) -> pl.Series:
    """``values`` at ``at``, null where ``at`` is negative."""
    if len(values) == 0:
        return pl.Series(values.name, [None] * len(at), dtype=values.dtype)
    return pl.select(pl.when(pl.Series(at >= 0)).then(values.gather(np.maximum(at, 0)))).to_series()
