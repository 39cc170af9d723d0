"""The one deterministic address resolver: scoring resolves every answered address with it.

A text is parsed into its parts by ``usaddress`` (a conditional random field trained on US
addresses; it tags tokens, it does not look anything up, so the fictional state ``ZZ`` and the
never-assigned ZIP codes ``000xx`` are no obstacle). The resolution key is built from the parts
a person would use to find the door, each written one way:

- the house number without leading zeros (``012`` -> ``12``);
- the street, upper case, its type written the USPS way (``Street``/``STR`` -> ``ST``,
  ``Avenue``/``AV`` -> ``AVE``, ...) and directionals abbreviated (``NORTH`` -> ``N``);
- the unit without its designator (``APT``, ``APARTMENT``, ``UNIT``, ``STE``, ``SUITE`` or
  ``#``) and without leading zeros (``Apt. 007`` -> ``7``);
- the town.

State and ZIP code are not part of the key: a ZIP typo, a ZIP+4 or no ZIP still finds the door.
A wrong house number or unit finds another door, or none. Whatever the parser cannot tag
cleanly (an unknown label, a house number that is not a number, a missing street or town, a
unit designator that names no dwelling such as ``FL`` or ``BLDG``) resolves to no door, and so
does a key two register addresses share.

Street-type spellings are abbreviated wherever they stand, in the text the model reads (it
reads USPS abbreviations best) and in every key, from texts and from register parts alike. Where
the model is known to misread a town written without a state after it, the tags are read back
the way a person would (see ``_parse``); the key must still match the register exactly, so a
misreading finds no door rather than another one.

Keys read ``12 ASHWICK ST #3, QUELMOOR`` (a unit) or ``12 ASHWICK ST, QUELMOOR`` (no unit); the
building key is ``12 ASHWICK ST, QUELMOOR`` whether or not the text names a unit.

Parsing costs about 0.1 ms a text, so only distinct texts are parsed, each once per process, and
a text that is exactly a register address takes its key from the register's parts unparsed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import polars as pl
import usaddress

# -- one way of writing each part -------------------------------------------------------------

_SUFFIX_VARIANTS = {
    "ALY": ("ALLEY", "ALLEE", "ALLY"),
    "AVE": ("AVENUE", "AV", "AVEN", "AVENU", "AVN", "AVNUE"),
    "BLVD": ("BOULEVARD", "BOUL", "BOULV"),
    "CIR": ("CIRCLE", "CIRC", "CIRCL", "CRCL", "CRCLE"),
    "CRES": ("CRESCENT", "CRSENT", "CRSNT"),
    "CT": ("COURT", "CRT"),
    "CTR": ("CENTER", "CENTRE", "CEN", "CENT", "CENTR", "CNTER", "CNTR"),
    "CV": ("COVE",),
    "DR": ("DRIVE", "DRIV", "DRV"),
    "EXPY": ("EXPRESSWAY", "EXP", "EXPR", "EXPRESS", "EXPW"),
    "FWY": ("FREEWAY", "FREEWY", "FRWAY", "FRWY"),
    "GRV": ("GROVE", "GROV"),
    "HTS": ("HEIGHTS", "HT", "HGTS"),
    "HWY": ("HIGHWAY", "HIGHWY", "HIWAY", "HIWY", "HWAY"),
    "LN": ("LANE",),
    "LOOP": ("LOOPS",),
    "PKWY": ("PARKWAY", "PARKWY", "PKWAY", "PKY"),
    "PL": ("PLACE",),
    "PLZ": ("PLAZA", "PLZA"),
    "PT": ("POINT",),
    "RD": ("ROAD",),
    "SQ": ("SQUARE", "SQR", "SQRE", "SQU"),
    "ST": ("STREET", "STR", "STRT"),
    "TER": ("TERRACE", "TERR"),
    "TRL": ("TRAIL", "TRAILS", "TRLS"),
    "WAY": (),
}
SUFFIXES = {v: std for std, vs in _SUFFIX_VARIANTS.items() for v in (std, *vs)}
"""Street types (USPS Publication 28 abbreviations) from their common spellings; none of them
a state's code (``WY``, ``LA`` are left alone)."""
DIRECTIONALS = {
    **{d: d for d in ("N", "S", "E", "W", "NE", "NW", "SE", "SW")},
    **{"NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W"},
    **{"NORTHEAST": "NE", "NORTHWEST": "NW", "SOUTHEAST": "SE", "SOUTHWEST": "SW"},
}
UNIT_DESIGNATORS = frozenset({"APT", "APARTMENT", "UNIT", "STE", "SUITE"})
"""Designators of a dwelling unit (``#`` too). Others (``FL``, ``BLDG``, ``RM``...) name no door."""

_STREET_LABELS = (
    "StreetNamePreModifier",
    "StreetNamePreDirectional",
    "StreetNamePreType",
    "StreetName",
    "StreetNamePostType",
    "StreetNamePostDirectional",
)
_UNIT_LABELS = ("OccupancyType", "OccupancyIdentifier", "SubaddressType", "SubaddressIdentifier")
_ALLOWED = frozenset({"AddressNumber", *_STREET_LABELS, *_UNIT_LABELS, "PlaceName", "StateName", "ZipCode", "ZipPlus4"})
_SPELLED_OUT = {"APARTMENT": "APT", "SUITE": "STE"}
"""Designators the model misreads spelled out (``APARTMENT 101`` is tagged a PO box)."""
_NOT_WORD = re.compile(r"[^0-9A-Z]+")


def _words(text: str | None) -> list[str]:
    """Upper-case words, punctuation and ``#`` dropped, street types abbreviated wherever they
    stand (``Apt. #07,`` -> ``APT 07``; ``Ashwick Street`` -> ``ASHWICK ST``)."""
    return [SUFFIXES.get(w, w) for w in _NOT_WORD.split(text.upper()) if w] if text else []


def _abbreviate(token: str) -> str:
    """A token as the model reads it best: designators and street types abbreviated."""
    core = token.rstrip(".,;")
    short = _SPELLED_OUT.get(core.upper()) or SUFFIXES.get(core.upper())
    return token if short is None else short + token[len(core) :]


def _no_zeros(token: str) -> str:
    return token.lstrip("0") or "0"


def _street(words: list[str]) -> str:
    """The street written one way (its type already is): leading and trailing directionals
    abbreviated (``NORTH MAIN ST`` -> ``N MAIN ST``, ``MAIN ST NORTH`` -> ``MAIN ST N``)."""
    w = list(words)
    if len(w) >= 3 and w[-1] in DIRECTIONALS and w[-2] in SUFFIXES:
        w[-1] = DIRECTIONALS[w[-1]]
    if len(w) >= 3 and w[0] in DIRECTIONALS:
        w[0] = DIRECTIONALS[w[0]]
    return " ".join(w)


def _unit(text: str | None) -> str | None:
    """A register unit label written as in keys (``07`` -> ``7``); None for none."""
    w = _words(text)
    return _no_zeros(w[0]) if len(w) == 1 else None if not w else " ".join(w)


def _keys(number: str, street: str, unit: str | None, town: str) -> tuple[str, str]:
    building = f"{number} {street}, {town}"
    return (building if unit is None else f"{number} {street} #{unit}, {town}"), building


# -- parsing a text ---------------------------------------------------------------------------

Parsed = tuple[str | None, str | None]
"""(address key, building key): the address key is None when the unit part cannot be read."""
_NOTHING: Parsed = (None, None)
_CACHE: dict[str, Parsed] = {}
_CACHE_MAX = 2_000_000


def _without_zip(text: str) -> str | None:
    """The text without its last word when that is a ZIP code or ZIP+4; else None."""
    head, _, last = text.rstrip(" ,;.").rpartition(" ")
    parts = last.split("-")
    is_zip = all(p.isdigit() for p in parts) and len(parts[0]) == 5 and [len(p) for p in parts[1:]] in ([], [4])
    return head.rstrip(" ,;") if head and is_zip else None


def parse(text: str) -> Parsed:
    """(address key, building key) of one text; (None, None) when it cannot be read reliably.

    A text the model cannot read is read once more without its ZIP code (which no key uses):
    ``APT 90, QUELMOOR, 00001-0000`` with no state is misread as two units."""
    first = _parse(text)
    if first == _NOTHING and (shorter := _without_zip(text)) is not None:
        return _parse(shorter)
    return first


def _parse(text: str) -> Parsed:
    try:
        tagged, kind = usaddress.tag(" ".join(_abbreviate(w) for w in text.split()))
    except usaddress.RepeatedLabelError:
        return _NOTHING
    if kind != "Street Address" or not tagged.keys() <= _ALLOWED:
        return _NOTHING
    num = _words(tagged.get("AddressNumber"))
    street = [w for label in _STREET_LABELS for w in _words(tagged.get(label))]
    town = _words(tagged.get("PlaceName"))
    designator = _words(tagged.get("OccupancyType"))
    ident = _words(tagged.get("OccupancyIdentifier"))
    # Without a state after the town the model misreads the town; it is read back the way a
    # person would. The key must still match the register exactly, so a wrong reading finds no
    # door rather than another one.
    if not town and "StateName" in tagged:
        town = _words(tagged["StateName"])  # ``... ST, QUELMOOR 00001``: the town taken for a state
    elif not town and len(ident) >= 2:
        ident, town = ident[:1], ident[1:]  # ``APT 3 QUELMOOR``: unit identifiers are one word
    elif not town and len(ident) == 1 and not designator and "#" not in tagged["OccupancyIdentifier"]:
        ident, town = [], ident  # ``... PLACE , MIRRMOOR``: a lone word after the street
    if len(num) != 1 or not num[0].isdigit() or not street or not town:
        return _NOTHING
    number, street_key, town_key = _no_zeros(num[0]), _street(street), " ".join(town)
    building = _keys(number, street_key, None, town_key)[1]
    if not (ident or designator or "SubaddressType" in tagged or "SubaddressIdentifier" in tagged):
        return _keys(number, street_key, None, town_key)
    readable = (
        len(ident) == 1
        and len(designator) <= 1
        and all(d in UNIT_DESIGNATORS for d in designator)
        and "SubaddressType" not in tagged
        and "SubaddressIdentifier" not in tagged
    )
    if not readable:
        return None, building  # a building named with a unit part that names no door
    return _keys(number, street_key, _no_zeros(ident[0]), town_key)


def parse_many(texts: Iterable[str]) -> list[Parsed]:
    """``parse`` over texts, each distinct text (up to case and spacing) parsed once per process."""
    if len(_CACHE) > _CACHE_MAX:
        _CACHE.clear()
    out = []
    for t in texts:
        k = " ".join(t.upper().split())  # the model's features ignore case and spacing
        p = _CACHE.get(k)
        if p is None:
            p = _CACHE[k] = parse(k)
        out.append(p)
    return out


def _parsed_frame(texts: pl.Series) -> pl.DataFrame:
    """text -> (key, building) for the distinct non-null texts of ``texts``."""
    distinct = texts.drop_nulls().unique().to_list()
    parsed = parse_many(distinct)
    return pl.DataFrame(
        {"text": distinct, "key": [p[0] for p in parsed], "building": [p[1] for p in parsed]},
        schema={"text": pl.String, "key": pl.String, "building": pl.String},
    )


def _map_distinct(col: pl.Expr, field: str) -> pl.Expr:
    def f(s: pl.Series) -> pl.Series:
        table = _parsed_frame(s.cast(pl.String))
        return s.cast(pl.String).replace_strict(table["text"], table[field], default=None, return_dtype=pl.String)

    return col.map_batches(f, return_dtype=pl.String, is_elementwise=True)


def key_expr(col: pl.Expr) -> pl.Expr:
    """Resolution key of each text (``12 ASHWICK ST #3, QUELMOOR``), null when unreadable."""
    return _map_distinct(col, "key")


# -- keys from the register's parts -----------------------------------------------------------


def _map_values(col: pl.Expr, fn: Callable[[str], str | None]) -> pl.Expr:
    def f(s: pl.Series) -> pl.Series:
        values = s.cast(pl.String).drop_nulls().unique().to_list()
        return s.cast(pl.String).replace_strict(values, [fn(v) for v in values], default=None, return_dtype=pl.String)

    return col.map_batches(f, return_dtype=pl.String, is_elementwise=True)


def _as_expr(c: pl.Expr | str) -> pl.Expr:
    return pl.col(c) if isinstance(c, str) else c


def _number_expr(number: pl.Expr | str) -> pl.Expr:
    return _map_values(_as_expr(number), lambda v: _no_zeros(w[0]) if len(w := _words(v)) == 1 else None)


def _street_expr(street: pl.Expr | str) -> pl.Expr:
    return _map_values(_as_expr(street), lambda v: _street(w) if (w := _words(v)) else None)


def _town_expr(town: pl.Expr | str) -> pl.Expr:
    return _map_values(_as_expr(town), lambda v: " ".join(w) if (w := _words(v)) else None)


def building_key(
    number: pl.Expr | str = "number", street: pl.Expr | str = "street", town: pl.Expr | str = "town"
) -> pl.Expr:
    """Building key from address parts (``world.units``, the register): ``12 ASHWICK ST, QUELMOOR``.

    Equal to ``resolve``'s ``resolved_building`` for every text naming that building."""
    return pl.concat_str([_number_expr(number), pl.lit(" "), _street_expr(street), pl.lit(", "), _town_expr(town)])


def address_key(
    number: pl.Expr | str = "number",
    street: pl.Expr | str = "street",
    unit: pl.Expr | str = "unit",
    town: pl.Expr | str = "town",
) -> pl.Expr:
    """Resolution key from address parts: ``12 ASHWICK ST #3, QUELMOOR`` (a null unit: none)."""
    n, s, t = _number_expr(number), _street_expr(street), _town_expr(town)
    u = _map_values(_as_expr(unit), _unit)
    head = pl.concat_str([n, pl.lit(" "), s])
    head = pl.when(u.is_null()).then(head).otherwise(pl.concat_str([head, pl.lit(" #"), u]))
    return pl.concat_str([head, pl.lit(", "), t])


PARTS = ("number", "street", "unit", "town")


def register_keys(register: pl.DataFrame) -> pl.DataFrame:
    """Register address -> key and building key, one row per register row.

    From the register's parts when it has them (number, street, unit, town); else by parsing its
    text."""
    if set(PARTS) <= set(register.columns):
        return register.select("address", key=address_key(), building=building_key())
    parsed = _parsed_frame(register["address"])
    return register.select("address").join(parsed, left_on="address", right_on="text", how="left")


# -- resolving answers ------------------------------------------------------------------------


def resolve(texts: pl.DataFrame, register: pl.DataFrame, col: str = "address_text") -> pl.DataFrame:
    """``texts`` with two columns added (both String, null when nothing is found):

    - ``resolved_address``: the register's canonical text of the one door the text names, or
      null: no such address, the unit missing at a multi-unit building, or a key two register
      addresses share;
    - ``resolved_building``: the building key (see ``building_key``) when the text names a
      building in the register, whether or not its unit resolves.

    A text naming a building with a single register address and no unit resolves to that address.
    """
    if texts.schema[col] == pl.Null:  # no text at all, typed as nothing
        texts = texts.with_columns(pl.col(col).cast(pl.String))
    all_rows = register_keys(register)
    buildings = all_rows.select("building").drop_nulls().unique()
    reg = all_rows.filter(pl.col("key").is_not_null())
    one_door = reg.filter((pl.len() == 1).over("building") & (pl.col("key") != pl.col("building")))
    doors = pl.concat([reg.select("key", "address"), one_door.select(key="building", address="address")])
    doors = doors.unique("key", keep="none")

    distinct = texts.select(text=pl.col(col)).drop_nulls().unique()
    exact = distinct.join(reg.select(text="address", key="key", building="building"), on="text", how="inner")
    exact = exact.unique("text", keep="first")  # a register text listed twice has one key
    rest = distinct.join(exact, on="text", how="anti")
    table = pl.concat([exact, _parsed_frame(rest["text"])])
    table = table.join(doors.rename({"address": "resolved_address"}), on="key", how="left")
    table = table.join(buildings.with_columns(resolved_building=pl.col("building")), on="building", how="left")
    out = texts.drop("resolved_address", "resolved_building", strict=False)
    return out.join(
        table.select("text", "resolved_address", "resolved_building"),
        left_on=col,
        right_on="text",
        how="left",
        maintain_order="left",
    )


# -- display (kept for callers; resolution does not use it) ----------------------------------

TYPES = {"STREET": "ST", "AVENUE": "AVE", "ROAD": "RD", "LANE": "LN", "COURT": "CT", "DRIVE": "DR", "PLACE": "PL"}
UNITS = ("UNIT", "STE", "SUITE", "APARTMENT")


def normalise_expr(col: pl.Expr) -> pl.Expr:
    """Normalised full text, ZIP included: ``12 ASHWICK ST APT 3 QUELMOOR ZZ 00001``."""
    e = col.str.to_uppercase().str.replace_all("#", " APT ").str.replace_all(r"[^A-Z0-9 ]", " ")
    e = pl.lit(" ") + e.str.replace_all(r"\s+", " ").str.strip_chars() + pl.lit(" ")
    for long, short in TYPES.items():
        e = e.str.replace_all(f" {long} ", f" {short} ", literal=True)
    for u in UNITS:
        e = e.str.replace_all(f" {u} ", " APT ", literal=True)
    return e.str.replace_all(" APT APT ", " APT ", literal=True).str.strip_chars()
