"""Location pings: what a location-data broker's panel holds about each device (DESIGN §4).

``trails/pings/part-*.parquet``: ``device_id, t, x, y, accuracy_m, source``, one row per ping,
sorted by device_id (an advertising ID from a keyed permutation) then t, so row order says
nothing of who carries the device. ``truth/pings/part-*.parquet`` is aligned with it row for
row (row i of truth part k is ping i of trails part k: read both and stack them side by side):
the person carrying the device, the device (``device_key`` of world/devices), the stay the
person was in (null while travelling) and the true position.

A device's pings come in bursts (app sessions) at a log-normal daily rate (heavy-tailed: most
pings come from few devices), fewer while its holder sleeps, none on dormant days; each ping is
fixed by GPS, Wi-Fi or cell with a horizontal error whose median is the source's, and reports
a 68% accuracy radius as Android does. Partition p covers a fixed block of advertising-ID
spells and draws from ``stream(seed, "signals", "pings", p)``: output does not depend on how
many threads write it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from trailbench.rng import stream
from trailbench.scenario.movement import DevicesConfig
from trailbench.trails.parts import dictionary, expand, part_path, run_parts, write_part
from trailbench.world.activity import Activity
from trailbench.world.devices import MS_DAY, Devices

SOURCES = ("gps", "wifi", "cell")
RAYLEIGH_MEDIAN = math.sqrt(2 * math.log(2))  # median radius of a unit 2-D Gaussian
RAYLEIGH_68 = math.sqrt(-2 * math.log(0.32))  # its 68% radius
MS_MIN = 60_000


def median_factor(sigma: float) -> float:
    """The median of exp(sigma Z) R, Z standard normal and R the radius of a 2-D Gaussian scaled to
    median 1: dividing an error scale by this makes the median error the scale's median."""
    z, w = np.polynomial.hermite_e.hermegauss(64)
    w = w / w.sum()

    def cdf(m: float) -> float:
        r = m * np.exp(-sigma * z)
        return float((w * (1.0 - np.exp(-(r * r) * math.log(2)))).sum())

    lo, hi = 1e-6, 1e6
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if cdf(mid) < 0.5 else (lo, mid)
    return math.sqrt(lo * hi)


@dataclass(frozen=True)
class PingPlan:
    """Inputs of every partition, prepared once (read-only, shared by threads)."""

    t0: np.datetime64  # window start, datetime64[ms]
    seg_spell: np.ndarray  # segment -> advertising-ID spell rank (spells sorted by ad_id)
    seg_device: np.ndarray
    seg_person: np.ndarray
    seg_start: np.ndarray  # ms from t0
    seg_end: np.ndarray
    seg_rate: np.ndarray  # pings a day
    spell_ad: np.ndarray  # ad_id of each spell rank
    bounds: np.ndarray  # segment index at which each partition starts (and one past the end)
    stay_off: np.ndarray  # person -> first stay (stays sorted by person, start)
    stay_start: np.ndarray  # ms from t0
    stay_end: np.ndarray
    stay_x: np.ndarray
    stay_y: np.ndarray
    stay_id: np.ndarray
    sleep_start: np.ndarray  # per person, ms after midnight
    sleep_len: np.ndarray  # ms

    @property
    def parts(self) -> int:
        return len(self.bounds) - 1


def _ms(col: str, t0: np.datetime64) -> pl.Expr:
    return pl.col(col).cast(pl.Datetime("ms")).cast(pl.Int64) - int(t0.astype(np.int64))


def plan_pings(activity: Activity, devices: Devices, people: int, dv: DevicesConfig) -> PingPlan:
    t0 = activity.window.start.astype("datetime64[ms]")
    stays = activity.stays.sort("person_id", "start")
    person = stays["person_id"].to_numpy()
    ms = stays.select(s=_ms("start", t0), e=_ms("end", t0))
    sched = activity.schedules.sort("person_id")
    ads = devices.ad_ids.join(devices.devices.select("device_key", "in_panel", "pings_per_day"), on="device_key")
    seg = (
        ads.filter(pl.col("in_panel"))
        .join(devices.holders.rename({"start": "h_start", "end": "h_end"}), on="device_key")
        .with_columns(s=pl.max_horizontal("start", "h_start"), e=pl.min_horizontal("end", "h_end"))
        .filter(pl.col("e") > pl.col("s"))
        .sort("ad_id", "s")
        .with_columns(spell=pl.col("ad_id").rank("dense").cast(pl.Int64) - 1)
    )
    seg_ms = seg.select(s=_ms("s", t0), e=_ms("e", t0))
    spell = seg["spell"].to_numpy()
    n_spell = int(spell.max()) + 1 if len(spell) else 0
    per = dv.spells_per_part
    n_parts = -(-n_spell // per)
    bounds = np.searchsorted(spell, np.arange(n_parts + 1) * per)
    bounds[-1] = len(spell)
    return PingPlan(
        t0=t0,
        seg_spell=spell,
        seg_device=seg["device_key"].to_numpy(),
        seg_person=seg["person_id"].to_numpy(),
        seg_start=seg_ms["s"].to_numpy(),
        seg_end=seg_ms["e"].to_numpy(),
        seg_rate=seg["pings_per_day"].to_numpy(),
        spell_ad=seg.unique("spell", keep="first", maintain_order=True)["ad_id"].to_numpy().astype(str),
        bounds=bounds,
        stay_off=np.searchsorted(person, np.arange(people + 1)),
        stay_start=ms["s"].to_numpy(),
        stay_end=ms["e"].to_numpy(),
        stay_x=stays["x"].to_numpy().astype(np.float32),
        stay_y=stays["y"].to_numpy().astype(np.float32),
        stay_id=stays["stay_id"].to_numpy(),
        sleep_start=sched["sleep_start_min"].to_numpy() * MS_MIN,
        sleep_len=sched["sleep_minutes"].to_numpy() * MS_MIN,
    )


def _sorted_uniform(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """For each segment with count c, c sorted uniforms in (0, 1) (exponential spacings), concatenated."""
    cnt = counts + 1
    e = rng.standard_exponential(int(cnt.sum()))
    c = np.cumsum(e)
    last = np.cumsum(cnt) - 1
    first = last - counts
    base = c[first] - e[first]
    total = c[last] - base
    seg = expand(counts)
    keep = np.ones(len(c), dtype=bool)
    keep[last] = False
    return (c[keep] - base[seg]) / total[seg]


def _asleep(plan: PingPlan, person: np.ndarray, t: np.ndarray) -> np.ndarray:
    return (t - plan.sleep_start[person]) % MS_DAY < plan.sleep_len[person]


def _sessions(rng: np.random.Generator, plan: PingPlan, dv: DevicesConfig, lo: int, hi: int) -> tuple[np.ndarray, ...]:
    """(segment, time) of each app session, sorted by segment then time."""
    s0, s1, person = plan.seg_start[lo:hi], plan.seg_end[lo:hi], plan.seg_person[lo:hi]
    awake_share = 1.0 - (1.0 - dv.asleep_rate) * plan.sleep_len[person] / MS_DAY
    peak = plan.seg_rate[lo:hi] / dv.burst / awake_share / MS_DAY  # sessions per ms while awake
    counts = rng.poisson(peak * (s1 - s0))
    seg = expand(counts)
    t = s0[seg] + (_sorted_uniform(rng, counts) * (s1 - s0)[seg]).astype(np.int64)
    keep = ~_asleep(plan, person[seg], t) | (rng.random(len(t)) < dv.asleep_rate)
    days = int(-(-int(s1.max(initial=0)) // MS_DAY)) + 1
    dormant = rng.random((hi - lo, days)) < dv.dormant_days
    keep &= ~dormant[seg, t // MS_DAY]
    return seg[keep], t[keep]


def _bursts(rng: np.random.Generator, dv: DevicesConfig, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(session, time) of each ping: a geometric number of pings per session, exponential gaps."""
    size = rng.geometric(1.0 / dv.burst, len(t))
    session = expand(size)
    gaps = rng.standard_exponential(len(session), dtype=np.float32) * np.float32(dv.burst_gap_s * 1000.0)
    first = np.cumsum(size) - size
    gaps[first] = 0.0
    c = np.cumsum(gaps, dtype=np.float64)
    within = c - c[first][session]
    return session, t[session] + within.astype(np.int64)


def _where(plan: PingPlan, people: np.ndarray, local: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
    """True position (and stay id, -1 while travelling) at each time of person ``people[local]``
    (``people`` sorted and distinct: the partition's)."""
    lo, hi = plan.stay_off[people], plan.stay_off[people + 1]
    n = hi - lo
    owner = expand(n)
    idx = (lo - np.cumsum(n) + n)[owner] + np.arange(len(owner))
    keys = (owner << 32) | plan.stay_start[idx]
    i = np.searchsorted(keys, (local.astype(np.int64) << 32) | t, side="right") - 1
    i = np.clip(i, 0, len(idx) - 1)
    g = idx[i]
    inside = t < plan.stay_end[g]
    g2 = idx[np.minimum(i + 1, len(idx) - 1)]
    span = np.maximum(plan.stay_start[g2] - plan.stay_end[g], 1)
    frac = np.where(inside, 0.0, np.clip((t - plan.stay_end[g]) / span, 0.0, 1.0)).astype(np.float32)
    x = plan.stay_x[g] + frac * (plan.stay_x[g2] - plan.stay_x[g])
    y = plan.stay_y[g] + frac * (plan.stay_y[g2] - plan.stay_y[g])
    return x, y, np.where(inside, plan.stay_id[g], -1)


def ping_part(plan: PingPlan, dv: DevicesConfig, seed: int, part: int) -> tuple[pa.Table, pa.Table]:
    """One partition's pings and, row for row, their truth.

    A burst is fixed where its session starts (position, stay, source and error scale are the
    session's); each ping of it has its own error displacement.
    """
    rng = stream(seed, "signals", "pings", str(part))
    lo, hi = int(plan.bounds[part]), int(plan.bounds[part + 1])
    seg_s, t_s = _sessions(rng, plan, dv, lo, hi)
    people, seg_local = np.unique(plan.seg_person[lo:hi], return_inverse=True)
    sx, sy, s_stay = _where(plan, people, seg_local[seg_s], t_s)
    shares = np.cumsum(np.array(dv.sources) / sum(dv.sources))[:2]
    u = rng.random(len(t_s))
    s_src = ((u >= shares[0]).astype(np.int8) + (u >= shares[1]).astype(np.int8)).astype(np.int8)
    median = np.array(dv.error_m.as_array(), dtype=np.float32) / np.float32(median_factor(dv.error_sigma))
    s_scale = median[s_src] * np.exp(np.float32(dv.error_sigma) * rng.standard_normal(len(t_s), dtype=np.float32))
    session, t = _bursts(rng, dv, t_s)
    seg = seg_s[session]
    keep = t < plan.seg_end[lo:hi][seg]
    session, seg, t = session[keep], seg[keep], t[keep]
    key = (seg.astype(np.int64) << 32) | t
    if len(key) > 1 and (key[1:] < key[:-1]).any():  # bursts running into the next session
        order = np.argsort(key, kind="stable")
        session, seg, t = session[order], seg[order], t[order]
    n = len(t)
    z = rng.standard_normal((2, n), dtype=np.float32)
    scale = s_scale[session]
    sd = scale * np.float32(1.0 / RAYLEIGH_MEDIAN)
    tx, ty = sx[session], sy[session]
    spell_lo = int(plan.seg_spell[lo]) if hi > lo else 0
    ad = (plan.seg_spell[lo:hi][seg] - spell_lo).astype(np.int32)
    names = plan.spell_ad[spell_lo : int(plan.seg_spell[hi - 1]) + 1] if hi > lo else np.zeros(0, dtype=str)
    device_id = dictionary(pa.array(ad), pa.array(names, type=pa.string()))
    when = pa.array(plan.t0 + t.astype("timedelta64[ms]"))
    pings = pa.table(
        {
            "device_id": device_id,
            "t": when,
            "x": tx + sd * z[0],
            "y": ty + sd * z[1],
            "accuracy_m": scale * np.float32(RAYLEIGH_68 / RAYLEIGH_MEDIAN),
            "source": dictionary(pa.array(s_src[session]), list(SOURCES)),
        }
    )
    stay = s_stay[session]
    truth = pa.table(
        {
            "person_id": plan.seg_person[lo:hi][seg],
            "device_key": plan.seg_device[lo:hi][seg],
            "stay_id": pa.array(stay, mask=stay < 0),
            "true_x": tx,
            "true_y": ty,
        }
    )
    return pings, truth


def _write_part(plan: PingPlan, dv: DevicesConfig, seed: int, trails: Path, truth: Path, part: int) -> int:
    pings, tr = ping_part(plan, dv, seed, part)
    write_part(pings, part_path(trails / "pings", part))
    write_part(tr, part_path(truth / "pings", part))
    return int(pings.num_rows)


def write_pings(plan: PingPlan, dv: DevicesConfig, seed: int, trails: Path, truth: Path, workers: int = 1) -> int:
    """Write every partition (pings to ``trails/pings/``, truth to ``truth/pings/``) on ``workers``
    threads; the ping count. The files do not depend on ``workers``."""
    return sum(run_parts(lambda p: _write_part(plan, dv, seed, trails, truth, p), range(plan.parts), workers))


@dataclass(frozen=True)
class SignalsWritten:
    pings: int
    sightings: int
    ping_parts: int
    wifi_parts: int


def write_signals(
    activity: Activity,
    devices: Devices,
    places: pl.DataFrame,
    people: int,
    dv: DevicesConfig,
    seed: int,
    trails: Path,
    truth: Path,
    workers: int = 1,
) -> SignalsWritten:
    """Pings, Wi-Fi sensors and sightings to ``trails/``; their truth and every device identifier
    (advertising IDs, hardware and private MACs seen) with its device to ``truth/``."""
    from trailbench.io import write_parquet
    from trailbench.trails.wifi import build_sensors, plan_sightings, write_sightings

    plan = plan_pings(activity, devices, people, dv)
    n_pings = write_pings(plan, dv, seed, trails, truth, workers)
    sensors = build_sensors(places, dv, seed)
    wplan = plan_sightings(activity, devices, sensors, dv)
    n_seen, macs = write_sightings(wplan, dv, seed, trails, truth, workers)
    write_parquet(sensors.select("sensor_id", "x", "y"), trails / "wifi_sensors.parquet")
    write_parquet(sensors.select("sensor_id", "place_id"), truth / "wifi_sensors.parquet")
    owner = devices.devices.select("device_key", "person_id")
    ids = pl.concat(
        [
            devices.ad_ids.select("device_key", identifier="ad_id", kind=pl.lit("ad_id")),
            devices.devices.select("device_key", identifier="hardware_mac", kind=pl.lit("hardware_mac")),
            macs.select("device_key", "identifier", kind=pl.lit("private_mac")),
        ],
        how="diagonal",
    )
    ids = ids.join(owner, on="device_key").select("identifier", "kind", "device_key", "person_id")
    write_parquet(ids.sort("identifier", "device_key"), truth / "device_ids.parquet")
    return SignalsWritten(n_pings, n_seen, plan.parts, wplan.parts)
