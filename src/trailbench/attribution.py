"""Attribution (DESIGN §6): every disparity re-measured with each mechanism switched off, on the
same worlds, with paired intervals.

The baseline is the run itself (``run_dir``); each switch, on its own and all together
(:data:`trailbench.mechanisms.ALL`), is a run of its own under ``run_dir/attribution/<switch>/``
with the same seed and so the same world seeds (cached stages are reused on a re-run). Every
configuration's pooled case table is resampled with the same two-stage bootstrap weights (they
depend only on the seed, the number of resamples and the cases per world), so a switch's ratio
and the baseline's are paired replicate by replicate. The share of a gap a switch removes is
measured on the log scale, ``1 - log(r_switch) / log(r_base)``: 1 closes the gap, 0 leaves it,
a negative share widens it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from trailbench import __version__, mechanisms
from trailbench.audit.bootstrap import interval, ratio_of
from trailbench.audit.scorecard import WORLD, Replicates, bootstrap_weights, metric_replicates, rounded
from trailbench.audit.units import UNITS
from trailbench.io import write_table_json
from trailbench.pipeline import run_all
from trailbench.report.attribution import FILE
from trailbench.report.html import render_report
from trailbench.scenario import GROUPS, Scenario, ScenarioError, parse_scenario
from trailbench.tasks import registry
from trailbench.tasks.declare import Metric

BASELINE = "baseline"
MIN_GAP = 0.01  # a baseline ratio within 1% of 1 has no gap to share out
ALL_TITLE = "every switch together"

Note = Callable[[str], None]
Pair = tuple[str, str, str, str]  # system, metric, slice, group


def default_switches() -> list[str]:
    """Every declared mechanism on its own, then all together."""
    return [m.name for m in mechanisms.MECHANISMS] + [mechanisms.ALL]


def parse_switches(text: str | None) -> list[str]:
    """``a,b+c,all`` -> the switches named (checked; each once, in the order given): each is one
    configuration, ``b+c`` the two mechanisms together; none: every mechanism, then all."""
    if text is None or not text.strip():
        return default_switches()
    names = list(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    for s in names:
        mechanisms.names_of(parts(s))  # raises ScenarioError for an unknown name
    return names


def parts(switch: str) -> list[str]:
    """The mechanisms of one configuration: ``a+b`` is a and b together."""
    return [p.strip() for p in switch.split("+")]


def switch_dir(run: Path, switch: str) -> Path:
    return run if switch == BASELINE else run / "attribution" / switch


def configurations(sc: Scenario, switches: list[str]) -> dict[str, Scenario]:
    """The baseline and each switch's scenario (every equal value computed from ``sc``)."""
    return {BASELINE: sc} | {s: mechanisms.apply(sc, parts(s)) for s in switches}


def _prefixed(note: Note, name: str) -> Note:
    return lambda msg: note(f"{name}: {msg}")


def default_jobs() -> int:
    """Configurations run side by side: one per core, at most four (each holds one world at a time)."""
    return max(1, min(4, os.cpu_count() or 1))


class _Children:
    """Configurations run as child processes (``python -m trailbench.attribution``), so that no
    caller's ``__main__`` is imported again and nothing is forked from a threaded parent."""

    def __init__(self, use_sandbox: bool) -> None:
        self.use_sandbox = use_sandbox
        self.procs: list[subprocess.Popen[str]] = []
        self.lock = threading.Lock()
        self.stopped = False

    def run(self, name: str, sc: Scenario, where: Path) -> None:
        cmd = [
            sys.executable,
            "-m",
            "trailbench.attribution",
            str(where),
            *([] if self.use_sandbox else ["--no-sandbox"]),
        ]
        with self.lock:
            if self.stopped:
                return
            proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            self.procs.append(proc)
        out, err = proc.communicate(sc.model_dump_json())
        if proc.returncode != 0 and not self.stopped:
            lines = (err or out).strip().splitlines()
            raise ScenarioError(f"{name}: {lines[-1] if lines else f'exit status {proc.returncode}'}")

    def stop(self) -> None:
        """End every child still running (they are this process's own)."""
        with self.lock:
            self.stopped = True
            for p in self.procs:
                if p.poll() is None:
                    p.terminate()


def run_configurations(
    configs: dict[str, Scenario], run: Path, use_sandbox: bool, note: Note, jobs: int
) -> dict[str, dict[str, Any]]:
    """Run (or reuse) every configuration; return each one's scorecard. With ``jobs`` > 1 they run
    in that many child processes (the systems are single-threaded, so this is what uses the cores)."""
    if jobs <= 1 or len(configs) == 1:
        for name, sc in configs.items():
            run_all(sc, switch_dir(run, name), note=_prefixed(note, name), use_sandbox=use_sandbox)
    else:
        children = _Children(use_sandbox)
        note(f"{len(configs)} configurations, {min(jobs, len(configs))} side by side")
        with ThreadPoolExecutor(max_workers=min(jobs, len(configs))) as pool:
            futures = {pool.submit(children.run, n, sc, switch_dir(run, n)): n for n, sc in configs.items()}
            try:
                for fut in as_completed(futures):
                    fut.result()
                    note(f"{futures[fut]}: done")
            except BaseException:
                children.stop()
                pool.shutdown(cancel_futures=True)
                raise
    return {name: json.loads((switch_dir(run, name) / "scorecard.json").read_text()) for name in configs}


def disparity_metrics() -> list[Metric]:
    """The disparities attributed: those of the headline and bystander metrics."""
    return [m for m in registry.metrics().values() if m.disparity and (m.headline or m.by_bystander)]


def log_shrink(base: np.ndarray, switched: np.ndarray) -> np.ndarray:
    """``1 - log(switched) / log(base)``: the share of the gap, on the log scale, a switch removes;
    NaN where the base ratio is within 1% of 1 (no gap to share out) or either is not positive."""
    base, switched = np.asarray(base, dtype=float), np.asarray(switched, dtype=float)
    ok = (base > 0) & (switched > 0) & (np.abs(base - 1.0) > MIN_GAP)
    with np.errstate(invalid="ignore", divide="ignore"):
        lb = np.log(np.where(ok, base, 2.0))
        return np.where(ok, 1.0 - np.log(np.where(ok, switched, 1.0)) / lb, np.nan)


def measure(
    run: Path, sc: Scenario, card: dict[str, Any], ref: str
) -> tuple[dict[Pair, tuple[float, np.ndarray]], np.ndarray]:
    """Every attributed disparity of one configuration: (point ratio, replicate ratios) per pair
    (NaN for a group with too few cases), and the bootstrap weights used."""
    pop = {g: int(n) for g, n in card["population"]["by_group"].items()}
    out: dict[Pair, tuple[float, np.ndarray]] = {}
    w: np.ndarray | None = None
    for over in ("cases", *card.get("units", {})):
        if not (run / "outcomes" / f"{over}.parquet").exists():
            continue
        table = pl.read_parquet(run / "outcomes" / f"{over}.parquet")
        key = "case_id" if over == "cases" else UNITS[over].key
        ws = None
        shared: dict[Any, np.ndarray] = {}  # the systems of one configuration share rows and weights
        for system in sc.systems.run:
            t = table.filter(pl.col("system") == system).sort(WORLD, key)
            ws = bootstrap_weights(sc, t, over) if ws is None else ws
            if over == "cases":
                w = ws
            rep = metric_replicates(t, ws, sc, pop, shared, over=over)
            out |= _pairs(system, rep, sc, ref, ws, over)
    assert w is not None, "a scenario runs at least one system"
    return out, w


def _pairs(
    system: str, rep: Replicates, sc: Scenario, ref: str, w: np.ndarray, over: str
) -> dict[Pair, tuple[float, np.ndarray]]:
    """The attributed disparities over ``over`` of one system's replicates."""
    out: dict[Pair, tuple[float, np.ndarray]] = {}
    for m in [m for m in disparity_metrics() if m.over == over]:
        kind = "bystander_group" if m.by_bystander else "group"
        ref_key = (m.name, m.task, kind, ref)
        r = rep.column(ref_key)
        for g in GROUPS:
            if g == ref:
                continue
            key = (m.name, m.task, kind, g)
            i = rep.column(key)
            least = sc.audit.min_group_cases
            small = not (rep.estimable(key, least) and rep.estimable(ref_key, least))
            point = np.nan if small else float(ratio_of(rep.point[i], rep.point[r]))
            reps = np.full(len(w), np.nan) if small else ratio_of(rep.reps[:, i], rep.reps[:, r])
            out[(system, m.name, kind, g)] = (point, reps)
    return out


def attribution_rows(
    base: dict[Pair, tuple[float, np.ndarray]],
    switched: dict[str, dict[Pair, tuple[float, np.ndarray]]],
    ref: str,
    confidence: float,
) -> list[dict[str, Any]]:
    """One row per (disparity, switch): the baseline ratio, the switch's, and the share of the gap
    it removes, each with its interval from the paired replicates."""
    pairs = [p for p, (point, _) in base.items() if np.isfinite(point)]
    if not pairs:
        return []
    b_point = np.array([base[p][0] for p in pairs])
    b_reps = np.column_stack([base[p][1] for p in pairs])
    b_lo, b_hi = interval(b_reps, confidence)
    rows = []
    for name, own in switched.items():
        s_point = np.array([own[p][0] for p in pairs])
        s_reps = np.column_stack([own[p][1] for p in pairs])
        s_lo, s_hi = interval(s_reps, confidence)
        shrink = log_shrink(b_point, s_point)
        k_lo, k_hi = interval(log_shrink(b_reps, s_reps), confidence)
        for j, (system, metric, kind, group) in enumerate(pairs):
            gap = np.isfinite(shrink[j])
            rows.append(
                {
                    "system": system,
                    "metric": metric,
                    "slice": kind,
                    "group": group,
                    "reference": ref,
                    "switch": name,
                    "base_ratio": rounded(b_point[j]),
                    "base_lo": rounded(b_lo[j]),
                    "base_hi": rounded(b_hi[j]),
                    "ratio": rounded(s_point[j]),
                    "lo": rounded(s_lo[j]),
                    "hi": rounded(s_hi[j]),
                    "shrink": rounded(shrink[j]),
                    "shrink_lo": rounded(k_lo[j]) if gap else None,
                    "shrink_hi": rounded(k_hi[j]) if gap else None,
                }
            )
    return rows


def switch_info(sc: Scenario, name: str, configs: dict[str, Scenario], run: Path) -> dict[str, Any]:
    """What a switch is and what it set on this scenario."""
    if name == mechanisms.ALL:
        head = {"title": ALL_TITLE, "description": "every mechanism switched off at once", "source": ""}
    else:
        ms = [mechanisms.BY_NAME[p] for p in mechanisms.names_of(parts(name))]
        head = {
            "title": " + ".join(m.title for m in ms),
            "description": "; ".join(m.description for m in ms),
            "source": "; ".join(m.source for m in ms),
        }
    return {
        "name": name,
        **head,
        "overrides": mechanisms.overrides(sc, parts(name)),
        "scenario_hash": configs[name].hash8,
        "run_dir": str(switch_dir(run, name).relative_to(run)),
    }


def attribute(
    sc: Scenario,
    run: Path,
    switches: list[str] | None = None,
    use_sandbox: bool = True,
    note: Note = lambda s: None,
    jobs: int | None = None,
) -> dict[str, Any]:
    """Run the baseline and every switch, measure what each switch does to every disparity, write
    ``run/attribution.json`` and re-render the baseline's report; return what was written."""
    chosen = default_switches() if switches is None else switches
    configs = configurations(sc, chosen)
    cards = run_configurations(configs, run, use_sandbox, note, jobs or default_jobs())
    note("attribution: measuring paired disparities")
    ref = cards[BASELINE]["reference_group"]
    base, w = measure(run, sc, cards[BASELINE], ref)
    switched = {}
    for name in chosen:
        if cards[name]["world_seeds"] != cards[BASELINE]["world_seeds"]:
            raise ScenarioError(f"attribution: {name} was run on other worlds than the baseline")
        switched[name], w_s = measure(switch_dir(run, name), configs[name], cards[name], ref)
        # paired: the same resample of worlds and cases for every configuration
        if w_s.shape != w.shape or not np.array_equal(w_s, w):
            raise ScenarioError(
                f"attribution: {name} has {w_s.shape[1]} cases against the baseline's {w.shape[1]}; the replicates "
                "cannot be paired (each world's docket must keep its size: lower docket.cases)"
            )
    result = {
        "trailbench_version": __version__,
        "scenario_name": sc.name,
        "scenario_hash": sc.hash8,
        "seed": sc.seed,
        "worlds": len(cards[BASELINE]["world_seeds"]),
        "world_seeds": cards[BASELINE]["world_seeds"],
        "bootstrap": sc.audit.bootstrap,
        "confidence": sc.audit.confidence,
        "reference_group": ref,
        "systems": list(sc.systems.run),
        "switches": [switch_info(sc, name, configs, run) for name in chosen],
        "rows": attribution_rows(base, switched, ref, sc.audit.confidence),
    }
    write_table_json(result, run / FILE)
    note("report: rendering")
    render_report(run)
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m trailbench.attribution RUN_DIR [--no-sandbox]``: one configuration (its scenario
    as JSON on stdin) run into RUN_DIR; how :func:`run_configurations` runs them side by side."""
    args = sys.argv[1:] if argv is None else argv
    try:
        run_all(parse_scenario(json.loads(sys.stdin.read())), Path(args[0]), use_sandbox="--no-sandbox" not in args)
    except ScenarioError as err:
        print(err, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
