"""Wi-Fi sensor sightings: MAC addresses seen by sensors at some places (DESIGN §4).

A share of shops, clinics, places of worship, transit stops and workplaces (``sensor_share``)
has a sensor. A phone with Wi-Fi on, carried by someone staying at such a place, is seen at
``sightings_per_min`` with a received signal strength. The address it shows depends on its
MAC mode: its hardware address (``fixed``), a private address for that network (``per_network``),
or one re-randomised every ``mac_rotation_hours`` (``rotating``); private addresses come from a
keyed permutation of (device, network, period), so none reveals the device or another address.

``trails/wifi_sightings/part-*.parquet``: ``sensor_id, mac, t, rssi``, sorted by sensor_id, t,
mac; ``truth/wifi_sightings/part-*.parquet`` is aligned with it row for row (as for pings): the
device, the person carrying it and their stay. Partition q covers a fixed block of sensors (in
sensor_id order) and draws from ``stream(seed, "signals", "wifi", q)``.
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
from trailbench.trails.parts import dictionary, part_path, run_parts, write_part
from trailbench.world.activity import Activity
from trailbench.world.device_ids import LOCAL, MAC_BITS, format_mac, hardware_perm, mac_words, private_perm, sensor_ids
from trailbench.world.devices import MAC_MODES, Devices

SENSOR_KINDS = ("shop", "clinic", "worship", "transit", "workplace")
SENSORS_PER_PART = 64
MS_MIN = 60_000


def build_sensors(places: pl.DataFrame, dv: DevicesConfig, seed: int) -> pl.DataFrame:
    """sensor_key, sensor_id, place_id, x, y; sorted by sensor_id (stream ``world/sensors``)."""
    rng = stream(seed, "world", "sensors")
    cand = places.filter(pl.col("kind").is_in(SENSOR_KINDS)).sort("place_id")
    chosen = cand.filter(pl.Series(rng.random(cand.height) < dv.sensor_share))
    key = np.arange(chosen.height, dtype=np.int64)
    return (
        chosen.select("place_id", "x", "y")
        .with_columns(sensor_key=pl.Series(key), sensor_id=pl.Series(sensor_ids(seed, key), dtype=pl.String))
        .sort("sensor_id")
        .select("sensor_key", "sensor_id", "place_id", "x", "y")
    )


@dataclass(frozen=True)
class WifiPlan:
    t0: np.datetime64
    sensors: pl.DataFrame
    segments: pl.DataFrame  # sensor_rank, sensor_key, device_key, person_id, stay_id, mode, s, e (ms)
    rotation_ms: int
    epochs: int

    @property
    def parts(self) -> int:
        return -(-self.sensors.height // SENSORS_PER_PART)


def plan_sightings(activity: Activity, devices: Devices, sensors: pl.DataFrame, dv: DevicesConfig) -> WifiPlan:
    t0 = activity.window.start.astype("datetime64[ms]")
    base = int(t0.astype(np.int64))
    ranked = sensors.with_columns(sensor_rank=pl.int_range(pl.len(), dtype=pl.Int64))
    at = activity.stays.join(ranked.select("place_id", "sensor_rank", "sensor_key"), on="place_id")
    carried = devices.holders.join(
        devices.devices.filter(pl.col("wifi_on")).select("device_key", "mac_mode"), on="device_key"
    ).rename({"start": "h_start", "end": "h_end"})
    seg = (
        at.join(carried, on="person_id")
        .with_columns(
            s=pl.max_horizontal("start", "h_start").cast(pl.Int64) - base,
            e=pl.min_horizontal("end", "h_end").cast(pl.Int64) - base,
            mode=pl.col("mac_mode").replace_strict(list(MAC_MODES), list(range(len(MAC_MODES)))).cast(pl.Int64),
        )
        .filter(pl.col("e") > pl.col("s"))
        .select("sensor_rank", "sensor_key", "device_key", "person_id", "stay_id", "mode", "s", "e")
        .sort("sensor_rank", "s", "device_key")
    )
    rotation = round(dv.mac_rotation_hours * 3_600_000)
    return WifiPlan(t0, sensors, seg, rotation, math.ceil(activity.window.days * 86_400_000 / rotation))


def _macs(
    plan: WifiPlan, seed: int, device: np.ndarray, sensor: np.ndarray, mode: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """48-bit MAC words shown by each device to each sensor at each time."""
    n_s = int(plan.sensors["sensor_key"].to_numpy().max(initial=0)) + 1
    slot = np.where(mode == MAC_MODES.index("rotating"), 1 + t // plan.rotation_ms, 0)
    index = (device * n_s + sensor) * (plan.epochs + 1) + slot
    if len(index) and int(index.max()) >= 2**MAC_BITS:
        raise ValueError("too many (device, sensor, period) combinations for the private MAC space")
    out = np.empty(len(device), dtype=np.uint64)
    fixed = mode == MAC_MODES.index("fixed")
    out[fixed] = mac_words(hardware_perm(seed), device[fixed], local=False)
    out[~fixed] = mac_words(private_perm(seed), index[~fixed], local=True)
    return out


def sighting_part(plan: WifiPlan, dv: DevicesConfig, seed: int, part: int) -> tuple[pa.Table, pa.Table, pl.DataFrame]:
    """One partition's sightings, their truth row for row, and the (private mac, device_key) pairs seen."""
    rng = stream(seed, "signals", "wifi", str(part))
    r0, r1 = part * SENSORS_PER_PART, min((part + 1) * SENSORS_PER_PART, plan.sensors.height)
    seg = plan.segments.filter(pl.col("sensor_rank").is_between(r0, r1 - 1))
    s, e = seg["s"].to_numpy(), seg["e"].to_numpy()
    counts = rng.poisson(dv.sightings_per_min * (e - s) / MS_MIN)
    row = np.repeat(np.arange(seg.height), counts)
    t = s[row] + (rng.random(len(row)) * (e - s)[row]).astype(np.int64)
    rssi = np.clip(np.round(rng.normal(dv.rssi_mean, dv.rssi_sd, len(row))), -100, -20).astype(np.int16)
    rank = seg["sensor_rank"].to_numpy()[row]
    device = seg["device_key"].to_numpy()[row]
    words = _macs(plan, seed, device, seg["sensor_key"].to_numpy()[row], seg["mode"].to_numpy()[row], t)
    order = np.lexsort((words, t, rank))
    row, t, rssi, rank, device, words = row[order], t[order], rssi[order], rank[order], device[order], words[order]
    uniq, mac_idx = np.unique(words, return_inverse=True)
    macs = format_mac(uniq)
    sensor = dictionary(pa.array((rank - r0).astype(np.int32)), pa.array(plan.sensors["sensor_id"][r0:r1].to_list()))
    mac = dictionary(pa.array(mac_idx.astype(np.int32)), pa.array(macs.tolist(), type=pa.string()))
    when = pa.array(plan.t0 + t.astype("timedelta64[ms]"))
    sightings = pa.table({"sensor_id": sensor, "mac": mac, "t": when, "rssi": rssi})
    truth = pa.table(
        {
            "device_key": device,
            "person_id": seg["person_id"].to_numpy()[row],
            "stay_id": seg["stay_id"].to_numpy()[row],
        }
    )
    private = (words >> np.uint64(40)) & np.uint64(0b11) == np.uint64(LOCAL)
    pair = np.unique((mac_idx[private].astype(np.int64) << 32) | device[private])
    seen = pl.DataFrame(
        {"identifier": macs[pair >> 32], "device_key": pair & 0xFFFFFFFF}, schema_overrides={"identifier": pl.String}
    )
    return sightings, truth, seen


def write_sightings(
    plan: WifiPlan, dv: DevicesConfig, seed: int, trails: Path, truth: Path, workers: int = 1
) -> tuple[int, pl.DataFrame]:
    """Write every partition; the sighting count and the (mac, device_key) pairs seen."""

    def one(part: int) -> tuple[int, pl.DataFrame]:
        sightings, tr, seen = sighting_part(plan, dv, seed, part)
        write_part(sightings, part_path(trails / "wifi_sightings", part))
        write_part(tr, part_path(truth / "wifi_sightings", part))
        return sightings.num_rows, seen

    done = run_parts(one, range(plan.parts), workers)
    seen = (
        pl.concat([d[1] for d in done])
        if done
        else pl.DataFrame(schema={"identifier": pl.String, "device_key": pl.Int64})
    )
    return sum(d[0] for d in done), seen.unique(maintain_order=True)
