"""The event sources that leave records: what each holds, when, about whom, at which address.

Each ``*_events`` function returns one row per record a source would emit, before rendering:
``person_id`` (whose record it is), ``observed_at``, ``unit_id`` (the address it carries,
possibly stale), ``stale`` and source-specific columns. :mod:`trailbench.trails.render` turns
these into the text a system sees. Each source is declared once, after its function, as a
:class:`~trailbench.trails.catalog.Source`; ``trailbench.trails`` registers them in order.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from trailbench.assumptions import pair, value
from trailbench.scenario import Scenario, SourceConfig
from trailbench.trails.catalog import Period, Source, pair_order, record_numbers
from trailbench.trails.render import invented_words
from trailbench.trails.shared import cached, gather
from trailbench.world import World

RENEWAL_YEARS = int(value("renewal_years"))
SOCIAL_LINK_COVERAGE = value("social_link_coverage")


def _lagged(rng: np.random.Generator, dates: pl.Series, cfg: SourceConfig) -> pl.Series:
    lag = rng.exponential(max(cfg.lag_days, 0.001), len(dates)).astype(np.int64)
    return (dates + pl.Series(lag).cast(pl.Duration("ms")) * 86_400_000).cast(pl.Date)


def _covered(rng: np.random.Generator, n: int, p: float | np.ndarray) -> np.ndarray:
    return rng.random(n) < p


def person_residences(world: World) -> pl.DataFrame:
    """Residence spells per person (household spells expanded to members), with the previous unit."""

    def make() -> pl.DataFrame:
        res = world.residences.with_columns(prev_unit=pl.col("unit_id").shift(1).over("household_id"))
        return world.people.select("person_id", "household_id").join(res, on="household_id").sort("person_id", "start")

    return cached(world, "person_residences", make)


class Spells:
    """Rows of a table of spells (a person, a start date), found by person and day: for each, the
    last row of that person starting on or before the day, as a join_asof backward by person
    finds it (one binary search of packed (person, day) keys, no sorting of the events)."""

    def __init__(self, person: pl.Series, start: pl.Series) -> None:
        who = person.fill_null(-1).to_numpy()
        day = start.to_physical().cast(pl.Int64)
        known = day.drop_nulls().to_numpy()
        self.base = int(known.min()) if len(known) else 0
        self.width = (int(known.max()) if len(known) else 0) - self.base + 2
        days = day.fill_null(self.base - 1).to_numpy() - self.base
        key = who * self.width + days
        if len(key) and (key[1:] >= key[:-1]).all():  # already in order (person residences are)
            self.order = np.arange(len(key))
        else:
            self.order = np.lexsort((days, who))  # the last of equal keys is the table's last
            key = key[self.order]
        self.who = who[self.order]
        self.key = key

    def find(self, person: pl.Series, day: pl.Series) -> np.ndarray:
        """The row of each (person, day) (-1: none starts by then)."""
        who = person.fill_null(-2).to_numpy()
        if len(self.key) == 0:
            return np.full(len(who), -1, dtype=np.int64)
        d = day.to_physical().cast(pl.Int64).fill_null(self.base - 1).to_numpy() - self.base
        at = np.searchsorted(self.key, who * self.width + np.clip(d, -1, self.width - 1), side="right") - 1
        at = np.maximum(at, 0)
        return np.where(self.who[at] == who, self.order[at], -1)


def _residence_spells(world: World) -> Spells:
    pr = person_residences(world)
    return cached(world, "residence_spells", lambda: Spells(pr["person_id"], pr["start"]))


def unit_at(world: World, events: pl.DataFrame, stale: np.ndarray | None = None) -> pl.DataFrame:
    """Add ``unit_id`` (the person's residence on ``observed_at``; the previous one where stale)."""
    pr = person_residences(world)
    at = _residence_spells(world).find(events["person_id"], events["observed_at"])
    joined = events.with_columns(unit_id=gather(pr["unit_id"], at), prev_unit=gather(pr["prev_unit"], at))
    if stale is not None:
        s = pl.Series("_stale", stale)
        joined = (
            joined.with_columns(s)
            .with_columns(
                stale=pl.col("_stale") & pl.col("prev_unit").is_not_null(),
            )
            .with_columns(unit_id=pl.when(pl.col("stale")).then(pl.col("prev_unit")).otherwise(pl.col("unit_id")))
        )
        joined = joined.drop("_stale")
    else:
        joined = joined.with_columns(stale=pl.lit(False))
    return joined.drop("prev_unit")


def phone_at(world: World, events: pl.DataFrame) -> pl.DataFrame:
    """Add ``phone`` (the number the person held on ``observed_at``)."""
    ph = world.phones
    spells = cached(world, "phone_spells", lambda: Spells(ph["person_id"], ph["start"]))
    return events.with_columns(phone=gather(ph["phone"], spells.find(events["person_id"], events["observed_at"])))


def _in_period(df: pl.DataFrame, p: Period) -> pl.DataFrame:
    return df.filter(pl.col("observed_at") < pl.lit(p.end))


def householders(world: World) -> pl.DataFrame:
    return world.people.filter(pl.col("role") == "householder").select("household_id", "person_id")


def utility_events(world: World, sc: Scenario, cfg: SourceConfig, rng: np.random.Generator, p: Period) -> pl.DataFrame:
    """One account per residence spell, in the householder's name (one adult per household)."""
    # joins promise no row order: sort before any positional random draw
    spells = world.residences.join(householders(world), on="household_id").sort("household_id", "start")
    spells = spells.filter(pl.Series(_covered(rng, spells.height, cfg.coverage)))
    ev = spells.select("person_id", observed_at=_lagged(rng, spells["start"], cfg))
    ev = unit_at(world, _in_period(ev, p))
    ev = phone_at(world, ev)
    return ev.with_columns(
        phone=pl.when(pl.Series(rng.random(ev.height) < value("utility_phone"))).then(pl.col("phone"))
    )


UTILITY = Source(
    name="utility",
    description="utility accounts: one per residence spell, in the householder's name, sometimes a phone",
    fields=("address_text", "phone"),
    events=utility_events,
    config=lambda sc: sc.sources.utility,
    sold_to_broker=True,
)


def lease_property_events(
    world: World, sc: Scenario, cfg: SourceConfig, rng: np.random.Generator, p: Period
) -> pl.DataFrame:
    """Leases (renters: householder, co-signing spouse) and deeds (owners) at each move-in."""
    adults = world.people.filter(pl.col("role").is_in(["householder", "spouse"])).select(
        "person_id", "household_id", "role"
    )
    spells = (
        world.residences.join(world.households.select("household_id", "tenure"), on="household_id")
        .join(adults, on="household_id")
        .sort("household_id", "start", "person_id")
    )
    keep = np.where(spells["role"].to_numpy() == "householder", 1.0, value("lease_spouse")) * cfg.coverage
    spells = spells.filter(pl.Series(_covered(rng, spells.height, keep)))
    ev = spells.select("person_id", "tenure", observed_at=_lagged(rng, spells["start"], cfg))
    ev = unit_at(world, _in_period(ev, p))
    return ev.with_columns(
        carries_dob=pl.col("tenure") == "rent",
        carries_ssn=(pl.col("tenure") == "rent") & pl.Series(rng.random(ev.height) < value("lease_ssn")),
        kind=pl.when(pl.col("tenure") == "rent").then(pl.lit("lease")).otherwise(pl.lit("deed")),
    ).drop("tenure")


LEASE_PROPERTY = Source(
    name="lease_property",
    description="leases (with date of birth, some with SSN) and deeds at each move-in",
    fields=("middle", "dob", "address_text", "ssn"),
    events=lease_property_events,
    config=lambda sc: sc.sources.lease_property,
    middle="initial",
    docket_clue=True,
    sold_to_broker=True,
)


def dmv_events(world: World, sc: Scenario, cfg: SourceConfig, rng: np.random.Generator, p: Period) -> pl.DataFrame:
    """The licence file at the period start, renewals, and reported changes of address."""
    people = world.people
    age0 = (pl.lit(p.start).cast(pl.Date) - pl.col("dob")).dt.total_days() / 365.25
    adults = people.filter(age0 >= 16).select("person_id", "foreign_born", "household_id")
    cov = np.where(adults["foreign_born"].to_numpy(), sc.sources.dmv_foreign_born_coverage, cfg.coverage)
    lic = adults.filter(pl.Series(_covered(rng, adults.height, cov)))
    n = lic.height
    first = pl.DataFrame({"person_id": lic["person_id"], "observed_at": pl.Series(np.full(n, p.start)).cast(pl.Date)})
    cycle = RENEWAL_YEARS * 365
    phase = rng.integers(0, cycle, n)
    renewals = []
    for k in range(p.days // cycle + 1):
        d = phase + k * cycle
        ok = d < p.days
        renewals.append(
            pl.DataFrame(
                {
                    "person_id": lic["person_id"].to_numpy()[ok],
                    "observed_at": (p.start + d[ok].astype("timedelta64[D]")),
                }
            ).with_columns(pl.col("observed_at").cast(pl.Date))
        )
    moves = (
        person_residences(world)
        .filter(pl.col("prev_unit").is_not_null())
        .join(lic.select("person_id"), on="person_id", how="semi")
        .sort("person_id", "start")
    )
    reported = moves.filter(pl.Series(rng.random(moves.height) >= cfg.stale))
    changes = reported.select("person_id", observed_at=_lagged(rng, reported["start"], cfg))
    ev = pl.concat([first, *renewals, changes]).sort("person_id", "observed_at")
    return unit_at(world, _in_period(ev, p))


DMV = Source(
    name="dmv",
    description="the driver-licence file: licences, renewals and reported changes of address",
    fields=("middle", "dob", "sex", "address_text", "licence_number"),
    events=dmv_events,
    config=lambda sc: sc.sources.dmv,
    middle="full",
    docket_clue=True,
    sold_to_broker=True,
)


def court_events(world: World, sc: Scenario, cfg: SourceConfig, rng: np.random.Generator, p: Period) -> pl.DataFrame:
    """Court filings at a yearly rate per adult (``coverage``), addresses sometimes out of date."""
    people = world.people
    age0 = (pl.lit(p.start).cast(pl.Date) - pl.col("dob")).dt.total_days() / 365.25
    adults = people.filter(age0 >= 16)["person_id"].to_numpy()
    counts = rng.poisson(cfg.coverage * p.days / 365.25, len(adults))
    who = np.repeat(adults, counts)
    day = rng.integers(0, p.days, len(who))
    ev = pl.DataFrame({"person_id": who, "observed_at": p.start + day.astype("timedelta64[D]")}).with_columns(
        pl.col("observed_at").cast(pl.Date)
    )
    ev = ev.with_columns(observed_at=_lagged(rng, ev["observed_at"], cfg))
    ev = _in_period(ev, p)
    return unit_at(world, ev, stale=rng.random(ev.height) < cfg.stale)


COURT = Source(
    name="court",
    description="court filings with case numbers, addresses sometimes out of date",
    fields=("middle", "dob", "address_text", "case_number"),
    events=court_events,
    config=lambda sc: sc.sources.court,
    middle="initial",
    docket_clue=True,
    sold_to_broker=True,
)


def phone_directory_events(
    world: World, sc: Scenario, cfg: SourceConfig, rng: np.random.Generator, p: Period
) -> pl.DataFrame:
    """Listings for each phone assignment; a reassigned number keeps the old owner's listing a while."""
    # the previous holder of each number: the row before, in (number, start) order, of the same number
    same = pl.col("number") == pl.col("number").shift(1)
    ph = world.phones.sort("number", "start").with_columns(
        prev_owner=pl.when(same).then(pl.col("person_id").shift(1)),
        prev_start=pl.when(same).then(pl.col("start").shift(1)),
    )
    listed = ph.filter(pl.Series(_covered(rng, ph.height, cfg.coverage)))
    ev = listed.select("person_id", "phone", observed_at=_lagged(rng, listed["start"], cfg))
    ev = unit_at(world, _in_period(ev, p)).with_columns(stale_owner=pl.lit(False))
    # the old owner's name (and address then) still listed under the reassigned number (a number
    # reissued to the person who last held it leaves no one else's name behind)
    re = ph.filter(pl.col("prev_owner").is_not_null() & (pl.col("prev_owner") != pl.col("person_id")))
    re = re.filter(pl.Series(_covered(rng, re.height, cfg.coverage)))
    lag = rng.integers(0, max(sc.sources.phone_name_lag_days, 1), re.height)
    old = re.select(
        person_id=pl.col("prev_owner"),
        phone=pl.col("phone"),
        observed_at=(pl.col("start") + pl.duration(days=pl.lit(pl.Series(lag)))).cast(pl.Date),
        _addr_date=pl.col("start"),
    )
    old = _in_period(old, p)
    old_units = unit_at(world, old.select("person_id", observed_at=pl.col("_addr_date")))
    old = old.drop("_addr_date").with_columns(old_units["unit_id"], stale=pl.lit(False), stale_owner=pl.lit(True))
    return pl.concat([ev, old.select(ev.columns)])


PHONE_DIRECTORY = Source(
    name="phone_directory",
    description="phone listings; a reassigned number keeps the old owner's name for a while",
    fields=("address_text", "phone"),
    events=phone_directory_events,
    config=lambda sc: sc.sources.phone_directory,
    sold_to_broker=True,
)


PAGE_KINDS = (
    "CAFE",
    "BAKERY",
    "FITNESS",
    "SALON",
    "AUTO REPAIR",
    "PIZZA",
    "MARKET",
    "RADIO",
    "BOOKS",
    "YOGA",
    "BARBERS",
    "DENTAL",
    "PHOTO",
    "MUSIC",
    "FC",
)


def social_events(world: World, sc: Scenario, cfg: SourceConfig, rng: np.random.Generator, p: Period) -> pl.DataFrame:
    """Profiles with a handle, a partial name and a city-level 'lives in' (often out of date).

    Some people keep a second profile (``social_second_profile``); most have none (``coverage``).
    Pages and brands are profiles of no person (``social_pages`` per person profile), named by an
    invented word and a kind of business, 'in' a town of the region.
    """
    age0 = (pl.lit(p.start).cast(pl.Date) - pl.col("dob")).dt.total_days() / 365.25
    adults = world.people.filter(age0 >= 14).select("person_id", age=age0)
    cov = cfg.coverage * np.where(adults["age"].to_numpy() < 50, 1.0, value("social_older_factor"))
    prof = adults.filter(pl.Series(_covered(rng, adults.height, cov)))
    second = prof.filter(pl.Series(rng.random(prof.height) < value("social_second_profile")))
    prof = pl.concat([prof, second]).sort("person_id", maintain_order=True)
    seen = rng.integers(0, p.days, prof.height)  # the day the profile is observed
    made = (seen * rng.random(prof.height)).astype(np.int64)  # the day it was made, earlier
    # "lives in" was set when the profile was made; only some profiles update it
    stale = (rng.random(prof.height) < cfg.stale) & (made < seen)
    set_on = np.where(stale, made, seen)

    def dates(days: np.ndarray) -> pl.Series:
        return pl.Series(p.start + days.astype("timedelta64[D]")).cast(pl.Date)

    ev = prof.select("person_id").with_columns(observed_at=dates(seen))
    units = unit_at(world, ev.with_columns(observed_at=dates(set_on)))
    ev = ev.with_columns(
        units["unit_id"],
        stale=pl.Series(stale),
        given=pl.lit(None, dtype=pl.String),
        surname=pl.lit(None, dtype=pl.String),
    )
    n_pages = int(rng.binomial(prof.height, value("social_pages")))
    kind = np.asarray(PAGE_KINDS, dtype=object)[rng.integers(0, len(PAGE_KINDS), n_pages)]
    name = invented_words(rng, n_pages).str.to_uppercase() + " " + pl.Series(kind.tolist(), dtype=pl.String)
    pages = pl.DataFrame(
        {
            "person_id": pl.Series([None] * n_pages, dtype=pl.Int64),
            "observed_at": dates(rng.integers(0, p.days, n_pages)),
            "unit_id": rng.integers(0, world.units.height, n_pages),
            "stale": np.zeros(n_pages, dtype=bool),
            "given": name,
            "surname": pl.Series([None] * n_pages, dtype=pl.String),
        }
    )
    return pl.concat([ev, pages.select(ev.columns).cast(ev.schema)])


FRIEND_MIX = pair("social_friend_mix")  # true ties, friends of friends, met once, strangers, pages
FRIEND_ROUNDS = 30  # rounds of candidate draws for each kind of made-up edge


def _sorted(values: np.ndarray) -> np.ndarray:
    """``np.sort(values)`` for integers, by polars' sort (on both cores)."""
    return pl.Series(values).sort().to_numpy()


def _csr(keys: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, count, values sorted by key) for keys in [0, n) and values >= 0."""
    count = np.bincount(keys, minlength=n)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    if len(values) == 0:
        return start, count, values
    # sorted by (key, value): one sort of a combined key (equal pairs have equal values, so the
    # result is the lexicographic order's)
    width = np.int64(values.max()) + 1
    return start, count, _sorted(keys.astype(np.int64) * width + values) % width


def _member(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Whether each of ``keys`` is in ``sorted_keys`` (sorted)."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    order = pl.Series(keys).arg_sort().to_numpy()  # sorted needles: the search walks the table in order
    found = np.empty(len(keys), dtype=bool)
    k = keys[order]
    at = np.minimum(np.searchsorted(sorted_keys, k), len(sorted_keys) - 1)
    found[order] = sorted_keys[at] == k
    return found


def _first(keys: np.ndarray) -> np.ndarray:
    """True at the first occurrence of each value of ``keys``."""
    return pl.Series(keys).is_first_distinct().to_numpy()


def _pick(
    rng: np.random.Generator, start: np.ndarray, count: np.ndarray, flat: np.ndarray, at: np.ndarray
) -> np.ndarray:
    """One uniform draw from the list of each ``at`` (-1 where the list is empty)."""
    c = count[at]
    j = start[at] + (rng.random(len(at)) * c).astype(np.int64)
    return np.where(c > 0, flat[np.minimum(j, len(flat) - 1)] if len(flat) else -1, -1)


def social_friend_links(records: pl.DataFrame, world: World, sc: Scenario, rng: np.random.Generator) -> pl.DataFrame:
    """Friend lists: true ties mixed with people who have none, and pages.

    Edges between the profiles of people tied in the world are kept at ``social_link_coverage``;
    the other kinds are then added in the proportions of ``social_friend_mix``: a friend of a
    friend (two steps in the world's ties, no tie), someone met once (a profile 'in' the same
    city, no tie), a stranger (any profile, no tie) and a page. Each edge is written once, between
    the lower and the higher record id, so neither its orientation nor its place in the table
    says what kind it is. Draws follow the profiles in (person, handle) order, not record order.
    """
    # column by column: an expression on all of ``records`` would first copy every column into one piece
    at = np.flatnonzero((records.get_column("source") == SOCIAL.name).to_numpy())
    soc = pl.DataFrame([records.get_column(c).gather(at) for c in ("record_id", "person_id", "city", "handle")])
    soc = soc.with_columns(no=record_numbers(records).gather(at))
    if "background_no" in records.columns:  # background people's profiles are in no one's lists
        soc = soc.filter(records.get_column("background_no").gather(at).is_null())
    people = soc.filter(pl.col("person_id").is_not_null()).sort("person_id", "handle")
    pages = soc.filter(pl.col("person_id").is_null()).sort("handle")
    n_prof, n_pages, n_people = people.height, pages.height, world.people.height
    rid = pl.concat([people["record_id"], pages["record_id"]])
    no = np.concatenate([people["no"].to_numpy(), pages["no"].to_numpy()])
    per = people["person_id"].to_numpy()
    # the world's ties, both ways, and as a set of pair keys (the world keeps them sorted and
    # unique, which spares the sorts)
    ta, tb = world.ties["person_a"].to_numpy(), world.ties["person_b"].to_numpy()
    lo, hi = np.minimum(ta, tb), np.maximum(ta, tb)
    tied = lo * n_people + hi
    ordered = bool((tied[1:] > tied[:-1]).all())
    if not ordered:
        tied = _sorted(tied)
    t_start, t_count, t_flat = _csr(np.r_[ta, tb], np.r_[tb, ta], n_people)
    p_start, p_count, p_flat = _csr(per, np.arange(n_prof), n_people)  # profiles of each person

    def is_tied(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        key = np.minimum(a, b) * n_people + np.maximum(a, b)
        return _member(tied, key)

    # true ties: every pair of profiles of two tied people, kept at the coverage rate
    prof = people.with_row_index("i").select("i", "person_id")
    t = pl.DataFrame({"person_a": lo, "person_b": hi})
    if not ordered:
        t = t.unique().sort("person_a", "person_b")
    t = t.join(prof.rename({"person_id": "person_a", "i": "ia"}), on="person_a").join(
        prof.rename({"person_id": "person_b", "i": "ib"}), on="person_b"
    )
    t = t.sort("person_a", "person_b", "ia", "ib")
    t = t.filter(pl.Series(rng.random(t.height) < SOCIAL_LINK_COVERAGE))
    ia, ib = t["ia"].to_numpy().astype(np.int64), t["ib"].to_numpy().astype(np.int64)
    n_all = n_prof + n_pages
    have = np.sort(np.minimum(ia, ib) * n_all + np.maximum(ia, ib))
    edges = [(ia, ib)]
    share = FRIEND_MIX[0]
    want = [round(len(ia) * k / share) if share > 0 else 0 for k in FRIEND_MIX[1:]]
    city_code = people["city"].fill_null("").rank("dense").cast(pl.Int64).to_numpy() - 1
    c_start, c_count, c_flat = _csr(city_code, np.arange(n_prof), int(city_code.max()) + 1 if n_prof else 0)

    def candidates(kind: int, m: int) -> tuple[np.ndarray, np.ndarray]:
        src = rng.integers(0, max(n_prof, 1), m)
        if kind == 0:  # friend of a friend
            mid = _pick(rng, t_start, t_count, t_flat, per[src])
            far = _pick(rng, t_start, t_count, t_flat, np.maximum(mid, 0))
            dst = _pick(rng, p_start, p_count, p_flat, np.maximum(far, 0))
            dst = np.where((mid >= 0) & (far >= 0), dst, -1)
        elif kind == 1:  # met once, in the city the profile names
            dst = _pick(rng, c_start, c_count, c_flat, city_code[src])
        elif kind == 2:  # a stranger
            dst = rng.integers(0, max(n_prof, 1), m)
        else:  # a page
            return src, (n_prof + rng.integers(0, n_pages, m)) if n_pages else np.full(m, -1)
        ok = dst >= 0
        d = np.maximum(dst, 0)
        ok &= per[d] != per[src]
        ok &= ~is_tied(per[src], per[d])
        return src, np.where(ok, dst, -1)

    for kind, need in enumerate(want):
        for _ in range(FRIEND_ROUNDS):
            if need <= 0 or n_prof == 0:
                break
            a, b = candidates(kind, 2 * need + 16)
            key = np.minimum(a, b) * n_all + np.maximum(a, b)
            new = (b >= 0) & ~_member(have, key) & _first(key)
            take = np.flatnonzero(new)[:need]
            edges.append((a[take], b[take]))
            added = np.sort(key[take])  # merged into the sorted table, not re-sorted with it
            have = np.insert(have, np.searchsorted(have, added), added)
            need -= len(take)
    a = np.concatenate([e[0] for e in edges])
    b = np.concatenate([e[1] for e in edges])
    # each edge from its lower record id to its higher, in id order (sorted as numbers, not text)
    first = no[a] < no[b]
    x, y = np.where(first, a, b), np.where(first, b, a)
    o = pair_order(no[x], no[y])
    out = pl.DataFrame({"record_id": rid.gather(x[o]), "linked_record_id": rid.gather(y[o])})
    return out.select(pl.lit(SOCIAL.name).alias("source"), *out.columns, pl.lit("friend").alias("kind"))


SOCIAL = Source(
    name="social",
    description="social profiles: handles, names as people present them, a city, friend lists",
    fields=("city", "handle"),
    events=social_events,
    links=social_friend_links,
    config=lambda sc: sc.sources.social,
    name_style="profile",
)
