"""Two-stage bootstrap, vectorised: one weight matrix, every ratio at once.

Resample weights are counts (B x n, the cases of every world side by side): replicate b of a ratio
metric over a slice is ``(W[b] @ (num * mask)) / (W[b] @ (den * mask))``. With several worlds a
replicate first draws worlds with replacement, then cases within each drawn world, so intervals
carry the variation between worlds as well as between cases. The same weights serve every system
and every slice, so comparisons and disparity ratios are paired.
"""

from __future__ import annotations

import numpy as np


def weights(rng: np.random.Generator, n: int, b: int) -> np.ndarray:
    """(b, n) resample counts: row r counts how often each case is drawn in resample r."""
    if n == 0:
        return np.zeros((b, 0))
    draws = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)


def two_stage_weights(rng: np.random.Generator, sizes: list[int], b: int) -> np.ndarray:
    """(b, sum(sizes)) resample counts over worlds of ``sizes`` cases (in that order). Replicate r
    draws len(sizes) worlds with replacement; a world drawn m times contributes m independent case
    resamples of its own size, which together are one multinomial of m x size draws over its
    cases. One world is the plain case bootstrap (:func:`weights`, the same draws)."""
    if len(sizes) == 1:
        return weights(rng, sizes[0], b)
    r = len(sizes)
    picks = rng.integers(0, r, size=(b, r))
    times = np.stack([np.bincount(row, minlength=r) for row in picks])  # (b, r): how often each world
    parts = []
    for k, n in enumerate(sizes):
        draws_per_row = times[:, k] * n
        if n == 0:
            parts.append(np.zeros((b, 0)))
            continue
        rows = np.repeat(np.arange(b), draws_per_row)
        cases = rng.integers(0, n, size=int(draws_per_row.sum()))
        parts.append(np.bincount(rows * n + cases, minlength=b * n).reshape(b, n).astype(np.float64))
    return np.hstack(parts)


def ratios(num: np.ndarray, den: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """num, den: (n, K). Returns (point (K,), replicates (B, K), denominators (K,))."""
    with np.errstate(invalid="ignore", divide="ignore"):
        d = den.sum(axis=0)
        point = np.where(d > 0, num.sum(axis=0) / np.where(d > 0, d, 1), np.nan)
        wd = w @ den
        reps = np.where(wd > 0, (w @ num) / np.where(wd > 0, wd, 1), np.nan)
    return point, reps, d


def ratio_of(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b where b > 0, NaN elsewhere (a disparity whose reference rate is 0 is undefined)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def interval(reps: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column (linear interpolation over the defined replicates);
    NaN where fewer than half the replicates are defined. Vectorised over columns."""
    a = (1.0 - confidence) / 2.0
    finite = np.isfinite(reps)
    k = finite.sum(axis=0)
    srt = np.sort(np.where(finite, reps, np.inf), axis=0)  # undefined replicates sort last
    cols = np.arange(reps.shape[1])

    def q(p: float) -> np.ndarray:
        pos = p * np.maximum(k - 1, 0)
        lo_i = np.floor(pos).astype(np.int64)
        hi_i = np.minimum(lo_i + 1, np.maximum(k - 1, 0))
        frac = pos - lo_i
        lo_v, hi_v = srt[lo_i, cols], srt[hi_i, cols]
        with np.errstate(invalid="ignore"):
            return np.where(frac > 0, lo_v + (hi_v - lo_v) * frac, lo_v)

    ok = (k >= reps.shape[0] / 2) & (k > 0)
    if reps.shape[0] == 0:
        return np.full(reps.shape[1], np.nan), np.full(reps.shape[1], np.nan)
    return np.where(ok, q(a), np.nan), np.where(ok, q(1 - a), np.nan)
