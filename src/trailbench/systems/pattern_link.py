"""The ``pattern`` system's device linkage: which other identifiers it attributes to the subject.

The rules (parameters from :class:`~trailbench.scenario.schema.PatternSystemConfig`; constants
below, each an assumption with its reason; :mod:`trailbench.systems.pattern` says why these
rules):

- **co-residence, then co-travel**: another advertising ID whose night-time pings (hours in
  ``night_hours``) come within ``colocation_m`` of the clue device's night-time pings of the
  same night on at least ``co_residence_nights`` nights is co-resident; a co-resident ID is the
  subject's own when, over the daytime slots (``colocation_min`` long) in which the clue device
  was away from home (``AWAY`` x ``colocation_m`` from the median of its night-time pings) and
  both were seen, at least ``MIN_CO_SLOTS`` of them, it met the clue device within the slot in
  at least ``co_travel_share`` of them;
- **hand-off**: an ID that began within ``HANDOFF_HOURS`` after the clue ID stopped, its first
  ping within ``colocation_m`` of the clue ID's last (a reset advertising ID or a new handset),
  or the other way round (the clue ID is the new one); began and stopped as judged by
  ``HANDOFF_SILENCE``;
- **Wi-Fi**: a MAC address seen by a sensor within ``colocation_min`` of a clue-device ping within
  ``colocation_m`` of the sensor, on at least ``wifi_min_visits`` distinct days.

Every rule that tests a distance uses only fixes accurate enough for it (``PROXIMITY_ACCURACY``);
the hand-off's timing reads every ping. Also here: the reading of the pings every step shares
(:class:`Signals`) and the grid join that finds pings near each other (:func:`near_pairs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

MS_MIN = 60_000
MS_HOUR = 3_600_000
MS_DAY = 86_400_000

HANDOFF_HOURS = 24.0
"""Longest silence between one advertising ID's last ping and the next ID's first for a hand-off
(assumption: in a county-10k world, 15 of the 27 IDs reset within the window began within 24 h of
the old ID's end and within 150 m of its last ping; app sessions are hours apart on most phones)."""
HANDOFF_SILENCE = 10.0
"""An ID has stopped (begun) when silent to the window's end (from its start) for at least this
many times its mean interval between pings (assumption: a sparse device's ordinary silences are
not a hand-off; in a county-10k world it cut the hand-offs found from 16, 2 of them right, to 6,
the same 2 right: the others were household members' phones going quiet on the same day)."""
MIN_CO_SLOTS = 3
"""Fewest daytime slots away from home in which both devices were seen for a co-travel share to
count (assumption: half an hour together; with one or two, chance proximity near home decides)."""

PROXIMITY_ACCURACY = 1.0
"""The proximity rules (meetings, co-residence, co-travel, presence near a Wi-Fi sensor) use only
fixes whose reported accuracy radius (68%) is at most this multiple of the distance
they test (``colocation_m``): a fix that cannot place its own device within 100 m cannot show
two devices within 100 m of each other (assumption; it drops nearly every cell fix, median error
600 m, about half the Wi-Fi fixes, 74 m, and almost no GPS fix, 8 m: FACTS, Zandbergen 2009).
The home/work inference and the hand-off's timing use every fix (trackintel has no such filter).
Besides, it halves the meeting join: in a county-10k world 2.5 s of CPU against 5.2 s."""

AWAY = 2.0
"""A daytime slot counts for co-travel only when the median of the clue device's pings in it lies
farther than this multiple of ``colocation_m`` from the median of its night-time pings
(assumption: time at home does not show travelling together; at one multiple, the error of
Wi-Fi fixes made slots at home look away and linked neighbours in the same building; at two, a
county-10k world linked 30 unrelated devices against 57 at one)."""
CELL_BITS = 16  # grid cells a key holds per axis (after shifting to the smallest)


@dataclass
class Signals:
    """Every ping in the window, with devices as integer codes (indices into ``ids``), and the
    cases whose clue device has pings.

    - ``ids``: advertising IDs, sorted; a device's code is its index;
    - ``pings``: d (UInt32), t (Int64 ms since 1970, the world's local clock), x, y (Float32),
      accuracy_m; every ping of every device, sorted by device and time;
    - ``clues``: case_id, d (the clue device), for cases whose clue device has pings;
    - ``fine``: the pings accurate enough for the proximity rules (reported accuracy radius at
      most ``PROXIMITY_ACCURACY`` times the co-location distance), in the same order.
    """

    ids: pl.Series
    pings: pl.DataFrame
    clues: pl.DataFrame
    fine: pl.DataFrame

    def slots(self, slot_ms: int) -> pl.DataFrame:
        """(d, s): the distinct time slots (``t // slot_ms``) each device was seen in, in order (the
        pings are sorted by device and time, so each is the first of a run)."""
        s = pl.col("t") // slot_ms
        new = (pl.col("d") != pl.col("d").shift(1)) | (s != s.shift(1))
        return self.fine.filter(new.fill_null(True)).select("d", s=s)

    def clue_pings(self, fine: bool = True) -> pl.DataFrame:
        """The clue devices' pings: the accurate ones (``fine``) or all."""
        return (self.fine if fine else self.pings).filter(pl.col("d").is_in(self.clues["d"].unique().implode()))

    def name(self, col: str) -> pl.Expr:
        """The advertising ID of a code column."""
        if self.ids.is_empty():  # no device, no code (replace_strict would keep the codes' type)
            return pl.col(col).cast(pl.String)
        return pl.col(col).replace_strict(pl.int_range(self.ids.len()), self.ids, return_dtype=pl.String)


def read_signals(workdir: Path, cases: pl.DataFrame, metres: float) -> Signals:
    """The pings of ``trails/pings/`` and the cases (case_id, device_id) with a clue device; the
    proximity rules will test distances of ``metres``."""
    parts = sorted((workdir / "trails" / "pings").glob("part-*.parquet"))
    clued = cases.select("case_id", "device_id").drop_nulls("device_id")
    if not parts or clued.is_empty():  # nothing to answer: no need to read the pings
        empty = pl.DataFrame(
            schema={"d": pl.UInt32, "t": pl.Int64, "x": pl.Float32, "y": pl.Float32, "accuracy_m": pl.Float32}
        )
        none = pl.DataFrame(schema={"case_id": pl.String, "d": pl.UInt32})
        return Signals(pl.Series("device_id", [], pl.String), empty, none, empty)
    raw = (
        pl.scan_parquet(parts)
        .select(
            pl.col("device_id").cast(pl.String),
            t=pl.col("t").cast(pl.Datetime("ms")).dt.epoch("ms"),
            x=pl.col("x").cast(pl.Float32),
            y=pl.col("y").cast(pl.Float32),
            accuracy_m=pl.col("accuracy_m").cast(pl.Float32),
        )
        .collect()
    )
    if raw["device_id"].is_sorted():  # as written (sorted by device): codes in one pass
        ids = raw["device_id"].unique(maintain_order=True)
        code = pl.col("device_id").rle_id().cast(pl.UInt32)
    else:
        ids = raw["device_id"].unique().sort()
        code = pl.col("device_id").replace_strict(ids, pl.int_range(ids.len(), dtype=pl.UInt32), return_dtype=pl.UInt32)
    pings = raw.select(d=code, t="t", x="x", y="y", accuracy_m="accuracy_m")
    ordered = (pl.col("d").diff() > 0) | (pl.col("t").diff() >= 0)
    if not pings.select(ordered.fill_null(True).all()).item():
        pings = pings.sort("d", "t", maintain_order=True)
    lookup = pl.DataFrame({"device_id": ids, "d": pl.int_range(ids.len(), dtype=pl.UInt32, eager=True)})
    clues = clued.join(lookup, on="device_id").select("case_id", "d").sort("case_id")
    fine = pings.filter(pl.col("accuracy_m") <= PROXIMITY_ACCURACY * metres)
    return Signals(ids.rename("device_id"), pings, clues, fine)


# -- the grid join ------------------------------------------------------------------------------


def near_pairs(
    left: pl.DataFrame, right: pl.DataFrame, metres: float, spread: int = 0, window_ms: int | None = None
) -> pl.LazyFrame:
    """Rows of ``left`` (a, b, t, x, y, ...) and ``right`` (o, b, t, x, y) within ``metres`` of each
    other whose bins ``b`` differ by at most ``spread`` (and, if ``window_ms``, whose times differ
    by at most that): left's columns, then o, t_r, x_r, y_r.

    Both sides are binned in ``metres`` squares; each left row is looked up in its own square and
    the eight around it (and in the neighbouring bins), one integer key per (bin, square), and the
    exact distance (and time) is checked on what the key join brings. ``left`` should be the
    smaller side: it is the one copied nine (or 27) times."""
    if left.is_empty() or right.is_empty():
        none: dict[str, pl.DataType] = {
            "o": right.schema["o"],
            "t_r": pl.Int64(),
            "x_r": pl.Float32(),
            "y_r": pl.Float32(),
        }
        return left.head(0).lazy().with_columns(pl.lit(None, t).alias(c) for c, t in none.items())
    cx, cy = (pl.col("x") / metres).floor().cast(pl.Int64), (pl.col("y") / metres).floor().cast(pl.Int64)
    lo = pl.concat([left.select(cx=cx.min(), cy=cy.min()), right.select(cx=cx.min(), cy=cy.min())]).min()
    hi = pl.concat([left.select(cx=cx.max(), cy=cy.max()), right.select(cx=cx.max(), cy=cy.max())]).max()
    ox, oy = int(lo["cx"][0]) - 1, int(lo["cy"][0]) - 1
    if max(int(hi["cx"][0]) - ox, int(hi["cy"][0]) - oy) + 2 >= 1 << CELL_BITS:
        raise ValueError(f"the region spans more than {1 << CELL_BITS} squares of {metres} m")

    def key(b: pl.Expr, i: pl.Expr, j: pl.Expr) -> pl.Expr:
        return b.cast(pl.Int64) * (1 << (2 * CELL_BITS)) + (i - ox) * (1 << CELL_BITS) + (j - oy)

    steps = [(db, di, dj) for db in range(-spread, spread + 1) for di in (-1, 0, 1) for dj in (-1, 0, 1)]
    offsets = pl.DataFrame(steps, schema={"_db": pl.Int64, "_di": pl.Int64, "_dj": pl.Int64}, orient="row")
    lk = (
        left.lazy()
        .with_columns(_cx=cx, _cy=cy)
        .join(offsets.lazy(), how="cross")
        .with_columns(_k=key(pl.col("b") + pl.col("_db"), pl.col("_cx") + pl.col("_di"), pl.col("_cy") + pl.col("_dj")))
        .drop("_cx", "_cy", "_db", "_di", "_dj")
    )
    rk = right.lazy().select("o", _k=key(pl.col("b"), cx, cy), t_r="t", x_r="x", y_r="y")
    close = (pl.col("x") - pl.col("x_r")).pow(2) + (pl.col("y") - pl.col("y_r")).pow(2) <= metres * metres
    if window_ms is not None:
        close = close & ((pl.col("t") - pl.col("t_r")).abs() <= window_ms)
    return lk.join(rk, on="_k").filter(close).drop("_k")


# -- the rules ------------------------------------------------------------------------------------


def hour_in(t: pl.Expr, hours: tuple[int, int]) -> pl.Expr:
    """Whether the local hour of ``t`` (ms) lies in [from, to), wrapping past midnight."""
    h = (t // MS_HOUR) % 24
    lo, hi = hours
    if lo == hi:
        return pl.lit(True)
    return (h >= lo) & (h < hi) if lo < hi else (h >= lo) | (h < hi)


def co_resident(sig: Signals, metres: float, night_hours: tuple[int, int], nights: int) -> pl.DataFrame:
    """(a, o, nights): other devices whose night-time pings came within ``metres`` of the clue
    device ``a``'s night-time pings (same night) on at least ``nights`` nights."""
    night = hour_in(pl.col("t"), night_hours)
    # a night is named by the day it starts: the clock shifted back by the night's first hour
    night_id = (pl.col("t") - night_hours[0] * MS_HOUR) // MS_DAY
    at_night = sig.fine.filter(night).select("d", b=night_id, t="t", x="x", y="y")
    clue_codes = sig.clues["d"].unique().implode()
    left = at_night.filter(pl.col("d").is_in(clue_codes)).rename({"d": "a"})
    right = at_night.rename({"d": "o"})
    pairs = near_pairs(left, right, metres).filter(pl.col("a") != pl.col("o")).select("a", "o", "b").unique()
    per = pairs.group_by("a", "o").agg(nights=pl.len().cast(pl.Int64))
    return per.filter(pl.col("nights") >= nights).collect().sort("a", "o")


def co_travel(
    sig: Signals,
    pairs: pl.DataFrame,
    met: pl.DataFrame,
    metres: float,
    slot_ms: int,
    night_hours: tuple[int, int],
    need: int = 0,
) -> pl.DataFrame:
    """(a, o, slots, together, share) for device pairs (a, o): the daytime slots (``slot_ms`` long,
    starting outside ``night_hours``) in which both were seen while ``a`` was away from home (the
    median of its pings in the slot farther than ``metres`` from the median of its night-time
    pings), those in which they met within the slot (``met``: a, o, b, same from
    :func:`~trailbench.systems.pattern_meet.meetings`), and the share. Time at home does not
    count: there a housemate, or a neighbour in a dense building, is "with" the subject by
    construction. Pairs together in fewer than ``need`` such slots are left out (a share cannot
    make up for them: the caller's rule needs that many)."""
    schema = {"a": pl.UInt32, "o": pl.UInt32, "slots": pl.Int64, "together": pl.Int64, "share": pl.Float64}
    if pairs.is_empty():
        return pl.DataFrame(schema=schema)
    mine = sig.fine.filter(pl.col("d").is_in(pairs["a"].unique().implode()))
    home = (
        mine.filter(hour_in(pl.col("t"), night_hours))
        .group_by("d")
        .agg(hx=pl.col("x").median(), hy=pl.col("y").median())
        .rename({"d": "a"})
    )
    day = ~hour_in(pl.col("s") * slot_ms, night_hours)
    away = (
        mine.with_columns(s=pl.col("t") // slot_ms)
        .filter(day)
        .group_by("d", "s")
        .agg(mx=pl.col("x").median(), my=pl.col("y").median())
        .rename({"d": "a"})
        .join(home, on="a")
        .filter((pl.col("mx") - pl.col("hx")).pow(2) + (pl.col("my") - pl.col("hy")).pow(2) > (AWAY * metres) ** 2)
        .select("a", "s")
    )
    together = met.filter(pl.col("same")).select("a", "o", s="b").join(away, on=["a", "s"], how="semi")
    together = (
        together.join(pairs.select("a", "o"), on=["a", "o"], how="semi")
        .group_by("a", "o")
        .agg(together=pl.len().cast(pl.Int64))
    )
    per = pairs.select("a", "o").join(together, on=["a", "o"], how="left").with_columns(pl.col("together").fill_null(0))
    per = per.filter(pl.col("together") >= need)
    seen = sig.slots(slot_ms).filter(pl.col("d").is_in(per["o"].unique().implode())).rename({"d": "o"})
    both = per.select("a", "o").join(away, on="a").join(seen, on=["o", "s"], how="semi")
    slots = both.group_by("a", "o").agg(slots=pl.len().cast(pl.Int64))
    per = per.join(slots, on=["a", "o"], how="left").with_columns(pl.col("slots").fill_null(0))
    per = per.with_columns(share=pl.when(pl.col("slots") > 0).then(pl.col("together") / pl.col("slots")).otherwise(0.0))
    return per.select(list(schema)).sort("a", "o")


def handoffs(
    sig: Signals, metres: float, gap_hours: float = HANDOFF_HOURS, silence: float = HANDOFF_SILENCE
) -> pl.DataFrame:
    """(a, o, gap_h): IDs that took over from the clue device ``a`` (it stopped, ``o`` began within
    ``gap_hours`` after, within ``metres`` of its last ping) or that ``a`` took over from (``o``
    stopped, ``a`` began). An ID stopped if it stays silent to the end of the window for at least
    ``silence`` times its mean interval between pings, and began if it was silent that long from
    the window's start (the window: the first and last ping of any device); an ID with one ping
    neither began nor stopped."""
    w0, w1 = sig.pings["t"].min(), sig.pings["t"].max()
    ends = sig.pings.group_by("d").agg(
        n=pl.len(),
        t0=pl.col("t").min(),
        x0=pl.col("x").sort_by("t").first(),
        y0=pl.col("y").sort_by("t").first(),
        t1=pl.col("t").max(),
        x1=pl.col("x").sort_by("t").last(),
        y1=pl.col("y").sort_by("t").last(),
    )
    mean_gap = (pl.col("t1") - pl.col("t0")) / (pl.col("n") - 1)
    ends = ends.filter(pl.col("n") >= 2).with_columns(
        began=(pl.col("t0") - pl.lit(w0)) >= silence * mean_gap,
        stopped=(pl.lit(w1) - pl.col("t1")) >= silence * mean_gap,
    )
    clue = ends.filter(pl.col("d").is_in(sig.clues["d"].unique().implode())).rename({"d": "a"})
    other = ends.filter(pl.col("began") | pl.col("stopped")).select(
        o="d", u0="t0", v0="x0", w0="y0", u1="t1", v1="x1", w1="y1", o_began="began", o_stopped="stopped"
    )
    gap = gap_hours * MS_HOUR
    cand = clue.filter(pl.col("began") | pl.col("stopped")).join(other, how="cross").filter(pl.col("a") != pl.col("o"))
    after = pl.col("stopped") & pl.col("o_began") & (pl.col("u0") > pl.col("t1")) & (pl.col("u0") - pl.col("t1") <= gap)
    after &= (pl.col("v0") - pl.col("x1")).pow(2) + (pl.col("w0") - pl.col("y1")).pow(2) <= metres * metres
    before = (
        pl.col("began") & pl.col("o_stopped") & (pl.col("u1") < pl.col("t0")) & (pl.col("t0") - pl.col("u1") <= gap)
    )
    before &= (pl.col("v1") - pl.col("x0")).pow(2) + (pl.col("w1") - pl.col("y0")).pow(2) <= metres * metres
    gap_h = pl.when(after).then(pl.col("u0") - pl.col("t1")).otherwise(pl.col("t0") - pl.col("u1")) / MS_HOUR
    return cand.filter(after | before).select("a", "o", gap_h=gap_h).sort("a", "o")


def wifi_contacts(sig: Signals, workdir: Path, metres: float, window_ms: int) -> pl.DataFrame:
    """(a, mac, days, meetings): MACs seen at a sensor within ``window_ms`` of a ping of clue device
    ``a`` within ``metres`` of the sensor; distinct days and distinct time slots (``window_ms``
    long) of those clue pings."""
    schema = {"a": pl.UInt32, "mac": pl.String, "days": pl.Int64, "meetings": pl.Int64}
    parts = sorted((workdir / "trails" / "wifi_sightings").glob("part-*.parquet"))
    sensors_path = workdir / "trails" / "wifi_sensors.parquet"
    if not parts or not sensors_path.exists():
        return pl.DataFrame(schema=schema)
    sensors = pl.read_parquet(sensors_path).select(
        pl.col("sensor_id").cast(pl.String),
        b=pl.lit(0, pl.Int64),
        t=pl.lit(0, pl.Int64),
        x=pl.col("x").cast(pl.Float32),
        y=pl.col("y").cast(pl.Float32),
    )
    clue = sig.clue_pings().select(o="d", b=pl.lit(0, pl.Int64), t="t", x="x", y="y")
    at = near_pairs(sensors, clue, metres).select("sensor_id", a="o", t="t_r").collect()
    if at.is_empty():
        return pl.DataFrame(schema=schema)
    seen = (
        pl.scan_parquet(parts)
        .select(
            pl.col("sensor_id").cast(pl.String),
            pl.col("mac").cast(pl.String),
            t=pl.col("t").cast(pl.Datetime("ms")).dt.epoch("ms"),
        )
        .filter(pl.col("sensor_id").is_in(at["sensor_id"].unique().implode()))
        .with_columns(s=pl.col("t") // window_ms)
    )
    spread = pl.DataFrame({"_ds": [-1, 0, 1]}, schema={"_ds": pl.Int64})
    probe = (
        at.lazy()
        .with_columns(s=pl.col("t") // window_ms)
        .join(spread.lazy(), how="cross")
        .with_columns(s=pl.col("s") + pl.col("_ds"))
        .drop("_ds")
    )
    hits = probe.join(seen.rename({"t": "t_r"}), on=["sensor_id", "s"]).filter(
        (pl.col("t") - pl.col("t_r")).abs() <= window_ms
    )
    per = hits.group_by("a", "mac").agg(
        days=(pl.col("t") // MS_DAY).n_unique().cast(pl.Int64),
        meetings=(pl.col("t") // window_ms).n_unique().cast(pl.Int64),
    )
    return per.collect().select(list(schema)).sort("a", "mac")


def support(n: pl.Expr) -> pl.Expr:
    """n / (n + 2): the systems' support term (``trailbench.systems.common.SUPPORT_HALF``)."""
    return n.cast(pl.Float64) / (n.cast(pl.Float64) + 2.0)
