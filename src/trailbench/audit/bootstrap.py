"""Case-resampling bootstrap, vectorised: one weight matrix, every ratio at once.

Resample weights are multinomial counts (B x n): replicate b of a ratio metric over a slice is
``(W[b] @ (num * mask)) / (W[b] @ (den * mask))``. The same weights serve every system and every
slice, so comparisons and disparity ratios are paired.
"""

from __future__ import annotations

import numpy as np


def weights(rng: np.random.Generator, n: int, b: int) -> np.ndarray:
    if n == 0:
        return np.zeros((b, 0))
    return rng.multinomial(n, np.full(n, 1.0 / n), size=b).astype(np.float64)


def ratios(num: np.ndarray, den: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """num, den: (n, K). Returns (point (K,), replicates (B, K), denominators (K,))."""
    with np.errstate(invalid="ignore", divide="ignore"):
        d = den.sum(axis=0)
        point = np.where(d > 0, num.sum(axis=0) / np.where(d > 0, d, 1), np.nan)
        wd = w @ den
        reps = np.where(wd > 0, (w @ num) / np.where(wd > 0, wd, 1), np.nan)
    return point, reps, d


def interval(reps: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column; NaN where fewer than half the replicates are defined."""
    a = (1.0 - confidence) / 2.0
    ok = np.isfinite(reps).sum(axis=0) >= reps.shape[0] / 2
    with np.errstate(invalid="ignore"):
        lo = np.nanquantile(np.where(np.isfinite(reps), reps, np.nan), a, axis=0) if reps.size else np.array([])
        hi = np.nanquantile(np.where(np.isfinite(reps), reps, np.nan), 1 - a, axis=0) if reps.size else np.array([])
    return np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)
