"""Daily life and devices as the docket and the scorers read them back from a world's directory.

The signals stage writes places, stays, schedules, devices, advertising IDs and holders to
``world/``, pings and Wi-Fi sightings to ``trails/`` and what each came from to ``truth/``.
:class:`SignalWorld` reads each table once, when first asked for (a scorer that never looks
at pings never reads them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from trailbench.world.window import Window, default_window

if TYPE_CHECKING:
    from trailbench.scenario import Scenario


@dataclass
class SignalWorld:
    where: Path  # the world's directory (its world/, trails/ and truth/)
    window: Window
    _pings: dict[tuple[str, ...], pl.DataFrame] = field(default_factory=dict, repr=False)

    def _world(self, name: str) -> pl.DataFrame:
        return pl.read_parquet(self.where / "world" / f"{name}.parquet")

    @cached_property
    def places(self) -> pl.DataFrame:
        return self._world("places")

    @cached_property
    def stays(self) -> pl.DataFrame:
        return self._world("stays")

    @cached_property
    def schedules(self) -> pl.DataFrame:
        return self._world("schedules")

    @cached_property
    def devices(self) -> pl.DataFrame:
        return self._world("devices")

    @cached_property
    def ad_ids(self) -> pl.DataFrame:
        return self._world("ad_ids")

    @cached_property
    def device_holders(self) -> pl.DataFrame:
        return self._world("device_holders")

    @cached_property
    def device_ids(self) -> pl.DataFrame:
        """identifier, kind, device_key, person_id (the device's owner): every identifier issued."""
        return pl.read_parquet(self.where / "truth" / "device_ids.parquet")

    @property
    def t0(self) -> np.datetime64:
        return self.window.start.astype("datetime64[ms]")

    @property
    def t1(self) -> np.datetime64:
        return self.t0 + np.timedelta64(self.window.days, "D")

    def _parts(self, side: str, folder: str) -> list[Path]:
        return sorted((self.where / side / folder).glob("part-*.parquet"))

    def ping_counts(self) -> pl.DataFrame:
        """device_id, pings: every advertising ID seen in the pings, with its number of pings."""
        parts = self._parts("trails", "pings")
        if not parts:
            return pl.DataFrame(schema={"device_id": pl.String, "pings": pl.UInt32})
        return (
            pl.scan_parquet(parts).group_by("device_id").agg(pings=pl.len().cast(pl.UInt32)).sort("device_id").collect()
        )

    def pings(self, device_ids: Iterable[str]) -> pl.DataFrame:
        """The pings of these advertising IDs, each with its truth (person_id carrying the phone,
        device_key, stay_id, true_x, true_y), sorted by device and time."""
        key = tuple(sorted(set(device_ids)))
        if key not in self._pings:
            wanted = pl.Series(key, dtype=pl.String).implode()
            seen, truth = self._parts("trails", "pings"), self._parts("truth", "pings")
            out = []
            if seen:
                # the parts are row-aligned, so a row's index over the whole folder is its key in both
                hits = pl.scan_parquet(seen, row_index_name="_i").filter(pl.col("device_id").is_in(wanted)).collect()
                if hits.height:
                    rows = pl.scan_parquet(truth, row_index_name="_i").filter(pl.col("_i").is_in(hits["_i"].implode()))
                    out.append(hits.join(rows.collect(), on="_i", maintain_order="left").drop("_i"))
            self._pings[key] = (
                pl.concat(out).sort("device_id", "t", maintain_order=True)
                if out
                else pl.DataFrame(
                    schema={
                        "device_id": pl.String,
                        "t": pl.Datetime("ms"),
                        "x": pl.Float32,
                        "y": pl.Float32,
                        "accuracy_m": pl.Float32,
                        "source": pl.String,
                        "person_id": pl.Int64,
                        "device_key": pl.Int64,
                        "stay_id": pl.Int64,
                        "true_x": pl.Float32,
                        "true_y": pl.Float32,
                    }
                )
            )
        return self._pings[key]


def signal_world(where: Path, sc: Scenario) -> SignalWorld | None:
    """A world's daily life and devices, read back lazily (None if it has no signals stage)."""
    if not (where / "world" / "devices.parquet").exists():
        return None
    from trailbench.world import period

    return SignalWorld(where, default_window(period(sc)[1], sc.movement.window_days))


def identifiers_seen(where: Path) -> pl.Series:
    """Every device identifier systems can see in a world: advertising IDs in the pings, MACs in the
    Wi-Fi sightings (what a device task's answers may cite)."""
    frames = [
        pl.scan_parquet(parts).select(id=pl.col(col).cast(pl.String))
        for folder, col in (("pings", "device_id"), ("wifi_sightings", "mac"))
        if (parts := sorted((where / "trails" / folder).glob("part-*.parquet")))
    ]
    if not frames:
        return pl.Series("id", [], dtype=pl.String)
    return pl.concat(frames).unique().collect()["id"]
