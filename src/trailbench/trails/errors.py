"""Error processes applied when a source renders a person, a date or an address (DESIGN §4).

Every function takes arrays for a batch of records and returns the rendered values plus a
bit mask of the errors applied, so the truth keeps what happened to each record. Random
choices are vectorised; only the cells selected for a character-level edit (about one in a
hundred) are edited one by one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

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
    if len(word) < 2:
        return word + str(LETTERS[rng.integers(26)])
    kind = int(rng.choice(4, p=kinds))
    i = int(rng.integers(len(word)))
    letter = str(LETTERS[rng.integers(26)])
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


def _apply_typos(rng: np.random.Generator, values: np.ndarray, rate: float, kinds: np.ndarray) -> np.ndarray:
    hit = np.flatnonzero((rng.random(len(values)) < rate) & (values != None))  # noqa: E711
    for i in hit:
        values[i] = typo(rng, str(values[i]), kinds)
    mask = np.zeros(len(values), dtype=bool)
    mask[hit] = True
    return mask


def _variant_map(rng: np.random.Generator, values: np.ndarray, table: dict[str, list[str]], rate: float) -> np.ndarray:
    """Replace values found in ``table`` by one of their variants with probability ``rate``."""
    hit = np.zeros(len(values), dtype=bool)
    cand = np.flatnonzero(rng.random(len(values)) < rate)
    for i in cand:
        options = table.get(values[i])
        if options:
            values[i] = options[int(rng.integers(len(options)))]
            hit[i] = True
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
    """(given, surname, error bits) as a source writes them."""
    n = len(given)
    bits = np.zeros(n, dtype=np.int64)
    g = given.copy()
    s = surname.copy()
    use_alias = (alias != None) & (rng.random(n) < r.alias)  # noqa: E711
    g[use_alias] = alias[use_alias]
    bits[use_alias] |= BIT["alias"]
    nick, translit = load_variants()[0], _translit_table()
    bits[_variant_map(rng, g, nick, r.nickname)] |= BIT["nickname"]
    t_g = _variant_map(rng, g, translit, r.transliteration)
    t_s = _variant_map(rng, s, translit, r.transliteration)
    bits[t_g | t_s] |= BIT["transliteration"]
    has_m = maternal != None  # noqa: E711
    u = rng.random(n)
    first_only = has_m & (u < r.compound_first_only) & (s != paternal)
    s[first_only] = paternal[first_only]
    bits[first_only] |= BIT["compound_first_only"]
    reform = has_m & (u >= r.compound_first_only) & (u < r.compound_first_only + r.compound_reformat)
    idx = np.flatnonzero(reform)
    joiner = np.array(["-", " ", ""])[rng.integers(0, 3, len(idx))]
    for i, j in zip(idx, joiner, strict=True):
        s[i] = f"{paternal[i]}{j}{maternal[i]}"
    changed = reform & (s != surname)
    bits[changed] |= BIT["compound_reformat"]
    swap = rng.random(n) < np.where(family_first, r.order_swap_convention, r.order_swap)
    g[swap], s[swap] = s[swap], g[swap].copy()
    bits[swap] |= BIT["order_swap"]
    kinds = np.array(r.typo_kinds) / sum(r.typo_kinds)
    bits[_apply_typos(rng, g, r.name_typo, kinds)] |= BIT["typo_given"]
    bits[_apply_typos(rng, s, r.name_typo, kinds)] |= BIT["typo_surname"]
    return g, s, bits


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
    d8 = pl.DataFrame({"y": y, "m": m2, "d": d2}).select(
        pl.concat_str([pl.col(c).cast(pl.String).str.zfill(w) for c, w in (("y", 4), ("m", 2), ("d", 2))])
    )[:, 0]
    dig = np.flatnonzero(rng.random(n) < r.dob_digit)
    pos = rng.integers(2, 8, len(dig))  # century digits are rarely wrong (assumption)
    new = rng.integers(0, 9, len(dig))
    edited = []  # only the selected cells are edited one by one
    for s, p, v in zip(d8.gather(dig).to_list(), pos, new, strict=True):
        c = str(v if str(v) != s[p] else 9)
        edited.append(s[:p] + c + s[p + 1 :])
    if len(dig):
        d8 = d8.scatter(dig, pl.Series(edited, dtype=pl.String))
    bits[dig] |= BIT["dob_digit"]
    partial = rng.random(n) < r.dob_partial
    bits[partial] |= BIT["dob_partial"]
    missing = rng.random(n) < r.missing
    bits[missing] |= BIT["dob_missing"]
    full = pl.concat_str([d8.str.slice(0, 4), pl.lit("-"), d8.str.slice(4, 2), pl.lit("-"), d8.str.slice(6, 2)])
    text = pl.select(
        pl.when(pl.Series(missing)).then(None).when(pl.Series(partial)).then(full.str.slice(0, 7)).otherwise(full)
    ).to_series()
    return text, bits


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
    df = pl.DataFrame(
        {
            "num": num_s,
            "street": pl.Series(street, dtype=pl.String),
            "unit": unit_s,
            "town": pl.Series(town, dtype=pl.String),
            "zip": z_s,
            "keep_unit": has_unit & ~drop_unit,
            "fmt": fmt,
            "style": rng.integers(0, len(UNIT_STYLES), n),
            "long_type": fmt & (rng.random(n) < 0.5),
            "case": np.where(fmt, rng.integers(0, 3, n), 0),
            "no_comma": fmt & (rng.random(n) < 0.5),
        }
    )
    styled = pl.lit(" APT ") + pl.col("unit")
    for k, style in enumerate(UNIT_STYLES):
        styled = pl.when(pl.col("style") == k).then(pl.lit(" " + style.format("")) + pl.col("unit")).otherwise(styled)
    unit_txt = (
        pl.when(~pl.col("keep_unit"))
        .then(pl.lit(""))
        .when(pl.col("fmt"))
        .then(styled)
        .otherwise(pl.lit(" APT ") + pl.col("unit"))
    )
    typ = pl.col("street").str.extract(r" (\w+)$")
    head = pl.col("street").str.replace(r" \w+$", "")
    street_txt = (
        pl.when(pl.col("long_type")).then(head + pl.lit(" ") + typ.replace(STREET_LONG)).otherwise(pl.col("street"))
    )
    sep = pl.when(pl.col("no_comma")).then(pl.lit(" ")).otherwise(pl.lit(", "))
    text = pl.concat_str(
        [
            pl.col("num"),
            pl.lit(" "),
            street_txt,
            unit_txt,
            sep,
            pl.col("town"),
            sep,
            pl.lit(state + " "),
            pl.col("zip"),
        ]
    )
    out = df.select(
        pl.when(pl.col("case") == 1)
        .then(text.str.to_titlecase())
        .when(pl.col("case") == 2)
        .then(text.str.to_lowercase())
        .otherwise(text)
    ).to_series()
    return out, bits
