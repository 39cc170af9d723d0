"""``pattern``: pattern of life, device linkage and co-location from broker pings and Wi-Fi sightings.

A reconstruction from public descriptions of what location-data products sold to police do with
an advertising ID (EFF 2022 on Fog Reveal; FACTS "Movement, devices and pattern of life"), built
from the standard open pipeline (trackintel) and the defaults of ArcGIS Pro's "Find Meeting
Locations"; not any vendor's product. It reads only its working directory: the pings
(``trails/pings/``), the Wi-Fi sensors and sightings, the public address register and the
docket. It answers the three pattern tasks, for the cases whose clues include an advertising ID
(``device_id``), and no other task.

The window. Pings and sightings exist only for the audit window (the weeks before the docket is
drawn up) and the pattern tasks ask about that window, so every ping and sighting is used: a
case's as-of date (the date of its older clues, before the window) filters nothing here.

**home_work** (case_id, rank, place, x, y, radius_m, address_text, score). Stay points,
locations and home/work labels by :mod:`trailbench.systems.pattern_infer` (trackintel's
pipeline, ``method`` FREQ or OSNA) over the clue device's pings only, every fix. One home and one
work per case, each rank 1 within its ``place``: the rules name one of each, and a runner-up
would be a rule of this system's own. ``x, y``: the location's centre (the mean of its stay
points); ``radius_m``: its extent (farthest stay point plus DBSCAN's epsilon). A home is given
the address of the nearest register building within ``SNAP_M`` of its centre; a building with
several units is given by its street address without a unit: the pings cannot tell the floor,
and naming one unit (the register lists only full unit addresses) would send a knock to a door
the pings never pointed at. A work location gets no address. score = d / (d + 2) for the d
distinct days with a stay at the location (the systems' support term).

**device_link** (case_id, rank, device_id, score): the other identifiers attributed to the
subject (the clue ID itself is not repeated), by the rules of
:mod:`trailbench.systems.pattern_link`:

- co-residence, then co-travel: co-resident devices (night-time pings within ``colocation_m`` on
  at least ``co_residence_nights`` nights) are linked only when they also travel with the clue
  device: together (same ``colocation_min`` slot, within ``colocation_m``) in at least
  ``co_travel_share`` of the slots away from home in which both were seen. Co-residence alone
  would link every housemate and, in a dense building, the neighbours: this is the plausible
  commercial rule, and it still links a neighbour who keeps the subject's hours nearby (a
  coworker or schoolmate from the same building). score = share x n / (n + 2), n the slots
  together;
- hand-off: an ID that begins within ``pattern_link.HANDOFF_HOURS`` of the clue ID going quiet,
  where it went quiet (a reset ID, a new handset), or the clue ID's predecessor. score = 1/3 (one
  observation: n / (n + 2), n = 1);
- Wi-Fi: a MAC seen by a sensor within ``colocation_min`` of a clue-device ping within
  ``colocation_m`` of the sensor on at least ``wifi_min_visits`` distinct days. score = d / (d + 2)
  for those d days. A coworker seen as often is linked as readily: the rule cannot tell them
  apart, and MAC randomisation gives the subject's own phone a new address at every sensor.

Ranked by score, then identifier.

**colocation** (case_id, rank, entity, score): the devices that met the clue device (a ping within
``colocation_m`` and ``colocation_min`` of one of its pings) and the MACs seen with it at Wi-Fi
sensors, less those device_link attributes to the subject; one entity per identifier (no
grouping of a met person's several identifiers), ranked by meetings (the distinct
``colocation_min`` slots of the clue device's pings with a meeting; the score), at most
``max_entities``.

Parameters (``config.json``: ``{"pattern": {...}}``, declared with their sources in
:class:`trailbench.scenario.schema.PatternSystemConfig`):

- ``method`` (FREQ | OSNA; default FREQ, trackintel's): the home/work rule;
- ``engine`` (port | trackintel; default port): stay points (and FREQ labels) by the tested
  port of trackintel's steps or by trackintel itself (the same answers, slower);
- ``colocation_m`` (100 m), ``colocation_min`` (10 min): ArcGIS Pro "Find Meeting Locations"
  defaults (FACTS), the distance and time of every proximity rule;
- ``night_hours`` ((0, 6), assumption): the hours whose pings count as night-time;
- ``co_residence_nights`` (3), ``co_travel_share`` (0.6), ``wifi_min_visits`` (2): assumptions;
- ``max_entities`` (50, scenario choice): co-location entities per case.

The inference's own settings are trackintel's defaults
(:class:`trailbench.systems.pattern_infer.PatternSettings`: stay points 100 m / 5 min / gap
15 min, DBSCAN 100 m with one sample, no pre-filter, no accuracy filter). Constants of this
system (assumptions, each documented where defined): ``SNAP_M`` below;
``pattern_link.PROXIMITY_ACCURACY``, ``AWAY``, ``MIN_CO_SLOTS``, ``HANDOFF_HOURS`` and
``HANDOFF_SILENCE``.

Time: each step's wall time goes to stderr (the system's log). A county-10k world (8.6M pings,
about 330 clue devices; 2 cores, in the sandbox) takes about 5 s of the system's own work
(reading 0.9 s, Wi-Fi 0.5 s, meetings 2.1 s, links 0.4 s, co-location 0.1 s, home/work 0.9 s;
with OSNA or engine=trackintel, trackintel's import, about 2 s of CPU, runs in a thread alongside
the joins; FREQ on the port never imports it) plus about 1.2 s to start Python, and peaks at
about 1 GB of memory.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from pathlib import Path

import polars as pl

from trailbench.scenario.schema import PatternSystemConfig
from trailbench.systems.pattern_link import (
    MIN_CO_SLOTS,
    MS_MIN,
    Signals,
    co_resident,
    co_travel,
    handoffs,
    near_pairs,
    read_signals,
    support,
    wifi_contacts,
)
from trailbench.systems.pattern_meet import colocation_answers, meetings, met_counts
from trailbench.systems.protocol import read_config, write_answer

SNAP_M = 50.0
"""A home is given the address of the nearest register building within this distance of the
location's centre; none farther: no address (assumption: half the stay-point radius, so nearly
every home gets an address, as a product's would). Buildings stand 10 m apart on a street and a
home's centre is typically 20 m off, so the nearest building is often the house next door: in two
county-10k worlds, 89% of FREQ homes got an address and 42% of those named the right building
(50% at 20 m, 66% at 5 m, for a third and a fifth as many addresses). The bench counts the rest
as wrong doors."""

TASKS = ("home_work", "device_link", "colocation")


def _import_trackintel() -> None:
    import trackintel  # noqa: F401


class PatternSystem:
    name = "pattern"

    def run(self, workdir: Path) -> None:
        config = read_config(workdir)
        # the tasks the harness asks for (config "tasks"; all three when it does not say)
        wanted = [t for t in TASKS if t in config.get("tasks", TASKS)]
        if not wanted:
            return
        clock = Clock()
        cfg = PatternSystemConfig.model_validate(config.get("pattern", {}))
        cases = pl.read_parquet(workdir / "docket" / "cases.parquet")
        if "device_id" not in cases.columns:
            cases = cases.with_columns(device_id=pl.lit(None, pl.String))
        loader = None
        needs_trackintel = cfg.engine == "trackintel" or cfg.method != "FREQ"  # the port covers FREQ
        if "home_work" in wanted and needs_trackintel and cases["device_id"].drop_nulls().len():
            # trackintel takes ~2 s to import: it does so while the joins (which release the GIL) run
            loader = threading.Thread(target=_import_trackintel, daemon=True)
            loader.start()
        sig = read_signals(workdir, cases, cfg.colocation_m)
        clock.lap("read")
        if "device_link" in wanted or "colocation" in wanted:
            window_ms = round(cfg.colocation_min * MS_MIN)
            wifi = wifi_contacts(sig, workdir, cfg.colocation_m, window_ms)
            clock.lap("wifi")
            met = meetings(sig, cfg.colocation_m, window_ms)
            clock.lap("meet")
            linked = device_links(sig, cfg, met, wifi, window_ms)
            if "device_link" in wanted:
                write_answer(workdir, self.name, "device_link", linked)
            clock.lap("link")
            if "colocation" in wanted:
                coloc = colocation_answers(sig, met_counts(met), wifi, linked, cfg.max_entities)
                write_answer(workdir, self.name, "colocation", coloc)
                clock.lap("colocation")
        if "home_work" in wanted:
            if loader is not None:
                loader.join()
                clock.lap("import")
            write_answer(workdir, self.name, "home_work", home_work(workdir, sig, cfg))
            clock.lap("home_work")
        clock.report()


def device_links(
    sig: Signals, cfg: PatternSystemConfig, met: pl.DataFrame, wifi: pl.DataFrame, window_ms: int
) -> pl.DataFrame:
    """case_id, rank, device_id, score: the identifiers attributed to each case's subject."""
    night = (cfg.night_hours[0], cfg.night_hours[1])
    res = co_resident(sig, cfg.colocation_m, night, cfg.co_residence_nights)
    # together in at least share x MIN_CO_SLOTS slots, or the share cannot reach the threshold
    need = math.ceil(cfg.co_travel_share * MIN_CO_SLOTS - 1e-9)
    ct = co_travel(sig, res.select("a", "o"), met, cfg.colocation_m, window_ms, night, need)
    own = ct.filter((pl.col("slots") >= MIN_CO_SLOTS) & (pl.col("share") >= cfg.co_travel_share))
    found = [
        own.select("a", device_id=sig.name("o"), score=pl.col("share") * support(pl.col("together"))),
        handoffs(sig, cfg.colocation_m).select("a", device_id=sig.name("o"), score=support(pl.lit(1))),
        wifi.filter(pl.col("days") >= cfg.wifi_min_visits).select("a", device_id="mac", score=support(pl.col("days"))),
    ]
    found = [f.cast({"a": pl.UInt32, "device_id": pl.String, "score": pl.Float64}) for f in found]
    links = pl.concat(found).group_by("a", "device_id").agg(pl.col("score").max())
    out = sig.clues.join(links, left_on="d", right_on="a").select("case_id", "device_id", "score")
    return _ranked(out, "device_id")


def _ranked(df: pl.DataFrame, tie: str, by: str = "score") -> pl.DataFrame:
    """``df`` with ``rank`` per case: highest ``by`` first, ties by ``tie``."""
    df = df.sort(["case_id", by, tie], descending=[False, True, False])
    return df.with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("case_id"))


def home_work(workdir: Path, sig: Signals, cfg: PatternSystemConfig) -> pl.DataFrame:
    """case_id, rank, place, x, y, radius_m, address_text, score: each clue device's home and work."""
    from trailbench.systems.pattern_infer import PatternSettings, infer

    pings = sig.clue_pings(fine=False).select(
        device_id=sig.name("d"), t=pl.from_epoch("t", "ms"), x="x", y="y", accuracy_m="accuracy_m"
    )
    res = infer(pings, PatternSettings(method=cfg.method, engine=cfg.engine))
    key = ["device_id", "location_id"]
    days = res.staypoints.drop_nulls("location_id").group_by(key).agg(days=pl.col("started_at").dt.date().n_unique())
    lab = res.labels.join(days, on=key, how="left").with_columns(pl.col("days").fill_null(0))
    lab = lab.with_row_index("i")
    lab = lab.join(snap(workdir, lab.filter(pl.col("label") == "home")), on="i", how="left")
    out = sig.clues.select("case_id", device_id=sig.name("d")).join(lab, on="device_id")
    return out.select(
        "case_id",
        rank=pl.lit(1, pl.Int64),
        place="label",
        x="x",
        y="y",
        radius_m="radius_m",
        address_text="address_text",
        score=support(pl.col("days")),
    ).sort("case_id", "place")


def buildings(workdir: Path) -> pl.DataFrame:
    """address_text, x, y: one row per building of the address register; a building with units
    by its street address alone (no unit)."""
    path = workdir / "trails" / "address_register.parquet"
    if not path.exists():
        return pl.DataFrame(schema={"address_text": pl.String, "x": pl.Float64, "y": pl.Float64})
    reg = pl.read_parquet(path)
    by = ["number", "street", "town", "state", "zip", "x", "y"]
    one = pl.format("{} {}, {}, {} {}", "number", "street", "town", "state", "zip")
    return (
        reg.group_by(by)
        .agg(n=pl.len(), units=pl.col("unit").count(), address=pl.col("address").min())
        .select(
            address_text=pl.when((pl.col("n") == 1) & (pl.col("units") == 0)).then("address").otherwise(one),
            x="x",
            y="y",
        )
        .sort("address_text")
    )


def snap(workdir: Path, homes: pl.DataFrame) -> pl.DataFrame:
    """(i, address_text): the nearest register building within ``SNAP_M`` of each home (rows with
    a row index ``i``, x, y); ties by address."""
    b = buildings(workdir)
    if homes.is_empty() or b.is_empty():
        return pl.DataFrame(schema={"i": pl.UInt32, "address_text": pl.String})
    left = homes.select(a="i", b=pl.lit(0, pl.Int64), t=pl.lit(0, pl.Int64), x="x", y="y")
    right = b.with_row_index("o").select("o", b=pl.lit(0, pl.Int64), t=pl.lit(0, pl.Int64), x="x", y="y")
    near = near_pairs(left, right, SNAP_M).collect()
    near = near.join(b.with_row_index("o").select("o", "address_text"), on="o")
    near = near.with_columns(dist=(pl.col("x") - pl.col("x_r")).pow(2) + (pl.col("y") - pl.col("y_r")).pow(2))
    return near.sort("a", "dist", "address_text").unique("a", keep="first").select(i="a", address_text="address_text")


class Clock:
    """Wall time per step, written to stderr (the system's log)."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.laps: list[tuple[str, float]] = []

    def lap(self, what: str) -> None:
        now = time.perf_counter()
        self.laps.append((what, now - self.last))
        self.last = now

    def report(self) -> None:
        steps = ", ".join(f"{what} {s:.2f} s" for what, s in self.laps)
        print(f"pattern: {steps}; total {time.perf_counter() - self.start:.2f} s", file=sys.stderr)
