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
from trailbench.rng import stream
from trailbench.scenario import Scenario, SourceConfig
from trailbench.trails import background, errors
from trailbench.trails.catalog import Period, Source, pair_order, record_numbers, sold_to_broker
from trailbench.trails.errors import BIT, STREET_LONG
from trailbench.trails.render import rates_for
from trailbench.trails.shared import factorize, first_of, gather
from trailbench.world import World

MAX_SHARED = int(value("broker_max_shared"))
BROKER_NAME = "broker"


def connected_components(keys: list[np.ndarray]) -> np.ndarray:
    """Component label per node; nodes sharing any key value (>= 0) are joined.

    A component's label is its lowest node. The components are found on the key values (each
    node joins the values of its keys), not on the nodes: there are fewer, and each value's
    nodes need no edges among themselves."""
    n = len(keys[0])
    # every value of every key is a vertex; a node joins the vertices of its keys
    vertex, size = [], 0
    for key in keys:
        ok = key >= 0
        vertex.append(np.where(ok, key + size, -1))
        size += int(key.max()) + 1 if ok.any() else 0
    if size == 0:
        return np.arange(n, dtype=np.int64)
    first = np.full(n, -1, dtype=np.int64)  # each node's first vertex, joined to its others
    ends = []
    for v in vertex:
        both = (first >= 0) & (v >= 0)
        ends.append(first[both] * size + v[both])
        first = np.where(first >= 0, first, v)
    edges = pl.Series(np.concatenate(ends)).unique().to_numpy()
    root = _roots(size, edges // size, edges % size)
    # each component by its root (a node with no key is a component of its own), labelled by its
    # lowest node
    comp = np.where(first >= 0, root[np.maximum(first, 0)], size + np.arange(n))
    low = np.full(size + n, n, dtype=np.int64)
    np.minimum.at(low, comp, np.arange(n))
    return low[comp]


def _roots(size: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The lowest vertex of each vertex's component, for edges (u, v) among vertices 0..size-1:
    the higher of two roots an edge joins is hooked under the lower, then every vertex points to
    its root, until no edge joins two roots."""
    parent = np.arange(size, dtype=np.int64)
    while True:
        pu, pv = parent[u], parent[v]
        apart = pu != pv
        if not apart.any():
            return parent
        u, v, pu, pv = u[apart], v[apart], pu[apart], pv[apart]
        np.minimum.at(parent, np.maximum(pu, pv), np.minimum(pu, pv))
        while True:
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up


def _key(df: pl.DataFrame, *cols: str) -> np.ndarray:
    return factorize(df.select(cols))


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


# the words the broker rewrites: units as APT, street types in their short forms
HOUSE_WORDS = {"UNIT": "APT", "STE": "APT", **USPS_TYPES}


def house_address(col: str) -> pl.Expr:
    """The broker's address style (USPS Publication 28): upper case, no punctuation, street types
    abbreviated, every unit written ``APT``."""
    e = pl.col(col).str.to_uppercase().str.replace_all(r"#\s*", " APT ")
    e = pl.concat_str([pl.lit(" "), e.str.replace_all(r"[^A-Z0-9 ]", " "), pl.lit(" ")])
    # whole words (only letters, digits and spaces are left), found with the spaces around them: a
    # word right after one replaced lost its space to it, so a second pass finds those (no two are
    # next to each other, and no replacement is itself a word to replace)
    words, short = [f" {w} " for w in HOUSE_WORDS], [f" {a} " for a in HOUSE_WORDS.values()]
    e = e.str.replace_many(words, short).str.replace_many(words, short)
    return e.str.replace_all(r"  +", " ").str.strip_chars()


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
    """Typos (:func:`errors.typo`) in a share ``rate`` of ``values``: only the cells selected are
    edited one by one."""
    hit = np.flatnonzero((rng.random(len(values)) < rate) & values.is_not_null().to_numpy())
    cdf = errors.kind_cdf(kinds)
    new = [errors.typo_by_cdf(rng, str(v), cdf) for v in values.gather(hit).to_list()]
    mask = np.zeros(len(values), dtype=bool)
    mask[hit] = True
    return _edited(values, hit, new), mask


def _edited(values: pl.Series, at: np.ndarray, new: list[str]) -> pl.Series:
    return values.clone().scatter(at, pl.Series(new, dtype=pl.String)) if len(at) else values


def _per_value(values: pl.Series, style: Callable[[str], pl.Expr]) -> pl.Series:
    """``style`` applied once to each distinct value (names and addresses repeat across records)."""
    codes = factorize(values)
    at = np.flatnonzero(codes >= 0)
    if len(at) == 0:
        return values.to_frame("v").select(style("v")).to_series()
    distinct = values.gather(at[first_of(codes[at])]).to_frame("v").select(style("v")).to_series()
    return gather(distinct, codes)


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
    """:func:`broker_records` after the sample (``take``) is drawn; with the background people
    whose keys are the region's (:mod:`trailbench.trails.background`) merged in."""
    styled = _house_style(take, sc, cfg, rng, end)
    bg = background.current()
    if bg.parts is not None and bg.people > 0:
        people = background.kept_people(bg, *background.region_keys(world, styled), sc.background.join_memory_mb)
        people = background.with_world_phones(people, sc)
        bg.kept, bg.rows = background.people_truth(people), people
        rows = background.background_records(people, sc, dict(take.schema), end)
        own = stream(sc.seed, "trails", BROKER_NAME, "background", "style")
        rows = rows.filter(pl.Series(own.random(rows.height) < cfg.coverage))
        styled = pl.concat([styled, _house_style(rows, sc, cfg, own, end)])
    return _profiles(styled, world, rng)


def _house_style(
    take: pl.DataFrame, sc: Scenario, cfg: SourceConfig, rng: np.random.Generator, end: np.datetime64
) -> pl.DataFrame:
    """Records as the broker keeps them, before its merge: re-dated, in its own style, with its
    own keying errors (recorded in ``error_bits``)."""
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
    return take.with_columns(
        observed_at=pl.min_horizontal(
            (pl.col("observed_at") + pl.duration(days=pl.lit(pl.Series(lag)))).cast(pl.Date), pl.lit(end)
        ),
        stale=pl.col("stale") | pl.Series(redate),
        source=pl.lit(BROKER_NAME),
        given=given,
        surname=surname,
        middle=style["middle"],
        dob=dob,
        address_text=addr,
        licence_number=pl.lit(None, dtype=pl.String),
        case_number=pl.lit(None, dtype=pl.String),
        error_bits=pl.Series(bits),
    )


def _profiles(take: pl.DataFrame, world: World, rng: np.random.Generator) -> pl.DataFrame:
    """The broker's merge: profiles (``group_key``) by its crude rule, and a profile's missing
    dates of birth filled from its other records."""
    bits = take["error_bits"].to_numpy().copy()
    norm = take.select(
        s=_per_value(take["surname"], lambda c: pl.col(c).str.replace_all(r"[^A-Z]", "")),
        g3=pl.col("given").str.slice(0, 3),
        dob=pl.col("dob"),
    )
    labels = connected_components([_key(norm, "s", "g3"), _key(norm, "s", "dob")])
    del norm
    # a profile's missing dates of birth filled from its other records: the commonest full date
    # (the earliest, as text, of equally common ones)
    filled = gather(*_modal_dates(take["dob"], labels))
    missing = np.flatnonzero(take["dob"].is_null().to_numpy() & filled.is_not_null().to_numpy())
    true_dob = world.people["dob"].gather(take["person_id"].gather(missing)).cast(pl.String)
    wrong = (filled.gather(missing) != true_dob).fill_null(True).to_numpy()
    bits[missing[wrong]] |= BIT["merged_dob"]
    dob = take["dob"].scatter(missing, filled.gather(missing)) if len(missing) else take["dob"]
    take = take.with_columns(dob=_per_value(dob, house_dob), error_bits=pl.Series(bits))
    # profile numbers in order of first appearance after a seeded shuffle: no truth order leaks
    order = rng.permutation(len(labels))
    seen = labels[order]
    first = np.full(len(labels), len(labels), dtype=np.int64)
    np.minimum.at(first, seen, np.arange(len(labels)))
    uniq = seen[first[seen] == np.arange(len(labels))]
    rank_of = np.zeros(len(labels), dtype=np.int64)
    rank_of[uniq] = np.arange(len(uniq))
    keys = pl.select(pl.format("BP{}", pl.int_range(len(uniq), dtype=pl.Int64).cast(pl.String).str.zfill(8)))
    return take.with_columns(group_key=keys.to_series().gather(rank_of[labels]))


def _modal_dates(dob: pl.Series, labels: np.ndarray) -> tuple[pl.Series, np.ndarray]:
    """Each label's commonest full date of birth (the earliest as text of equally common ones):
    the dates, and for each row the place of its label's date among them (-1: none)."""
    rows = np.flatnonzero((dob.str.len_chars() == 10).fill_null(False).to_numpy())
    full = dob.gather(rows)
    code = factorize(full)
    dates = full.gather(first_of(code))  # each date once, then in text order
    by_text = dates.arg_sort().to_numpy()
    place = np.empty(len(dates), dtype=np.int64)
    place[by_text] = np.arange(len(dates))
    dates = dates.gather(by_text)
    d = len(dates)
    if d == 0:
        return dates, np.full(len(labels), -1, dtype=np.int64)
    # (label, date) pairs counted; a label's best pair has the most rows, then the earliest date
    counts = pl.Series(labels[rows] * d + place[code]).value_counts()
    pair, count = counts[:, 0].to_numpy(), counts[:, 1].to_numpy().astype(np.int64)
    best = np.full(len(labels), -1, dtype=np.int64)
    np.maximum.at(best, pair // d, count * d + (d - 1 - pair % d))
    best = np.where(best >= 0, d - 1 - best % d, -1)
    return dates, best[labels]


def bought_records(
    records: pl.DataFrame, world: World, sc: Scenario, cfg: SourceConfig, rng: np.random.Generator, p: Period
) -> pl.DataFrame:
    """The broker's records, from the records of the sources declared ``sold_to_broker``."""
    # as ``broker_records(records.filter(sold), ...)``, without a copy of every record sold
    sold = np.flatnonzero(records["source"].is_in(sold_to_broker()).to_numpy())
    keep = np.zeros(records.height, dtype=bool)
    keep[sold[rng.random(len(sold)) < cfg.coverage]] = True
    take = records.filter(pl.Series(keep))
    # columns none of these records fill (a city, a handle) as nulls that take no memory
    empty = [pl.lit(None, dtype=take.schema[c]).alias(c) for c in take.columns if take[c].null_count() == take.height]
    take = take.with_columns(empty) if empty and take.height else take
    return _kept_records(take, world, sc, cfg, rng, p.end - np.timedelta64(1, "D"))


def broker_links(records: pl.DataFrame, world: World, sc: Scenario, rng: np.random.Generator) -> pl.DataFrame:
    """'Possible relatives' (same surname) and 'possible associates' sharing an address with a profile.

    Links join each profile's latest record; ``records`` are all records with ids (the broker's are used).
    """
    # the broker's rows, and only the columns read here, column by column (an expression on all of
    # ``records`` would first copy every column into one piece); ids and surnames are gathered
    # only for the records links join
    col = records.get_column
    at = np.flatnonzero(((col("source") == BROKER.name) & col("group_key").is_not_null()).to_numpy())
    if len(at) == 0:
        schema = {"source": pl.String, "record_id": pl.String, "linked_record_id": pl.String, "kind": pl.String}
        return pl.DataFrame(schema=schema)
    b = pl.DataFrame([col(c).gather(at) for c in ("observed_at", "group_key", "address_text")])
    b = b.with_columns(no=record_numbers(records).gather(at))
    # profiles numbered in the order of their keys, so that pairs compare numbers, not text
    g = factorize(b["group_key"])
    key_of = b["group_key"].gather(first_of(g))
    n_prof = len(key_of)
    rank = np.empty(n_prof, dtype=np.int64)
    rank[key_of.arg_sort().to_numpy()] = np.arange(n_prof)
    g = rank[g]
    # each profile's latest record, by (observed_at, record id): the largest of one packed key
    days = b["observed_at"].to_physical().cast(pl.Int64)
    day = (days - days.min() + 1).fill_null(0).to_numpy()
    no = b["no"].to_numpy()
    k = day * (int(no.max()) + 1) + no
    top = np.full(n_prof, -1, dtype=np.int64)
    np.maximum.at(top, g, k)
    latest = np.empty(n_prof, dtype=np.int64)
    last = np.flatnonzero(k == top[g])
    latest[g[last]] = last
    # the addresses each profile has, compared without case, spaces or punctuation
    raw = factorize(b["address_text"])
    has = np.flatnonzero(raw >= 0)
    written = b["address_text"].gather(has[first_of(raw[has])])  # each address once
    norm = factorize(written.str.to_uppercase().str.replace_all(r"[^A-Z0-9]", ""))
    del b, written
    # (address, profile) once each, sorted; addresses of too many profiles give no links
    ag = pl.Series(norm[raw[has]] * n_prof + g[has]).unique().sort().to_numpy()
    a, pg = ag // n_prof, ag % n_prof
    keep = np.bincount(a)[a] <= MAX_SHARED
    a, pg = a[keep], pg[keep]
    # every two profiles at one address, the lower number first: the rows d apart in the sorted list
    ends = []
    for d in range(1, MAX_SHARED):
        same = np.flatnonzero(a[d:] == a[:-d])
        if len(same) == 0:
            break
        ends.append(pg[same] * n_prof + pg[same + d])
    pairs = pl.Series(np.concatenate(ends) if ends else np.zeros(0, dtype=np.int64)).unique().to_numpy()
    ga, gb = latest[pairs // n_prof], latest[pairs % n_prof]
    o = pair_order(no[ga], no[gb])  # in the order of (record_id, linked_record_id)
    ga, gb = at[ga[o]], at[gb[o]]
    out = pl.DataFrame(
        {
            "record_id": col("record_id").gather(ga),
            "linked_record_id": col("record_id").gather(gb),
            "s": col("surname").gather(ga),
            "s_b": col("surname").gather(gb),
        }
    )
    return out.select(
        pl.lit(BROKER.name).alias("source"),
        "record_id",
        "linked_record_id",
        kind=pl.when(pl.col("s") == pl.col("s_b"))
        .then(pl.lit("possible_relative"))
        .otherwise(pl.lit("possible_associate")),
    )


BROKER = Source(
    name=BROKER_NAME,
    description="a commercial data broker: bought records merged into profiles, re-dated addresses, "
    "possible relatives and associates",
    fields=("middle", "dob", "sex", "address_text", "phone", "ssn", "group_key"),
    derive=bought_records,
    links=broker_links,
    config=lambda sc: sc.sources.broker,
)
