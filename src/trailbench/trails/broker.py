"""A commercial data broker: it buys other sources' records, links them with its own crude rule,
keeps every address it has ever seen, and lists "possible relatives and associates".

The linkage rule follows the FTC's account of RealPage (FACTS.md): records join a profile on an
exact surname plus a fuzzy given name (same first three letters) or the same date of birth.
Namesakes are merged; that is the mechanism, not a parameter.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from trailbench.assumptions import value
from trailbench.scenario import Scenario, SourceConfig
from trailbench.trails.catalog import Period, Source, sold_to_broker
from trailbench.trails.errors import BIT
from trailbench.world import World

MAX_SHARED = int(value("broker_max_shared"))


def connected_components(keys: list[np.ndarray]) -> np.ndarray:
    """Component label per node; nodes sharing any key value (>= 0) are joined."""
    n = len(keys[0])
    labels = np.arange(n, dtype=np.int64)
    while True:
        before = labels.copy()
        for key in keys:
            ok = key >= 0
            if not ok.any():
                continue
            k = key[ok]
            low = np.full(int(k.max()) + 1, np.iinfo(np.int64).max)
            np.minimum.at(low, k, labels[ok])
            labels[ok] = np.minimum(labels[ok], low[k])
        labels = labels[labels]  # pointer jumping
        if np.array_equal(labels, before):
            return labels


def _key(df: pl.DataFrame, *cols: str) -> np.ndarray:
    valid = pl.all_horizontal([pl.col(c).is_not_null() for c in cols])
    code = pl.struct(cols).rank("dense").cast(pl.Int64) - 1
    return df.select(pl.when(valid).then(code).otherwise(-1)).to_series().to_numpy()


def broker_records(
    bought: pl.DataFrame, cfg: SourceConfig, rng: np.random.Generator, end: np.datetime64
) -> pl.DataFrame:
    """Broker copies of a sample of ``bought`` records, with a profile id in ``group_key``."""
    take = bought.filter(pl.Series(rng.random(bought.height) < cfg.coverage))
    lag = rng.exponential(max(cfg.lag_days, 0.001), take.height).astype(np.int64)
    # the broker re-dates some old addresses as "last seen" recently, without checking them
    redate = rng.random(take.height) < cfg.stale
    lag = lag + np.where(redate, rng.integers(0, 2 * 365, take.height), 0)
    take = take.with_columns(
        observed_at=pl.min_horizontal(
            (pl.col("observed_at") + pl.duration(days=pl.lit(pl.Series(lag)))).cast(pl.Date), pl.lit(end)
        ),
        stale=pl.col("stale") | pl.Series(redate),
        error_bits=pl.col("error_bits") | pl.Series(np.where(redate, int(BIT["stale_address"]), 0)),
        source=pl.lit(BROKER.name),
        licence_number=pl.lit(None, dtype=pl.String),
        case_number=pl.lit(None, dtype=pl.String),
    )
    norm = take.select(
        s=pl.col("surname").str.to_uppercase().str.replace_all(r"[^A-Z]", ""),
        g3=pl.col("given").str.to_uppercase().str.slice(0, 3),
        dob=pl.col("dob"),
    )
    labels = connected_components([_key(norm, "s", "g3"), _key(norm, "s", "dob")])
    # profile numbers in order of first appearance after a seeded shuffle: no truth order leaks
    order = rng.permutation(len(labels))
    _, first = np.unique(labels[order], return_index=True)
    uniq = labels[order][np.sort(first)]
    rank_of = np.zeros(len(labels), dtype=np.int64)
    rank_of[uniq] = np.arange(len(uniq))
    rank = rank_of[labels]
    return take.with_columns(group_key=pl.format("BP{}", pl.Series(rank).cast(pl.String).str.zfill(8)))


def bought_records(
    records: pl.DataFrame, world: World, sc: Scenario, cfg: SourceConfig, rng: np.random.Generator, p: Period
) -> pl.DataFrame:
    """The broker's records, from the records of the sources declared ``sold_to_broker``."""
    bought = records.filter(pl.col("source").is_in(sold_to_broker()))
    return broker_records(bought, cfg, rng, p.end - np.timedelta64(1, "D"))


def broker_links(records: pl.DataFrame, world: World, sc: Scenario, rng: np.random.Generator) -> pl.DataFrame:
    """'Possible relatives' (same surname) and 'possible associates' sharing an address with a profile.

    Links join each profile's latest record; ``records`` are all records with ids (the broker's are used).
    """
    b = records.filter(pl.col("source") == BROKER.name)
    latest = (
        b.sort("observed_at", "record_id")
        .group_by("group_key")
        .agg(rep=pl.col("record_id").last(), surname=pl.col("surname").last())
    )
    addr = (
        b.select("group_key", a=pl.col("address_text").str.to_uppercase().str.replace_all(r"[^A-Z0-9]", ""))
        .drop_nulls()
        .unique()
    )
    addr = addr.filter(pl.len().over("a") <= MAX_SHARED)
    pairs = addr.join(addr, on="a", suffix="_b").filter(pl.col("group_key") < pl.col("group_key_b"))
    pairs = pairs.select("group_key", "group_key_b").unique()
    pairs = pairs.join(latest, on="group_key").join(
        latest.rename({"group_key": "group_key_b", "rep": "rep_b", "surname": "surname_b"}), on="group_key_b"
    )
    return pairs.select(
        source=pl.lit(BROKER.name),
        record_id=pl.col("rep"),
        linked_record_id=pl.col("rep_b"),
        kind=pl.when(pl.col("surname") == pl.col("surname_b"))
        .then(pl.lit("possible_relative"))
        .otherwise(pl.lit("possible_associate")),
    ).sort("record_id", "linked_record_id")


BROKER = Source(
    name="broker",
    description="a commercial data broker: bought records merged into profiles, re-dated addresses, "
    "possible relatives and associates",
    fields=("middle", "dob", "sex", "address_text", "phone", "ssn", "group_key"),
    derive=bought_records,
    links=broker_links,
    config=lambda sc: sc.sources.broker,
)
