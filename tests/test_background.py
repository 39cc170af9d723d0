"""The background population (issue 13): records that do not depend on partitioning or threads,
fictional identifiers, and names drawn from the region's tables with each group's structure."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from trailbench import address
from trailbench.rng import stream
from trailbench.scenario import GROUPS, NamesConfig, WorldConfig
from trailbench.scenario.background import AGE_BANDS, BackgroundConfig
from trailbench.world import geography, names
from trailbench.world.background import (
    COLUMNS,
    FIRST_ZIP,
    STATES,
    background_block,
    background_phones,
    birth_range,
    read_background,
    town_name_pool,
    write_background,
)
from trailbench.world.ids import KeyedPermutation
from trailbench.world.lives import PHONE_SPACE, fresh_numbers

WORLD = WorldConfig()
NAMES = NamesConfig()
# USPS state, territory and military codes
USPS = set(
    re.findall(
        r"[A-Z]{2}",
        "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK "
        "OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC AS GU MP PR VI UM FM MH PW AA AE AP",
    )
)
PHONE = re.compile(r"[01]\d{2}-\d{3}-\d{4}")
ID = re.compile(r"tb:bg:[0-9a-f]{10}")


def _block_frame(cfg: BackgroundConfig, seed: int, block: int = 0, nc: NamesConfig = NAMES) -> pl.DataFrame:
    out = pl.from_arrow(background_block(cfg, seed, block, WORLD, nc))
    assert isinstance(out, pl.DataFrame)
    return out


@pytest.fixture(scope="module")
def big() -> pl.DataFrame:
    """60,000 people in one block: enough for the statistical checks."""
    return _block_frame(BackgroundConfig(people=60_000, block=65_536), seed=11)


def _write(cfg: BackgroundConfig, seed: int, folder: Path, workers: int = 1) -> int:
    return write_background(cfg, seed, folder, workers, WORLD, NAMES)


# -- partitioning and threads ------------------------------------------------------------------


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    people=st.integers(1, 2500),
    block=st.sampled_from([256, 384, 1000]),
    per=st.tuples(st.integers(1, 2000), st.integers(1, 3000)),
    seed=st.integers(0, 2**32),
)
def test_rows_do_not_depend_on_the_number_of_parts(people: int, block: int, per: tuple[int, int], seed: int) -> None:
    frames = []
    for ppp in per:
        cfg = BackgroundConfig(people=people, block=block, people_per_part=ppp)
        with tempfile.TemporaryDirectory() as tmp:
            assert _write(cfg, seed, Path(tmp)) == people
            files = sorted(Path(tmp).glob("part-*.parquet"))
            assert len(files) == cfg.parts
            frames.append(read_background(Path(tmp)).collect())
    assert frames[0].equals(frames[1])
    assert frames[0].height == people
    # and they are the blocks themselves, in order
    cfg = BackgroundConfig(people=people, block=block)
    direct = pl.concat([_block_frame(cfg, seed, b) for b in range(cfg.blocks)])
    assert frames[0].equals(direct.cast({c: pl.String for c in ("group", "sex", "state", "prev_state")}))


def test_files_do_not_depend_on_the_number_of_threads(tmp_path: Path) -> None:
    cfg = BackgroundConfig(people=5_000, block=256, people_per_part=600)  # 20 blocks, 10 parts of two
    contents = []
    for workers in (1, 3):
        folder = tmp_path / f"w{workers}"
        assert _write(cfg, 5, folder, workers) == 5_000
        contents.append({p.name: p.read_bytes() for p in sorted(folder.glob("part-*.parquet"))})
    assert len(contents[0]) == cfg.parts == 10
    assert contents[0] == contents[1]


def test_whole_blocks_do_not_depend_on_people() -> None:
    """A larger population keeps the people of every whole block: N can grow without redrawing."""
    small = _block_frame(BackgroundConfig(people=1_024, block=512), 3, 1)
    large = _block_frame(BackgroundConfig(people=9_000, block=512), 3, 1)
    assert small.equals(large)


def test_a_smaller_population_is_a_prefix_of_a_larger_one() -> None:
    """The first k people are the same whatever N >= k, cut blocks included: the broker files of
    'Errors by the size of the broker's file' are nested."""
    small = _block_frame(BackgroundConfig(people=700, block=512), 2, 1)  # people 512-699: a cut block
    large = _block_frame(BackgroundConfig(people=9_000, block=512), 2, 1)
    assert (small.height, large.height) == (188, 512)
    assert small.equals(large.head(188))


def test_deterministic_and_seeded() -> None:
    cfg = BackgroundConfig(people=2_000, block=1_024)
    a, b = _block_frame(cfg, 21, 1), _block_frame(cfg, 21, 1)
    assert a.equals(b)
    other = _block_frame(cfg, 22, 1)
    assert (a["background_id"] != other["background_id"]).all()
    assert _share(a["surname"] != other["surname"]) > 0.9


def test_rewriting_replaces_old_parts(tmp_path: Path) -> None:
    _write(BackgroundConfig(people=3_000, block=256, people_per_part=256), 1, tmp_path)
    assert _write(BackgroundConfig(people=600, block=256, people_per_part=256), 1, tmp_path) == 600
    assert len(list(tmp_path.glob("part-*.parquet"))) == 3
    assert _write(BackgroundConfig(), 1, tmp_path) == 0
    assert not list(tmp_path.glob("part-*.parquet"))


def test_names_draw_from_their_own_stream() -> None:
    """Switching the name structure changes the names and nothing else."""
    cfg = BackgroundConfig(people=3_000, block=4_096)
    cited = _block_frame(cfg, 4)
    flat = _block_frame(cfg, 4, nc=NamesConfig(structure="flat"))
    same = [c for c in COLUMNS if c not in ("given", "middle", "surname", "surname_paternal", "surname_maternal")]
    same.remove("alias_given")
    same.remove("family_name_first")
    assert cited.select(same).equals(flat.select(same))
    assert flat["surname_maternal"].null_count() == flat.height
    assert flat["alias_given"].null_count() == flat.height
    assert not flat["family_name_first"].any()
    flat_list = set(names.load_tables().surnames[: NAMES.flat_list_size])
    assert set(flat["surname"].to_list()) <= flat_list


# -- identifiers, addresses and phones are fictional ---------------------------------------------


def test_ids_unique_fictional_and_unordered(big: pl.DataFrame) -> None:
    ids = big["background_id"]
    assert ids.str.contains(f"^{ID.pattern}$").all()
    assert ids.n_unique() == big.height
    assert not ids.is_sorted()  # a keyed permutation: no trace of the index


def test_phones_fictional_and_apart_from_the_region(big: pl.DataFrame) -> None:
    phones = big["phone"].drop_nulls()
    assert phones.str.contains(f"^{PHONE.pattern}$").all()
    assert phones.n_unique() == phones.len()
    share = phones.len() / big.height
    assert abs(share - BackgroundConfig().phone) < 5 * np.sqrt(0.03 * 0.97 / big.height)
    # the region issues numbers from the bottom of the same permutation: none is a background number
    seed = 11
    perm = KeyedPermutation(PHONE_SPACE, stream(seed, "world", "phones", "numbers"))
    region = fresh_numbers(perm, 0, 200_000)
    region_text = {f"{n // 10**7:03d}-{n // 10**4 % 1000:03d}-{n % 10**4:04d}" for n in region.tolist()}
    assert not region_text & set(background_phones(seed, np.arange(200_000)).to_pylist())


def test_addresses_fictional(big: pl.DataFrame) -> None:
    assert set(STATES).isdisjoint(USPS | {geography.STATE})
    assert len(set(STATES)) == len(STATES) == 39
    region_towns = set(geography.town_names(len(geography._TOWN_HEADS) * len(geography._TOWN_TAILS)))
    assert region_towns.isdisjoint(town_name_pool())
    for p in ("", "prev_"):
        rows = big.filter(pl.col(f"{p}address").is_not_null())
        state_idx = rows[f"{p}state"].cast(pl.String).replace_strict(STATES, list(range(len(STATES))))
        zips = (state_idx + FIRST_ZIP).cast(pl.String).str.zfill(5)
        assert (rows[f"{p}zip"] == zips).all()
        assert rows[f"{p}zip"].str.contains("^000[6-9][0-9]$").all()
        assert rows[f"{p}town"].is_in(list(region_towns)).sum() == 0
        unit = pl.when(pl.col(f"{p}unit").is_null()).then(pl.lit("")).otherwise(" APT " + pl.col(f"{p}unit"))
        text = pl.format(
            "{} {}{}, {}, {} {}",
            f"{p}number",
            f"{p}street",
            unit,
            f"{p}town",
            pl.col(f"{p}state").cast(pl.String),
            f"{p}zip",
        )
        assert rows.select((text == pl.col(f"{p}address")).all()).item()
    moved = big["moved_at"].is_not_null()
    assert (big["prev_address"].is_not_null() == moved).all()
    assert big.filter(moved).select(pl.col("moved_at").min() >= WORLD.start.replace(day=1)).item()


def test_addresses_read_as_addresses_and_find_no_region_door(big: pl.DataFrame) -> None:
    texts = big.head(800).select(t=pl.concat_list("address", "prev_address")).explode("t").drop_nulls()["t"]
    parsed = address.parse_many(texts.to_list())
    assert all(building is not None for _, building in parsed)  # the resolver reads every one
    units = geography.build_region(stream(1, "test", "region"), {"house": 400, "small": 200, "large": 400}, 60)
    res = address.resolve(pl.DataFrame({"address_text": texts}), units)
    assert res["resolved_address"].null_count() == res["resolved_building"].null_count() == len(texts)


# -- who they are: groups, names, ages -----------------------------------------------------------


def _share(mask: pl.Series) -> float:
    return float(mask.sum()) / mask.len()


def _close(observed: float, expected: float, n: int, sigmas: float = 5.0) -> bool:
    return abs(observed - expected) <= sigmas * np.sqrt(max(expected * (1 - expected), 1e-9) / n) + 1e-9


def test_group_sex_and_nativity_shares(big: pl.DataFrame) -> None:
    cfg = BackgroundConfig()
    n = big.height
    counts = big["group"].cast(pl.String).value_counts()
    got = dict(zip(counts["group"], counts["count"], strict=True))
    mix = np.array(cfg.group_mix.as_array())
    mix /= mix.sum()
    for g, p in zip(GROUPS, mix, strict=True):
        assert _close(got.get(g, 0) / n, p, n), g
    assert _close(_share(big["sex"].cast(pl.String) == "M"), cfg.male, n)
    for g, p in zip(GROUPS, cfg.foreign_born.as_array(), strict=True):
        rows = big.filter(pl.col("group").cast(pl.String) == g)
        if rows.height > 500:
            assert _close(_share(rows["foreign_born"]), p, rows.height), g


def test_surnames_follow_each_groups_table(big: pl.DataFrame) -> None:
    t = names.load_tables()
    named = set(t.surnames.tolist())
    for gi, g in enumerate(GROUPS):
        rows = big.filter(pl.col("group").cast(pl.String) == g)
        if rows.height < 2_000:
            continue
        pat = rows["surname_paternal"]
        # rare (invented) surnames at the group's "ALL OTHER NAMES" share, less those that happen to
        # spell a listed surname
        invented = names.rare_names(np.random.default_rng(gi), t.surname_pool[gi], 20_000)
        unlisted = float(np.mean([v not in named for v in invented]))
        rare = _share(~pat.is_in(list(named)))
        assert _close(rare, t.rare_share[gi] * unlisted, rows.height), g
        # the group's ten commonest surnames at their table frequencies
        top = np.argsort(-t.surname_p[gi])[:10]
        for i in top:
            expected = t.surname_p[gi, i] * (1 - t.rare_share[gi])
            observed = _share(pat == t.surnames[i])
            assert _close(observed, expected, rows.height), (g, t.surnames[i])
    # concentration differs by group as the tables say: the commonest Hispanic surnames are not White ones
    hisp_top = big.filter(pl.col("group").cast(pl.String) == "hispanic")["surname_paternal"].value_counts(sort=True)
    white_top = big.filter(pl.col("group").cast(pl.String) == "white")["surname_paternal"].value_counts(sort=True)
    assert set(hisp_top["surname_paternal"].head(5)).isdisjoint(white_top["surname_paternal"].head(5))


def test_compound_surnames_middle_names_and_aliases(big: pl.DataFrame) -> None:
    nc = NAMES
    hisp = big.filter(pl.col("group").cast(pl.String) == "hispanic")
    other = big.filter(pl.col("group").cast(pl.String) != "hispanic")
    assert hisp["surname_maternal"].null_count() == 0
    assert other["surname_maternal"].null_count() == other.height
    hy = _share(hisp["surname"] == hisp["surname_paternal"] + "-" + hisp["surname_maternal"])
    sp = _share(hisp["surname"] == hisp["surname_paternal"] + " " + hisp["surname_maternal"])
    assert _close(hy, nc.hispanic_hyphen, hisp.height)
    assert _close(sp, nc.hispanic_space, hisp.height)
    plain = big.filter(pl.col("surname") == pl.col("surname_paternal")).height / big.height
    expected_plain = 1 - (hisp.height * (nc.hispanic_hyphen + nc.hispanic_space)) / big.height
    assert abs(plain - expected_plain) < 0.01
    assert _close(1 - big["middle"].null_count() / big.height, nc.middle_name, big.height)
    api_fb = (pl.col("group").cast(pl.String) == "api") & pl.col("foreign_born")
    assert big.filter(~api_fb)["alias_given"].null_count() == big.filter(~api_fb).height
    assert not big.filter(~api_fb)["family_name_first"].any()
    eligible = big.filter(api_fb)
    assert _close(1 - eligible["alias_given"].null_count() / eligible.height, nc.english_alias, eligible.height)
    assert _close(_share(eligible["family_name_first"]), nc.family_name_first, eligible.height)


def test_given_names_follow_group_and_sex(big: pl.DataFrame) -> None:
    t = names.load_tables()
    gi = GROUPS.index("white")
    for sex, code in ((0, "F"), (1, "M")):
        rows = big.filter((pl.col("group").cast(pl.String) == "white") & (pl.col("sex").cast(pl.String) == code))
        for i in np.argsort(-t.given_p[gi, sex])[:5]:
            expected = t.given_p[gi, sex, i] * (1 - t.given_rare[gi, sex])
            observed = _share(rows["given"] == t.given[i])
            assert _close(observed, expected, rows.height), (code, t.given[i])


def test_adults_with_cited_ages(big: pl.DataFrame) -> None:
    lo, hi = birth_range(WORLD)
    assert big.select((pl.col("dob") >= lo).all() & (pl.col("dob") <= hi).all()).item()
    start = np.datetime64(WORLD.start.replace(day=1), "D")
    age = (start - big["dob"].to_numpy()).astype(np.int64) / 365.25
    assert age.min() >= 18 and age.max() < 100
    cfg = BackgroundConfig()
    for (a, b), p in zip(AGE_BANDS, cfg.age_mix, strict=True):
        assert _close(float(np.mean((age >= a) & (age < b))), p, big.height), (a, b)


# -- the section ------------------------------------------------------------------------------


def test_config_sources_defaults_and_limits() -> None:
    cfg = BackgroundConfig()
    assert cfg.people == 0
    assert cfg.group_mix.as_array() == WorldConfig().group_mix.as_array()
    for name, field in BackgroundConfig.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        assert str(extra.get("source", "")).strip(), name
    assert BackgroundConfig(people=500_000_000).blocks == -(-500_000_000 // cfg.block)
    with pytest.raises(ValidationError):
        BackgroundConfig(people=500_000_001)
    with pytest.raises(ValidationError):
        BackgroundConfig(age_mix=(0.2,) * 8)
    with pytest.raises(ValidationError):
        BackgroundConfig(people=True)
    assert BackgroundConfig(people=10, block=256, people_per_part=100).blocks_per_part == 1
    assert BackgroundConfig(people=10_000, block=256, people_per_part=1_000).parts == 14
    assert len(COLUMNS) == len(set(COLUMNS))
