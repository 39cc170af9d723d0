"""Phones over the audit window: who owns and carries them, their advertising IDs and Wi-Fi MACs.

- Ownership by age band (``devices.ownership``); no one under 8 has a phone of their own.
- Shared phones: a household member without a phone may share an adult's; on some days
  (``shared_days``) the sharer carries it. Who carries a device when is the ``holders`` table.
- Second phones (work phones, prepaid) carried by their owner.
- Churn: a phone replaced in the window (prepaid more often) is a new device, with a new
  advertising ID and hardware MAC, carried by the same person.
- Advertising IDs reset at a yearly rate; each ID in use is a spell of the ``ad_ids`` table.
- Wi-Fi MAC behaviour by OS: ``fixed`` (hardware address everywhere), ``per_network`` (a
  private address per network, stable), ``rotating`` (per network, re-randomised every
  ``mac_rotation_hours``). The addresses themselves are made where they are seen
  (``trails.wifi``); here each device has its mode and hardware address.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from trailbench.rng import stream
from trailbench.scenario.movement import AGE_BANDS, DevicesConfig
from trailbench.world.device_ids import ad_ids, format_mac, hardware_perm, mac_words
from trailbench.world.window import Window

MAC_MODES = ("fixed", "per_network", "rotating")
MS_DAY = 86_400_000
MONTH_DAYS = 30.44
HANDOVER_MS = 5 * 3_600_000  # a shared phone changes hands at 05:00


@dataclass
class Devices:
    devices: pl.DataFrame  # one row per device (handset)
    ad_ids: pl.DataFrame  # device_key, ad_id, start, end
    holders: pl.DataFrame  # device_key, person_id, start, end: who carries the device


def _events(rng: np.random.Generator, rate: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """Poisson event times (ms in [0, span)) per row at ``rate`` events per ms; sorted by row, time."""
    counts = rng.poisson(rate * span)
    row = np.repeat(np.arange(len(rate)), counts)
    t = rng.integers(1, span, len(row))
    order = np.lexsort((t, row))
    return row[order], t[order]


def _spells(n: int, row: np.ndarray, t: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, ...]:
    """Split each row's [start, end) at its event times: (row, spell start, spell end)."""
    r = np.concatenate([np.arange(n), row])
    s = np.concatenate([start, np.clip(t, start[row], end[row])])
    order = np.lexsort((s, r))
    r, s = r[order], s[order]
    last = np.r_[r[1:] != r[:-1], True]
    e = np.where(last, end[r], np.r_[s[1:], 0])
    keep = e > s
    return r[keep], s[keep], e[keep]


def build_devices(people: pl.DataFrame, dv: DevicesConfig, seed: int, window: Window) -> Devices:
    """Devices, their advertising-ID spells and who holds them (streams ``world/devices/*``)."""
    rng = stream(seed, "world", "devices", "draws")
    span = window.days * MS_DAY
    pid = people["person_id"].to_numpy()
    hid = people["household_id"].to_numpy()
    age = (window.start.astype("datetime64[D]") - people["dob"].to_numpy().astype("datetime64[D]")).astype(
        np.int64
    ) / 365.25
    band = np.searchsorted(np.array(AGE_BANDS), age, side="right") - 1
    own_p = np.where(band >= 0, np.array(dv.ownership.as_array())[np.maximum(band, 0)], 0.0)
    owns = rng.random(len(pid)) < own_p
    second = owns & (age >= 18) & (rng.random(len(pid)) < dv.second_phone)
    # shared phones: a phoneless member (8+) shares one household adult owner's phone
    wants = ~owns & (age >= 8) & (rng.random(len(pid)) < dv.shared_phone)
    lender_ok = owns & (age >= 18)
    sharer_of = np.full(len(pid), -1, dtype=np.int64)  # owner -> the person sharing their phone
    want_idx = np.flatnonzero(wants)
    adults = np.flatnonzero(lender_ok)
    order = np.argsort(hid[adults], kind="stable")
    adults = adults[order]
    lo = np.searchsorted(hid[adults], hid[want_idx], side="left")
    hi = np.searchsorted(hid[adults], hid[want_idx], side="right")
    has = hi > lo
    lender = adults[lo[has] + (rng.random(int(has.sum())) * (hi - lo)[has]).astype(np.int64)]
    borrower = want_idx[has]
    first = np.unique(lender, return_index=True)[1]  # one sharer per phone
    sharer_of[lender[first]] = borrower[first]
    # slots: one per phone a person carries; churn makes several devices of one slot
    slot_person = np.concatenate([np.flatnonzero(owns), np.flatnonzero(second)])
    slot_role = np.concatenate([np.zeros(int(owns.sum()), np.int8), np.ones(int(second.sum()), np.int8)])
    n_slot = len(slot_person)
    ios = rng.random(n_slot) < dv.ios
    prepaid = rng.random(n_slot) < dv.prepaid
    panel = rng.random(n_slot) < dv.in_panel
    wifi = rng.random(n_slot) < dv.wifi_on
    rate = dv.pings_per_day * np.exp(dv.pings_sigma * rng.standard_normal(n_slot))
    modes = np.where(
        ios,
        rng.choice(3, n_slot, p=np.array(dv.mac_ios) / sum(dv.mac_ios)),
        rng.choice(3, n_slot, p=np.array(dv.mac_android) / sum(dv.mac_android)),
    )
    churn = np.where(prepaid, dv.prepaid_monthly_churn, dv.postpaid_monthly_churn) / (MONTH_DAYS * MS_DAY)
    row, t = _events(rng, churn, span)
    zero, full = np.zeros(n_slot, dtype=np.int64), np.full(n_slot, span, dtype=np.int64)
    slot, d_start, d_end = _spells(n_slot, row, t, zero, full)
    n_dev = len(slot)
    key = np.arange(n_dev, dtype=np.int64)
    t0 = window.start.astype("datetime64[ms]")
    hw = format_mac(mac_words(hardware_perm(seed), key, local=False))
    devices = pl.DataFrame(
        {
            "device_key": key,
            "person_id": pid[slot_person[slot]],
            "role": np.array(["primary", "second"], dtype=object)[slot_role[slot]],
            "os": np.where(ios[slot], "ios", "android"),
            "prepaid": prepaid[slot],
            "in_panel": panel[slot],
            "wifi_on": wifi[slot],
            "pings_per_day": rate[slot],
            "mac_mode": np.array(MAC_MODES, dtype=object)[modes[slot]],
            "hardware_mac": hw,
            "start": t0 + d_start.astype("timedelta64[ms]"),
            "end": t0 + d_end.astype("timedelta64[ms]"),
        },
        schema_overrides={"role": pl.String, "mac_mode": pl.String},
    )
    # advertising IDs: reset at a yearly rate while the device is in use
    reset = -np.log1p(-min(dv.ad_id_resets, 0.999999)) / (365.25 * MS_DAY) * np.ones(n_dev)
    r_row, r_t = _events(rng, reset, span)
    a_dev, a_start, a_end = _spells(n_dev, r_row, r_t, d_start, d_end)
    ads = pl.DataFrame(
        {
            "device_key": a_dev,
            "ad_id": ad_ids(seed, np.arange(len(a_dev), dtype=np.int64)),
            "start": t0 + a_start.astype("timedelta64[ms]"),
            "end": t0 + a_end.astype("timedelta64[ms]"),
        }
    )
    holders = _holders(rng, dv, window, pid, slot_person[slot], slot_role[slot], sharer_of, d_start, d_end)
    return Devices(devices, ads, holders)


def _holders(
    rng: np.random.Generator,
    dv: DevicesConfig,
    window: Window,
    pid: np.ndarray,
    owner: np.ndarray,
    role: np.ndarray,
    sharer_of: np.ndarray,
    d_start: np.ndarray,
    d_end: np.ndarray,
) -> pl.DataFrame:
    """Holder spells: the owner throughout, except shared primary phones, which the sharer carries
    on some days (from 05:00 to 05:00)."""
    shared = (role == 0) & (sharer_of[owner] >= 0)
    sd = np.flatnonzero(shared)
    # day boundaries at 05:00 across the window, per shared device
    cuts = np.arange(window.days + 1, dtype=np.int64) * MS_DAY + HANDOVER_MS - MS_DAY
    days = len(cuts)
    dev = np.repeat(sd, days)
    s = np.clip(np.tile(cuts, len(sd)), d_start[dev], d_end[dev])
    e = np.clip(np.tile(cuts + MS_DAY, len(sd)), d_start[dev], d_end[dev])
    by_sharer = rng.random(len(dev)) < dv.shared_days
    who = np.where(by_sharer, sharer_of[owner[dev]], owner[dev])
    plain = np.flatnonzero(~shared)
    dev = np.concatenate([plain, dev])
    who = np.concatenate([owner[plain], who])
    s = np.concatenate([d_start[plain], s])
    e = np.concatenate([d_end[plain], e])
    keep = e > s
    dev, who, s, e = dev[keep], who[keep], s[keep], e[keep]
    order = np.lexsort((s, dev))
    dev, who, s, e = dev[order], who[order], s[order], e[order]
    # merge consecutive days with the same holder
    new = np.r_[True, (dev[1:] != dev[:-1]) | (who[1:] != who[:-1]) | (s[1:] != e[:-1])]
    last = np.r_[new[1:], True]
    t0 = window.start.astype("datetime64[ms]")
    return pl.DataFrame(
        {
            "device_key": dev[new],
            "person_id": pid[who[new]],
            "start": t0 + s[new].astype("timedelta64[ms]"),
            "end": t0 + e[last].astype("timedelta64[ms]"),
        }
    )
