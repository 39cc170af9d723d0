"""A commercial data broker: it buys other sources' records, links them with its own crude rule,
keeps every address it has ever seen, and lists "possible relatives and associates".

The linkage rule follows the FTC's account of RealPage (FACTS.md): records join a profile on an
exact surname plus a fuzzy given name (same first three letters) or the same date of birth.
Namesakes are merged; that is the mechanism, not a parameter.

Its records are not copies of what it bought: it writes them in its own style, keys some values
wrong itself, fills a profile's gaps from the profile's other records and re-dates old
addresses (:func:`broker_records`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from trailbench.assumptions import pair, value
from trailbench.scenario import Scenario, SourceConfig
from trailbench.trails import errors
from trailbench.trails.catalog import Period, Source, sold_to_broker
from trailbench.trails.errors import BIT, STREET_LONG
from trailbench.trails.render import rates_for
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


NAME_WIDTH = tuple(int(w) for w in pair("broker_name_width"))
# USPS Publication 28 street types, from the long forms sources sometimes write
USPS_TYPES = {long: short for short, long in STREET_LONG.items() if long != short}


def house_name(col: str) -> pl.Expr:
    """A name as the broker writes it, before its field width: upper case, letters and single spaces."""
    return (
        pl.col(col)
        .str.to_uppercase()
        .str.replace_all(r"[-_/]", " ")
        .str.replace_all(r"[^A-Z ]", "")
        .str.replace_all(r" +", " ")
        .str.strip_chars()
    )


def house_address(col: str) -> pl.Expr:
    """The broker's address style (USPS Publication 28): upper case, no punctuation, street types
    abbreviated, every unit written ``APT``."""
    e = pl.col(col).str.to_uppercase().str.replace_all(r"#\s*", " APT ")
    e = e.str.replace_all(r"[^A-Z0-9 ]", " ").str.replace_all(r"\b(?:UNIT|STE)\b", "APT")
    for long, short in USPS_TYPES.items():
        e = e.str.replace_all(rf"\b{long}\b", short)
    return e.str.replace_all(r" +", " ").str.strip_chars()


def house_dob(col: str) -> pl.Expr:
    """The broker's date style, month first as US commercial files write dates (Metro 2 credit
    reporting: ``MMDDYYYY``): ``MM/DD/YYYY``, or ``MM/YYYY`` when only the month is known."""
    c = pl.col(col)
    return (
        pl.when(c.str.len_chars() == 10)
        .then(pl.concat_str([c.str.slice(5, 2), c.str.slice(8, 2), c.str.slice(0, 4)], separator="/"))
        .when(c.str.len_chars() == 7)
        .then(pl.concat_str([c.str.slice(5, 2), c.str.slice(0, 4)], separator="/"))
    )


def _digit_errors(
    rng: np.random.Generator, values: pl.Series, rate: float, positions: str
) -> tuple[pl.Series, np.ndarray]:
    """Key one digit wrong in a share ``rate`` of ``values``; the values and the mask of values changed.

    ``positions``: ``"dob"`` (an ISO date, any digit but the century's) or ``"number"`` (the
    house number at the start of an address text)."""
    hit = np.flatnonzero((rng.random(len(values)) < rate) & values.is_not_null().to_numpy())
    done = np.zeros(len(values), dtype=bool)
    at, new = [], []
    for i, v in zip(hit, values.gather(hit).to_list(), strict=True):
        if positions == "dob":  # not the century (assumption, as in render_dob)
            spots = [j for j in (2, 3, 5, 6, 8, 9) if j < len(v) and v[j].isdigit()]
        else:  # the house number at the start of an address
            spots = list(range(len(v) - len(v.lstrip("0123456789"))))
        if not spots:
            continue
        j = spots[int(rng.integers(len(spots)))]
        d = str((int(v[j]) + int(rng.integers(1, 10))) % 10)
        if positions == "number" and j == 0 and d == "0":
            d = "1"
        w = v[:j] + d + v[j + 1 :]
        at.append(i)
        new.append(w)
        done[i] = w != v
    return _edited(values, np.asarray(at, dtype=np.int64), new), done


def _typos(rng: np.random.Generator, values: pl.Series, rate: float, kinds: np.ndarray) -> tuple[pl.Series, np.ndarray]:
    """``errors._apply_typos`` on a series: only the cells selected are edited one by one."""
    hit = np.flatnonzero((rng.random(len(values)) < rate) & values.is_not_null().to_numpy())
    new = [errors.typo(rng, str(v), kinds) for v in values.gather(hit).to_list()]
    mask = np.zeros(len(values), dtype=bool)
    mask[hit] = True
    return _edited(values, hit, new), mask


def _edited(values: pl.Series, at: np.ndarray, new: list[str]) -> pl.Series:
    return values.clone().scatter(at, pl.Series(new, dtype=pl.String)) if len(at) else values


def _per_value(values: pl.Series, style: Callable[[str], pl.Expr]) -> pl.Series:
    """``style`` applied once to each distinct value (names and addresses repeat across records)."""
    u = values.drop_nulls().unique().to_frame("v").with_columns(h=style("v"))
    if u.height == 0:
        return values.to_frame("v").select(style("v")).to_series()
    return values.replace_strict(u["v"], u["h"], default=None, return_dtype=pl.String)


def broker_records(
    bought: pl.DataFrame,
    world: World,
    sc: Scenario,
    cfg: SourceConfig,
    rng: np.random.Generator,
    end: np.datetime64,
) -> pl.DataFrame:
    """The broker's records: a sample of ``bought`` as the broker keeps them, with a profile id.

    The broker re-dates some old addresses as recently seen, writes every record in its own
    style (names upper case and cut to its field widths, ``house_address``, ``house_dob``), keys
    some values wrong itself (typos, date and house-number digits at the scenario's rates times
    its ``error_scale``), links records into profiles with its crude rule and fills a profile's
    missing dates of birth from the profile's other records (a namesake's, when it merged one).
    """
    take = bought.filter(pl.Series(rng.random(bought.height) < cfg.coverage))
    return _kept_records(take, world, sc, cfg, rng, end)


def _kept_records(
    take: pl.DataFrame,
    world: World,
    sc: Scenario,
    cfg: SourceConfig,
    rng: np.random.Generator,
    end: np.datetime64,
) -> pl.DataFrame:
    """:func:`broker_records` after the sample (``take``) is drawn."""
    n = take.height
    lag = rng.exponential(max(cfg.lag_days, 0.001), n).astype(np.int64)
    # the broker re-dates some old addresses as "last seen" recently, without checking them
    redate = rng.random(n) < cfg.stale
    lag = lag + np.where(redate, rng.integers(0, 2 * 365, n), 0)
    bits = take["error_bits"].to_numpy() | np.where(redate, BIT["stale_address"], 0)
    # its own style, then its own keying errors
    gw, sw = NAME_WIDTH
    style = pl.DataFrame(
        {
            "given": _per_value(take["given"], house_name),
            "surname": _per_value(take["surname"], house_name),
            "middle": take["middle"].str.slice(0, 1),
            "address_text": _per_value(take["address_text"], house_address),
        }
    )
    cut = (style["given"].str.len_chars() > gw) | (style["surname"].str.len_chars() > sw)
    bits |= np.where(cut.fill_null(False).to_numpy(), BIT["name_truncated"], 0)
    style = style.with_columns(pl.col("given").str.slice(0, gw), pl.col("surname").str.slice(0, sw))
    r = rates_for(sc, cfg.error_scale)
    kinds = np.array(r.typo_kinds) / sum(r.typo_kinds)
    given, hit = _typos(rng, style["given"], r.name_typo, kinds)
    bits[hit] |= BIT["typo_given"]
    surname, hit = _typos(rng, style["surname"], r.name_typo, kinds)
    bits[hit] |= BIT["typo_surname"]
    dob, hit = _digit_errors(rng, take["dob"], r.dob_digit, "dob")
    bits[hit] |= BIT["dob_digit"]
    addr, hit = _digit_errors(rng, style["address_text"], r.address_digit, "number")
    bits[hit] |= BIT["address_digit"]
    take = take.with_columns(
        observed_at=pl.min_horizontal(
            (pl.col("observed_at") + pl.duration(days=pl.lit(pl.Series(lag)))).cast(pl.Date), pl.lit(end)
        ),
        stale=pl.col("stale") | pl.Series(redate),
        source=pl.lit(BROKER.name),
        given=given,
        surname=surname,
        middle=style["middle"],
        dob=dob,
        address_text=addr,
        licence_number=pl.lit(None, dtype=pl.String),
        case_number=pl.lit(None, dtype=pl.String),
    )
    norm = take.select(
        s=pl.col("surname").str.replace_all(r"[^A-Z]", ""),
        g3=pl.col("given").str.slice(0, 3),
        dob=pl.col("dob"),
    )
    labels = connected_components([_key(norm, "s", "g3"), _key(norm, "s", "dob")])
    # a profile's missing dates of birth filled from its other records: the commonest full date
    full = take.select(label=pl.Series(labels), dob=pl.col("dob")).filter(pl.col("dob").str.len_chars() == 10)
    modal = (
        full.group_by("label", "dob")
        .len()
        .sort(["label", "len", "dob"], descending=[False, True, False])
        .unique("label", keep="first", maintain_order=True)
        .select("label", fill="dob")
    )
    filled = (
        pl.DataFrame({"label": labels}).with_row_index("_row").join(modal, on="label", how="left").sort("_row")["fill"]
    )
    missing = take["dob"].is_null().to_numpy() & filled.is_not_null().to_numpy()
    true_dob = world.people["dob"].cast(pl.String).gather(take["person_id"])
    wrong = missing & (filled != true_dob).fill_null(True).to_numpy()
    bits |= np.where(wrong, BIT["merged_dob"], 0)
    take = take.with_columns(dob=pl.when(pl.Series(missing)).then(filled).otherwise(pl.col("dob")))
    take = take.with_columns(dob=house_dob("dob"), error_bits=pl.Series(bits))
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
    # as ``broker_records(records.filter(sold), ...)``, without a copy of every record sold
    sold = np.flatnonzero(records["source"].is_in(sold_to_broker()).to_numpy())
    keep = np.zeros(records.height, dtype=bool)
    keep[sold[rng.random(len(sold)) < cfg.coverage]] = True
    take = records.filter(pl.Series(keep))
    return _kept_records(take, world, sc, cfg, rng, p.end - np.timedelta64(1, "D"))


def broker_links(records: pl.DataFrame, world: World, sc: Scenario, rng: np.random.Generator) -> pl.DataFrame:
    """'Possible relatives' (same surname) and 'possible associates' sharing an address with a profile.

    Links join each profile's latest record; ``records`` are all records with ids (the broker's are used).
    """
    # only the columns read here: a filter of all of ``records`` would copy every column
    b = records.select("source", "observed_at", "record_id", "group_key", "surname", "address_text").filter(
        pl.col("source") == BROKER.name
    )
    latest = (
        b.select("observed_at", "record_id", "group_key", "surname")
        .sort("observed_at", "record_id")
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
