"""Truth lookups the pattern-of-life scorers share (``home_work``, ``device_link``, ``colocation``).

Their truth is about the audit window, not a case's as-of date: where the subject spent the most
minutes at home and at work in the window's stays, the devices they owned or carried in it, the
people they met in it (same location, overlapping in time). Relations that need one date (ties,
neighbours, coworkers, residents) are taken on the window's middle day.

A case is a case of these tasks when its clues hold a device identifier (``device_key`` in the
docket's truth); the others weigh nothing. Tables read from a world's signals that every system's
scorer needs (the identifiers seen, each identifier's person, the clue devices' pings) are kept
once per :class:`SignalWorld`, shared by the scorers of every system.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import polars as pl

from trailbench.tasks import truth
from trailbench.world.signal_world import identifiers_seen as seen_in

if TYPE_CHECKING:
    from trailbench.tasks.declare import ScoreContext
    from trailbench.world import World
    from trailbench.world.signal_world import SignalWorld

WORK_KINDS = ("work", "second_job", "informal_work")
TIMELINE_PINGS = 400  # at most this many pings in an explained case's timeline

T = TypeVar("T")
_CACHE: dict[tuple[int, str], Any] = {}
_LOCKS: dict[tuple[int, str], threading.Lock] = {}
_GUARD = threading.Lock()


def _forget(key: tuple[int, str]) -> None:
    with _GUARD:
        _CACHE.pop(key, None)
        _LOCKS.pop(key, None)


def cached(signals: SignalWorld, name: str, make: Callable[[], T]) -> T:
    """``make()`` once per signal world and name (thread-safe; dropped with the world)."""
    key = (id(signals), name)
    with _GUARD:
        if key in _CACHE:
            return _CACHE[key]
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock:
        with _GUARD:
            if key in _CACHE:
                return _CACHE[key]
        value = make()
        with _GUARD:
            _CACHE[key] = value
        weakref.finalize(signals, _forget, key)
        return value


# -- the window and the cases ------------------------------------------------------------------


def window_span(signals: SignalWorld) -> tuple[datetime, datetime]:
    """The audit window as naive datetimes: [t0, t1)."""
    return signals.t0.astype("datetime64[ms]").item(), signals.t1.astype("datetime64[ms]").item()


def middle_day(signals: SignalWorld) -> date:
    """The window's middle day: the date relations (ties, neighbours, residents) are taken on."""
    d = signals.window.start.astype("datetime64[D]") + np.timedelta64(signals.window.days // 2, "D")
    return d.astype(object)


def task_cases(ctx: ScoreContext) -> pl.DataFrame:
    """Every docket case: case_id, person_id, device_key, as_of (the window's middle day) and
    ``device_case`` (1 when the clues hold a device identifier and the world has signals, else 0)."""
    dt = ctx.docket_truth
    if "device_key" not in dt.columns:
        dt = dt.with_columns(device_key=pl.lit(None, dtype=pl.Int64))
    mid = middle_day(ctx.signals) if ctx.signals is not None else None
    has = pl.col("device_key").is_not_null() if ctx.signals is not None else pl.lit(False)
    return dt.select(
        "case_id",
        "person_id",
        pl.col("device_key").cast(pl.Int64),
        as_of=pl.lit(mid, dtype=pl.Date),
        device_case=has.cast(pl.Int64),
    ).sort("case_id")


# the strata every pattern task is sliced by (computed for each case in audit/cases.py)
STRATA = ("shift", "multiple_jobs", "informal_work", "building_density", "shared_device", "ping_density")


def zero_counts(
    cases: pl.DataFrame, counts: Iterable[str], cases_count: str, floats: Iterable[str] = ()
) -> pl.DataFrame:
    """One row per case: ``cases_count`` is the case's device clue (1 or 0), every other count 0
    (a float 0 for those in ``floats``)."""
    floats = set(floats)
    return cases.select(
        "case_id",
        *(
            pl.col("device_case").alias(c)
            if c == cases_count
            else pl.lit(0.0 if c in floats else 0, dtype=pl.Float64 if c in floats else pl.Int64).alias(c)
            for c in counts
        ),
    )


def clue_ids(ctx: ScoreContext, cases: pl.DataFrame) -> pl.DataFrame:
    """case_id, clue_id: the advertising ID each device case holds as a clue. Read from the docket
    systems see (``docket/cases.parquet`` beside the world) when it is there; else the advertising
    ID of the clue device with the clue's number of pings (the docket's truth keeps that count)."""
    assert ctx.signals is not None
    dc = cases.filter(pl.col("device_case") == 1).select("case_id", "device_key")
    if "device_id" in ctx.docket_truth.columns:
        got = ctx.docket_truth.select("case_id", clue_id="device_id")
        return dc.join(got, on="case_id").select("case_id", "clue_id").drop_nulls()
    path = ctx.signals.where / "docket" / "cases.parquet"
    if path.exists() and "device_id" in pl.read_parquet_schema(path):
        got = pl.read_parquet(path, columns=["case_id", "device_id"]).select("case_id", clue_id="device_id")
        return dc.join(got, on="case_id").select("case_id", "clue_id").drop_nulls()
    counts = ping_counts(ctx.signals)
    pings = (
        ctx.docket_truth.select("case_id", "clue_pings")
        if "clue_pings" in ctx.docket_truth.columns
        else dc.select("case_id", clue_pings=pl.lit(None, dtype=pl.UInt32))
    )
    cand = (
        dc.join(pings, on="case_id", how="left")
        .join(ctx.signals.ad_ids.select("device_key", clue_id="ad_id"), on="device_key")
        .join(counts.rename({"device_id": "clue_id"}), on="clue_id")
        .with_columns(hit=(pl.col("pings").cast(pl.Int64) == pl.col("clue_pings").cast(pl.Int64)).fill_null(False))
        .sort("case_id", "hit", "pings", "clue_id", descending=[False, True, True, False])
    )
    return cand.unique("case_id", keep="first", maintain_order=True).select("case_id", "clue_id")


# -- what systems could see --------------------------------------------------------------------


def ping_counts(signals: SignalWorld) -> pl.DataFrame:
    """device_id, pings: every advertising ID in the pings (once per world)."""
    return cached(signals, "ping_counts", signals.ping_counts)


def identifiers_seen(signals: SignalWorld) -> pl.Series:
    """Every identifier systems can see: advertising IDs with pings, MACs in the Wi-Fi sightings
    (the set answers are validated against), sorted, once per world."""
    return cached(signals, "identifiers_seen", lambda: seen_in(signals.where).sort().rename("identifier"))


def clue_pings(signals: SignalWorld, ids: Iterable[str]) -> pl.DataFrame:
    """The pings of these advertising IDs with their truth (read once per world and set of IDs)."""
    key = tuple(sorted(set(ids)))
    return cached(signals, "pings:" + str(hash(key)), lambda: signals.pings(key))


# -- devices and their people ------------------------------------------------------------------


def holders_in_window(signals: SignalWorld) -> pl.DataFrame:
    """device_key, person_id: everyone who carried each device in the window (distinct)."""
    t0, t1 = window_span(signals)
    return (
        signals.device_holders.filter((pl.col("start") < t1) & (pl.col("end") > t0))
        .select("device_key", "person_id")
        .unique()
        .sort("device_key", "person_id")
    )


def identifier_people(signals: SignalWorld) -> pl.DataFrame:
    """identifier, id_kind, device_key, owner, person: every identifier issued, with its device's
    owner and the person it stands for: the one person who carried the device in the window, or
    its owner when several did (a shared phone) or none did."""

    def make() -> pl.DataFrame:
        sole = (
            holders_in_window(signals)
            .group_by("device_key")
            .agg(n=pl.len(), sole=pl.col("person_id").first())
            .filter(pl.col("n") == 1)
            .select("device_key", "sole")
        )
        return (
            signals.device_ids.select("identifier", id_kind="kind", device_key="device_key", owner="person_id")
            .unique("identifier", keep="first")
            .join(sole, on="device_key", how="left")
            .with_columns(person=pl.coalesce("sole", "owner"))
            .drop("sole")
            .sort("identifier")
        )

    return cached(signals, "identifier_people", make)


def subject_devices(signals: SignalWorld, cases: pl.DataFrame) -> pl.DataFrame:
    """case_id, device_key: the devices each subject owned or carried in the window."""
    owned = signals.devices.select("device_key", person_id="person_id")
    carried = holders_in_window(signals)
    both = pl.concat([owned, carried]).unique()
    return cases.select("case_id", "person_id").join(both, on="person_id").select("case_id", "device_key").unique()


# -- where the subject lived and worked in the window ------------------------------------------


def loc_key() -> pl.Expr:
    """One integer per location: place_id for places, -(unit_id + 1) for housing units."""
    return pl.when(pl.col("place_id").is_not_null()).then(pl.col("place_id")).otherwise(-(pl.col("unit_id") + 1))


def subject_stays(signals: SignalWorld, cases: pl.DataFrame) -> pl.DataFrame:
    """The stays of each case's subject: case_id, stay_id, kind, place_id, unit_id, loc, x, y,
    start, end, minutes."""
    s = signals.stays.filter(pl.col("person_id").is_in(cases["person_id"].unique().implode()))
    return (
        cases.select("case_id", "person_id")
        .join(s, on="person_id")
        .select(
            "case_id",
            "stay_id",
            "kind",
            "place_id",
            "unit_id",
            loc_key().alias("loc"),
            "x",
            "y",
            "start",
            "end",
            minutes=(pl.col("end") - pl.col("start")).dt.total_minutes(),
        )
        .sort("case_id", "start")
    )


def true_places(signals: SignalWorld, world: World, cases: pl.DataFrame, stays: pl.DataFrame) -> pl.DataFrame:
    """One row per case: the true home (``home_unit``: the unit of the most home-stay minutes in the
    window; the household's home on the middle day when the subject has no home stay), its
    building, coordinates and address; the true work location (``work_loc``, of the most minutes in
    work, second-job and informal-work stays; null for a subject who did not work in the window)
    with its place or unit, coordinates and stay kind; and the subject's usual shift."""
    home = (
        stays.filter(pl.col("kind") == "home")
        .group_by("case_id", "unit_id")
        .agg(m=pl.col("minutes").sum())
        .sort("case_id", "m", "unit_id", descending=[False, True, False])
        .unique("case_id", keep="first", maintain_order=True)
        .select("case_id", stay_home="unit_id")
    )
    fallback = truth.unit_at(world, cases.select("case_id", "person_id", "as_of")).select(
        "case_id", res_home="true_unit"
    )
    units = world.units.select(
        home_unit="unit_id", home_building="building_id", home_x="x", home_y="y", home_address="address"
    )
    work = (
        stays.filter(pl.col("kind").is_in(WORK_KINDS))
        .group_by("case_id", "loc")
        .agg(
            m=pl.col("minutes").sum(),
            work_place=pl.col("place_id").first(),
            work_unit=pl.col("unit_id").first(),
            work_x=pl.col("x").first(),
            work_y=pl.col("y").first(),
            work_kind=pl.col("kind").mode().first(),
        )
        .sort("case_id", "m", "loc", descending=[False, True, False])
        .unique("case_id", keep="first", maintain_order=True)
        .select("case_id", "work_place", "work_unit", "work_x", "work_y", "work_kind", work_loc="loc")
    )
    shift = signals.schedules.select("person_id", "shift")
    return (
        cases.select("case_id", "person_id")
        .join(home, on="case_id", how="left")
        .join(fallback, on="case_id", how="left")
        .with_columns(home_unit=pl.coalesce("stay_home", "res_home"))
        .drop("stay_home", "res_home")
        .join(units, on="home_unit", how="left")
        .join(work, on="case_id", how="left")
        .join(shift, on="person_id", how="left")
        .with_columns(worked=pl.col("work_loc").is_not_null())
        .sort("case_id")
    )


# -- how two people are related ----------------------------------------------------------------


def relations(world: World, signals: SignalWorld, pairs: pl.DataFrame) -> pl.DataFrame:
    """For rows (case_id, person_id = the subject, other, as_of): ``pairs`` with ``tie_kind`` (the
    tie in force on as_of, null for none), ``household`` (same household), ``neighbour`` (same
    building on as_of), ``coworker`` (a formal job at the same employer on as_of) and
    ``same_shift`` (the same usual shift in the window)."""
    if pairs.height == 0:
        return pairs.with_columns(
            tie_kind=pl.lit(None, dtype=pl.String),
            household=pl.lit(False),
            neighbour=pl.lit(False),
            coworker=pl.lit(False),
            same_shift=pl.lit(False),
        )
    asks = pairs.select("case_id", "person_id", "as_of").unique("case_id")
    ties = truth.ties_at(world, asks).select("case_id", "other", tie_kind="kind")
    hh = world.people.select("person_id", "household_id")
    day = pairs["as_of"].drop_nulls().first()
    spells = truth.person_spells(world)
    if day is not None:
        spells = spells.filter(
            (pl.col("start") <= day) & (pl.col("end").is_null() | (pl.col("end") > pl.lit(day, dtype=pl.Date)))
        )
    bld = (
        spells.join(world.units.select("unit_id", "building_id"), on="unit_id")
        .select("person_id", "building_id")
        .unique("person_id", keep="first")
    )
    jobs = world.jobs.filter(~pl.col("informal").fill_null(False) & pl.col("employer_id").is_not_null())
    if day is not None:
        jobs = jobs.filter(
            (pl.col("start") <= day) & (pl.col("end").is_null() | (pl.col("end") > pl.lit(day, dtype=pl.Date)))
        )
    emp = jobs.select("person_id", "employer_id").unique()
    shift = signals.schedules.select("person_id", "shift")
    keys = pairs.select("case_id", "person_id", "other").unique()
    both_emp = (
        keys.join(emp, on="person_id")
        .join(emp.rename({"person_id": "other"}), on=["other", "employer_id"])
        .select("case_id", "other")
        .unique()
        .with_columns(coworker=pl.lit(True))
    )

    def attr(df: pl.DataFrame, col: str, side: str) -> pl.DataFrame:
        return df.rename({"person_id": side, col: f"{col}_{side}"})

    out = (
        pairs.join(ties, on=["case_id", "other"], how="left")
        .join(attr(hh, "household_id", "person_id"), on="person_id", how="left")
        .join(attr(hh, "household_id", "other"), on="other", how="left")
        .join(attr(bld, "building_id", "person_id"), on="person_id", how="left")
        .join(attr(bld, "building_id", "other"), on="other", how="left")
        .join(attr(shift, "shift", "person_id"), on="person_id", how="left")
        .join(attr(shift, "shift", "other"), on="other", how="left")
        .join(both_emp, on=["case_id", "other"], how="left")
    )
    return out.with_columns(
        household=(pl.col("household_id_person_id") == pl.col("household_id_other")).fill_null(False),
        neighbour=(pl.col("building_id_person_id") == pl.col("building_id_other")).fill_null(False),
        coworker=pl.col("coworker").fill_null(False),
        same_shift=(pl.col("shift_person_id") == pl.col("shift_other")).fill_null(False),
    ).drop(
        "household_id_person_id",
        "household_id_other",
        "building_id_person_id",
        "building_id_other",
        "shift_person_id",
        "shift_other",
    )


def meetings(signals: SignalWorld, pairs: pl.DataFrame) -> pl.DataFrame:
    """For rows (case_id, person_id = the subject, other): case_id, other, ``met_minutes`` (minutes
    the two spent at the same location at the same time in the window; 0 if they never met) and
    ``met_at`` (the kind of the subject's stay where they spent the most minutes together)."""
    keys = pairs.select("case_id", "person_id", "other").unique()
    if keys.height == 0:
        return keys.select("case_id", "other", met_minutes=pl.lit(0, dtype=pl.Int64), met_at=pl.lit(None, pl.String))
    people = pl.concat([keys["person_id"], keys["other"]]).unique().implode()
    st = signals.stays.filter(pl.col("person_id").is_in(people)).select(
        "person_id", "kind", loc_key().alias("loc"), "start", "end"
    )
    mine = keys.join(st, on="person_id").select("case_id", "other", "loc", "kind", s0="start", e0="end")
    theirs = st.select(other="person_id", loc="loc", s1="start", e1="end")
    both = mine.join(theirs, on=["other", "loc"])
    both = both.with_columns(
        overlap=(pl.min_horizontal("e0", "e1") - pl.max_horizontal("s0", "s1")).dt.total_minutes()
    ).filter(pl.col("overlap") > 0)
    per_kind = both.group_by("case_id", "other", "kind").agg(m=pl.col("overlap").sum())
    met = per_kind.group_by("case_id", "other").agg(
        met_minutes=pl.col("m").sum(), met_at=pl.col("kind").sort_by("m", descending=True).first()
    )
    return (
        keys.select("case_id", "other")
        .join(met, on=["case_id", "other"], how="left")
        .with_columns(pl.col("met_minutes").fill_null(0).cast(pl.Int64))
        .sort("case_id", "other")
    )


# -- geometry ----------------------------------------------------------------------------------


def nearest(qx: np.ndarray, qy: np.ndarray, px: np.ndarray, py: np.ndarray, chunk: int = 256) -> np.ndarray:
    """For each query point, the index of the nearest of the points (px, py) (the first on ties);
    -1 where the query is NaN or there are no points."""
    out = np.full(len(qx), -1, dtype=np.int64)
    ok = np.flatnonzero(~(np.isnan(qx) | np.isnan(qy)))
    if len(px) == 0 or len(ok) == 0:
        return out
    px64, py64 = np.asarray(px, dtype=np.float64), np.asarray(py, dtype=np.float64)
    for i in range(0, len(ok), chunk):
        j = ok[i : i + chunk]
        d = (qx[j, None] - px64[None, :]) ** 2 + (qy[j, None] - py64[None, :]) ** 2
        out[j] = np.argmin(d, axis=1)
    return out


def min_distance(points: pl.DataFrame, targets: pl.DataFrame, name: str) -> pl.DataFrame:
    """For rows (case_id, px, py) and targets (case_id, x, y): case_id and ``name``, the distance
    from each case's point to its nearest target (null when it has none)."""
    return (
        points.select("case_id", "px", "py")
        .join(targets.select("case_id", "x", "y"), on="case_id")
        .group_by("case_id")
        .agg(((pl.col("px") - pl.col("x")).pow(2) + (pl.col("py") - pl.col("y")).pow(2)).sqrt().min().alias(name))
    )


# -- explained cases and error types -----------------------------------------------------------


def error_types(system: str, task: str, causes: pl.Series) -> list[dict[str, Any]]:
    """``{system, task, cause, count, share}`` per cause of the task's wrong answers."""
    c = causes.drop_nulls()
    n = c.len()
    counts = c.value_counts(name="n").sort(c.name)
    return [
        {"system": system, "task": task, "cause": str(cause), "count": int(k), "share": round(k / n, 6)}
        for cause, k in zip(counts[c.name], counts["n"], strict=True)
    ]


def pick_explained(wrong: pl.DataFrame, per_cause: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """(cause, case_id): a few cases per cause at random (seeded), as ``audit.explain`` draws them."""
    out: list[tuple[str, str]] = []
    w = wrong.select("case_id", "cause").drop_nulls().unique().sort("cause", "case_id")
    for cause in sorted(set(w["cause"].to_list())):
        ids = w.filter(pl.col("cause") == cause)["case_id"].to_list()
        pick = sorted(rng.choice(len(ids), size=min(per_cause, len(ids)), replace=False).tolist())
        out += [(cause, ids[i]) for i in pick]
    return out


def plain(v: Any) -> Any:
    """A value as JSON holds it: numbers rounded, dates as ISO text, NaN as None."""
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return None if v != v else round(v, 1)
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return v


def timeline(
    signals: SignalWorld,
    pings: pl.DataFrame,
    stays: pl.DataFrame,
    answer_xy: tuple[float | None, float | None],
    home_xy: tuple[float | None, float | None],
    answer: dict[str, Any],
    truth_row: dict[str, Any],
) -> dict[str, Any]:
    """What a report draws for one explained case: the clue device's pings (minutes into the window,
    metres from the answered point and from the true home, source; at most ``TIMELINE_PINGS``,
    evenly spaced), the subject's true stays (start and end minute, kind), the answer and the truth."""
    t0 = window_span(signals)[0]
    n = pings.height
    if n > TIMELINE_PINGS:
        pings = pings[np.unique(np.linspace(0, n - 1, TIMELINE_PINGS).round().astype(np.int64)).tolist()]
    ax, ay = answer_xy
    hx, hy = home_xy
    p = pings.select(
        minute=(pl.col("t") - pl.lit(t0)).dt.total_milliseconds() / 60_000.0,
        d_answer=((pl.col("x") - ax) ** 2 + (pl.col("y") - ay) ** 2).sqrt()
        if ax is not None and ay is not None
        else pl.lit(None, dtype=pl.Float64),
        d_true=((pl.col("x") - hx) ** 2 + (pl.col("y") - hy) ** 2).sqrt()
        if hx is not None and hy is not None
        else pl.lit(None, dtype=pl.Float64),
        source=pl.col("source").cast(pl.String),
    ).with_columns(pl.col("minute", "d_answer", "d_true").cast(pl.Float64).round(1))
    s = stays.select(
        s=(pl.col("start") - pl.lit(t0)).dt.total_minutes(), e=(pl.col("end") - pl.lit(t0)).dt.total_minutes(), k="kind"
    )
    return {
        "t0": t0.isoformat(),
        "pings": [list(r) for r in p.iter_rows()],
        "stays": [[int(a), int(b), str(k)] for a, b, k in s.iter_rows()],
        "answer": plain(answer),
        "truth": plain(truth_row),
    }
