"""Keyed permutations: identifiers drawn from the seed that reveal no order of the truth.

DESIGN §4: no identifier, id or row order may reveal truth; ids are keyed permutations drawn
from the seed, and no identifier is computable from another. An identifier space ``[0, n)`` is
permuted by a balanced Feistel network whose round keys come from a Generator (one stream per
kind of identifier, so phone numbers, SSNs and licence numbers share no key). Issuing the k-th
identifier of a kind means evaluating the permutation at k: identifiers are distinct by
construction and carry no trace of k (the owner's place in person, household or record order).

Values the network maps outside ``[0, n)`` are walked along their cycle until they fall inside
(cycle walking), which keeps the map a bijection of ``[0, n)``.
"""

from __future__ import annotations

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
ROUNDS = 8


def _mix(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a fixed bijective mixer of 64-bit words."""
    z = z ^ (z >> np.uint64(30))
    z = z * _M1
    z = z ^ (z >> np.uint64(27))
    z = z * _M2
    return z ^ (z >> np.uint64(31))


class KeyedPermutation:
    """A bijection of ``[0, n)`` keyed by ``rng`` (its round keys are the only draws made)."""

    def __init__(self, n: int, rng: np.random.Generator, rounds: int = ROUNDS) -> None:
        if n < 1:
            raise ValueError(f"an identifier space needs at least one value; got {n}")
        bits = max(2, int(n - 1).bit_length())
        bits += bits % 2  # a balanced network: two halves of equal width
        self.n = n
        self.half = bits // 2
        self.mask = np.uint64((1 << self.half) - 1)
        self.keys = rng.integers(0, np.iinfo(np.int64).max, rounds, dtype=np.int64).astype(np.uint64)

    def _once(self, x: np.ndarray) -> np.ndarray:
        h = np.uint64(self.half)
        left, right = x >> h, x & self.mask
        for k in self.keys:
            left, right = right, left ^ (_mix(right ^ k) & self.mask)
        return (left << h) | right

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The images of ``x`` (integers in ``[0, n)``), as int64."""
        x = np.asarray(x, dtype=np.int64)
        if x.size and (x.min() < 0 or x.max() >= self.n):
            raise ValueError(f"values outside [0, {self.n})")
        y = self._once(x.astype(np.uint64))
        out = y >= np.uint64(self.n)
        while out.any():  # cycle walking: ends because the cycle through x returns to x
            y[out] = self._once(y[out])
            out[out] = y[out] >= np.uint64(self.n)
        return y.astype(np.int64)
