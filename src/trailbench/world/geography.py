"""The fictional region: towns, blocks, buildings of three kinds, units and their addresses.

Coordinates are metres on a plane. Street and town names are invented from syllables; every
address is in the fictional state "ZZ" with a ZIP code in the never-assigned range 000xx.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from trailbench.assumptions import pair, value

STATE = "ZZ"
KINDS = ("house", "small", "large")
STREET_TYPES = ("ST", "AVE", "RD", "LN", "WAY", "CT", "DR", "PL")
_HEADS = [
    "ASH",
    "BRAM",
    "COR",
    "DUN",
    "ELL",
    "FEN",
    "GAR",
    "HOL",
    "IVY",
    "KES",
    "LARK",
    "MOR",
    "NETH",
    "OAK",
    "PEL",
    "QUIL",
    "RAV",
    "SAL",
    "THORN",
    "UL",
    "VEX",
    "WREN",
    "YAR",
    "ZEL",
    "BRISK",
    "CALD",
    "DOVE",
    "FARN",
    "GLIM",
    "HEST",
]
_TAILS = [
    "WICK",
    "FORD",
    "VALE",
    "MERE",
    "HOLT",
    "STEAD",
    "BRIDGE",
    "COMBE",
    "LEIGH",
    "THWAITE",
    "GROVE",
    "MOOR",
    "RIDGE",
    "BROOK",
    "FIELD",
    "HURST",
    "LOW",
    "SEDGE",
    "WOLD",
    "CROFT",
    "BANK",
    "DENE",
    "GATE",
    "HAVEN",
    "MEAD",
    "ROW",
    "SHAW",
    "TOFT",
    "WYN",
    "BURY",
]
_TOWN_HEADS = [
    "QUEL",
    "VORN",
    "ISK",
    "BRAE",
    "OSTR",
    "MIRR",
    "TALV",
    "ZENN",
    "CALV",
    "DREM",
    "YSOL",
    "FAUR",
    "KELD",
    "NIMB",
    "OXEL",
    "PRYD",
]
_TOWN_TAILS = ["MOOR", "HAVEN", "STEAD", "VALE", "WICK", "FORD", "MERE", "DALE", "HOLM", "CLIFF"]
BLOCK_SLOTS = int(value("block_slots"))
SLOTS = {"house": 1, "small": 3, "large": 12}
UNITS_SMALL = tuple(int(x) for x in pair("units_small"))
UNITS_LARGE = tuple(int(x) for x in pair("units_large"))


def town_names(n: int) -> list[str]:
    combos = [h + t for t in _TOWN_TAILS for h in _TOWN_HEADS]
    return combos[:n]


def street_names(rng: np.random.Generator, n: int) -> np.ndarray:
    combos = np.array([f"{h}{t} {s}" for s in STREET_TYPES for h in _HEADS for t in _TAILS], dtype=object)
    if n > len(combos):
        raise ValueError(f"region needs {n} streets; at most {len(combos)} names exist")
    return combos[rng.permutation(len(combos))[:n]]


def _buildings_for(rng: np.random.Generator, units: int, lo: int, hi: int) -> np.ndarray:
    """Sizes of multi-unit buildings adding up to at least ``units``."""
    if units <= 0:
        return np.zeros(0, dtype=np.int64)
    sizes = rng.integers(lo, hi + 1, size=units // lo + 1)
    n = int(np.searchsorted(np.cumsum(sizes), units)) + 1
    return sizes[:n]


def build_region(rng: np.random.Generator, units_by_kind: dict[str, int], towns: int) -> pl.DataFrame:
    """One row per housing unit with its building, kind, address parts and coordinates."""
    sizes = np.concatenate(
        [
            np.ones(units_by_kind["house"], dtype=np.int64),
            _buildings_for(rng, units_by_kind["small"], *UNITS_SMALL),
            _buildings_for(rng, units_by_kind["large"], *UNITS_LARGE),
        ]
    )
    kind = np.concatenate([np.full(units_by_kind["house"], 0), np.full(len(sizes) - units_by_kind["house"], 1)])
    kind[sizes >= UNITS_LARGE[0]] = 2
    kind[(sizes > 1) & (sizes < UNITS_LARGE[0])] = 1
    order = rng.permutation(len(sizes))
    sizes, kind = sizes[order], kind[order]
    n_b = len(sizes)
    # towns of Zipf-like size (assumption), buildings assigned by weight
    w = 1.0 / np.arange(1, towns + 1) ** 0.8
    town = np.sort(rng.choice(towns, size=n_b, p=w / w.sum()))
    slots = np.array([SLOTS[k] for k in KINDS])[kind]
    # cumulative slots within each town -> block index within town
    start_of_town = np.searchsorted(town, np.arange(towns))
    cum = np.cumsum(slots)
    base = np.concatenate([[0], cum])[start_of_town][town]
    pos_slots = cum - slots - base
    block_in_town = pos_slots // BLOCK_SLOTS
    slot_in_block = pos_slots % BLOCK_SLOTS
    n_blocks_town = np.zeros(towns, dtype=np.int64)
    np.maximum.at(n_blocks_town, town, block_in_town + 1)
    cols_town = np.maximum(np.ceil(np.sqrt(n_blocks_town)).astype(np.int64), 1)
    cols = cols_town[town]
    row = block_in_town // cols
    col = block_in_town % cols
    # one street per (town, row)
    rows_town = n_blocks_town // cols_town + 1
    street_base = np.concatenate([[0], np.cumsum(rows_town)])
    street_idx = street_base[town] + row
    streets = street_names(rng, int(street_base[-1]))
    number = (col + 1) * 100 + 2 * slot_in_block + (row % 2)
    cx = (np.arange(towns) % 5) * 9000.0
    cy = (np.arange(towns) // 5) * 9000.0
    bx = cx[town] + col * 130.0 + slot_in_block * 10.0
    by = cy[town] + row * 130.0
    zips = np.array([f"{i + 1:05d}" for i in range(towns)], dtype=object)  # 00001..: never assigned
    tnames = np.array(town_names(towns), dtype=object)

    b_id = np.repeat(np.arange(n_b), sizes)
    within = np.arange(len(b_id)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    ukind = kind[b_id]
    unit_label = np.where(ukind == 2, (within // 20 + 1) * 100 + within % 20 + 1, within + 1)
    df = pl.DataFrame(
        {
            "unit_id": np.arange(len(b_id), dtype=np.int64),
            "building_id": b_id.astype(np.int64),
            "kind": np.array(KINDS)[ukind],
            "number": number[b_id].astype(np.int64),
            "street": streets[street_idx[b_id]].astype(str),
            "unit": unit_label.astype(str),
            "town": tnames[town[b_id]].astype(str),
            "zip": zips[town[b_id]].astype(str),
            "x": bx[b_id],
            "y": by[b_id],
        }
    ).with_columns(unit=pl.when(pl.col("kind") == "house").then(None).otherwise(pl.col("unit")))
    return df.with_columns(address=canonical_address())


def canonical_address() -> pl.Expr:
    """The register's canonical rendering: ``12 ASHWICK ST APT 3, QUELMOOR, ZZ 00001``."""
    unit = pl.when(pl.col("unit").is_null()).then(pl.lit("")).otherwise(pl.lit(" APT ") + pl.col("unit"))
    return pl.concat_str(
        [
            pl.col("number").cast(pl.String),
            pl.lit(" "),
            pl.col("street"),
            unit,
            pl.lit(", "),
            pl.col("town"),
            pl.lit(f", {STATE} "),
            pl.col("zip"),
        ]
    )
