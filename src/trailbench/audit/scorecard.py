"""The scorecard: every metric per system, overall, by group and by stratum, with bootstrap
intervals and disparity ratios to a reference group; validated against the shipped schema."""

from __future__ import annotations

import functools
import json
import math
import platform
import subprocess
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import polars as pl

from trailbench import __version__
from trailbench.audit.bootstrap import interval, ratio_of, ratios, two_stage_weights
from trailbench.audit.schema import scorecard_schema
from trailbench.rng import stream
from trailbench.scenario import GROUPS, Scenario
from trailbench.stages import STAGES, stage_hash
from trailbench.systems.registry import shadowed_plugins
from trailbench.tasks import registry

WORLD = "world"  # the column naming the replicate world in the pooled case tables
TIMINGS = ("wall_s", "compute_s", "peak_memory_mb")  # kept in status.json, never in the scorecard (not reproducible)
DEPENDENCIES = ("numpy", "polars", "pyarrow", "duckdb", "splink", "pydantic", "jinja2")


def rounded(x: float) -> float | None:
    """A figure as the scorecard keeps it: six decimals, None where not finite."""
    return None if x is None or not np.isfinite(x) else round(float(x), 6)


def _sig(x: float) -> float | None:
    """A p-value to three significant digits (six decimals would round 1e-9 to 0)."""
    return None if x is None or not np.isfinite(x) else float(f"{float(x):.3g}")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "trailbench": __version__}
    for d in DEPENDENCIES:
        try:
            out[d] = version(d)
        except PackageNotFoundError:
            out[d] = "not installed"
    return out


def git_revision() -> str:
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if rev.returncode != 0:
        return "unknown"
    return rev.stdout.strip() + ("+modified" if dirty.stdout.strip() else "")


def reference_group(sc: Scenario, population: pl.DataFrame) -> str:
    """The scenario's reference group, or the largest (``population``: group, len)."""
    if sc.audit.reference_group:
        return sc.audit.reference_group
    counts = population.sort(["len", "group"], descending=[True, False])
    return str(counts["group"][0])


def _slices(t: pl.DataFrame, strata: tuple[str, ...]) -> list[tuple[str, str, np.ndarray]]:
    out = [("overall", "all", np.ones(t.height, dtype=bool))]
    g = t["group"].to_numpy()
    out += [("group", grp, g == grp) for grp in GROUPS]
    for s in strata:
        col = t[s].cast(pl.String).to_numpy()  # a case with no value (null) is in no level
        out += [(s, lvl, col == lvl) for lvl in sorted({v for v in col.tolist() if v is not None})]
    return out


def operating_point(
    t: pl.DataFrame,
    w: np.ndarray,
    m: Any,
    budget: float,
    slices: list[tuple[str, str, np.ndarray]],
    shared: dict[Any, np.ndarray] | None = None,
) -> list[tuple[float, np.ndarray, float]]:
    """A budget metric per slice: the numerator's rate at the score threshold that keeps
    ``m.budget_count`` per 100 cases within ``budget`` over all cases (the system abstaining below
    it), found again in every bootstrap replicate. Thresholds sit between distinct scores, so tied
    scores are answered or withheld together; withholding every answer is always allowed."""
    score = t[m.score_column].cast(pl.Float64).to_numpy()
    answered = ~np.isnan(score)
    order = np.lexsort((np.arange(len(score)), -np.where(answered, score, -np.inf)))
    na = int(answered.sum())
    s_sorted = score[order][:na]
    ends = np.flatnonzero(np.r_[s_sorted[1:] != s_sorted[:-1], True]) if na else np.zeros(0, dtype=np.int64)
    c = t[m.numerator].to_numpy().astype(float)
    d = t[m.budget_count].to_numpy().astype(float)

    # Column 0 is the point estimate (every case once), columns 1.. the bootstrap replicates. Every
    # system has the same cases and weights, so they are stacked and transposed once (``shared``):
    # a case's weights are then one contiguous row, and only the rows of the cases that carry load
    # or count are ever gathered. Resample counts are small integers, exact in float32.
    shared = {} if shared is None else shared
    if "WT" not in shared:
        wt = np.empty((len(score), len(w) + 1), dtype=np.float32)
        wt[:, 0] = 1.0
        wt[:, 1:] = w.T
        shared["WT"] = wt
        shared["total"] = wt.sum(axis=0, dtype=np.float64)
    WT, total = shared["WT"], shared["total"]
    # Both the load and the numerator only grow as the threshold falls, so the best threshold
    # within the budget is the lowest one whose load fits. The load's running sum over the cases
    # that carry it is non-decreasing, so in each replicate the carrying cases that fit form a
    # prefix (``inside``); a threshold fits when no more of them than that sit above it.
    cut = np.full(len(total), -1)  # the last sorted position answered in each replicate; -1: none
    if len(ends):
        carry = np.flatnonzero(d[order])  # sorted positions of the cases carrying load
        before = np.searchsorted(carry, ends, side="right")  # loaded cases up to each threshold
        cols = order[carry]
        running = np.cumsum(WT[cols].astype(np.float64) * d[cols, None], axis=0)  # (carrying cases, B+1)
        with np.errstate(invalid="ignore", divide="ignore"):
            inside = (running * 100.0 / total[None, :] <= budget + 1e-9).sum(axis=0)
        fits = np.searchsorted(before, inside, side="right")
        cut = np.where(fits > 0, ends[np.maximum(fits - 1, 0)], -1)
    pos = np.empty(len(score), dtype=np.int64)
    pos[order] = np.arange(len(score))
    hit = np.flatnonzero(c)  # only cases that count towards the numerator matter below
    masks = np.column_stack([mask for _, _, mask in slices]).astype(float)  # (n, S)
    kept = np.where(pos[hit][:, None] <= cut[None, :], WT[hit], np.float32(0))  # (hit cases, B+1)
    hits = ((c[hit, None] * masks[hit]).astype(np.float32).T @ kept).T.astype(np.float64)  # (B+1, S)
    key = ("n", tuple((k, lv) for k, lv, _ in slices))
    if key not in shared:
        shared[key] = (masks.T.astype(np.float32) @ WT).T.astype(np.float64)
    n = shared[key]
    with np.errstate(invalid="ignore", divide="ignore"):
        val = np.where(n > 0, hits / np.where(n > 0, n, 1), np.nan)
    return [(float(val[0, k]), val[1:, k], float(masks[:, k].sum())) for k in range(len(slices))]


Key = tuple[str, str, str, str]  # metric, task, slice, level


@dataclass
class Replicates:
    """Every declared metric of one system over its slices: point estimates, bootstrap replicates
    (one row per replicate, one column per key), denominators and cases per slice."""

    keys: list[Key]
    point: np.ndarray
    reps: np.ndarray
    dsum: np.ndarray
    n_cases: dict[tuple[str, str], int]

    def column(self, key: Key) -> int:
        return self.keys.index(key)

    def estimable(self, key: Key, min_cases: int) -> bool:
        """Enough to estimate: overall and bystander slices always; a group or stratum slice needs
        ``min_cases`` cases and as many of what its rate is a share of (wrong answers for an
        error share, say), or a rate of 8 of 8 bootstraps to no variance at all."""
        kind, level = key[2], key[3]
        if kind in ("overall", "bystander_group"):
            return True
        i = self.column(key)
        return bool(min(self.n_cases.get((kind, level), 0), self.dsum[i]) >= min_cases)


def declared_over(tasks: tuple[str, ...] | None, over: str) -> dict[str, Any]:
    """The declared metrics over ``over`` of ``tasks`` (every task when None), in scorecard order."""
    return {k: m for k, m in registry.metrics().items() if (tasks is None or m.task in tasks) and m.over == over}


def metric_replicates(
    t: pl.DataFrame,
    w: np.ndarray,
    sc: Scenario,
    pop: dict[str, int],
    shared: dict[Any, np.ndarray] | None = None,
    tasks: tuple[str, ...] | None = None,
    over: str = "cases",
) -> Replicates:
    """Every declared metric over ``over`` (the docket's cases, or a unit table) of every task (of
    ``tasks``: those the system takes part in; all when None) over its slices, under resample
    weights ``w`` (rows of ``t``)."""
    declared = declared_over(tasks, over)
    sliced: dict[tuple[str, ...], list[tuple[str, str, np.ndarray]]] = {}
    cols_num, cols_den, rkeys = [], [], []
    n_cases: dict[tuple[str, str], int] = {}
    budget: dict[tuple[str, str, str, str], tuple[float, np.ndarray, float]] = {}
    order: list[tuple[str, str, str, str]] = []
    for m in declared.values():
        if m.by_bystander:  # by the bystander's own group: all cases, scaled by the group's population
            den = t[m.denominator].to_numpy().astype(float)
            for g in GROUPS:
                scale = m.scale / pop[g] if pop.get(g) else np.nan
                cols_num.append(t[m.numerator.format(group=g)].to_numpy().astype(float) * scale)
                cols_den.append(den)
                rkeys.append((m.name, m.task, "bystander_group", g))
            order += rkeys[-len(GROUPS) :]
            continue
        strata = registry.task(m.task).strata if "strata" in m.slices else ()
        if strata not in sliced:
            sliced[strata] = _slices(t, strata)
        slices = [
            (kind, level, mask)
            for kind, level, mask in sliced[strata]
            if kind == "overall" or (kind == "group" and "group" in m.slices) or (kind not in ("overall", "group"))
        ]
        for kind, level, mask in slices:
            n_cases[(kind, level)] = int(mask.sum())
        if m.kind == "budget":
            for (kind, level, _), res in zip(
                slices, operating_point(t, w, m, sc.audit.wrong_door_budget, slices, shared), strict=True
            ):
                budget[(m.name, m.task, kind, level)] = res
                order.append((m.name, m.task, kind, level))
            continue
        num = t[m.numerator].to_numpy().astype(float)
        den = t[m.denominator].to_numpy().astype(float)
        for kind, level, mask in slices:
            cols_num.append(num * mask * m.scale)
            cols_den.append(den * mask)
            rkeys.append((m.name, m.task, kind, level))
            order.append(rkeys[-1])
    if not cols_num:  # a system that takes part in no ratio metric (only budget ones, or none)
        cols_num, cols_den = [np.zeros(t.height)], [np.zeros(t.height)]
    N, D = np.column_stack(cols_num), np.column_stack(cols_den)
    rpoint, rreps, rdsum = ratios(N, D, w)
    where = {k: i for i, k in enumerate(rkeys)}
    keys = order
    point = np.array([budget[k][0] if k in budget else rpoint[where[k]] for k in keys])
    if not keys:  # takes part in no task
        return Replicates(keys, point, np.zeros((w.shape[0], 0)), np.zeros(0), n_cases)
    reps = np.column_stack([budget[k][1] if k in budget else rreps[:, where[k]] for k in keys])
    dsum = np.array([budget[k][2] if k in budget else rdsum[where[k]] for k in keys])
    return Replicates(keys, point, reps, dsum, n_cases)


def system_metrics(
    name: str,
    t: pl.DataFrame,
    w: np.ndarray,
    sc: Scenario,
    pop: dict[str, int],
    ref: str,
    shared: dict[Any, np.ndarray] | None = None,
    tasks: tuple[str, ...] | None = None,
    units: dict[str, tuple[pl.DataFrame, np.ndarray, dict[Any, np.ndarray]]] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every declared metric of every task it takes part in over its slices, and its group
    disparities: over the cases (``t``, ``w``) and over each unit table (``units``: unit ->
    its table, weights and shared cache). One Holm family for all of them."""
    rows, disp = _block_metrics(name, t, w, sc, pop, ref, shared, tasks, "cases")
    for unit, (ut, uw, ushared) in (units or {}).items():
        r, d = _block_metrics(name, ut, uw, sc, pop, ref, ushared, tasks, unit)
        rows += r
        disp += d
    holm(disp, 1.0 - sc.audit.confidence)
    return rows, disp


def _block_metrics(
    name: str,
    t: pl.DataFrame,
    w: np.ndarray,
    sc: Scenario,
    pop: dict[str, int],
    ref: str,
    shared: dict[Any, np.ndarray] | None,
    tasks: tuple[str, ...] | None,
    over: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The metric rows and disparities (not yet adjusted) of the metrics over ``over``."""
    declared = declared_over(tasks, over)
    rep = metric_replicates(t, w, sc, pop, shared, tasks, over)
    keys, point, reps, dsum, n_cases = rep.keys, rep.point, rep.reps, rep.dsum, rep.n_cases
    lo, hi = interval(reps, sc.audit.confidence)
    rows = []
    for i, (mname, task, kind, level) in enumerate(keys):
        rows.append(
            {
                "system": name,
                "metric": mname,
                "task": task,
                "slice": kind,
                "level": level,
                "value": rounded(point[i]),
                "lo": rounded(lo[i]),
                "hi": rounded(hi[i]),
                "denominator": rounded(dsum[i]),
                "cases": n_cases.get((kind, level), t.height),
                # too few to estimate: shown as such, never with an interval that spans the axis
                "estimable": rep.estimable(keys[i], sc.audit.min_group_cases),
            }
        )
    # disparities: each group's rate over the reference group's, per replicate (paired)
    index = {k: i for i, k in enumerate(keys)}
    pairs: list[tuple[int, int, str, str]] = []
    for m in declared.values():
        kind = "bystander_group" if m.by_bystander else "group"
        if not m.disparity or (kind, ref) not in {(k[2], k[3]) for k in keys if k[0] == m.name}:
            continue
        ri = index[(m.name, m.task, kind, ref)]
        for g in GROUPS:
            gi = index[(m.name, m.task, kind, g)]
            if not (rows[gi]["estimable"] and rows[ri]["estimable"]):
                continue
            pairs.append((gi, ri, m.name, kind))
    disp = []
    if pairs:
        ga = np.array([p[0] for p in pairs])
        ra = np.array([p[1] for p in pairs])
        ratio, rr = ratio_of(point[ga], point[ra]), ratio_of(reps[:, ga], reps[:, ra])
        dlo, dhi = interval(rr, sc.audit.confidence)
        p = wald_p(ratio, rr)
        for k, (g_i, r_i, mname, kind) in enumerate(pairs):
            disp.append(
                {
                    "system": name,
                    "metric": mname,
                    "slice": kind,
                    "level": keys[g_i][3],
                    "reference": ref,
                    "ratio": rounded(ratio[k]),
                    "lo": rounded(dlo[k]),
                    "hi": rounded(dhi[k]),
                    "p": None if g_i == r_i else _sig(p[k]),
                }
            )
    return rows, disp


def wald_p(ratio: np.ndarray, reps: np.ndarray) -> np.ndarray:
    """Two-sided p-value of each ratio against 1, on the log scale with the bootstrap's standard
    error (NIST reports demographic differentials on a log scale). A percentile p-value from B
    replicates cannot go below 2/B, which no multiplicity correction over dozens of comparisons
    would ever pass; the normal approximation on the log scale can. NaN where the ratio is 0,
    undefined, or fewer than half the replicates are."""
    with np.errstate(invalid="ignore", divide="ignore"):
        logs = np.log(np.where(reps > 0, reps, np.nan))
        ok = np.isfinite(logs)
        n = ok.sum(axis=0)
        mean = np.where(ok, logs, 0).sum(axis=0) / np.maximum(n, 1)
        var = np.where(ok, (logs - mean) ** 2, 0).sum(axis=0) / np.maximum(n - 1, 1)
        z = np.log(np.where(ratio > 0, ratio, np.nan)) / np.sqrt(var)
    p = np.array([math.erfc(abs(x) / math.sqrt(2)) if np.isfinite(x) else np.nan for x in z])
    p[(n < reps.shape[0] / 2) | (var == 0)] = np.nan
    return p


def holm(rows: list[dict[str, Any]], alpha: float) -> None:
    """Holm's step-down adjustment over every disparity of one system (the family: each group
    against the reference, for every metric compared): adds ``p_holm`` and ``detected`` (the gap
    is named only where its adjusted p-value is below ``alpha``; a reference row is never a gap)."""
    tested = sorted((r["p"], i) for i, r in enumerate(rows) if r["p"] is not None)
    m = len(tested)
    running = 0.0
    for j, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (m - j) * p))
        rows[i]["p_holm"] = _sig(running)
    for r in rows:
        r.setdefault("p_holm", None)
        r["detected"] = r["p_holm"] is not None and r["p_holm"] < alpha


def exposure_replicates(drawn: pl.DataFrame, cases: pl.DataFrame, w: np.ndarray) -> tuple[int, np.ndarray]:
    """(distinct people drawn in, the same figure in each bootstrap replicate).

    A distinct count is not a sum over cases, and a naive bootstrap of it is biased low (a
    resample holds only about 63% of the distinct cases). Each person is therefore attributed in
    equal parts to the cases that drew them in (1/k to each of k cases): the per-case parts add up
    to the distinct count exactly, and their weighted sums give unbiased replicates. People and
    cases are told apart by world (``cases``: world, case_id, in the weights' order)."""
    idx = cases.select(WORLD, "case_id").with_columns(c=pl.int_range(pl.len()))
    d = drawn.join(idx, on=[WORLD, "case_id"]).select(WORLD, "person_id", "c").unique()
    d = d.with_columns(part=1.0 / pl.len().over(WORLD, "person_id"))
    per_case = np.bincount(d["c"].to_numpy(), weights=d["part"].to_numpy(), minlength=cases.height)
    return d.select(WORLD, "person_id").n_unique(), w @ per_case


def exposure_row(
    system: str, drawn: pl.DataFrame, cases: pl.DataFrame, w: np.ndarray, population: int, confidence: float
) -> dict[str, Any]:
    """Distinct people outside the docket drawn into any case file, as a share of the population
    (both summed over the worlds)."""
    n, exposed = exposure_replicates(drawn, cases, w)
    lo, hi = interval((exposed / population)[:, None], confidence)
    return {
        "system": system,
        "people": int(n),
        "share": rounded(n / population),
        "lo": rounded(lo[0]),
        "hi": rounded(hi[0]),
    }


def world_sizes(t: pl.DataFrame) -> list[int]:
    """Cases per world, in the order the case table holds them (world 0 first)."""
    return t.group_by(WORLD, maintain_order=True).len()["len"].to_list()


def bootstrap_weights(sc: Scenario, t: pl.DataFrame, over: str = "cases") -> np.ndarray:
    """The run's resample weights: worlds, then cases (or the units of a unit table, each on a
    stream of its own) within each (one world: cases only)."""
    key = ("audit", "bootstrap") if over == "cases" else ("audit", "bootstrap", over)
    return two_stage_weights(stream(sc.seed, *key), world_sizes(t), sc.audit.bootstrap)


def build_scorecard(
    sc: Scenario,
    cases_by_system: dict[str, pl.DataFrame],
    statuses: dict[str, dict[str, Any]],
    population: pl.DataFrame,
    exposure: dict[str, pl.DataFrame],
    error_types: list[dict[str, Any]],
    explained: list[dict[str, Any]],
    curves: list[dict[str, Any]] | None = None,
    seeds: list[int] | None = None,
    spread: list[dict[str, Any]] | None = None,
    realism: list[dict[str, Any]] | None = None,
    answered: dict[str, tuple[str, ...]] | None = None,
    units_by_system: dict[str, dict[str, pl.DataFrame]] | None = None,
) -> dict[str, Any]:
    """``cases_by_system``: each system's case table pooled over the worlds (world, then case
    order); ``population``: people by group (group, len) summed over the worlds; ``spread``: the
    per-world figures (:func:`world_spread`); ``answered``: the tasks each system takes part in
    (its metrics are of those tasks only; every task when not given)."""
    answered = answered or {}
    pop = dict(zip(*population.sort("group").select("group", "len").to_dict(as_series=False).values(), strict=True))
    ref = reference_group(sc, population)
    any_t = next(iter(cases_by_system.values()))
    w = bootstrap_weights(sc, any_t)
    metrics: list[dict[str, Any]] = []
    disparities: list[dict[str, Any]] = []
    shared: dict[Any, np.ndarray] = {}  # what every system's metrics share (same cases, same weights)
    units_by_system = units_by_system or {}
    any_u = next(iter(units_by_system.values()), {})
    weights: dict[str, tuple[np.ndarray, dict[Any, np.ndarray]]] = {
        u: (bootstrap_weights(sc, t, u), {}) for u, t in any_u.items()
    }
    for name, t in cases_by_system.items():
        own = units_by_system.get(name, {})
        blocks = {u: (own[u], weights[u][0], weights[u][1]) for u in own}
        m, d = system_metrics(name, t, w, sc, pop, ref, shared, answered.get(name), blocks)
        metrics += m
        disparities += d
    docket_groups = any_t.group_by("group").len().sort("group")
    n_pop = int(sum(pop.values()))
    card = {
        "trailbench_version": __version__,
        "scenario_name": sc.name,
        "seed": sc.seed,
        "worlds": len(world_sizes(any_t)),
        "world_seeds": list(seeds or [sc.seed]),
        "scenario_hash": sc.hash8,
        "stage_hashes": {s: stage_hash(sc, s) for s in STAGES},
        "scenario": sc.model_dump(mode="json"),
        "versions": versions(),
        "git_revision": git_revision(),
        "reference_group": ref,
        "confidence": sc.audit.confidence,
        "bootstrap": sc.audit.bootstrap,
        "multiplicity": {
            "method": "holm",
            "family": "every disparity of one system (each group against the reference, every metric)",
            "alpha": rounded(1.0 - sc.audit.confidence),
            "test": "two-sided, on the log ratio with the bootstrap's standard error",
        },
        "population": {"people": n_pop, "by_group": {g: int(pop.get(g, 0)) for g in GROUPS}},
        "docket": {
            "cases": int(any_t.height),
            "by_group": dict(zip(docket_groups["group"].to_list(), docket_groups["len"].to_list(), strict=True)),
        },
        "units": {u: _unit_summary(t) for u, t in any_u.items()},
        "systems": {
            k: {kk: vv for kk, vv in v.items() if kk not in TIMINGS}
            | {"answers": list(answered.get(k, [t.name for t in registry.tasks()]))}
            for k, v in statuses.items()
        },
        "ignored_plugins": shadowed_plugins(),
        "definitions": {k: m.definition for k, m in registry.metrics().items()},
        "declarations": {
            "tasks": {t.name: t.version for t in registry.tasks()},
            "metrics": {k: m.version for k, m in registry.metrics().items()},
        },
        "metrics": metrics,
        "disparities": disparities,
        "world_spread": spread or [],
        "realism": [r | {"measured": rounded(r["measured"])} for r in realism or []],
        "exposure": [exposure_row(s, drawn, any_t, w, n_pop, sc.audit.confidence) for s, drawn in exposure.items()],
        "error_types": error_types,
        "explained_cases": explained,
        "curves": [_finite(c) for c in (curves or [])],
        "wrong_door_budget": sc.audit.wrong_door_budget,
    }
    validate_scorecard(card)
    return card


def _unit_summary(t: pl.DataFrame) -> dict[str, Any]:
    """A unit table's size summed over the worlds, and by group."""
    g = t.drop_nulls("group").group_by("group").len().sort("group")
    return {"count": int(t.height), "by_group": dict(zip(g["group"].to_list(), g["len"].to_list(), strict=True))}


def world_figures(
    sc: Scenario,
    cases_by_system: dict[str, pl.DataFrame],
    people: list[pl.DataFrame],
    answered: dict[str, tuple[str, ...]] | None = None,
    units_by_system: dict[str, dict[str, pl.DataFrame]] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every metric and disparity of every system in each world on its own (point estimates):
    the per-world figures the pooled ones are built from, for anyone to check."""
    mrows: list[dict[str, Any]] = []
    drows: list[dict[str, Any]] = []
    for k, by_group in enumerate(people):
        pop = dict(zip(by_group["group"].to_list(), by_group["len"].to_list(), strict=True))
        ref = reference_group(sc, by_group)
        for name, t in cases_by_system.items():
            own = t.filter(pl.col(WORLD) == k)
            blocks: dict[str, tuple[pl.DataFrame, np.ndarray, dict[Any, np.ndarray]]] = {}
            for u, ut in (units_by_system or {}).get(name, {}).items():
                mine = ut.filter(pl.col(WORLD) == k)
                blocks[u] = (mine, np.zeros((0, mine.height)), {})
            m, d = system_metrics(
                name, own, np.zeros((0, own.height)), sc, pop, ref, {}, (answered or {}).get(name), blocks
            )
            mrows += [
                {WORLD: k} | {c: r[c] for c in ("system", "metric", "task", "slice", "level", "value", "cases")}
                for r in m
            ]
            drows += [
                {WORLD: k} | {c: r[c] for c in ("system", "metric", "slice", "level", "reference", "ratio")} for r in d
            ]
    return pl.DataFrame(mrows), pl.DataFrame(drows)


def world_spread(metrics: pl.DataFrame) -> list[dict[str, Any]]:
    """Each summary metric's value in every world, overall and by group, for the report's spread."""
    summary = [m.name for m in registry.metrics().values() if m.summary]
    keep = metrics.filter(pl.col("metric").is_in(summary) & pl.col("slice").is_in(["overall", "group"]))
    grouped = keep.group_by("system", "metric", "slice", "level", maintain_order=True).agg(
        pl.col("value").sort_by(WORLD)
    )
    return [
        {
            "system": r["system"],
            "metric": r["metric"],
            "slice": r["slice"],
            "level": r["level"],
            "values": [rounded(v) if v is not None else None for v in r["value"]],
        }
        for r in grouped.iter_rows(named=True)
    ]


def _finite(curve: dict[str, Any]) -> dict[str, Any]:
    """JSON has no infinity: the first point (answer nothing) gets a null threshold."""
    pts = [[None if isinstance(x, float) and not np.isfinite(x) else x for x in p] for p in curve["points"]]
    return curve | {"points": pts}


@functools.lru_cache(maxsize=4)
def _validator(schema_text: str) -> Any:
    schema = json.loads(schema_text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_scorecard(card: dict[str, Any]) -> None:
    """Check a scorecard against the schema generated from today's declarations (the validator is
    built once per schema: checking the schema itself costs more than checking a card)."""
    _validator(json.dumps(scorecard_schema(), sort_keys=True)).validate(card)
