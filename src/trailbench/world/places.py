"""Places besides homes: workplaces, schools, shops, places of worship, clinics, parks, transit stops.

Each place stands beside a building of the region (DESIGN §3), anchored on a unit drawn at random
(so places follow where people live) and offset within half a block. Every employer has one
workplace. A place's ``mass`` is its popularity among places of its kind (Zipf over a random
ranking), the attraction term of the gravity choice in :func:`gravity_choice`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from trailbench.scenario.movement import MovementConfig

KINDS = ("workplace", "school", "shop", "worship", "clinic", "park", "transit")
PUBLIC = KINDS[1:]  # the kinds whose number follows the population (workplaces follow the employers)
AT_LEAST_ONE = ("school", "shop", "transit")  # every town has one of these
HALF_BLOCK_M = 60.0
MIN_DISTANCE_M = 50.0  # distances below this count as this in the distance kernel


def _anchor(
    rng: np.random.Generator, ux: np.ndarray, uy: np.ndarray, pick: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    dx = rng.uniform(-HALF_BLOCK_M, HALF_BLOCK_M, len(pick))
    dy = rng.uniform(-HALF_BLOCK_M, HALF_BLOCK_M, len(pick))
    return ux[pick] + dx, uy[pick] + dy


def build_places(
    rng: np.random.Generator, units: pl.DataFrame, people: int, employers: pl.DataFrame, mv: MovementConfig
) -> pl.DataFrame:
    """One row per place: place_id, kind, employer_id (workplaces), town, x, y, mass."""
    town = units["town"].to_numpy()
    ux, uy = units["x"].to_numpy(), units["y"].to_numpy()
    towns, town_idx = np.unique(town, return_inverse=True)
    share = np.bincount(town_idx, minlength=len(towns)) / len(town)
    by_town = [np.flatnonzero(town_idx == t) for t in range(len(towns))]
    kinds, anchors, emp = [], [], []
    n_emp = employers.height
    # workplaces: one per employer, anchored anywhere in the region (weighted by housing)
    kinds.append(np.zeros(n_emp, dtype=np.int64))
    anchors.append(rng.integers(0, len(town), n_emp))
    emp.append(employers["employer_id"].to_numpy())
    densities = mv.places.model_dump()
    for k, name in enumerate(PUBLIC, start=1):
        per_town = np.round(densities[name] / 1000.0 * people * share).astype(np.int64)
        if name in AT_LEAST_ONE:
            per_town = np.maximum(per_town, 1)
        for t in range(len(towns)):
            if per_town[t]:
                kinds.append(np.full(per_town[t], k, dtype=np.int64))
                anchors.append(by_town[t][rng.integers(0, len(by_town[t]), per_town[t])])
                emp.append(np.full(per_town[t], -1, dtype=np.int64))
    kind = np.concatenate(kinds)
    anchor = np.concatenate(anchors)
    employer = np.concatenate(emp)
    x, y = _anchor(rng, ux, uy, anchor)
    mass = np.ones(len(kind))
    for k in range(1, len(KINDS)):
        idx = np.flatnonzero(kind == k)
        mass[idx] = (1.0 + rng.permutation(len(idx))) ** -mv.place_zipf
    return pl.DataFrame(
        {
            "place_id": np.arange(len(kind), dtype=np.int64),
            "kind": np.array(KINDS, dtype=object)[kind],
            "employer_id": employer,
            "town": town[anchor],
            "x": x,
            "y": y,
            "mass": mass,
        },
        schema_overrides={"kind": pl.String, "town": pl.String},
    ).with_columns(employer_id=pl.when(pl.col("employer_id") >= 0).then(pl.col("employer_id")))


def nearest(px: np.ndarray, py: np.ndarray, qx: np.ndarray, qy: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Index into ``(px, py)`` of the point nearest each query point (brute force, in chunks)."""
    out = np.empty(len(qx), dtype=np.int64)
    step = max(1, chunk * 64 // max(1, len(px)))
    for lo in range(0, len(qx), step):
        hi = min(len(qx), lo + step)
        d = (qx[lo:hi, None] - px[None, :]) ** 2 + (qy[lo:hi, None] - py[None, :]) ** 2
        out[lo:hi] = d.argmin(axis=1)
    return out


@dataclass(frozen=True)
class Sampler:
    """Points to choose among, with Walker's alias table for drawing them in proportion to mass."""

    x: np.ndarray  # float32
    y: np.ndarray
    prob: np.ndarray  # float32: keep the drawn point below this, else take its alias
    alias: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def sampler(x: np.ndarray, y: np.ndarray, mass: np.ndarray | None = None) -> Sampler:
    """A :class:`Sampler` of points (x, y), drawn in proportion to ``mass`` (uniformly if None)."""
    n = len(x)
    prob = np.ones(n, dtype=np.float64)
    alias = np.arange(n, dtype=np.int64)
    if mass is not None and n:
        p = np.asarray(mass, dtype=np.float64) * n / float(np.sum(mass))
        small = [i for i in range(n) if p[i] < 1.0]
        large = [i for i in range(n) if p[i] >= 1.0]
        while small and large:  # Vose's method
            s, g = small.pop(), large.pop()
            prob[s], alias[s] = p[s], g
            p[g] -= 1.0 - p[s]
            (small if p[g] < 1.0 else large).append(g)
    return Sampler(np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32), prob.astype(np.float32), alias)


def gravity_choice(
    rng: np.random.Generator,
    ox: np.ndarray,
    oy: np.ndarray,
    points: Sampler,
    km_median: float,
    km_sigma: float,
    candidates: int,
) -> np.ndarray:
    """For each origin, a point of ``points`` chosen with probability ~ mass x kernel(distance).

    ``candidates`` points are drawn in proportion to mass (alias method), then one is taken in
    proportion to the log-normal distance kernel per unit area (the log-normal density over
    2 pi r), so the cost per origin does not grow with the number of points.
    """
    n = len(ox)
    if n == 0 or len(points) == 0:
        return np.zeros(0 if n == 0 else n, dtype=np.int64)
    j = rng.integers(0, len(points), (n, candidates))
    cand = np.where(rng.random((n, candidates), dtype=np.float32) < points.prob[j], j, points.alias[j])
    dx = points.x[cand] - np.asarray(ox, dtype=np.float32)[:, None]
    dy = points.y[cand] - np.asarray(oy, dtype=np.float32)[:, None]
    d = np.maximum(np.sqrt(dx * dx + dy * dy), np.float32(MIN_DISTANCE_M)) * np.float32(1e-3)
    z = (np.log(d) - np.float32(np.log(km_median))) * np.float32(1.0 / km_sigma)
    w = np.exp(np.float32(-0.5) * z * z) / (d * d)
    cw = np.cumsum(w, axis=1)
    pick = (cw < rng.random(n, dtype=np.float32)[:, None] * cw[:, -1:]).sum(axis=1)
    return cand[np.arange(n), np.minimum(pick, candidates - 1)]
