"""Error processes applied when a source renders a person, a date or an address (DESIGN §4).

Every function takes arrays for a batch of records and returns the rendered values plus a
bit mask of the errors applied, so the truth keeps what happened to each record. Random
choices are vectorised; only the cells selected for a character-level edit (about one in a
hundred) are edited one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from trailbench.trails.shared import factorize, first_of, gather
from trailbench.world.names import load_variants

ERROR_KINDS = (
    "typo_given",
    "typo_surname",
    "nickname",
    "alias",
    "transliteration",
    "compound_first_only",
    "compound_reformat",
    "order_swap",
    "dob_swap",
    "dob_digit",
    "dob_partial",
    "dob_missing",
    "address_format",
    "address_digit",
    "unit_missing",
    "zip_digit",
    "phone_missing",
    "stale_address",
    "stale_phone_owner",
    "name_truncated",
    "merged_dob",
)
BIT = {k: np.int64(1) << i for i, k in enumerate(ERROR_KINDS)}
LETTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


@dataclass(frozen=True)
class Rates:
    """Error rates for one source (scenario.errors scaled by the source's error_scale)."""

    name_typo: float
    typo_kinds: tuple[float, float, float, float]
    nickname: float
    alias: float
    transliteration: float
    compound_first_only: float
    compound_reformat: float
    order_swap: float
    order_swap_convention: float
    dob_swap: float
    dob_digit: float
    dob_partial: float
    address_format: float
    address_digit: float
    unit_missing: float
    zip_digit: float
    missing: float


def typo(rng: np.random.Generator, word: str, kinds: np.ndarray) -> str:
    """One Damerau edit of ``word``: substitution, deletion, insertion or transposition."""
    return typo_by_cdf(rng, word, kind_cdf(kinds))


def kind_cdf(kinds: np.ndarray) -> np.ndarray:
    """What ``rng.choice(len(kinds), p=kinds)`` searches: the cumulative weights, scaled to end at 1."""
    cdf = np.asarray(kinds, dtype=np.float64).cumsum()
    cdf /= cdf[-1]
    return cdf


_ALPHABET = "".join(LETTERS)


def typo_by_cdf(rng: np.random.Generator, word: str, cdf: np.ndarray) -> str:
    """:func:`typo` given the kinds' :func:`kind_cdf`: the same draws as ``rng.choice`` makes,
    without its checks (the edit of a word is the one hot loop of the error processes)."""
    if len(word) < 2:
        return word + _ALPHABET[rng.integers(26)]
    kind = int(cdf.searchsorted(rng.random(), side="right"))
    i = int(rng.integers(len(word)))
    letter = _ALPHABET[rng.integers(26)]
    if kind == 0:
        if word[i] == letter:
            letter = "E" if letter != "E" else "A"
        return word[:i] + letter + word[i + 1 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    if kind == 2:
        return word[:i] + letter + word[i:]
    j = min(i, len(word) - 2)
    return word[:j] + word[j + 1] + word[j] + word[j + 2 :]


class NameBook:
    """Names by number: every name of a world's people and every variant the tables give, each
    distinct text once. Rendering works on the numbers; the text of a record is written once, at
    the end. Immutable once made (sources render in threads): a render keeps the names it makes
    (typos, re-joined surnames) in a :class:`_Spelling` of its own."""

    def __init__(self, names: pl.Series) -> None:
        """``names``: any names (repeats and nulls allowed); see :meth:`codes`."""
        code = factorize(names)
        named = np.flatnonzero(code >= 0)
        words: list[str] = names.gather(named[first_of(code[named])]).to_list()
        index = {w: i for i, w in enumerate(words)}

        def number(word: str) -> int:
            if word not in index:
                index[word] = len(words)
                words.append(word)
            return index[word]

        def table(variants: dict[str, list[str]]) -> dict[int, list[int]]:
            return {number(k): [number(o) for o in opts] for k, opts in variants.items() if opts}

        self.nick = table(load_variants()[0])
        self.translit = table(_translit_table())
        self.words = words
        self.index = index
        self.series = pl.Series(words, dtype=pl.String)
        self.has_nick, self.has_translit = (np.isin(np.arange(len(words)), list(t)) for t in (self.nick, self.translit))
        self._codes = code

    def codes(self) -> np.ndarray:
        """The number of each name the book was made from (-1 for a null)."""
        return self._codes


class _Spelling:
    """A book's names plus those one render makes."""

    def __init__(self, book: NameBook) -> None:
        self.book = book
        self.new: list[str] = []
        self.index: dict[str, int] = {}

    def number(self, word: str) -> int:
        i = self.book.index.get(word)
        if i is None:
            i = self.index.get(word)
            if i is None:
                i = len(self.book.words) + len(self.new)
                self.index[word] = i
                self.new.append(word)
        return i

    def word(self, code: int) -> str:
        """The text of ``code`` (a missing name written in text is ``None``, as an f-string writes it)."""
        if code < 0:
            return "None"
        n = len(self.book.words)
        return self.book.words[code] if code < n else self.new[code - n]

    def series(self, codes: np.ndarray) -> pl.Series:
        words = self.book.series
        if self.new:
            words = pl.concat([words, pl.Series(self.new, dtype=pl.String)])
        return gather(words, codes)


def _typo_codes(
    rng: np.random.Generator, codes: np.ndarray, rate: float, kinds: np.ndarray, sp: _Spelling
) -> np.ndarray:
    """A typo (:func:`typo`) in a share ``rate`` of the names numbered ``codes`` (-1: none), edited
    in place; the mask of those edited."""
    hit = np.flatnonzero((rng.random(len(codes)) < rate) & (codes >= 0))
    cdf = kind_cdf(kinds)
    for i in hit:
        codes[i] = sp.number(typo_by_cdf(rng, sp.word(int(codes[i])), cdf))
    mask = np.zeros(len(codes), dtype=bool)
    mask[hit] = True
    return mask


def _variant_codes(
    rng: np.random.Generator, codes: np.ndarray, table: dict[int, list[int]], has: np.ndarray, rate: float
) -> np.ndarray:
    """Replace names found in ``table`` by one of their variants with probability ``rate`` (the
    same draws as a lookup of every candidate would make: one for each that has variants)."""
    hit = np.zeros(len(codes), dtype=bool)
    cand = np.flatnonzero(rng.random(len(codes)) < rate)
    c = codes[cand]
    cand = cand[(c >= 0) & (c < len(has))]
    cand = cand[has[codes[cand]]]
    for i in cand:
        options = table[int(codes[i])]
        codes[i] = options[int(rng.integers(len(options)))]
    hit[cand] = True
    return hit


def _translit_table() -> dict[str, list[str]]:
    _, families = load_variants()
    table: dict[str, list[str]] = {}
    for fam in families:
        for name in fam:
            table.setdefault(name, [x for x in fam if x != name])
    return table


def render_names(
    rng: np.random.Generator,
    r: Rates,
    given: np.ndarray,
    surname: np.ndarray,
    paternal: np.ndarray,
    maternal: np.ndarray,
    alias: np.ndarray,
    family_first: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(given, surname, error bits) as a source writes them (arrays of text or None)."""
    n = len(given)
    columns = [given, surname, paternal, maternal, alias]
    book = NameBook(pl.Series(np.concatenate(columns), dtype=pl.String))
    codes = book.codes()
    g, s, bits = render_name_codes(rng, r, book, [codes[k * n : (k + 1) * n] for k in range(5)], family_first)
    return np.asarray(g.to_list(), dtype=object), np.asarray(s.to_list(), dtype=object), bits


def render_name_codes(
    rng: np.random.Generator,
    r: Rates,
    book: NameBook,
    names: Sequence[np.ndarray],
    family_first: np.ndarray,
) -> tuple[pl.Series, pl.Series, np.ndarray]:
    """:func:`render_names` on the numbers of the names in ``book`` (-1: none): ``names`` are the
    given names, surnames, paternal and maternal surnames and aliases; the names as text."""
    given, surname, paternal, maternal, alias = names
    n = len(given)
    sp = _Spelling(book)
    bits = np.zeros(n, dtype=np.int64)
    g = given.copy()
    s = surname.copy()
    use_alias = (alias >= 0) & (rng.random(n) < r.alias)
    g[use_alias] = alias[use_alias]
    bits[use_alias] |= BIT["alias"]
    bits[_variant_codes(rng, g, book.nick, book.has_nick, r.nickname)] |= BIT["nickname"]
    t_g = _variant_codes(rng, g, book.translit, book.has_translit, r.transliteration)
    t_s = _variant_codes(rng, s, book.translit, book.has_translit, r.transliteration)
    bits[t_g | t_s] |= BIT["transliteration"]
    has_m = maternal >= 0
    u = rng.random(n)
    first_only = has_m & (u < r.compound_first_only) & (s != paternal)
    s[first_only] = paternal[first_only]
    bits[first_only] |= BIT["compound_first_only"]
    reform = has_m & (u >= r.compound_first_only) & (u < r.compound_first_only + r.compound_reformat)
    idx = np.flatnonzero(reform)
    joiner = rng.integers(0, 3, len(idx))  # "-", " " or ""
    # each (paternal, joiner, maternal) written once
    width = len(book.words) + 1
    combos, at = np.unique(((paternal[idx] + 1) * width + maternal[idx] + 1) * 3 + joiner, return_inverse=True)
    joined = [
        sp.number(f"{sp.word(int(c // 3 // width - 1))}{('-', ' ', '')[int(c % 3)]}{sp.word(int(c // 3 % width - 1))}")
        for c in combos
    ]
    s[idx] = np.asarray(joined, dtype=np.int64)[at.reshape(-1)]
    changed = reform & (s != surname)
    bits[changed] |= BIT["compound_reformat"]
    swap = rng.random(n) < np.where(family_first, r.order_swap_convention, r.order_swap)
    g[swap], s[swap] = s[swap], g[swap].copy()
    bits[swap] |= BIT["order_swap"]
    kinds = np.array(r.typo_kinds) / sum(r.typo_kinds)
    bits[_typo_codes(rng, g, r.name_typo, kinds, sp)] |= BIT["typo_given"]
    bits[_typo_codes(rng, s, r.name_typo, kinds, sp)] |= BIT["typo_surname"]
    return sp.series(g), sp.series(s), bits


def render_dob(rng: np.random.Generator, r: Rates, dob: np.ndarray) -> tuple[pl.Series, np.ndarray]:
    """ISO date text, sometimes with day and month swapped, a wrong digit, only YYYY-MM, or missing."""
    n = len(dob)
    bits = np.zeros(n, dtype=np.int64)
    d = dob.astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = (d.astype("datetime64[M]") - d.astype("datetime64[Y]")).astype(np.int64) + 1
    day = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    swap = (rng.random(n) < r.dob_swap) & (day <= 12) & (day != m)
    m2 = np.where(swap, day, m)
    d2 = np.where(swap, m, day)
    bits[swap] |= BIT["dob_swap"]
    # the text of each distinct date once
    dates, at = np.unique((y * 100 + m2) * 100 + d2, return_inverse=True)
    parts = {"y": (dates // 10000, 4), "m": (dates // 100 % 100, 2), "d": (dates % 100, 2)}
    text = pl.DataFrame({k: v for k, (v, _) in parts.items()}).select(
        pl.concat_str([pl.col(k).cast(pl.String).str.zfill(w) for k, (_, w) in parts.items()], separator="-")
    )[:, 0]
    full = text.gather(at.reshape(-1))
    dig = np.flatnonzero(rng.random(n) < r.dob_digit)
    pos = rng.integers(2, 8, len(dig))  # of the digits YYYYMMDD; century digits are rarely wrong (assumption)
    new = rng.integers(0, 9, len(dig))
    edited = []  # only the selected cells are edited one by one
    for t, p, v in zip(full.gather(dig).to_list(), pos, new, strict=True):
        q = p + (p >= 4) + (p >= 6)  # the digit's place in YYYY-MM-DD
        c = str(v if str(v) != t[q] else 9)
        edited.append(t[:q] + c + t[q + 1 :])
    if len(dig):
        full = full.scatter(dig, pl.Series(edited, dtype=pl.String))
    bits[dig] |= BIT["dob_digit"]
    partial = rng.random(n) < r.dob_partial
    bits[partial] |= BIT["dob_partial"]
    missing = rng.random(n) < r.missing
    bits[missing] |= BIT["dob_missing"]
    cut = np.flatnonzero(partial & ~missing)
    if len(cut):
        full = full.scatter(cut, full.gather(cut).str.slice(0, 7))
    return pl.select(pl.when(~pl.Series(missing)).then(full)).to_series(), bits


STREET_LONG = {
    "ST": "STREET",
    "AVE": "AVENUE",
    "RD": "ROAD",
    "LN": "LANE",
    "WAY": "WAY",
    "CT": "COURT",
    "DR": "DRIVE",
    "PL": "PLACE",
}
UNIT_STYLES = ("APT {}", "UNIT {}", "#{}", "APT. {}", "STE {}")
ZIP_WEIGHTS = np.array([0.04, 0.04, 0.20, 0.36, 0.36])  # FACTS: pseudopeople ZIP digit weights


def _edited(values: pl.Series, at: np.ndarray, new: list[str]) -> pl.Series:
    return values.scatter(at, pl.Series(new, dtype=pl.String)) if len(at) else values


def render_address(
    rng: np.random.Generator,
    r: Rates,
    number: np.ndarray | pl.Series,
    street: np.ndarray | pl.Series,
    unit: np.ndarray | pl.Series,
    town: np.ndarray | pl.Series,
    zip_: np.ndarray | pl.Series,
    state: str,
) -> tuple[pl.Series, np.ndarray]:
    """Address text as a source writes it, with formatting variants and digit errors.

    The parts may be arrays or (faster) polars series; only the cells selected for a digit
    error are edited one by one."""
    n = len(number)
    bits = np.zeros(n, dtype=np.int64)
    num_s = pl.Series(number).cast(pl.String)
    dig = np.flatnonzero(rng.random(n) < r.address_digit)
    nums = []
    for s in num_s.gather(dig).to_list():
        p = int(rng.integers(len(s)))
        v = s[:p] + str((int(s[p]) + int(rng.integers(1, 10))) % 10) + s[p + 1 :]
        if v.startswith("0"):
            v = "1" + v[1:]
        nums.append(v)
    num_s = _edited(num_s, dig, nums)
    bits[dig] |= BIT["address_digit"]
    z_s = pl.Series(zip_, dtype=pl.String)
    zd = np.flatnonzero(rng.random(n) < r.zip_digit)
    zpos = rng.choice(5, size=len(zd), p=ZIP_WEIGHTS / ZIP_WEIGHTS.sum())
    zips = []
    for s, p in zip(z_s.gather(zd).to_list(), zpos, strict=True):
        zips.append(s[:p] + str((int(s[p]) + int(rng.integers(1, 10))) % 10) + s[p + 1 :])
    z_s = _edited(z_s, zd, zips)
    bits[zd] |= BIT["zip_digit"]
    unit_s = pl.Series(unit, dtype=pl.String)
    has_unit = unit_s.is_not_null().to_numpy()
    drop_unit = has_unit & (rng.random(n) < r.unit_missing)
    bits[drop_unit] |= BIT["unit_missing"]
    fmt = rng.random(n) < r.address_format
    bits[fmt] |= BIT["address_format"]
    keep_unit = has_unit & ~drop_unit
    # the draws in their order: unit style, long street type, case, no comma
    style = rng.integers(0, len(UNIT_STYLES), n)
    long_type = fmt & (rng.random(n) < 0.5)
    case = np.where(fmt, rng.integers(0, 3, n), 0)
    no_comma = fmt & (rng.random(n) < 0.5)
    # the unit as written: " APT 4", or in a format variant's style; nothing if it is left out
    prefixes = pl.Series([" " + u.format("") for u in UNIT_STYLES] + [" APT "])
    prefix = prefixes.gather(np.where(fmt, style, len(UNIT_STYLES)))
    # a long street type (STREET for ST) only where a variant asks for it
    street_s = pl.Series(street, dtype=pl.String)
    if long_type.any():
        at = np.flatnonzero(long_type)
        part = street_s.gather(at).to_frame("street")
        typ = pl.col("street").str.extract(r" (\w+)$")
        head = pl.col("street").str.replace(r" \w+$", "")
        street_s = street_s.scatter(at, part.select(head + pl.lit(" ") + typ.replace(STREET_LONG)).to_series())
    df = pl.DataFrame(
        {
            "num": num_s,
            "street": street_s,
            "unit": unit_s,
            "town": pl.Series(town, dtype=pl.String),
            "zip": z_s,
            "keep_unit": keep_unit,
            "prefix": prefix,
            "no_comma": no_comma,
        }
    )
    unit_txt = pl.when(pl.col("keep_unit")).then(pl.col("prefix") + pl.col("unit")).otherwise(pl.lit(""))
    sep = pl.when(pl.col("no_comma")).then(pl.lit(" ")).otherwise(pl.lit(", "))
    text = pl.concat_str(
        [
            pl.col("num"),
            pl.lit(" "),
            pl.col("street"),
            unit_txt,
            sep,
            pl.col("town"),
            sep,
            pl.lit(state + " "),
            pl.col("zip"),
        ]
    )
    out = df.select(text).to_series()
    # title or lower case only where a variant asks for it
    for k in (1, 2):
        at = np.flatnonzero(case == k)
        if len(at):
            cased = out.gather(at)
            out = out.scatter(at, cased.str.to_titlecase() if k == 1 else cased.str.to_lowercase())
    return out, bits
