"""Stays as columns: who, from when to when (minutes into the window), what kind, where."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OFFSET = 4 * 1440  # minutes before the window that sort keys allow for
TIME_SPAN = 2**17  # minutes a sort key holds: about 91 days, window included


@dataclass
class Stays:
    person: np.ndarray  # int64
    start: np.ndarray  # int64 minutes from the window's first midnight (negative: before it)
    end: np.ndarray
    kind: np.ndarray  # int8 codes into window.STAY_KINDS
    loc: np.ndarray  # int64 location codes (window module docstring)

    @staticmethod
    def empty() -> Stays:
        z = np.zeros(0, dtype=np.int64)
        return Stays(z, z, z, z.astype(np.int8), z)

    @staticmethod
    def of(person: np.ndarray, start: np.ndarray, end: np.ndarray, kind: int, loc: np.ndarray) -> Stays:
        n = len(person)
        return Stays(
            np.asarray(person, dtype=np.int64),
            np.asarray(start, dtype=np.int64),
            np.asarray(end, dtype=np.int64),
            np.full(n, kind, dtype=np.int8),
            np.broadcast_to(np.asarray(loc, dtype=np.int64), (n,)).copy(),
        )

    def __len__(self) -> int:
        return len(self.person)

    def take(self, idx: np.ndarray) -> Stays:
        return Stays(self.person[idx], self.start[idx], self.end[idx], self.kind[idx], self.loc[idx])

    def sorted(self) -> Stays:
        """By person, then start, then end. One 64-bit key (person, then the two times offset by
        ``OFFSET`` into 17 bits each) sorted stably: stays mostly arrive in sorted runs, which a
        stable sort merges in near-linear time."""
        lo = min(int(self.start.min(initial=0)), int(self.end.min(initial=0)))
        hi = max(int(self.start.max(initial=0)), int(self.end.max(initial=0)))
        if lo < -OFFSET or hi >= TIME_SPAN - OFFSET:
            return self.take(np.lexsort((self.end, self.start, self.person)))
        key = (self.person << 34) | ((self.start + OFFSET) << 17) | (self.end + OFFSET)
        return self.take(np.argsort(key, kind="stable"))

    @staticmethod
    def concat(parts: list[Stays]) -> Stays:
        if not parts:
            return Stays.empty()
        return Stays(
            np.concatenate([p.person for p in parts]),
            np.concatenate([p.start for p in parts]),
            np.concatenate([p.end for p in parts]),
            np.concatenate([p.kind for p in parts]),
            np.concatenate([p.loc for p in parts]),
        )


def neighbours(keys_person: np.ndarray, keys_start: np.ndarray, person: np.ndarray, t: np.ndarray) -> np.ndarray:
    """For each (person, t), the index of the last stay (sorted by person then start) of that
    person starting at or before t; -1 where there is none."""
    base = keys_person.astype(np.int64) << 32
    keys = base + (keys_start + 2**31)
    q = (person.astype(np.int64) << 32) + (t + 2**31)
    i = np.searchsorted(keys, q, side="right") - 1
    ok = (i >= 0) & (keys_person[np.maximum(i, 0)] == person)
    return np.where(ok, i, -1)
