"""Address resolution: what a person would call the same address finds the same door; a
different number or unit finds another door or none; a building named without its unit finds
the building only; whatever is ambiguous or cannot be read finds nothing."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trailbench.address import address_key, building_key, key_expr, parse, register_keys, resolve
from trailbench.trails.errors import STREET_LONG
from trailbench.trails.register import address_register
from trailbench.world import World
from trailbench.world.geography import _HEADS, _TAILS, _TOWN_HEADS, _TOWN_TAILS, STATE, STREET_TYPES, canonical_address

# -- a small register -------------------------------------------------------------------------

ROWS = [
    # number, street, unit, town, zip
    *[(12, "ASHWICK ST", u, "QUELMOOR", "00001") for u in ("1", "2", "3", "7", "10", "101")],
    (14, "ASHWICK ST", None, "QUELMOOR", "00001"),  # a house
    (12, "ASHWICK AVE", None, "QUELMOOR", "00001"),  # same number and name, another type
    (120, "VEXMOOR WAY", "1", "VORNHAVEN", "00002"),  # a building of one unit, labelled
    (5, "HOLBROOK CT", None, "QUELMOOR", "00001"),
    (5, "HOLBROOK CT", None, "VORNHAVEN", "00002"),  # same street name in another town
    (8, "BRAMFORD LN", None, "QUELMOOR", "00001"),
    (9, "DUNMERE DR", None, "QUELMOOR", "00001"),
    (11, "ELLVALE PL", None, "QUELMOOR", "00001"),
    (13, "FENHOLT RD", None, "QUELMOOR", "00001"),
    (30, "DUNFIELD RD", "7", "QUELMOOR", "00001"),  # two register texts, one door: ambiguous
    (30, "DUNFIELD RD", "07", "QUELMOOR", "00001"),
    (40, "DUNFIELD RD", None, "QUELMOOR", "00001"),  # listed under two ZIP codes: ambiguous
    (40, "DUNFIELD RD", None, "QUELMOOR", "00003"),
]


def make_register(rows: list[tuple[int, str, str | None, str, str]]) -> pl.DataFrame:
    df = pl.DataFrame(
        rows,
        schema={"number": pl.Int64, "street": pl.String, "unit": pl.String, "town": pl.String, "zip": pl.String},
        orient="row",
    )
    return df.with_columns(address=canonical_address(), state=pl.lit(STATE), x=pl.lit(0.0), y=pl.lit(0.0))


REGISTER = make_register(ROWS)
APT3 = "12 ASHWICK ST APT 3, QUELMOOR, ZZ 00001"
B12 = "12 ASHWICK ST, QUELMOOR"


def one(text: str | None, register: pl.DataFrame = REGISTER) -> tuple[str | None, str | None]:
    out = resolve(pl.DataFrame({"address_text": [text]}, schema={"address_text": pl.String}), register)
    return out["resolved_address"][0], out["resolved_building"][0]


# -- harmless variants ------------------------------------------------------------------------

SAME_APT3 = [
    APT3,
    "12 ASHWICK ST APT 03, QUELMOOR, ZZ 00001",
    "12 ASHWICK ST APT 003, QUELMOOR, ZZ 00001",
    "12 Ashwick St Apt. 3, Quelmoor, ZZ 00001",
    "12 ASHWICK ST Apt. 003, QUELMOOR, ZZ 00001",
    "012 ASHWICK ST APT 3, QUELMOOR, ZZ 00001",
    "0012 ASHWICK ST APT 3, QUELMOOR, ZZ 00001",
    "12 ASHWICK ST #3, QUELMOOR, ZZ 00001",
    "12 ASHWICK ST # 3, QUELMOOR, ZZ 00001",
    "12 ASHWICK ST #03, QUELMOOR, ZZ 00001",
    "12 ASHWICK ST APT #3, QUELMOOR, ZZ 00001",
    "12 ASHWICK ST UNIT 3, QUELMOOR, ZZ 00001",
    "12 ASHWICK ST UNIT 03, QUELMOOR, ZZ 00001",
    "12 ASHWICK ST STE 3, QUELMOOR, ZZ 00001",
    "12 ASHWICK ST SUITE 3, QUELMOOR, ZZ 00001",
    "12 ASHWICK ST APARTMENT 3, QUELMOOR, ZZ 00001",
    "12 ASHWICK STREET APT 3, QUELMOOR, ZZ 00001",
    "12 Ashwick Street, Apt 3, Quelmoor, ZZ 00001",
    "12 ASHWICK ST APT 3, QUELMOOR, ZZ 00001-1234",  # ZIP+4
    "12 ASHWICK ST APT 3, QUELMOOR, ZZ",  # no ZIP
    "12 ASHWICK ST APT 3, QUELMOOR 00001",  # no state
    "12 ASHWICK ST APT 3, QUELMOOR",  # neither
    "12 ASHWICK ST APT 3 QUELMOOR",  # neither, nor commas
    "12 ASHWICK ST APT 3, QUELMOOR, ZZ 00009",  # a ZIP typo
    "12 ASHWICK ST APT 3, QUELMOOR, ZZ 10001",
    "12 ashwick st apt 3, quelmoor, zz 00001",  # lower case
    "12 Ashwick St Apt 3, Quelmoor, Zz 00001",  # title case
    "12 ASHWICK ST APT 3 QUELMOOR ZZ 00001",  # no commas
    "12 ASHWICK ST APT 3,, QUELMOOR,, ZZ 00001",  # extra commas
    "12 ASHWICK ST. APT. 3, QUELMOOR, ZZ. 00001",  # stops
    "  12   ASHWICK  ST  APT 3 ,  QUELMOOR , ZZ 00001 ",  # spacing
    "12 ashwick street unit 003 quelmoor zz 00001-0000",
]


@pytest.mark.parametrize("text", SAME_APT3)
def test_harmless_variants_find_the_same_door(text: str) -> None:
    assert one(text) == (APT3, B12)


@pytest.mark.parametrize(
    ("text", "door"),
    [
        ("14 Ashwick Street, Quelmoor", "14 ASHWICK ST, QUELMOOR, ZZ 00001"),
        ("014 ASHWICK ST QUELMOOR ZZ 00001-4444", "14 ASHWICK ST, QUELMOOR, ZZ 00001"),
        ("12 Ashwick Avenue, Quelmoor, ZZ 00001", "12 ASHWICK AVE, QUELMOOR, ZZ 00001"),
        ("12 ASHWICK AV, QUELMOOR", "12 ASHWICK AVE, QUELMOOR, ZZ 00001"),
        ("5 Holbrook Court, Quelmoor, ZZ", "5 HOLBROOK CT, QUELMOOR, ZZ 00001"),
        ("8 bramford lane quelmoor zz 00001", "8 BRAMFORD LN, QUELMOOR, ZZ 00001"),
        ("9 Dunmere Drive, Quelmoor", "9 DUNMERE DR, QUELMOOR, ZZ 00001"),
        ("11 ELLVALE PLACE, QUELMOOR, ZZ 00001", "11 ELLVALE PL, QUELMOOR, ZZ 00001"),
        ("13 Fenholt Road, Quelmoor, ZZ 00001", "13 FENHOLT RD, QUELMOOR, ZZ 00001"),
        ("12 ASHWICK ST UNIT 0101, QUELMOOR", "12 ASHWICK ST APT 101, QUELMOOR, ZZ 00001"),
        ("12 ASHWICK ST APT 10, QUELMOOR", "12 ASHWICK ST APT 10, QUELMOOR, ZZ 00001"),
        ("12 ASHWICK ST APT 10, QUELMOOR, 00001-1234", "12 ASHWICK ST APT 10, QUELMOOR, ZZ 00001"),  # no state
        ("12 Ashwick Street Apartment 10 Quelmoor", "12 ASHWICK ST APT 10, QUELMOOR, ZZ 00001"),
        ("5 HOLBROOK COURT QUELMOOR", "5 HOLBROOK CT, QUELMOOR, ZZ 00001"),
        ("5 Holbrook Court, Quelmoor 00001", "5 HOLBROOK CT, QUELMOOR, ZZ 00001"),
        ("120 Vexmoor Way Apt 01, Vornhaven", "120 VEXMOOR WAY APT 1, VORNHAVEN, ZZ 00002"),
    ],
)
def test_other_types_and_houses(text: str, door: str) -> None:
    assert one(text)[0] == door


# -- harmful variants -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "door", "building"),
    [
        ("12 ASHWICK ST APT 2, QUELMOOR, ZZ 00001", "12 ASHWICK ST APT 2, QUELMOOR, ZZ 00001", B12),  # a neighbour
        ("12 ASHWICK ST APT 30, QUELMOOR, ZZ 00001", None, B12),  # no such unit
        ("12 ASHWICK ST APT 31, QUELMOOR, ZZ 00001", None, B12),
        ("13 ASHWICK ST APT 3, QUELMOOR, ZZ 00001", None, None),  # no such building
        ("120 ASHWICK ST APT 3, QUELMOOR, ZZ 00001", None, None),
        ("12 ASHWICK AVE APT 3, QUELMOOR, ZZ 00001", None, "12 ASHWICK AVE, QUELMOOR"),  # another street
        ("12 ASHWICK ST APT 3, VORNHAVEN, ZZ 00001", None, None),  # another town
        ("5 HOLBROOK CT, VORNHAVEN, ZZ 00001", "5 HOLBROOK CT, VORNHAVEN, ZZ 00002", "5 HOLBROOK CT, VORNHAVEN"),
        ("14 ASHWICK ST APT 2, QUELMOOR", None, "14 ASHWICK ST, QUELMOOR"),  # a unit the house lacks
        ("99 NOWHERE ST, QUELMOOR, ZZ 00001", None, None),
    ],
)
def test_a_different_number_or_unit_finds_another_door_or_none(
    text: str, door: str | None, building: str | None
) -> None:
    assert one(text) == (door, building)


def test_a_multi_unit_building_without_its_unit_is_the_building_only() -> None:
    for text in ("12 ASHWICK ST, QUELMOOR, ZZ 00001", "12 Ashwick Street Quelmoor", "012 ASHWICK ST, QUELMOOR, ZZ"):
        assert one(text) == (None, B12)


def test_a_one_unit_building_resolves_to_its_unit_either_way() -> None:
    door, building = "120 VEXMOOR WAY APT 1, VORNHAVEN, ZZ 00002", "120 VEXMOOR WAY, VORNHAVEN"
    assert one("120 VEXMOOR WAY, VORNHAVEN, ZZ 00002") == (door, building)
    assert one("120 Vexmoor Way #1 Vornhaven") == (door, building)
    assert one("120 VEXMOOR WAY APT 2, VORNHAVEN") == (None, building)
    # a house (no unit in the register) resolves with and without ZIP, and names its building
    assert one("14 ASHWICK ST, QUELMOOR") == ("14 ASHWICK ST, QUELMOOR, ZZ 00001", "14 ASHWICK ST, QUELMOOR")


@pytest.mark.parametrize(
    "text",
    [
        "30 DUNFIELD RD APT 7, QUELMOOR, ZZ 00001",  # two register addresses share the key
        "30 DUNFIELD RD APT 07, QUELMOOR, ZZ 00001",
        "40 DUNFIELD RD, QUELMOOR, ZZ 00001",  # one door listed under two ZIP codes
        "12 ASHWICK, QUELMOOR, ZZ 00001",  # ST or AVE?
        "12 ASHWICK ST APT 3",  # which town?
        "ASHWICK ST APT 3, QUELMOOR, ZZ 00001",  # which number?
        "12-14 ASHWICK ST, QUELMOOR, ZZ 00001",
        "12 1/2 ASHWICK ST, QUELMOOR, ZZ 00001",
        "PO BOX 12, QUELMOOR, ZZ 00001",
        "ASHWICK ST & HOLBROOK CT, QUELMOOR",
        "JOHN SMITH, 12 ASHWICK ST APT 3, QUELMOOR, ZZ 00001",
        "",
        "#",
        None,
    ],
)
def test_ambiguous_or_unreadable_text_resolves_to_nothing(text: str | None) -> None:
    assert one(text)[0] is None


def test_a_unit_part_naming_no_door_keeps_the_building() -> None:
    for text in ("12 ASHWICK ST FL 3, QUELMOOR, ZZ 00001", "12 ASHWICK ST BLDG 3, QUELMOOR, ZZ 00001"):
        assert one(text) == (None, B12)


def test_the_ambiguous_register_texts_themselves_resolve_to_nothing() -> None:
    for text in REGISTER.filter(pl.col("street") == "DUNFIELD RD")["address"]:
        assert one(text)[0] is None


# -- the contract -----------------------------------------------------------------------------


def test_resolve_keeps_rows_order_and_columns() -> None:
    texts = pl.DataFrame({"case_id": ["c", "a", "b", "d"], "address_text": [APT3.lower(), None, "x", APT3]})
    out = resolve(texts, REGISTER)
    assert out.columns == ["case_id", "address_text", "resolved_address", "resolved_building"]
    assert out["case_id"].to_list() == ["c", "a", "b", "d"]
    assert out["resolved_address"].to_list() == [APT3, None, None, APT3]
    assert out.schema["resolved_address"] == out.schema["resolved_building"] == pl.String
    assert resolve(texts.rename({"address_text": "t"}), REGISTER, col="t")["resolved_address"][0] == APT3
    empty = resolve(pl.DataFrame({"address_text": [None, None]}), REGISTER)
    assert empty["resolved_address"].to_list() == [None, None]


def test_a_register_without_parts_resolves_the_same() -> None:
    texts = pl.DataFrame({"address_text": [*SAME_APT3, "12 ASHWICK ST, QUELMOOR", "30 DUNFIELD RD APT 7, QUELMOOR"]})
    assert resolve(texts, REGISTER.select("address")).equals(resolve(texts, REGISTER))


def test_keys_from_parts_and_from_text_agree() -> None:
    parts = register_keys(REGISTER)
    text = register_keys(REGISTER.select("address"))
    assert parts.equals(text)
    keys = pl.DataFrame({"t": [APT3, "12 ashwick street #03 quelmoor", "nonsense"]}).select(key_expr(pl.col("t")))
    assert keys.to_series().to_list() == ["12 ASHWICK ST #3, QUELMOOR", "12 ASHWICK ST #3, QUELMOOR", None]
    assert REGISTER.select(k=address_key())["k"][2] == "12 ASHWICK ST #3, QUELMOOR"
    assert parse(APT3) == ("12 ASHWICK ST #3, QUELMOOR", B12)


def test_building_key_on_world_units_finds_the_building(tiny_world: World) -> None:
    units = tiny_world.units.with_columns(bkey=building_key(pl.col("number"), pl.col("street"), pl.col("town")))
    # one building per key, and one key per building
    assert units.group_by("bkey").agg(pl.col("building_id").n_unique())["building_id"].max() == 1
    assert units.group_by("building_id").agg(pl.col("bkey").n_unique())["bkey"].max() == 1
    register = address_register(tiny_world)
    # every unit's canonical text, and its text without the unit, names its building
    texts = units.select(
        "unit_id",
        "kind",
        "bkey",
        address_text=pl.col("address"),
        no_unit=pl.concat_str([pl.col("number").cast(pl.String), pl.lit(" "), pl.col("street"), pl.lit(", "), "town"]),
    )
    full = resolve(texts, register)
    assert (full["resolved_address"] == full["address_text"]).all()
    assert (full["resolved_building"] == full["bkey"]).all()
    bare = resolve(texts.drop("address_text"), register, col="no_unit")
    assert (bare["resolved_building"] == bare["bkey"]).all()
    houses = bare.filter(pl.col("kind") == "house")
    assert houses.height > 0 and houses["resolved_address"].is_not_null().all()
    assert bare.filter(pl.col("kind") != "house")["resolved_address"].is_null().all()


def test_the_parser_reads_every_register_address_as_its_parts(tiny_world: World) -> None:
    register = address_register(tiny_world)
    assert register_keys(register).equals(register_keys(register.select("address")))


# -- properties -------------------------------------------------------------------------------

STREET_NAMES = st.builds(lambda h, t: h + t, st.sampled_from(_HEADS), st.sampled_from(_TAILS))
TOWNS = st.builds(lambda h, t: h + t, st.sampled_from(_TOWN_HEADS), st.sampled_from(_TOWN_TAILS))
UNIT_STYLES = ["APT {}", "UNIT {}", "#{}", "# {}", "APT. {}", "STE {}", "SUITE {}", "APARTMENT {}", "APT #{}"]


@st.composite
def addresses(draw: st.DrawFn) -> tuple[int, str, str | None, str, str]:
    number = draw(st.integers(1, 9999))
    street = f"{draw(STREET_NAMES)} {draw(st.sampled_from(STREET_TYPES))}"
    unit = draw(st.one_of(st.none(), st.integers(1, 999).map(str)))
    return number, street, unit, draw(TOWNS), f"{draw(st.integers(1, 99)):05d}"


@st.composite
def written(draw: st.DrawFn, row: tuple[int, str, str | None, str, str]) -> str:
    """The address as a person might write it, harmlessly."""
    number, street, unit, town, zip_ = row
    name, typ = street.rsplit(" ", 1)
    if draw(st.booleans()):
        typ = STREET_LONG[typ]
    zeros = st.sampled_from(["", "", "0", "00"])
    text = f"{draw(zeros)}{number} {name} {typ}"
    if unit is not None:
        text += draw(st.sampled_from(["", ","])) + " " + draw(st.sampled_from(UNIT_STYLES)).format(draw(zeros) + unit)
    sep = draw(st.sampled_from([", ", " ", ",, "]))
    zip_text = draw(st.sampled_from([zip_, f"{zip_}-{draw(st.integers(0, 9999)):04d}", "00099"]))
    tail = draw(st.sampled_from([f"{sep}ZZ {zip_text}", f"{sep}ZZ", f"{sep}{zip_text}", ""]))
    text = f"{text}{sep}{town}{tail}"
    return draw(st.sampled_from([text, text.lower(), text.title()]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), addresses())
def test_resolution_is_invariant_under_harmless_formatting(data: st.DataObject, row: tuple) -> None:
    number, street, unit, town, zip_ = row
    other_type = street.rsplit(" ", 1)[0] + (" AVE" if not street.endswith(" AVE") else " ST")
    neighbours = [(number + 2, street, unit, town, zip_), (number, other_type, unit, town, zip_)]
    if unit is not None:
        neighbours.append((number, street, str(int(unit) + 1), town, zip_))
    register = make_register([row, *neighbours])
    canonical = register["address"][0]
    building = f"{number} {street}, {town}"
    text = data.draw(written(row))
    assert one(text, register) == (canonical, building), text


@settings(max_examples=200, deadline=None)
@given(st.data(), addresses(), st.integers(1, 50))
def test_a_changed_number_never_finds_the_original_door(data: st.DataObject, row: tuple, delta: int) -> None:
    number, street, unit, town, zip_ = row
    register = make_register([row])
    text = data.draw(written((number + delta, street, unit, town, zip_)))
    assert one(text, register) == (None, None), text
