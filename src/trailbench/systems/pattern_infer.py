"""Pattern of life from location pings: stay points, locations and home/work labels (issue 11).

The inference half of the reference system ``pattern``: a reconstruction of the standard open
pipeline (trackintel, Martin et al. 2023) that a "pattern of life" product would run on broker
pings, not any vendor's product. Standalone: it reads a Polars table of pings and returns Polars
tables; nothing here reads the truth.

The chain, per device (trackintel's ``user_id`` is the device):

1. **Clean** (:func:`clean_pings`): drop fixes whose reported accuracy (a 68% radius) exceeds
   ``max_accuracy_m`` and rows repeated exactly.
2. **Stay points** (:func:`staypoints`): trackintel ``generate_staypoints``, sliding window of Li
   et al. (2008): a stay point is a run of fixes within ``dist_threshold_m`` of the run's first
   fix lasting at least ``time_threshold_min``, ended by the first fix farther away; a silence
   longer than ``gap_threshold_min`` between two fixes restarts the window and discards the run.
   A stay point's position is the mean of its distinct fixes, its end the time of the fix that
   ended it.
3. **Locations** (:func:`locations`): trackintel ``generate_locations``, DBSCAN over each
   device's stay points (``epsilon_m``, ``min_samples``).
4. **Home and work** (:func:`label_home_work`): trackintel ``location_identifier``:

   - ``FREQ``: the location with the longest summed stay is home, the second longest work;
   - ``OSNA`` (Efstathiades et al. 2015): each stay point is put in one time frame by the
     middle of its interval: weekends are dropped; weekdays 02:00-08:00 are "rest" (duration
     weighted 0.739), 08:00-19:00 "work" (1.0), 19:00-02:00 "leisure" (0.358). Home is the
     location with the most weighted rest + leisure time, work the one with the most work
     time (if that is home, the next). The hours are fixed inside trackintel (no setting):
     a night-shift worker asleep by day at A and at work by night at B gets home B.

Coordinates. The bench's world is a plane in metres; trackintel's stay-point step knows only
the haversine distance and reads every geometry as longitude/latitude in degrees whatever its
CRS (``generate_staypoints(distance_metric="haversine")`` is the only metric it accepts), so a
projected CRS such as EPSG:3857 would have it measure metres as degrees. The plane is therefore
laid on trackintel's own sphere (radius 6,371,000 m, the one its haversine uses) as a plate
carrée at longitude 0, latitude 0: ``lon = degrees(x / R)``, ``lat = degrees(y / R)``, in
EPSG:4326. North-south distances are exact; east-west ones shrink by cos(latitude): within
60 km of the origin (the region is tens of km) by under 5 parts in 100,000, 5 mm in 100 m, so
the thresholds in metres mean what they say; results are mapped back the same way. The
origin is a convention, not a place: no real map is involved. Times are the world's local
clock, labelled UTC because trackintel needs aware timestamps (the hour OSNA reads is the
local hour).

Every parameter is a field of :class:`PatternSettings`, with its source.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

R_EARTH = 6_371_000.0
"""The sphere trackintel's haversine distance uses, metres."""

TZ = "UTC"
STAYPOINT_SCHEMA: dict[str, Any] = {
    "device_id": pl.String,
    "staypoint_id": pl.Int64,
    "started_at": pl.Datetime("ms"),
    "finished_at": pl.Datetime("ms"),
    "x": pl.Float64,
    "y": pl.Float64,
}
LOCATION_SCHEMA: dict[str, Any] = {
    "device_id": pl.String,
    "location_id": pl.Int64,
    "x": pl.Float64,
    "y": pl.Float64,
    "radius_m": pl.Float64,
    "staypoints": pl.UInt32,
    "hours": pl.Float64,
}
LOCATED_SCHEMA: dict[str, Any] = {**STAYPOINT_SCHEMA, "location_id": pl.Int64}
LABEL_SCHEMA: dict[str, Any] = {
    "device_id": pl.String,
    "label": pl.String,
    **{k: v for k, v in LOCATION_SCHEMA.items() if k != "device_id"},
}


@dataclass(frozen=True)
class PatternSettings:
    """The ``pattern`` system's inference settings (defaults: trackintel's, unless said)."""

    method: Literal["FREQ", "OSNA"] = "FREQ"
    """Home/work rule: trackintel's ``location_identifier`` method (its default: FREQ)."""
    max_accuracy_m: float | None = None
    """Fixes reporting a larger accuracy radius (a 68% radius) are dropped before anything
    else; ``None`` (default: trackintel has no such filter) keeps every fix. 100 m, the stay
    radius, drops nearly every cell fix (median error 600 m), about half the Wi-Fi fixes (74 m)
    and almost no GPS fix (8 m) (FACTS, Zandbergen 2009); on 1,000 county-10k devices it cut
    the devices given a home from 731 to 514 and did not make the homes more often right."""
    dist_threshold_m: float = 100.0
    """Stay-point radius (trackintel default 100 m; FACTS)."""
    time_threshold_min: float = 5.0
    """Shortest stay point (trackintel default 5 min; FACTS)."""
    gap_threshold_min: float = 15.0
    """Longest silence inside a stay point (trackintel default 15 min; FACTS). Broker pings are
    sparse (a median device sends ~24 a day in bursts), so most silences are longer: this
    setting, more than any other, decides how many devices get a stay point at all."""
    include_last: bool = False
    """Keep a device's last run of fixes as a stay point even though no fix ended it (default)."""
    epsilon_m: float = 100.0
    """DBSCAN radius for locations (trackintel default 100 m; FACTS)."""
    min_samples: int = 1
    """DBSCAN core size (trackintel default 1: every stay point belongs to a location)."""
    pre_filter: bool = False
    """trackintel's ``pre_filter_locations`` before labelling (its default is True, with the
    thresholds below). Off by default here: with them, 293 of 1,000 county-10k devices got a
    home against 731 without (chiefly the 10 distinct locations a device must have), and a
    product sells an answer; the bench scores abstention through coverage instead. The
    thresholds apply only when this is True."""
    thresh_sp: int = 10
    """pre-filter: fewest stay points a device must have (trackintel default)."""
    thresh_loc: int = 10
    """pre-filter: fewest locations a device must have (trackintel default)."""
    thresh_sp_at_loc: int = 10
    """pre-filter: fewest stay points at a location (trackintel default)."""
    thresh_loc_time_h: float = 1.0
    """pre-filter: least summed time at a location, hours (trackintel default 1 h)."""
    thresh_loc_period_h: float = 5.0
    """pre-filter: least span from first to last visit of a location, hours (trackintel default 5 h)."""
    engine: Literal["port", "trackintel"] = "port"
    """Stay-point step: ``trackintel`` calls ``generate_staypoints``; ``port`` runs the same
    sliding window (trackintel 1.4.2's ``_generate_staypoints_sliding_user``, step for step:
    the same haversine formula, thresholds, gap rule and centroid of distinct fixes) as one
    loop over plain arrays: 1.8 s against about 70 s for the stay points of 1,000 county-10k devices
    (2.5M pings), where trackintel spends its time indexing pandas frames per fix and per stay
    point. Tests hold the two equal on generated pings. ``port`` also runs the FREQ labels
    (without the pre-filter) as plain table operations (trackintel's rule, about 0.01 s against
    1 s for 300 devices, where trackintel masks its whole table once per device; tested equal
    in tests/test_pattern_system.py). Locations, OSNA and the pre-filter always run in
    trackintel."""
    n_jobs: int = 1
    """trackintel's joblib workers for stay points and locations (1: no parallel code; 2 was
    slower than 1 on 1,000 devices, the frames pickled to the workers cost more than they save)."""

    def __post_init__(self) -> None:
        if self.method not in ("FREQ", "OSNA"):
            raise ValueError(f"method must be 'FREQ' or 'OSNA', not {self.method!r}")
        for name in ("dist_threshold_m", "time_threshold_min", "gap_threshold_min", "epsilon_m"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.max_accuracy_m is not None and not self.max_accuracy_m > 0:
            raise ValueError("max_accuracy_m must be positive or None")
        if self.engine not in ("port", "trackintel"):
            raise ValueError(f"engine must be 'port' or 'trackintel', not {self.engine!r}")
        if self.min_samples < 1 or self.n_jobs == 0:
            raise ValueError("min_samples must be at least 1 and n_jobs non-zero")

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> PatternSettings:
        """Settings from a system config mapping (unknown keys are an error)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ValueError(f"unknown pattern settings {unknown}; known: {sorted(known)}")
        return cls(**cfg)


@dataclass
class PatternResult:
    """What the inference makes of a set of devices' pings (empty tables keep their schema).

    - ``staypoints``: device_id, staypoint_id, started_at, finished_at, x, y, location_id
      (null for a DBSCAN noise point, which ``min_samples=1`` never makes);
    - ``locations``: device_id, location_id, x, y (the mean of its distinct stay points, as
      trackintel's ``center``), radius_m (the circle about the centre holding trackintel's
      extent: the farthest stay point plus ``epsilon_m``), staypoints, hours (summed stay);
    - ``labels``: one row per device and label (``home``, ``work``) with that location's
      columns. A device with no stay point, or none the rule labels, has no row.
    """

    staypoints: pl.DataFrame
    locations: pl.DataFrame
    labels: pl.DataFrame

    def home(self) -> pl.DataFrame:
        return self.labels.filter(pl.col("label") == "home").drop("label")

    def work(self) -> pl.DataFrame:
        return self.labels.filter(pl.col("label") == "work").drop("label")


# -- the plane on trackintel's sphere ---------------------------------------------------------


def to_degrees(v: np.ndarray) -> np.ndarray:
    """Plane metres to degrees of the plate carrée at (0, 0) on trackintel's sphere."""
    return np.degrees(np.asarray(v, dtype=np.float64) / R_EARTH)


def to_metres(v: np.ndarray) -> np.ndarray:
    """The inverse of :func:`to_degrees`."""
    return np.radians(np.asarray(v, dtype=np.float64)) * R_EARTH


# -- steps ------------------------------------------------------------------------------------


def clean_pings(pings: pl.DataFrame, s: PatternSettings) -> pl.DataFrame:
    """Pings a device's stay points are built from: accurate enough, each (device, time,
    position) once (trackintel's duplicate rule), sorted by device then time (ties in input order)."""
    p = pings.select("device_id", "t", "x", "y", "accuracy_m")
    if s.max_accuracy_m is not None:
        p = p.filter(pl.col("accuracy_m") <= s.max_accuracy_m)
    # a repeat shares its (device, time), so only rows tied on those need the (costly) check
    p = p.sort("device_id", "t", maintain_order=True).with_row_index("_row")
    tie = (pl.col("device_id") == pl.col("device_id").shift(1)) & (pl.col("t") == pl.col("t").shift(1))
    tied = p.filter(tie | tie.shift(-1))
    repeat = tied.filter(~pl.struct("device_id", "t", "x", "y").is_first_distinct())["_row"]
    return p.filter(~pl.col("_row").is_in(repeat.implode())).drop("_row")


def _aware(t: pl.Series) -> pd.DatetimeIndex:
    import pandas as pd

    return pd.DatetimeIndex(t.cast(pl.Datetime("ms")).to_numpy()).tz_localize(TZ)


def _naive_ms(t: pd.Series) -> np.ndarray:
    return t.dt.tz_localize(None).to_numpy().astype("datetime64[ms]")


def positionfixes(pings: pl.DataFrame, devices: pl.Series) -> gpd.GeoDataFrame:
    """trackintel positionfixes of cleaned pings; ``user_id`` is the device's index in ``devices``."""
    import geopandas as gpd
    import pandas as pd
    import trackintel as ti

    code = pings.select(pl.col("device_id").replace_strict(devices, pl.int_range(devices.len()), return_dtype=pl.Int64))
    df = pd.DataFrame({"user_id": code.to_series().to_numpy(), "tracked_at": _aware(pings["t"])})
    geom = gpd.points_from_xy(to_degrees(pings["x"].to_numpy()), to_degrees(pings["y"].to_numpy()))
    return ti.Positionfixes(gpd.GeoDataFrame(df, geometry=geom, crs="EPSG:4326"))


def _staypoints_ti(pfs: gpd.GeoDataFrame, s: PatternSettings) -> gpd.GeoDataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no staypoints" and pandas deprecations inside trackintel
        _, sp = pfs.as_positionfixes.generate_staypoints(
            method="sliding",
            distance_metric="haversine",
            dist_threshold=s.dist_threshold_m,
            time_threshold=s.time_threshold_min,
            gap_threshold=s.gap_threshold_min,
            include_last=s.include_last,
            exclude_duplicate_pfs=False,  # done by clean_pings
            n_jobs=s.n_jobs,
        )
    return sp


def _locations_ti(sp: gpd.GeoDataFrame, s: PatternSettings) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sp.as_staypoints.generate_locations(
            method="dbscan",
            epsilon=s.epsilon_m,
            num_samples=s.min_samples,
            distance_metric="haversine",
            agg_level="user",
            n_jobs=s.n_jobs,
        )


def _label_ti(sp: gpd.GeoDataFrame, s: PatternSettings) -> pd.DataFrame:
    """(user_id, location_id, purpose) of every labelled location."""
    import pandas as pd
    from trackintel.analysis import location_identifier

    kw: dict[str, Any] = {}
    if s.pre_filter:
        kw = {
            "agg_level": "user",
            "thresh_sp": s.thresh_sp,
            "thresh_loc": s.thresh_loc,
            "thresh_sp_at_loc": s.thresh_sp_at_loc,
            "thresh_loc_time": pd.Timedelta(hours=s.thresh_loc_time_h),
            "thresh_loc_period": pd.Timedelta(hours=s.thresh_loc_period_h),
        }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # OSNA warns when every stay point falls on a weekend
        out = location_identifier(sp, method=s.method, pre_filter=s.pre_filter, **kw)
    lab = pd.DataFrame(
        {
            "user_id": out["user_id"].to_numpy(),
            "location_id": out["location_id"].astype("Int64").to_numpy(dtype="float64", na_value=np.nan),
            "purpose": out["purpose"].astype(object).where(out["purpose"].notna(), None).to_numpy(),
        }
    )
    lab = lab[lab["purpose"].notna() & lab["location_id"].notna()]
    return lab.drop_duplicates()


def _sp_frame(sp: gpd.GeoDataFrame, devices: pl.Series) -> pl.DataFrame:
    if len(sp) == 0:
        return pl.DataFrame(schema=LOCATED_SCHEMA)
    geom = sp.geometry
    loc = (
        sp["location_id"].astype("Int64").to_numpy(dtype="float64", na_value=np.nan)
        if "location_id" in sp.columns
        else np.full(len(sp), np.nan)
    )
    return pl.DataFrame(
        {
            "device_id": devices.gather(sp["user_id"].to_numpy().astype(np.int64)),
            "staypoint_id": sp.index.to_numpy().astype(np.int64),
            "started_at": _naive_ms(sp["started_at"]),
            "finished_at": _naive_ms(sp["finished_at"]),
            "x": to_metres(geom.x.to_numpy()),
            "y": to_metres(geom.y.to_numpy()),
            "location_id": loc,
        }
    ).with_columns(location_id=pl.col("location_id").fill_nan(None).cast(pl.Int64))


def _loc_frame(sp: pl.DataFrame, s: PatternSettings) -> pl.DataFrame:
    """Locations from their stay points: centre = the mean of the distinct stay points (as
    trackintel's), radius = the farthest stay point from it + epsilon."""
    if sp.is_empty():
        return pl.DataFrame(schema=LOCATION_SCHEMA)
    key = ["device_id", "location_id"]
    hours = (pl.col("finished_at") - pl.col("started_at")).dt.total_milliseconds() / 3.6e6
    sp = sp.drop_nulls("location_id")
    size = sp.group_by(key).agg(staypoints=pl.len(), hours=hours.sum())
    # trackintel dissolves a location's stay points (distinct points) and takes their centroid
    # (in a fixed order: a mean summed in another order can differ in its last bit)
    centre = (
        sp.unique([*key, "x", "y"], maintain_order=True).group_by(key).agg(cx=pl.col("x").mean(), cy=pl.col("y").mean())
    )
    centre = centre.join(size, on=key)
    far = (
        sp.join(centre, on=key)
        .group_by(key)
        .agg(far=((pl.col("x") - pl.col("cx")).pow(2) + (pl.col("y") - pl.col("cy")).pow(2)).sqrt().max())
    )
    return (
        centre.join(far, on=key)
        .select(
            *key,
            x="cx",
            y="cy",
            radius_m=pl.col("far") + s.epsilon_m,
            staypoints=pl.col("staypoints").cast(pl.UInt32),
            hours="hours",
        )
        .sort(key)
    )


# -- the sliding window, ported ---------------------------------------------------------------


def _minutes_ms(minutes: float) -> float:
    import pandas as pd

    return pd.Timedelta(minutes, unit="minutes").value / 1e6


def sliding_window(
    device: np.ndarray, t_ms: np.ndarray, x: np.ndarray, y: np.ndarray, s: PatternSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first fix, one past the last fix, the fix that ended it) of every stay point, in the
    order trackintel numbers them: fixes sorted by device then time, devices in code order.

    trackintel 1.4.2's sliding window per device: the window starts at a fix; each later fix
    either follows a silence longer than the gap threshold (the window restarts there, its run
    discarded) or lies at or beyond the distance threshold from the window's first fix (the
    run is a stay point if it lasted at least the time threshold, ending at this fix, and the
    window restarts here). With ``include_last`` a device's last run counts too, ending at its
    last fix (which it then includes)."""
    n = len(t_ms)
    if n == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e
    lon = np.deg2rad(to_degrees(x)).tolist()
    lat = np.deg2rad(to_degrees(y)).tolist()
    coslat = [math.cos(v) for v in lat]
    t = t_ms.astype(np.int64).tolist()
    first = np.ones(n, dtype=bool)
    first[1:] = device[1:] != device[:-1]
    reset = first.copy()
    reset[1:] |= np.diff(t_ms.astype(np.int64)).astype(np.float64) > _minutes_ms(s.gap_threshold_min)
    reset_l = reset.tolist()
    first_l = first.tolist()
    dist, dur = s.dist_threshold_m, _minutes_ms(s.time_threshold_min)
    last = s.include_last
    acos, cos = math.acos, math.cos
    lo: list[int] = []
    hi: list[int] = []
    end: list[int] = []
    start = 0
    for curr in range(1, n):
        if reset_l[curr]:
            if last and first_l[curr] and t[curr - 1] - t[start] >= dur:
                lo.append(start)
                hi.append(curr)
                end.append(curr - 1)
            start = curr
            continue
        d = R_EARTH * acos(
            cos(lat[start] - lat[curr]) - coslat[start] * coslat[curr] * (1 - cos(lon[start] - lon[curr]))
        )
        if d >= dist:
            if t[curr] - t[start] >= dur:
                lo.append(start)
                hi.append(curr)
                end.append(curr)
            start = curr
    if last and t[n - 1] - t[start] >= dur:
        lo.append(start)
        hi.append(n)
        end.append(n - 1)
    return np.array(lo, dtype=np.int64), np.array(hi, dtype=np.int64), np.array(end, dtype=np.int64)


PORT_BLOCK = 1_000_000
"""Fixes the ported sliding window holds as Python lists at once (whole devices: a device with
more is a block of its own), so memory stays bounded whatever the number of devices."""


def _staypoints_port(p: pl.DataFrame, devices: pl.Series, s: PatternSettings) -> pl.DataFrame:
    code = p.select(
        pl.col("device_id").replace_strict(devices, pl.int_range(devices.len()), return_dtype=pl.Int64)
    ).to_series()
    t = p["t"].cast(pl.Datetime("ms")).cast(pl.Int64).to_numpy()
    x, y = p["x"].cast(pl.Float64).to_numpy(), p["y"].cast(pl.Float64).to_numpy()
    dev = code.to_numpy()
    # block edges at device starts, about PORT_BLOCK fixes apart
    starts = np.flatnonzero(np.r_[True, dev[1:] != dev[:-1]])
    edges = np.unique(
        np.r_[starts[np.searchsorted(starts, np.arange(0, len(dev), PORT_BLOCK), side="right") - 1], len(dev)]
    )
    parts = []
    for a, b in itertools.pairwise(edges.tolist()):
        f = sliding_window(dev[a:b], t[a:b], x[a:b], y[a:b], s)
        parts.append(np.stack(f) + a)
    lo, hi, end = np.concatenate(parts, axis=1)
    if len(lo) == 0:
        return pl.DataFrame(schema=STAYPOINT_SCHEMA)
    members = (
        pl.DataFrame({"sp": np.arange(len(lo)), "lo": lo, "hi": hi})
        .select("sp", i=pl.int_ranges("lo", "hi"))
        .explode("i")
    )
    idx = members["i"].to_numpy()
    # the centroid of the distinct fixes (trackintel takes the union of the points first)
    centre = (
        pl.DataFrame({"sp": members["sp"], "x": x[idx], "y": y[idx]})
        .unique(maintain_order=True)  # a fixed order: the same last bit of every mean
        .group_by("sp")
        .agg(pl.col("x").mean(), pl.col("y").mean())
        .sort("sp")
    )
    t_ms = p["t"].cast(pl.Datetime("ms"))
    return pl.DataFrame(
        {
            "device_id": p["device_id"].gather(lo),
            "staypoint_id": np.arange(len(lo), dtype=np.int64),
            "started_at": t_ms.gather(lo),
            "finished_at": t_ms.gather(end),
            "x": centre["x"],
            "y": centre["y"],
        },
        schema=STAYPOINT_SCHEMA,
    )


# -- public entry points ------------------------------------------------------------------------


def staypoints(pings: pl.DataFrame, settings: PatternSettings | None = None) -> pl.DataFrame:
    """Stay points of every device in ``pings`` (trails schema, metres on the plane):
    device_id, staypoint_id, started_at, finished_at, x, y."""
    s = settings or PatternSettings()
    p = clean_pings(pings, s)
    if p.is_empty():
        return pl.DataFrame(schema=STAYPOINT_SCHEMA)
    devices = p["device_id"].unique().sort()
    if s.engine == "port":
        return _staypoints_port(p, devices, s)
    return _sp_frame(_staypoints_ti(positionfixes(p, devices), s), devices).drop("location_id")


def locations(staypoints: pl.DataFrame, settings: PatternSettings | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(stay points with ``location_id``, locations) by trackintel's ``generate_locations``."""
    s = settings or PatternSettings()
    if staypoints.is_empty():
        return pl.DataFrame(schema=LOCATED_SCHEMA), pl.DataFrame(schema=LOCATION_SCHEMA)
    if s.engine == "port":
        sp = _locations_port(staypoints.drop("location_id", strict=False), s)
        return sp, _loc_frame(sp, s)
    devices = staypoints["device_id"].unique().sort()
    sp_ti, _ = _locations_ti(_sp_geo(staypoints.drop("location_id", strict=False), devices), s)
    sp = _sp_frame(sp_ti, devices).sort("device_id", "started_at", "staypoint_id")
    return sp, _loc_frame(sp, s)


def _locations_port(sp: pl.DataFrame, s: PatternSettings) -> pl.DataFrame:
    """trackintel 1.4.2's ``generate_locations(method="dbscan", agg_level="user",
    distance_metric="haversine")`` without trackintel (whose import alone takes about 2 s): per
    device, its stay points in start order, scikit-learn's DBSCAN (ball tree, haversine, epsilon
    over the sphere's radius) on (longitude, latitude) in radians, in that order, as trackintel
    passes them; each device's labels then offset by the location count of the devices before it
    (trackintel's numbering); noise gets no location. Coordinates take the same round trip through
    degrees as trackintel's geometry, so the stay points are bit-identical to its output."""
    from sklearn.cluster import DBSCAN

    sp = sp.sort("device_id", "started_at", "staypoint_id").with_columns(
        x=pl.Series(to_metres(to_degrees(sp["x"].to_numpy()))),
        y=pl.Series(to_metres(to_degrees(sp["y"].to_numpy()))),
    )
    lon = np.deg2rad(to_degrees(sp["x"].to_numpy()))
    lat = np.deg2rad(to_degrees(sp["y"].to_numpy()))
    db = DBSCAN(
        eps=s.epsilon_m / R_EARTH, min_samples=s.min_samples, algorithm="ball_tree", metric="haversine", n_jobs=s.n_jobs
    )
    labels = np.full(sp.height, -1, dtype=np.int64)
    dev = sp["device_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, dev[1:] != dev[:-1]]) if sp.height else np.zeros(0, dtype=np.int64)
    ends = np.r_[starts[1:], sp.height]
    offset = 0
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        lab = db.fit_predict(np.column_stack([lon[a:b], lat[a:b]])).astype(np.int64)
        hit = lab >= 0
        if hit.any():
            labels[a:b] = np.where(hit, lab + offset, -1)
            offset += int(lab.max()) + 1
    return sp.with_columns(location_id=pl.Series(labels)).with_columns(
        location_id=pl.when(pl.col("location_id") >= 0).then(pl.col("location_id"))
    )


LABEL_CHUNK = 128
"""Devices labelled per call of trackintel's ``location_identifier``. Its FREQ rule loops over
devices and masks the whole table for each (time grows as devices x stay points); every rule
works device by device, so calling it on blocks of devices gives the same labels, faster."""


def label_home_work(
    staypoints: pl.DataFrame, settings: PatternSettings | None = None, locations: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Home and work labels (see :class:`PatternResult`) by trackintel's ``location_identifier``
    from stay points with ``location_id`` (made by :func:`locations`, whose locations table
    may be passed to save recomputing it)."""
    s = settings or PatternSettings()
    if staypoints.is_empty():
        return pl.DataFrame(schema=LABEL_SCHEMA)
    locs = _loc_frame(staypoints, s) if locations is None else locations
    if s.engine == "port" and s.method == "FREQ" and not s.pre_filter:
        labels = _freq_port(staypoints)
        return labels.join(locs, on=["device_id", "location_id"]).select(list(LABEL_SCHEMA)).sort("device_id", "label")
    devices = staypoints["device_id"].unique().sort()
    parts = []
    for lo in range(0, devices.len(), LABEL_CHUNK):
        block = devices.slice(lo, LABEL_CHUNK)
        lab = _label_ti(_sp_geo(staypoints.filter(pl.col("device_id").is_in(block.implode())), block), s)
        parts.append(
            pl.DataFrame(
                {
                    "device_id": block.gather(lab["user_id"].to_numpy().astype(np.int64)),
                    "label": lab["purpose"].to_numpy().astype(str),
                    "location_id": lab["location_id"].to_numpy().astype(np.int64),
                },
                schema={"device_id": pl.String, "label": pl.String, "location_id": pl.Int64},
            )
        )
    labels = pl.concat(parts)
    return labels.join(locs, on=["device_id", "location_id"]).select(list(LABEL_SCHEMA)).sort("device_id", "label")


def _freq_port(staypoints: pl.DataFrame) -> pl.DataFrame:
    """trackintel 1.4.2's FREQ rule (``freq_method``) on plain tables: per device, the summed
    stay (finished - started) of each location; the longest is home, the second work. trackintel
    orders the locations by ``(-duration).argsort()`` over its location_id-sorted sums, whose
    ties (equal sums to the millisecond) keep location order on the small arrays a device has;
    here ties go to the lower location_id."""
    sums = (
        staypoints.drop_nulls("location_id")
        .group_by("device_id", "location_id")
        .agg(ms=(pl.col("finished_at") - pl.col("started_at")).dt.total_milliseconds().sum())
        .sort(["device_id", "ms", "location_id"], descending=[False, True, False])
        .with_columns(k=pl.int_range(pl.len()).over("device_id"))
        .filter(pl.col("k") < 2)
    )
    return sums.select(
        "device_id",
        label=pl.when(pl.col("k") == 0).then(pl.lit("home")).otherwise(pl.lit("work")),
        location_id="location_id",
    )


def infer(pings: pl.DataFrame, settings: PatternSettings | None = None) -> PatternResult:
    """Stay points, locations and home/work labels of every device in ``pings``.

    ``pings`` has the trails schema (``device_id, t, x, y, accuracy_m``; ``source`` is not
    read), coordinates in metres on the world's plane."""
    s = settings or PatternSettings()
    sp, locs = locations(staypoints(pings, s), s)
    return PatternResult(sp, locs, label_home_work(sp, s, locs))


def _sp_geo(sp: pl.DataFrame, devices: pl.Series) -> gpd.GeoDataFrame:
    import geopandas as gpd
    import pandas as pd
    import trackintel as ti

    code = sp.select(pl.col("device_id").replace_strict(devices, pl.int_range(devices.len()), return_dtype=pl.Int64))
    df = pd.DataFrame(
        {
            "user_id": code.to_series().to_numpy(),
            "started_at": _aware(sp["started_at"]),
            "finished_at": _aware(sp["finished_at"]),
        },
        index=pd.Index(sp["staypoint_id"].to_numpy(), name="id"),
    )
    if "location_id" in sp.columns:
        df["location_id"] = pd.array(sp["location_id"].to_list(), dtype="Int64")
    geom = gpd.points_from_xy(to_degrees(sp["x"].to_numpy()), to_degrees(sp["y"].to_numpy()))
    return ti.Staypoints(gpd.GeoDataFrame(df, geometry=geom, crs="EPSG:4326"))


__all__ = [
    "R_EARTH",
    "PatternResult",
    "PatternSettings",
    "clean_pings",
    "infer",
    "label_home_work",
    "locations",
    "sliding_window",
    "staypoints",
    "to_degrees",
    "to_metres",
]
