"""The stage graph (DESIGN §1–2): each stage declared once, with the configuration it reads, its
parent, its outputs and the registries its output depends on.

A stage's hash covers its config sections, the seed, the package version, its parent's hash, and
what it reads from the declarations (the registered sources for the trails, the registered tasks
and metrics with their versions for the audit), so registering a source or changing a metric
never serves a stale cached stage. ``pipeline`` holds the steps that build and load each stage;
systems have per-system keys of their own (``pipeline.system_key``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from trailbench import __version__
from trailbench.scenario import Scenario
from trailbench.world import TABLES


@dataclass(frozen=True)
class Stage:
    name: str
    sections: tuple[str, ...]  # scenario sections its output depends on
    parent: str | None
    outputs: tuple[str, ...]  # files under the run directory (``outcomes/*`` for a folder's tables)
    description: str
    declared: Callable[[], object] | None = None  # what of the declarations its output depends on


def _sources() -> object:
    from trailbench.trails.catalog import SOURCES

    return [[s.name, s.kind, list(s.fields), s.docket_clue, s.sold_to_broker, s.name_style] for s in SOURCES.values()]


def _tasks() -> object:
    from trailbench.tasks import registry

    return [[t.name, t.version, [[m.name, m.version] for m in t.metrics]] for t in registry.tasks()]


SIGNAL_WORLD = ("places", "stays", "schedules", "devices", "ad_ids", "device_holders")  # world/<name>.parquet
SIGNAL_FOLDERS = ("pings", "wifi_sightings")  # trails/<name>/ and truth/<name>/, partitioned
PLATE_FOLDERS = ("plate_reads",)  # trails/<name>/ and truth/<name>/, partitioned
PLATE_OUTPUTS = (
    "trails/cameras.parquet",
    "trails/hotlist.parquet",
    *(f"{side}/{n}/*" for side in ("trails", "truth") for n in PLATE_FOLDERS),
    *(f"truth/{n}.parquet" for n in ("cameras", "patrol_posts", "hotlist", "vehicles", "vehicle_drivers", "trips")),
)
SIGNAL_OUTPUTS = (
    *(f"world/{n}.parquet" for n in SIGNAL_WORLD),
    *(f"{side}/{n}/*" for side in ("trails", "truth") for n in SIGNAL_FOLDERS),
    "trails/wifi_sensors.parquet",
    "truth/wifi_sensors.parquet",
    "truth/device_ids.parquet",
)

STAGES: dict[str, Stage] = {
    s.name: s
    for s in (
        Stage(
            "world",
            ("world", "names", "housing", "work", "phones", "ties"),
            None,
            tuple(f"world/{name}.parquet" for name in TABLES),
            "the ground truth: people, households, units, residences, jobs, phones, ties",
        ),
        Stage(
            "trails",
            ("errors", "sources", "background"),
            "world",
            (
                "trails/records.parquet",
                "trails/record_links.parquet",
                "trails/address_register.parquet",
                "truth/records.parquet",
                "truth/background.parquet",
            ),
            "what systems see: every source's records, record links and the address register",
            _sources,
        ),
        Stage(
            "signals",
            ("movement", "devices"),
            "trails",
            SIGNAL_OUTPUTS,
            "daily life, devices and their signals: stays, phones and identifiers (world/), pings and Wi-Fi "
            "sightings (trails/), which device and person each came from (truth/)",
        ),
        Stage(
            "plates",
            ("plates",),
            "signals",
            PLATE_OUTPUTS,
            "vehicles, their trips and plate cameras: reads and the hotlist (trails/), which vehicle, driver and "
            "trip each read came from (truth/)",
        ),
        Stage(
            "docket",
            ("docket",),
            "plates",
            ("docket/cases.parquet", "truth/cases.parquet"),
            "the cases: subject, as-of date and clues",
        ),
        Stage(
            "systems",
            ("systems",),
            "docket",
            ("answers/*",),
            "every system's answers, status and log (each system cached on its own key)",
        ),
        Stage(
            "audit",
            ("audit",),
            "systems",
            ("scorecard.json", "scenario.toml", "outcomes/*"),
            "answers scored against the truth, the scorecard",
            _tasks,
        ),
    )
}


def stage_hash(sc: Scenario, stage: str) -> str:
    """Hash of everything a stage's output depends on."""
    st = STAGES[stage]
    text = f"{stage}|{__version__}|{sc.canonical('seed', *st.sections)}"
    if st.declared is not None:
        text += "|" + json.dumps(st.declared(), sort_keys=True)
    if st.parent is not None:
        text += "|" + stage_hash(sc, st.parent)
    return hashlib.sha256(text.encode()).hexdigest()
