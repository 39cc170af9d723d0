"""The background population (issue 13): people outside the region, generated only as far as the
national sources (the broker, the phone directory, social profiles) need them, with no lives.

A background person has a group, sex, nativity, names, a date of birth, an address outside the
region (and, for a share, the address before one move in the period and its date) and a phone
number. Everything is drawn column by column with numpy, pyarrow and polars (no loop over
people), in seeded blocks of ``block`` people: block ``b`` holds people ``[b * block, min((b + 1)
* block, people))`` and draws from its own streams (``background/block/<b>`` and, for names,
``background/block/<b>/names``, so switching ``names.structure`` leaves everything else as it
was). Blocks are grouped into output parts of whole blocks and written on threads, so the
records depend neither on ``people_per_part`` nor on the number of threads.

Names come from the region's name tables by the region's own samplers
(:func:`trailbench.world.names.draw_surnames`, :func:`~trailbench.world.names.draw_given`) with
each group's conventions as the region applies them to a person with no household: Hispanic
paternal and maternal surnames joined at the cited rates, compound surnames of other groups at
theirs, middle names, and English aliases and family-name-first documents for foreign-born API
adults. Household conventions (children inheriting, spouses taking a surname) have no
background household to act in; a background surname is drawn from the group's table as the
region's householders' are.

Identifiers are fictional (DESIGN §9):

- ``background_id``: ``tb:bg:`` + 10 hex digits, a keyed permutation of a 2^40 space (stream
  ``background/ids``): it reveals neither the person's index nor how many people there are;
- addresses: fictional states with the ISO 3166-1 user-assigned codes ``QM``-``QZ`` and
  ``XA``-``XZ`` (less ``XK``), none a USPS code and none the region's ``ZZ``; ZIP codes in the
  never-assigned range ``00061``-``00099`` (one per state; the region's towns use ``00001``-
  ``00060``); towns and streets invented from the region's syllables, town names never one the
  region can have, so no background address resolves to a door of the region;
- phones: ``0NN-NXX-XXXX`` like the region's (area codes with a leading 0 or 1, never assigned),
  from the region's own keyed permutation of its number space (``world/phones/numbers``) taken
  from the top (the k-th background person's number is the permutation at ``PHONE_SPACE - 1 - k``)
  while the region issues from the bottom: region and background numbers are disjoint as long as
  both together stay under the two billion numbers of the space.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from trailbench.rng import stream
from trailbench.scenario import GROUPS, NamesConfig, WorldConfig, period_days
from trailbench.scenario.background import AGE_BANDS, BackgroundConfig
from trailbench.trails.parts import part_path, run_parts, write_part
from trailbench.world import geography, names
from trailbench.world.ids import KeyedPermutation
from trailbench.world.lives import PHONE_SPACE

STATES: tuple[str, ...] = tuple(["Q" + c for c in "MNOPQRSTUVWXYZ"] + ["X" + c for c in "ABCDEFGHIJLMNOPQRSTUVWXYZ"])
"""ISO 3166-1 user-assigned codes (QM-QZ, XA-XZ less XK): no USPS state or territory uses Q or X."""
FIRST_ZIP = 61  # state i has ZIP 000(61 + i): never assigned, and above the region's 00001-00060
ID_BITS = 40
ID_PREFIX = b"tb:bg:"
HISPANIC = GROUPS.index("hispanic")
API = GROUPS.index("api")
WHITE = GROUPS.index("white")
SEX = ("F", "M")
NUMBERS = (100, 10_000)  # house numbers, uniform [from, to): three or four digits like the region's (assumption)
STREETS_MIN = 4  # streets in the smallest town
_DAYS_OLD = (
    math.ceil(AGE_BANDS[0][0] * 365.25),  # 18 years of days at least, whatever the leap days
    math.floor(AGE_BANDS[-1][1] * 365.25) - 1,  # and less than 100 calendar years
)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)

COLUMNS: dict[str, pa.DataType] = {
    "background_id": pa.string(),
    "group": pa.dictionary(pa.int8(), pa.string()),
    "sex": pa.dictionary(pa.int8(), pa.string()),
    "foreign_born": pa.bool_(),
    "given": pa.string(),
    "middle": pa.string(),
    "surname": pa.string(),
    "surname_paternal": pa.string(),
    "surname_maternal": pa.string(),
    "alias_given": pa.string(),
    "family_name_first": pa.bool_(),
    "dob": pa.date32(),
    "number": pa.int32(),
    "street": pa.string(),
    "unit": pa.string(),
    "town": pa.string(),
    "state": pa.dictionary(pa.int8(), pa.string()),
    "zip": pa.string(),
    "address": pa.string(),
    "moved_at": pa.date32(),
    "prev_number": pa.int32(),
    "prev_street": pa.string(),
    "prev_unit": pa.string(),
    "prev_town": pa.string(),
    "prev_state": pa.dictionary(pa.int8(), pa.string()),
    "prev_zip": pa.string(),
    "prev_address": pa.string(),
    "phone": pa.string(),
}
"""The columns of a block, in order. ``middle``, ``surname_maternal`` (Hispanic only),
``alias_given``, ``unit``, the ``prev_*`` columns and ``moved_at`` (people who did not move), and
``phone`` are null where a person has none."""
SCHEMA = pa.schema(list(COLUMNS.items()))


# -- the fixed geography of the background --------------------------------------------------------


def town_name_pool() -> list[str]:
    """Every background town name: the region's syllables recombined (street heads with town
    tails, town heads with street tails, ...), less every name the region's towns can take."""
    heads = list(dict.fromkeys(geography._TOWN_HEADS + geography._HEADS))
    tails = list(dict.fromkeys(geography._TOWN_TAILS + geography._TAILS))
    region = set(geography.town_names(len(geography._TOWN_HEADS) * len(geography._TOWN_TAILS)))
    pool = [h + t for t in tails for h in heads]
    return [n for n in dict.fromkeys(pool) if n not in region]


@dataclass(frozen=True)
class Geography:
    """States, their towns (name, size) and each town's streets, fixed by the seed (not by N)."""

    town_cdf: np.ndarray  # national, over (state, town rank) flattened: state * towns_per_state + rank
    state_cdf: np.ndarray  # over states
    rank_cdf: np.ndarray  # over town ranks within a state
    town_name: pa.Array  # per town (flattened), its name
    streets: np.ndarray  # per town, how many streets (proportional to its expected size)
    street_offset: np.ndarray  # per town, where its run of street names starts
    street_name: pa.Array  # every street name, permuted
    towns_per_state: int


def _cdf(w: np.ndarray) -> np.ndarray:
    c = np.cumsum(w)
    return np.asarray(c / c[-1])


@lru_cache(maxsize=8)
def geography_for(seed: int, states: int, towns_per_state: int, state_zipf: float, town_zipf: float) -> Geography:
    rng = stream(seed, "background", "geography")
    pool = np.array(town_name_pool(), dtype=object)
    if towns_per_state > len(pool):
        raise ValueError(f"at most {len(pool)} background town names exist; got towns_per_state={towns_per_state}")
    state_w = np.arange(1, states + 1, dtype=np.float64) ** -state_zipf
    rank_w = np.arange(1, towns_per_state + 1, dtype=np.float64) ** -town_zipf
    state_w, rank_w = state_w / state_w.sum(), rank_w / rank_w.sum()
    town_w = (state_w[:, None] * rank_w[None, :]).ravel()
    # names: each state its own draw of distinct names, unrelated to size
    idx = np.concatenate([rng.permutation(len(pool))[:towns_per_state] for _ in range(states)])
    all_streets = geography.street_names(
        rng, len(geography.STREET_TYPES) * len(geography._HEADS) * len(geography._TAILS)
    )
    n_names = len(all_streets)
    streets = np.clip(np.round(n_names * town_w / town_w.max()), STREETS_MIN, n_names).astype(np.int64)
    return Geography(
        town_cdf=_cdf(town_w),
        state_cdf=_cdf(state_w),
        rank_cdf=_cdf(rank_w),
        town_name=pa.array(pool[idx].tolist(), type=pa.string()),
        streets=streets,
        street_offset=rng.integers(0, n_names, len(town_w)),
        street_name=pa.array(all_streets.tolist(), type=pa.string()),
        towns_per_state=towns_per_state,
    )


def _geography(cfg: BackgroundConfig, seed: int) -> Geography:
    return geography_for(seed, cfg.states, cfg.towns_per_state, cfg.state_zipf, cfg.town_zipf)


# -- columns ---------------------------------------------------------------------------------------


def _draw(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(cdf) - 1)


def _fixed(chars: np.ndarray) -> pa.Array:
    """A string array from an (n, width) uint8 array of ASCII (every string ``width`` long)."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(chars).ravel()
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _decimal(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) ASCII zero-padded decimal digits of non-negative integers."""
    v = np.asarray(values, dtype=np.int64)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return _DIGITS[(v[:, None] // powers[None, :]) % 10]


def background_ids(seed: int, index: np.ndarray) -> pa.Array:
    """``tb:bg:`` + 10 hex digits: the keyed permutation (stream ``background/ids``) of a 2^40 space."""
    v = KeyedPermutation(2**ID_BITS, stream(seed, "background", "ids"))(index).astype(np.uint64)
    digits = ID_BITS // 4
    shifts = np.arange(digits - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    hexes = _HEX[((v[:, None] >> shifts[None, :]) & np.uint64(0xF)).astype(np.int64)]
    prefix = np.broadcast_to(np.frombuffer(ID_PREFIX, dtype=np.uint8), (len(v), len(ID_PREFIX)))
    return _fixed(np.concatenate([prefix, hexes], axis=1))


def background_phones(seed: int, index: np.ndarray) -> pa.Array:
    """``0NN-NXX-XXXX``: the region's number permutation evaluated from the top of its space."""
    perm = KeyedPermutation(PHONE_SPACE, stream(seed, "world", "phones", "numbers"))
    num = perm(PHONE_SPACE - 1 - np.asarray(index, dtype=np.int64))
    d = _decimal(num, 10)
    dash = np.full((len(num), 1), ord("-"), dtype=np.uint8)
    return _fixed(np.concatenate([d[:, :3], dash, d[:, 3:6], dash, d[:, 6:]], axis=1))


def _strings(values: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.string(), from_pandas=True)


def _null_unless(mask: np.ndarray, arr: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(mask, type=pa.bool_()), arr, pa.scalar(None, arr.type))


def _dictionary(indices: np.ndarray, values: Sequence[str]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int8)), pa.array(list(values), type=pa.string()))


def _name_columns(
    rng: np.random.Generator, nc: NamesConfig, group: np.ndarray, male: np.ndarray, fb: np.ndarray
) -> dict[str, pa.Array]:
    """Names with each group's conventions, as ``population._name_columns`` gives a person with no
    household: the same samplers, rates and draw order where they apply."""
    flat = nc.structure == "flat"
    n = len(group)
    paternal = names.draw_surnames(rng, group, nc.structure, nc.flat_list_size)
    maternal = names.draw_surnames(rng, group, nc.structure, nc.flat_list_size)
    hisp = (group == HISPANIC) & (not flat)
    surname = paternal.copy()
    if not flat:
        u = rng.random(n)
        hy = np.where(hisp, nc.hispanic_hyphen, nc.other_hyphen)
        sp = np.where(hisp, nc.hispanic_space, nc.other_space)
        for joined, sep in ((u < hy, "-"), ((u >= hy) & (u < hy + sp), " ")):
            idx = np.flatnonzero(joined)
            pat = pl.Series(paternal[idx], dtype=pl.String)
            mat = pl.Series(maternal[idx], dtype=pl.String)
            surname[idx] = (pat + sep + mat).to_numpy()
    sex = male.astype(np.int64)
    given = names.draw_given(rng, group, sex, nc.structure)
    middle = names.draw_given(rng, group, sex, nc.structure)
    has_middle = rng.random(n) < nc.middle_name
    api_fb = (group == API) & fb & (not flat)
    alias = np.full(n, None, dtype=object)
    takes = np.flatnonzero(api_fb & (rng.random(n) < nc.english_alias))
    alias[takes] = names.draw_given(rng, np.full(len(takes), WHITE), sex[takes], "cited")
    fam_first = api_fb & (rng.random(n) < nc.family_name_first)
    return {
        "given": _strings(given),
        "middle": _null_unless(has_middle, _strings(middle)),
        "surname": _strings(surname),
        "surname_paternal": _strings(paternal),
        "surname_maternal": _null_unless(hisp, _strings(maternal)),
        "alias_given": _strings(alias),
        "family_name_first": pa.array(fam_first, type=pa.bool_()),
    }


def _addresses(
    rng: np.random.Generator, cfg: BackgroundConfig, geo: Geography, town: np.ndarray, prefix: str = ""
) -> dict[str, pa.Array]:
    """Address parts and canonical text (``1234 ASHWICK ST APT 12, GARDENE, QM 00061``) in ``town``."""
    n = len(town)
    state = town // geo.towns_per_state
    k = (rng.random(n) * geo.streets[town]).astype(np.int64)
    street_idx = (geo.street_offset[town] + k) % len(geo.street_name)
    number = rng.integers(*NUMBERS, n).astype(np.int32)
    has_unit = rng.random(n) < cfg.multi_unit
    large = rng.random(n) < 0.5  # units labelled as the region's: small buildings 1-12, large 101-1220
    label = np.where(large, rng.integers(1, 13, n) * 100 + rng.integers(1, 21, n), rng.integers(1, 13, n))
    street = geo.street_name.take(pa.array(street_idx))
    town_name = geo.town_name.take(pa.array(town))
    state_code = _dictionary(state, STATES[: cfg.states])
    zips = _fixed(_decimal(FIRST_ZIP + state, 5))
    unit = _null_unless(has_unit, pc.cast(pa.array(label), pa.string()))
    unit_text = pc.if_else(pa.array(has_unit), pc.binary_join_element_wise(" APT ", unit, ""), "")
    address = pc.binary_join_element_wise(
        pc.cast(pa.array(number), pa.string()),
        " ",
        street,
        unit_text,
        ", ",
        town_name,
        ", ",
        state_code.dictionary.take(state_code.indices),
        " ",
        zips,
        "",
    )
    return {
        f"{prefix}number": pa.array(number),
        f"{prefix}street": street,
        f"{prefix}unit": unit,
        f"{prefix}town": town_name,
        f"{prefix}state": state_code,
        f"{prefix}zip": zips,
        f"{prefix}address": address,
    }


def _previous_towns(rng: np.random.Generator, cfg: BackgroundConfig, geo: Geography, town: np.ndarray) -> np.ndarray:
    """A town for the address before the move: in the same state for a share ``moved_same_state``,
    else in another state (states weighted by size), at the town's rank-size weight within the state."""
    n = len(town)
    state = town // geo.towns_per_state
    other = (rng.random(n) >= cfg.moved_same_state) & (cfg.states > 1)
    new_state = state.copy()
    todo = np.flatnonzero(other)
    while len(todo):  # redraw those that landed in their own state
        new_state[todo] = _draw(rng, geo.state_cdf, len(todo))
        todo = todo[new_state[todo] == state[todo]]
    return new_state * geo.towns_per_state + _draw(rng, geo.rank_cdf, n)


def background_block(
    cfg: BackgroundConfig, seed: int, block: int, world: WorldConfig, names_cfg: NamesConfig
) -> pa.Table:
    """The background people of block ``block`` (``[block * cfg.block, min((block + 1) * cfg.block,
    cfg.people))``) as a table with the columns of ``COLUMNS``; empty past the last block.

    ``world`` gives the period (dates of birth are of adults at its start, moves fall within it),
    ``names_cfg`` the name structure; ``seed`` is the scenario's (the phone numbers share the
    region's number permutation)."""
    lo = min(block * cfg.block, cfg.people)
    hi = min(lo + cfg.block, cfg.people)
    if hi == lo:
        return SCHEMA.empty_table()
    # a whole block is drawn and cut, so the first k background people are the same whatever
    # ``people`` (k at most ``people``): a smaller file is a prefix of a larger one
    n = cfg.block
    index = np.arange(lo, lo + n, dtype=np.int64)
    rng = stream(seed, "background", "block", str(block))
    names_rng = stream(seed, "background", "block", str(block), "names")
    geo = _geography(cfg, seed)
    mix = np.asarray(cfg.group_mix.as_array(), dtype=np.float64)
    group = _draw(rng, _cdf(mix), n)
    male = rng.random(n) < cfg.male
    fb = rng.random(n) < np.asarray(cfg.foreign_born.as_array())[group]
    band = _draw(rng, _cdf(np.asarray(cfg.age_mix)), n)
    edges = np.asarray(AGE_BANDS, dtype=np.float64)
    age_days = (edges[band, 0] + rng.random(n) * (edges[band, 1] - edges[band, 0])) * 365.25
    start = np.datetime64(world.start.replace(day=1), "D")
    days_old = np.clip(np.ceil(age_days), *_DAYS_OLD).astype("timedelta64[D]")
    dob = start - days_old
    town = _draw(rng, geo.town_cdf, n)
    here = _addresses(rng, cfg, geo, town)
    moved = rng.random(n) < cfg.moved
    days = period_days(world.start, world.years)
    moved_at = start + rng.integers(0, days, n).astype("timedelta64[D]")
    before = _addresses(rng, cfg, geo, _previous_towns(rng, cfg, geo, town), "prev_")
    has_phone = rng.random(n) < cfg.phone
    cols: dict[str, pa.Array] = {
        "background_id": background_ids(seed, index),
        "group": _dictionary(group, GROUPS),
        "sex": _dictionary(male.astype(np.int64), SEX),
        "foreign_born": pa.array(fb),
        **_name_columns(names_rng, names_cfg, group, male, fb),
        "dob": pa.array(dob, type=pa.date32()),
        **here,
        "moved_at": _null_unless(moved, pa.array(moved_at, type=pa.date32())),
        **{k: _null_unless(moved, v) for k, v in before.items()},
        "phone": _null_unless(has_phone, background_phones(seed, index)),
    }
    table = pa.Table.from_arrays([cols[c].cast(t) for c, t in COLUMNS.items()], schema=SCHEMA)
    return table.slice(0, hi - lo)


# -- output ------------------------------------------------------------------------------------


def write_background(
    cfg: BackgroundConfig,
    seed: int,
    out_dir: Path,
    workers: int,
    world: WorldConfig,
    names_cfg: NamesConfig,
) -> int:
    """Every background person to ``out_dir/part-NNNNN.parquet`` (parts of whole blocks, in order);
    the number of people written.

    Parts are built and written on ``workers`` threads, each holding one part at a time, so
    memory is bounded by ``workers`` parts whatever ``cfg.people``. Files are byte-identical
    whatever ``workers``; the rows, read in part order, are identical whatever
    ``cfg.people_per_part``. Part files already in ``out_dir`` are removed first."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("part-*.parquet"):
        old.unlink()
    if cfg.people == 0:
        return 0
    names.load_tables()  # loaded once, before the threads
    _geography(cfg, seed)
    per = cfg.blocks_per_part

    def work(part: int) -> int:
        blocks = range(part * per, min((part + 1) * per, cfg.blocks))
        table = pa.concat_tables([background_block(cfg, seed, b, world, names_cfg) for b in blocks])
        write_part(table, part_path(out_dir, part))
        return int(table.num_rows)

    return sum(run_parts(work, range(cfg.parts), workers))


def read_background(out_dir: Path) -> pl.LazyFrame:
    """The background people written by :func:`write_background`, in order."""
    return pl.scan_parquet(sorted(out_dir.glob("part-*.parquet")))


def birth_range(world: WorldConfig) -> tuple[date, date]:
    """(earliest, latest) date of birth of a background person: 18 to 99 years old at the start of
    the period, in calendar years whatever the leap days."""
    start = np.datetime64(world.start.replace(day=1), "D")
    lo, hi = _DAYS_OLD
    return (start - np.timedelta64(hi, "D")).astype(date), (start - np.timedelta64(lo, "D")).astype(date)
