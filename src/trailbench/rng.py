"""Random streams: every draw comes from a numpy Generator derived from the scenario seed.

A stream is keyed by a path of names (stage, sub-step, partition), so adding a stream never
shifts another, and results do not depend on the order in which streams are used.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _word(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def stream(seed: int, *path: str) -> np.random.Generator:
    """The Generator for ``path`` under ``seed`` (a SeedSequence child keyed by the path)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *(_word(p) for p in path)])))
