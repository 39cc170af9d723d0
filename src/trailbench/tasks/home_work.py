"""``home_work`` (skip tracing from a device): where the subject lives and works in the audit window.

A case of this task holds a device identifier among its clues (others weigh nothing). The answer's
rank-1 row of each place (``home``, ``work``) is scored against the truth of the audit window:

- **home**: the unit of the most home-stay minutes. The door an answer points to is the unit its
  ``address_text`` names when that resolves in the register (the one resolver of ``locate``); a
  building when the text names only a multi-unit building; else the building nearest (x, y) (its
  unit when it has one). Levels, each implying the next: ``unit``, ``building``, ``within_100m``,
  ``within_250m`` (distance from (x, y), or the named door, to the true home); else ``wrong``.
- **work**: the location (place, or the unit of an informal work site) of the most minutes in
  work, second-job and informal-work stays; none for a subject who did not work in the window.
  Levels: ``place`` (the location nearest (x, y), over places and for informal work units, is
  the true one: for a unit, its building), ``within_100m``, ``within_250m``; else ``wrong``.

People at the wrong home: for a home answer that points to a door other than the subject's (a
wrong unit, or another building named without a unit), its residents on the window's middle day,
the subject's household left out; a multi-unit building named without its unit counts each
resident for 1/k, k its occupied units, as ``locate`` does. The subject's own building named
without its unit counts no one.

Causes come from the truth: a home answer at the subject's work location (``home-at-workplace``;
``home-at-night-shift-workplace`` for night-shift workers: fixed rest hours read work as home),
``neighbour-unit``, ``unit-missing``, ``nearby-building``, ``frequent-place`` (another place the
subject stayed at), ``home-elsewhere``; a work answer at home (``work-at-home``), near the work
location (``work-nearby``), at another work location of the subject (``work-at-other-job``), at
another place they stayed (``work-at-other-stay``), ``work-elsewhere``, or given for a subject
who did not work in the window (``no-work-in-window``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from trailbench.address import building_key, resolve
from trailbench.scenario import GROUPS
from trailbench.tasks import pattern_truth as pt
from trailbench.tasks import truth
from trailbench.tasks.declare import Metric, ScoreContext, Scored, Task
from trailbench.world import World

HOME_LEVELS = ("unit", "building", "within_100m", "within_250m")
WORK_LEVELS = ("place", "within_100m", "within_250m")
NEAR, AROUND = 100.0, 250.0  # metres
HOME_CAUSES = (
    "home-at-night-shift-workplace",
    "home-at-workplace",
    "neighbour-unit",
    "unit-missing",
    "nearby-building",
    "frequent-place",
    "home-elsewhere",
)
WORK_CAUSES = (
    "work-at-home",
    "work-nearby",
    "work-at-other-job",
    "work-at-other-stay",
    "work-elsewhere",
    "no-work-in-window",
)

COUNTS: tuple[str, ...] = (
    "home_work_cases",
    "home_answered",
    "home_unit",
    "home_building",
    "home_within_100m",
    "home_within_250m",
    "home_wrong_door",
    "home_at_workplace",
    "home_residents",
    "home_children",
    "worked",
    "work_answered",
    "work_place",
    "work_within_100m",
    "work_within_250m",
    *(f"home_bystanders_{g}" for g in GROUPS),
)
FLOAT_COUNTS = ("home_residents", "home_children", *(f"home_bystanders_{g}" for g in GROUPS))


def _top(answers: pl.DataFrame, cases: pl.DataFrame, place: str) -> pl.DataFrame:
    """The rank-1 answer of one place for each device case."""
    for c, t in TASK.optional_columns.items():
        if c not in answers.columns:
            answers = answers.with_columns(pl.lit(None, dtype=t).alias(c))
    return (
        answers.filter(pl.col("place") == place)
        .join(cases.select("case_id"), on="case_id", how="semi")
        .sort("case_id", "rank", maintain_order=True)
        .unique("case_id", keep="first", maintain_order=True)
        .select(
            "case_id",
            ax=pl.col("x").cast(pl.Float64),
            ay=pl.col("y").cast(pl.Float64),
            radius_m=pl.col("radius_m").cast(pl.Float64),
            address_text=pl.col("address_text").cast(pl.String),
            score=pl.col("score").cast(pl.Float64),
            answered=pl.lit(True),
        )
    )


def _buildings(world: World) -> pl.DataFrame:
    return (
        world.units.with_columns(bkey=building_key(pl.col("number"), pl.col("street"), pl.col("town")))
        .group_by("building_id")
        .agg(
            bx=pl.col("x").first(),
            by=pl.col("y").first(),
            n_units=pl.len(),
            only_unit=pl.col("unit_id").min(),
            bkey=pl.col("bkey").first(),
        )
        .sort("building_id")
    )


def _point_doors(df: pl.DataFrame, world: World, register: pl.DataFrame) -> pl.DataFrame:
    """Add ``pointed_unit`` and ``pointed_building`` (the door each answer points to) and ``px``,
    ``py`` (the answered point: (x, y), or the named door's when no coordinates were given)."""
    res = resolve(df.select("case_id", "address_text"), register)
    units = world.units.select("unit_id", "building_id", "address")
    blds = _buildings(world)
    res = (
        res.join(units.rename({"address": "resolved_address"}), on="resolved_address", how="left")
        .join(
            blds.select(resolved_building="bkey", named_building="building_id").unique(
                "resolved_building", keep="none"
            ),
            on="resolved_building",
            how="left",
        )
        .select("case_id", named_unit="unit_id", named_unit_building="building_id", named_building="named_building")
    )
    df = df.join(res, on="case_id", how="left")
    qx = df["ax"].fill_null(np.nan).to_numpy()
    qy = df["ay"].fill_null(np.nan).to_numpy()
    idx = pt.nearest(qx, qy, blds["bx"].to_numpy(), blds["by"].to_numpy())
    near_b = np.where(idx >= 0, blds["building_id"].to_numpy()[np.maximum(idx, 0)], -1)
    near_u = np.where(
        (idx >= 0) & (blds["n_units"].to_numpy()[np.maximum(idx, 0)] == 1),
        blds["only_unit"].to_numpy()[np.maximum(idx, 0)],
        -1,
    )
    df = df.with_columns(
        near_building=pl.Series(near_b).replace(-1, None), near_unit=pl.Series(near_u).replace(-1, None)
    )
    by_text = pl.col("named_unit").is_not_null() | pl.col("named_building").is_not_null()
    df = df.with_columns(
        pointed_unit=pl.when(pl.col("named_unit").is_not_null())
        .then(pl.col("named_unit"))
        .when(pl.col("named_building").is_not_null())
        .then(None)
        .otherwise(pl.col("near_unit")),
        pointed_building=pl.when(pl.col("named_unit").is_not_null())
        .then(pl.col("named_unit_building"))
        .when(by_text)
        .then(pl.col("named_building"))
        .otherwise(pl.col("near_building")),
    )
    door = blds.select(pointed_building="building_id", bx="bx", by="by")
    df = df.join(door, on="pointed_building", how="left").with_columns(
        px=pl.when(pl.col("ax").is_not_null() & pl.col("ay").is_not_null()).then(pl.col("ax")).otherwise(pl.col("bx")),
        py=pl.when(pl.col("ax").is_not_null() & pl.col("ay").is_not_null()).then(pl.col("ay")).otherwise(pl.col("by")),
    )
    return df.drop("named_unit", "named_unit_building", "named_building", "near_building", "near_unit", "bx", "by")


def _dist(x: str, y: str) -> pl.Expr:
    return ((pl.col("px") - pl.col(x)).pow(2) + (pl.col("py") - pl.col(y)).pow(2)).sqrt()


def _targets(stays: pl.DataFrame, kinds: tuple[str, ...] | None = None) -> pl.DataFrame:
    """case_id, loc, x, y: the distinct locations of the subject's stays of these kinds (None: every
    kind but home and work)."""
    keep = pl.col("kind").is_in(kinds) if kinds is not None else ~pl.col("kind").is_in([*pt.WORK_KINDS, "home"])
    return stays.filter(keep).select("case_id", "loc", "x", "y").unique()


def score_home(
    ctx: ScoreContext, cases: pl.DataFrame, places: pl.DataFrame, stays: pl.DataFrame, answers: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(one row per device case: the home answer scored; one row per person at a wrong home)."""
    world = ctx.world
    top = _top(answers, cases, "home")
    df = places.join(top, on="case_id", how="left").with_columns(pl.col("answered").fill_null(False))
    df = df.join(cases.select("case_id", "as_of"), on="case_id")
    df = _point_doors(df, world, ctx.trails.address_register)
    work_locs = _targets(stays, pt.WORK_KINDS)
    other_locs = _targets(stays)
    df = (
        df.join(pt.min_distance(df.filter("answered"), work_locs, "d_work"), on="case_id", how="left")
        .join(pt.min_distance(df.filter("answered"), other_locs, "d_other"), on="case_id", how="left")
        .with_columns(distance_m=_dist("home_x", "home_y"))
    )
    unit_ok = (pl.col("pointed_unit") == pl.col("home_unit")).fill_null(False)
    bld_ok = (pl.col("pointed_building") == pl.col("home_building")).fill_null(False)
    d = pl.col("distance_m")
    within100 = bld_ok | (d <= NEAR).fill_null(False)
    within250 = within100 | (d <= AROUND).fill_null(False)
    outcome = (
        pl.when(~pl.col("answered"))
        .then(pl.lit("no-answer"))
        .when(unit_ok)
        .then(pl.lit("unit"))
        .when(bld_ok)
        .then(pl.lit("building"))
        .when(within100)
        .then(pl.lit("within_100m"))
        .when(within250)
        .then(pl.lit("within_250m"))
        .otherwise(pl.lit("wrong"))
    )
    at_work = ((pl.col("d_work") <= NEAR) & (pl.col("d_work") < d)).fill_null(False)
    cause = (
        pl.when(~pl.col("answered") | unit_ok)
        .then(pl.lit(None, dtype=pl.String))
        .when(bld_ok & pl.col("pointed_unit").is_not_null())
        .then(pl.lit("neighbour-unit"))
        .when(bld_ok)
        .then(pl.lit("unit-missing"))
        .when(at_work & (pl.col("shift") == "night").fill_null(False))
        .then(pl.lit("home-at-night-shift-workplace"))
        .when(at_work)
        .then(pl.lit("home-at-workplace"))
        .when((d <= AROUND).fill_null(False))
        .then(pl.lit("nearby-building"))
        .when(((pl.col("d_other") <= NEAR) & (pl.col("d_other") < d)).fill_null(False))
        .then(pl.lit("frequent-place"))
        .otherwise(pl.lit("home-elsewhere"))
    )
    wrong_unit = pl.col("pointed_unit").is_not_null() & ~unit_ok
    wrong_bld = pl.col("pointed_unit").is_null() & pl.col("pointed_building").is_not_null() & ~bld_ok
    df = df.with_columns(
        outcome=outcome,
        cause=cause,
        wrong_door=pl.col("answered") & (wrong_unit | wrong_bld),
        wrong_unit=pl.col("answered") & wrong_unit,
        wrong_bld=pl.col("answered") & wrong_bld,
    )
    residents = _wrong_home_residents(world, df)
    per = residents.group_by("case_id").agg(
        residents=pl.col("weight").sum(), children=(pl.col("weight") * pl.col("child").cast(pl.Float64)).sum()
    )
    df = df.join(per, on="case_id", how="left").with_columns(
        pl.col("residents").fill_null(0.0), pl.col("children").fill_null(0.0)
    )
    return df, residents


def _wrong_home_residents(world: World, df: pl.DataFrame) -> pl.DataFrame:
    """case_id, person_id, unit_id, group, child, weight: the people behind each wrong home door on
    the window's middle day, the subject's household left out."""
    hh = world.people.select("person_id", "household_id")
    at_units = truth.residents_at(
        world, df.filter("wrong_unit").select("case_id", "as_of", unit_id="pointed_unit")
    ).with_columns(weight=pl.lit(1.0))
    at_blds = truth.building_residents(
        world,
        df.filter("wrong_bld").select(
            "case_id", "as_of", building_id="pointed_building", own_unit=pl.lit(None, dtype=pl.Int64)
        ),
    )
    cols = ("case_id", "person_id", "unit_id", "group", "child", "weight")
    both = pl.concat([at_units.select(cols), at_blds.select(cols)])
    subj = df.select("case_id", "person_id").join(hh, on="person_id").select("case_id", own_household="household_id")
    return (
        both.join(hh, on="person_id", how="left")
        .join(subj, on="case_id", how="left")
        .filter(pl.col("own_household").is_null() | (pl.col("household_id") != pl.col("own_household")))
        .select(cols)
        .sort("case_id", "person_id")
    )


def score_work(
    ctx: ScoreContext, cases: pl.DataFrame, places: pl.DataFrame, stays: pl.DataFrame, answers: pl.DataFrame
) -> pl.DataFrame:
    """One row per device case: the work answer scored."""
    world, sig = ctx.world, ctx.signals
    assert sig is not None
    top = _top(answers, cases, "work")
    df = places.join(top, on="case_id", how="left").with_columns(pl.col("answered").fill_null(False))
    df = df.join(cases.select("case_id", "as_of"), on="case_id")
    # a work answer given only as an address: the point of the door it names
    df = _point_doors(df, world, ctx.trails.address_register).drop("pointed_unit", "pointed_building")
    qx = df["px"].fill_null(np.nan).to_numpy()
    qy = df["py"].fill_null(np.nan).to_numpy()
    pl_ = sig.places.sort("place_id")
    ip = pt.nearest(qx, qy, pl_["x"].to_numpy(), pl_["y"].to_numpy())
    dp = np.where(
        ip >= 0,
        np.hypot(qx - pl_["x"].to_numpy()[np.maximum(ip, 0)], qy - pl_["y"].to_numpy()[np.maximum(ip, 0)]),
        np.inf,
    )
    informal = df["work_unit"].is_not_null().to_numpy()
    un = world.units.sort("unit_id")
    iu = np.full(len(qx), -1, dtype=np.int64)
    if informal.any():
        sel = np.flatnonzero(informal)
        iu[sel] = pt.nearest(qx[sel], qy[sel], un["x"].to_numpy(), un["y"].to_numpy())
    du = np.where(
        iu >= 0,
        np.hypot(qx - un["x"].to_numpy()[np.maximum(iu, 0)], qy - un["y"].to_numpy()[np.maximum(iu, 0)]),
        np.inf,
    )
    use_unit = (iu >= 0) & (du < dp)
    near_place = np.where((ip >= 0) & ~use_unit, pl_["place_id"].to_numpy()[np.maximum(ip, 0)], -1)
    near_bld = np.where(use_unit, un["building_id"].to_numpy()[np.maximum(iu, 0)], -1)
    df = df.with_columns(
        nearest_place=pl.Series(near_place).replace(-1, None),
        nearest_building=pl.Series(near_bld).replace(-1, None),
    )
    wb = world.units.select(work_unit="unit_id", work_building="building_id")
    df = df.join(wb, on="work_unit", how="left")
    other_jobs = (
        stays.filter(pl.col("kind").is_in(pt.WORK_KINDS))
        .join(places.select("case_id", "work_loc"), on="case_id")
        .filter(pl.col("loc") != pl.col("work_loc"))
    )
    other_locs = _targets(stays)
    ans = df.filter("answered")
    df = (
        df.join(pt.min_distance(ans, _targets(other_jobs, pt.WORK_KINDS), "d_other_job"), on="case_id", how="left")
        .join(pt.min_distance(ans, other_locs, "d_other"), on="case_id", how="left")
        .with_columns(distance_m=_dist("work_x", "work_y"), d_home=_dist("home_x", "home_y"))
    )
    place_ok = (
        pl.when(pl.col("work_place").is_not_null())
        .then(pl.col("nearest_place") == pl.col("work_place"))
        .otherwise(pl.col("nearest_building") == pl.col("work_building"))
        .fill_null(False)
    )
    d = pl.col("distance_m")
    within100 = place_ok | (d <= NEAR).fill_null(False)
    within250 = within100 | (d <= AROUND).fill_null(False)
    outcome = (
        pl.when(~pl.col("worked"))
        .then(pl.lit("not-working"))
        .when(~pl.col("answered"))
        .then(pl.lit("no-answer"))
        .when(place_ok)
        .then(pl.lit("place"))
        .when(within100)
        .then(pl.lit("within_100m"))
        .when(within250)
        .then(pl.lit("within_250m"))
        .otherwise(pl.lit("wrong"))
    )
    cause = (
        pl.when(~pl.col("answered") | (pl.col("worked") & place_ok))
        .then(pl.lit(None, dtype=pl.String))
        .when(~pl.col("worked"))
        .then(pl.lit("no-work-in-window"))
        .when(((pl.col("d_home") <= NEAR) & (pl.col("d_home") < d)).fill_null(False))
        .then(pl.lit("work-at-home"))
        .when((d <= AROUND).fill_null(False))
        .then(pl.lit("work-nearby"))
        .when(((pl.col("d_other_job") <= NEAR) & (pl.col("d_other_job") < d)).fill_null(False))
        .then(pl.lit("work-at-other-job"))
        .when(((pl.col("d_other") <= NEAR) & (pl.col("d_other") < d)).fill_null(False))
        .then(pl.lit("work-at-other-stay"))
        .otherwise(pl.lit("work-elsewhere"))
    )
    return df.with_columns(outcome=outcome, cause=cause)


# -- counts, tables, explained cases ----------------------------------------------------------


def _zero_counts(cases: pl.DataFrame) -> pl.DataFrame:
    return pt.zero_counts(cases, COUNTS, "home_work_cases", FLOAT_COUNTS)


def case_counts(cases: pl.DataFrame, home: pl.DataFrame, work: pl.DataFrame, residents: pl.DataFrame) -> pl.DataFrame:
    """One row per docket case with every count the metrics are ratios of (0 for cases without a
    device clue)."""
    o = pl.col("outcome")
    h = home.select(
        "case_id",
        home_answered=pl.col("answered").cast(pl.Int64),
        home_unit=(o == "unit").cast(pl.Int64),
        home_building=o.is_in(HOME_LEVELS[:2]).cast(pl.Int64),
        home_within_100m=o.is_in(HOME_LEVELS[:3]).cast(pl.Int64),
        home_within_250m=o.is_in(HOME_LEVELS).cast(pl.Int64),
        home_wrong_door=pl.col("wrong_door").cast(pl.Int64),
        home_at_workplace=pl.col("cause").is_in(HOME_CAUSES[:2]).fill_null(False).cast(pl.Int64),
        home_residents=pl.col("residents").cast(pl.Float64),
        home_children=pl.col("children").cast(pl.Float64),
    )
    w = work.select(
        "case_id",
        worked=pl.col("worked").cast(pl.Int64),
        work_answered=(pl.col("worked") & pl.col("answered")).cast(pl.Int64),
        work_place=(o == "place").cast(pl.Int64),
        work_within_100m=o.is_in(WORK_LEVELS[:2]).cast(pl.Int64),
        work_within_250m=o.is_in(WORK_LEVELS).cast(pl.Int64),
    )
    by_group = residents.group_by("case_id").agg(
        *(pl.col("weight").filter(pl.col("group") == g).sum().alias(f"home_bystanders_{g}") for g in GROUPS)
    )
    zero = _zero_counts(cases).select("case_id", "home_work_cases")
    out = (
        zero.join(h, on="case_id", how="left")
        .join(w, on="case_id", how="left")
        .join(by_group, on="case_id", how="left")
    )
    return out.select(
        "case_id",
        *(
            pl.col(c).fill_null(0.0 if c in FLOAT_COUNTS else 0).cast(pl.Float64 if c in FLOAT_COUNTS else pl.Int64)
            for c in COUNTS
        ),
    ).sort("case_id")


def outcome_table(home: pl.DataFrame, work: pl.DataFrame) -> pl.DataFrame:
    """One row per (device case, place): the rank-1 answer, its outcome, cause, distance, the
    answered and true points, and the people at a wrong home door."""
    common = (
        "case_id",
        "person_id",
        "place",
        "outcome",
        "cause",
        "distance_m",
        "answered_x",
        "answered_y",
        "address_text",
        "radius_m",
        "score",
        "pointed_unit",
        "pointed_building",
        "true_loc",
        "true_x",
        "true_y",
        "true_address",
        "residents",
        "children",
        "shift",
    )
    h = home.with_columns(
        place=pl.lit("home"),
        answered_x=pl.col("px"),
        answered_y=pl.col("py"),
        true_loc=-(pl.col("home_unit") + 1),
        true_x=pl.col("home_x"),
        true_y=pl.col("home_y"),
        true_address=pl.col("home_address"),
    ).select(common)
    w = work.with_columns(
        place=pl.lit("work"),
        answered_x=pl.col("px"),
        answered_y=pl.col("py"),
        pointed_unit=pl.lit(None, dtype=pl.Int64),
        pointed_building=pl.lit(None, dtype=pl.Int64),
        true_loc=pl.col("work_loc"),
        true_x=pl.col("work_x"),
        true_y=pl.col("work_y"),
        true_address=pl.lit(None, dtype=pl.String),
        residents=pl.lit(0.0),
        children=pl.lit(0.0),
    ).select(common)
    return pl.concat([h, w.cast(dict(h.schema))]).sort("case_id", "place")  # type: ignore[arg-type]


def _m(v: Any) -> str:
    return "–" if v is None or v != v else f"{float(v):,.0f} m"


def _xy(x: Any, y: Any) -> str:
    return "–" if x is None or y is None else f"({float(x):,.0f}, {float(y):,.0f})"


def explained(
    ctx: ScoreContext,
    cases: pl.DataFrame,
    table: pl.DataFrame,
    home: pl.DataFrame,
    work: pl.DataFrame,
    stays: pl.DataFrame,
) -> list[dict[str, Any]]:
    """A few wrong answers per cause, each with its chain and the timeline of the clue's pings."""
    sig = ctx.signals
    assert sig is not None
    picks = pt.pick_explained(table.filter(pl.col("cause").is_not_null()), ctx.scenario.audit.explained_cases, ctx.rng)
    if not picks:
        return []
    clues = pt.clue_ids(ctx, cases)
    clue_of = dict(zip(clues["case_id"], clues["clue_id"], strict=True))
    wanted = pl.Series([clue_of[c] for _, c in picks if c in clue_of], dtype=pl.String).implode()
    pings = pt.clue_pings(sig, clues["clue_id"].to_list()).filter(pl.col("device_id").cast(pl.String).is_in(wanted))
    by_clue = pings.partition_by("device_id", as_dict=True, include_key=True)
    picked = pl.Series([c for _, c in picks]).implode()
    stays_of = stays.filter(pl.col("case_id").is_in(picked)).partition_by("case_id", as_dict=True)
    homes = {r["case_id"]: r for r in home.filter(pl.col("case_id").is_in(picked)).iter_rows(named=True)}
    works = {r["case_id"]: r for r in work.filter(pl.col("case_id").is_in(picked)).iter_rows(named=True)}
    dev = sig.devices.select("device_key", "role")
    holders = pt.holders_in_window(sig).group_by("device_key").agg(carriers=pl.len())
    key_of = dict(zip(cases["case_id"], cases["device_key"], strict=True))
    out = []
    for cause, case_id in picks:
        row = table.filter((pl.col("case_id") == case_id) & (pl.col("cause") == cause)).row(0, named=True)
        h, w = homes[case_id], works[case_id]
        clue = clue_of.get(case_id)
        mine = by_clue.get((clue,), pings.clear())
        dk = key_of.get(case_id)
        role = dev.filter(pl.col("device_key") == dk)["role"].to_list()
        carriers = holders.filter(pl.col("device_key") == dk)["carriers"].to_list()
        others = int((mine["person_id"] != h["person_id"]).sum()) if mine.height else 0
        sources = mine["source"].cast(pl.String).value_counts().sort("source") if mine.height else None
        src = ", ".join(f"{s} {n}" for s, n in sources.iter_rows()) if sources is not None else "none"
        near = {
            "home-at-night-shift-workplace": "at the subject's work location; the subject works nights",
            "home-at-workplace": "at the subject's work location",
            "neighbour-unit": "another unit of the subject's building",
            "unit-missing": "the subject's building, without its unit",
            "nearby-building": "another building within 250 m of the subject's home",
            "frequent-place": "at another place the subject stayed at in the window",
            "home-elsewhere": "nowhere the subject spent time",
            "work-at-home": "at the subject's home",
            "work-nearby": "within 250 m of the subject's work location, not it",
            "work-at-other-job": "at another work location of the subject",
            "work-at-other-stay": "at another place the subject stayed at in the window",
            "work-elsewhere": "nowhere the subject worked",
            "no-work-in-window": "the subject did not work in the window",
        }[cause]
        chain: list[dict[str, Any]] = [
            {
                "step": "clue",
                "value": f"advertising ID {clue or '–'} of the subject's {role[0] if role else ''} phone"
                f"{'; shared: ' + str(carriers[0]) + ' people carried it' if carriers and carriers[0] > 1 else ''}",
            },
            {
                "step": "its pings in the window",
                "value": f"{mine.height} ({src}); {others} while someone else carried it",
            },
            {
                "step": f"answered {row['place']}",
                "value": f"{_xy(row['answered_x'], row['answered_y'])}"
                f"{' ' + row['address_text'] if row['address_text'] else ''}; {_m(row['distance_m'])} from the true "
                f"{row['place']}",
            },
            {"step": "where that is", "value": near},
            {
                "step": "true home",
                "value": f"{h['home_address'] or '–'} {_xy(h['home_x'], h['home_y'])}",
            },
            {
                "step": "true work",
                "value": "none in the window"
                if not w["worked"]
                else f"{w['work_kind']} at {_xy(w['work_x'], w['work_y'])}; usual shift {h['shift'] or '–'}",
            },
        ]
        if row["place"] == "home" and row["residents"]:
            chain.append({"step": "people at the answered door", "value": round(float(row["residents"]), 2)})
        answer = {
            "place": row["place"],
            "x": row["answered_x"],
            "y": row["answered_y"],
            "address_text": row["address_text"],
            "pointed_unit": row["pointed_unit"],
            "pointed_building": row["pointed_building"],
        }
        truth_row = {
            "home_unit": h["home_unit"],
            "home_address": h["home_address"],
            "home_x": h["home_x"],
            "home_y": h["home_y"],
            "work_kind": w["work_kind"],
            "work_x": w["work_x"],
            "work_y": w["work_y"],
            "shift": h["shift"],
        }
        tl = pt.timeline(
            sig,
            mine,
            stays_of.get((case_id,), stays.clear()),
            (row["answered_x"], row["answered_y"]),
            (h["home_x"], h["home_y"]),
            answer,
            truth_row,
        )
        out.append(
            {
                "system": ctx.system,
                "task": "home_work",
                "case_id": case_id,
                "outcome": row["outcome"],
                "cause": cause,
                "chain": pt.plain(chain),
                "timeline": tl,
            }
        )
    return out


def score(ctx: ScoreContext, answers: pl.DataFrame | None) -> Scored:
    cases = pt.task_cases(ctx)
    if answers is None or ctx.signals is None:
        return Scored(_zero_counts(cases))
    dc = cases.filter(pl.col("device_case") == 1)
    stays = pt.subject_stays(ctx.signals, dc)
    places = pt.true_places(ctx.signals, ctx.world, dc, stays)
    home, residents = score_home(ctx, dc, places, stays, answers)
    work = score_work(ctx, dc, places, stays, answers)
    table = outcome_table(home, work)
    out = Scored(case_counts(cases, home, work, residents))
    out.tables = {"home_work": table, "home_work_residents": residents}
    out.error_types = pt.error_types(ctx.system, "home_work", table["cause"])
    out.explained = explained(ctx, cases, table, home, work, stays)
    return out


# -- the declaration -------------------------------------------------------------------------

_DEV = "device-clue cases"
_WORKERS = "of the device-clue cases whose subject worked in the audit window, those"

METRICS = (
    Metric(
        "home_correct_rate",
        "home_work",
        "home_unit",
        "home_work_cases",
        f"{_DEV} (cases whose clues hold a device identifier) whose answered home points to the unit where the "
        "subject spent the most home minutes in the audit window",
        higher_is_better=True,
        headline=True,
        summary=True,
        short="right home",
    ),
    Metric(
        "home_building_rate",
        "home_work",
        "home_building",
        "home_work_cases",
        f"{_DEV} whose answered home is the subject's unit or building",
        higher_is_better=True,
    ),
    Metric(
        "home_within_100m_rate",
        "home_work",
        "home_within_100m",
        "home_work_cases",
        f"{_DEV} whose answered home is the subject's building or within 100 m of their true home",
        higher_is_better=True,
    ),
    Metric(
        "home_within_250m_rate",
        "home_work",
        "home_within_250m",
        "home_work_cases",
        f"{_DEV} whose answered home is the subject's building or within 250 m of their true home",
        higher_is_better=True,
    ),
    Metric(
        "home_answered_rate",
        "home_work",
        "home_answered",
        "home_work_cases",
        f"{_DEV} given a home answer (coverage)",
        higher_is_better=True,
    ),
    Metric(
        "home_wrong_door_rate",
        "home_work",
        "home_wrong_door",
        "home_work_cases",
        f"{_DEV} whose answered home points to a door other than the subject's (another unit, or another "
        "building named without a unit)",
    ),
    Metric(
        "home_at_workplace_rate",
        "home_work",
        "home_at_workplace",
        "home_work_cases",
        f"{_DEV} whose answered home is within 100 m of where the subject works (and nearer it than their "
        "home): work hours read as home hours, as for night-shift workers",
    ),
    Metric(
        "people_at_wrong_home_per_100_cases",
        "home_work",
        "home_residents",
        "home_work_cases",
        "residents behind a wrong home door on the audit window's middle day (the subject's household left out; "
        "a building named without its unit counts the expected household behind one of its doors), per 100 "
        "device-clue cases",
        unit="per_100_cases",
        scale=100.0,
        headline=True,
        summary=True,
        short="wrong homes /100",
    ),
    Metric(
        "children_at_wrong_home_per_100_cases",
        "home_work",
        "home_children",
        "home_work_cases",
        "of them, residents under 18, per 100 device-clue cases",
        unit="per_100_cases",
        scale=100.0,
    ),
    Metric(
        "work_correct_rate",
        "home_work",
        "work_place",
        "worked",
        f"{_WORKERS} whose answered work location is nearest their true work location (the place, or the "
        "building of an informal work site, of the most work minutes in the window)",
        higher_is_better=True,
    ),
    Metric(
        "work_within_100m_rate",
        "home_work",
        "work_within_100m",
        "worked",
        f"{_WORKERS} whose answered work location is right or within 100 m of it",
        higher_is_better=True,
    ),
    Metric(
        "work_within_250m_rate",
        "home_work",
        "work_within_250m",
        "worked",
        f"{_WORKERS} whose answered work location is right or within 250 m of it",
        higher_is_better=True,
    ),
    Metric(
        "work_answered_rate",
        "home_work",
        "work_answered",
        "worked",
        f"{_WORKERS} given a work answer (coverage)",
        higher_is_better=True,
    ),
    Metric(
        "home_bystanders_per_10k_residents_per_100_cases",
        "home_work",
        "home_bystanders_{group}",
        "home_work_cases",
        "residents of the group found behind wrong home doors, per 10,000 residents of the group, per 100 "
        "device-clue cases",
        unit="per_10k_residents_per_100_cases",
        scale=100.0 * 10_000,
        slices=("bystander_group",),
    ),
)

TASK = Task(
    name="home_work",
    description="pattern of life: the subject's home and work in the audit window (place = home or work; "
    "coordinates in the region's metres, a radius, optionally an address), from a device identifier among the clues",
    answer_schema={
        "case_id": pl.String(),
        "rank": pl.Int64(),
        "place": pl.String(),
        "x": pl.Float64(),
        "y": pl.Float64(),
    },
    id_columns=(),
    id_space="records",
    optional_columns={"radius_m": pl.Float64(), "address_text": pl.String(), "score": pl.Float64()},
    score=score,
    counts=COUNTS,
    metrics=METRICS,
    strata=pt.STRATA,
    outcome_tables={
        "home_work": "one row per (system, device-clue case, place): the rank-1 home or work answer scored, its "
        "outcome (unit/place, building, within_100m, within_250m, wrong, no-answer, not-working), cause, distance "
        "to the truth, the answered and true points and the people at a wrong home door",
        "home_work_residents": "one row per person living behind a wrong home door on the audit window's middle day",
    },
    explained_chain="the clue device, its pings, the answered and true home and work and the subject's shift, "
    "with a timeline of the clue's pings against the subject's true stays",
)
