"""The docket: the cases systems are asked about, and the clues an agency would hold.

A case is a subject (an adult of the world), an as-of date in the last years of the period,
and clues copied from one of the subject's older records as that record was written (with its
errors): name and date of birth, sometimes the old address, sometimes a phone number the
subject held then. Who is sampled is set by the scenario: by default foreign-born adults are
over-sampled, as on an enforcement docket.

When the world has signals, a share of cases (``docket.device_clue``) also hold a device
identifier: the advertising ID of a phone the subject owns that is in the broker's panel during
the audit window (one of them at random, when several: a second phone or a reset ID). These are
the cases of the pattern-of-life tasks, whose answers are about the audit window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from trailbench.rng import stream
from trailbench.scenario import Scenario
from trailbench.trails import Trails
from trailbench.trails.catalog import clue_sources
from trailbench.world import World, period
from trailbench.world.signal_world import SignalWorld

CASE_COLUMNS = ("case_id", "as_of", "given", "surname", "dob", "address_text", "phone", "device_id")


@dataclass
class Docket:
    cases: pl.DataFrame  # what systems see
    truth: pl.DataFrame  # case_id, person_id, as_of, clue_record_id, device_key, clue_pings


def device_clues(signals: SignalWorld, people: pl.Series) -> pl.DataFrame:
    """person_id, device_id, device_key, clue_pings: each advertising ID of a phone the person owns
    that has pings in the window (candidates for a device clue)."""
    owned = signals.devices.filter(pl.col("person_id").is_in(people.implode())).select("device_key", "person_id")
    ads = signals.ad_ids.join(owned, on="device_key").select("person_id", "device_key", device_id="ad_id")
    return ads.join(signals.ping_counts().rename({"pings": "clue_pings"}), on="device_id").sort(
        "person_id", "device_id"
    )


def build_docket(sc: Scenario, world: World, trails: Trails, signals: SignalWorld | None = None) -> Docket:
    d = sc.docket
    rng = stream(sc.seed, "docket")
    _, end = period(sc)
    people = world.people.select("person_id", "dob", "foreign_born")
    n = people.height
    window = int(d.as_of_years * 365)
    as_of = end - rng.integers(1, window + 1, n).astype("timedelta64[D]")
    cand = people.with_columns(as_of=pl.Series(as_of).cast(pl.Date)).filter(
        (pl.col("as_of") - pl.col("dob")).dt.total_days() >= 18 * 365.25
    )
    recs = trails.truth_records.filter(pl.col("source").is_in(clue_sources())).select("record_id", "person_id")
    recs = recs.join(
        trails.records.select("record_id", "observed_at", "given", "surname", "dob", "address_text"), on="record_id"
    )
    recs = recs.filter(pl.col("dob").is_not_null() & pl.col("given").is_not_null())
    lo, hi = int(d.clue_min_years * 365), int(d.clue_max_years * 365)
    clues = recs.join(cand.select("person_id", "as_of", "foreign_born"), on="person_id").filter(
        (pl.col("observed_at") <= pl.col("as_of") - pl.duration(days=lo))
        & (pl.col("observed_at") >= pl.col("as_of") - pl.duration(days=hi))
    )
    clues = clues.sort("person_id", "record_id")
    # one clue record per eligible person, chosen at random
    clues = clues.with_columns(_r=pl.Series(rng.random(clues.height))).sort("person_id", "_r")
    clues = clues.unique("person_id", keep="first", maintain_order=True).drop("_r")
    if clues.height == 0:
        raise ValueError("no eligible subjects: docket.clue_min_years/clue_max_years leave no older records")
    weight = np.where(clues["foreign_born"].to_numpy(), d.foreign_born_weight, 1.0)
    if weight.sum() == 0:
        raise ValueError("docket.foreign_born_weight = 0 and no US-born adults: nobody to sample")
    k = min(d.cases, int((weight > 0).sum()))
    pick = np.sort(rng.choice(clues.height, size=k, replace=False, p=weight / weight.sum()))
    chosen = clues[pick]
    # phones held at the clue's date
    ph = world.phones.select("person_id", "phone", "start").sort("start")
    with_phone = (
        chosen.select("person_id", "observed_at")
        .sort("observed_at")
        .join_asof(
            ph, left_on="observed_at", right_on="start", by="person_id", strategy="backward", check_sortedness=False
        )
    )
    chosen = chosen.join(with_phone.select("person_id", "phone"), on="person_id", how="left").sort("person_id")
    keep_addr = pl.Series(rng.random(k) < d.old_address_clue)
    keep_phone = pl.Series(rng.random(k) < d.phone_clue)
    order = rng.permutation(k)
    chosen = chosen.with_columns(
        address_text=pl.when(keep_addr).then(pl.col("address_text")),
        phone=pl.when(keep_phone).then(pl.col("phone")),
        _o=pl.Series(order),
    ).sort("_o")
    chosen = chosen.with_columns(case_id=pl.format("C{}", (pl.col("_o") + 1).cast(pl.String).str.zfill(6)))
    chosen = _with_device_clue(chosen, signals, d.device_clue, stream(sc.seed, "docket", "device"))
    cases = chosen.select(list(CASE_COLUMNS))
    truth = chosen.select("case_id", "person_id", "as_of", "device_key", "clue_pings", clue_record_id="record_id")
    return Docket(cases=cases, truth=truth)


def _with_device_clue(
    chosen: pl.DataFrame, signals: SignalWorld | None, rate: float, rng: np.random.Generator
) -> pl.DataFrame:
    """``device_id`` (the clue), ``device_key`` and ``clue_pings`` (truth) for a ``rate`` share of the
    cases whose subject has a candidate phone; null for the others."""
    none = chosen.with_columns(
        device_id=pl.lit(None, dtype=pl.String),
        device_key=pl.lit(None, dtype=pl.Int64),
        clue_pings=pl.lit(None, dtype=pl.UInt32),
    )
    if signals is None:
        return none
    cand = device_clues(signals, chosen["person_id"])
    if cand.height == 0:
        return none
    # one candidate per subject at random (drawn in person order, so the draw is the world's)
    cand = cand.with_columns(_r=pl.Series(rng.random(cand.height))).sort("person_id", "_r")
    cand = cand.unique("person_id", keep="first", maintain_order=True).drop("_r")
    cand = cand.filter(pl.Series(rng.random(cand.height) < rate))
    return chosen.join(cand, on="person_id", how="left")
