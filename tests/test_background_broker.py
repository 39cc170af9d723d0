"""The background population in the broker's file (issue 13): who is kept, what the records say,
how answers at background addresses are scored, and the namesake curve over file sizes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import SANDBOX, small_scenario

from trailbench.file_sizes import FILE, level_dir
from trailbench.pipeline import load_trails, load_world, run_all
from trailbench.scenario import Scenario
from trailbench.tasks import truth
from trailbench.tasks.associates import score_associates
from trailbench.tasks.locate import score_locate
from trailbench.trails.background import BackgroundInput, door_keys, kept_people
from trailbench.world.background import read_background
from trailbench.worlds import world_dir

REGION = 2_000
BACKGROUND = 200_000
SIZES = (REGION, 20_000)  # the run itself covers REGION + BACKGROUND


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, Path]:
    """A 2,000-person region with 200,000 background people, two worlds, the broker system only,
    and the broker run again on files of 2,000 (no background) and 20,000 people."""
    sc = small_scenario(
        name="national",
        background={"people": BACKGROUND, "file_sizes": list(SIZES), "block": 4_096},
        systems={"run": ["broker"]},
        docket={"cases": 800},
        audit={"worlds": 2, "bootstrap": 200},
    )
    run = tmp_path_factory.mktemp("national") / "run"
    run_all(sc, run, use_sandbox=SANDBOX)
    return sc, run


def _metric(card: dict[str, Any], metric: str) -> dict[str, Any]:
    rows = [
        r
        for r in card["metrics"]
        if (r["system"], r["metric"], r["slice"], r["level"]) == ("broker", metric, "overall", "all")
    ]
    assert len(rows) == 1, metric
    return rows[0]


def _cards(run: Path) -> list[tuple[int, dict[str, Any]]]:
    sweep = json.loads((run / FILE).read_text())
    return [(lv["covered"], json.loads((run / lv["run"] / "scorecard.json").read_text())) for lv in sweep["levels"]]


def test_the_sweep_lists_every_file_size_and_runs_only_the_broker(national: tuple[Scenario, Path]) -> None:
    sc, run = national
    sweep = json.loads((run / FILE).read_text())
    assert (sweep["system"], sweep["task"]) == ("broker", "locate")
    assert [lv["covered"] for lv in sweep["levels"]] == [*SIZES, REGION + BACKGROUND]
    assert [lv["background_people"] for lv in sweep["levels"]] == [0, 18_000, BACKGROUND]
    assert sweep["levels"][-1]["run"] == "."
    for covered in SIZES:
        card = json.loads((level_dir(run, sc, covered) / "scorecard.json").read_text())
        assert card["scenario"]["background"]["people"] == covered - REGION
        assert list(card["systems"]) == ["broker"]


def test_namesake_share_of_wrong_answers_grows_with_the_file(national: tuple[Scenario, Path]) -> None:
    """More people in the file, more namesakes merged into the subjects' profiles: the namesake
    share of the broker system's wrong answers rises at every step (pinned on these sizes)."""
    shares = [_metric(card, "error_share_namesake")["value"] for _, card in _cards(national[1])]
    assert shares[0] < shares[1] < shares[2], shares
    assert shares[2] - shares[0] > 0.05, shares
    wrong = [_metric(card, "wrong_door_rate")["value"] for _, card in _cards(national[1])]
    assert wrong[2] > wrong[0], wrong


def test_smaller_files_are_the_first_people_of_larger_ones(national: tuple[Scenario, Path]) -> None:
    """The background people the broker keeps from a smaller file are exactly those of the larger
    file's below the cut: the files are nested, so the curve measures the people added."""
    sc, run = national
    small = level_dir(run, sc, SIZES[1])
    cut = SIZES[1] - REGION
    for k in range(2):
        kept_small = pl.read_parquet(world_dir(small, sc, k) / "truth" / "background.parquet")
        kept_big = pl.read_parquet(world_dir(run, sc, k) / "truth" / "background.parquet")
        assert kept_small.height > 0
        assert kept_small.equals(kept_big.filter(pl.col("background_no") < cut))
        assert kept_big.height > 5 * kept_small.height


def test_background_people_kept_share_a_key_with_the_region(national: tuple[Scenario, Path]) -> None:
    """Every background person sharing surname and given-name start with a region person is kept,
    and everyone kept shares that, or surname and date of birth, with a region person or one of
    the region's broker records (a nickname, a typo, a filled date of birth)."""
    sc, run = national
    where = world_dir(run, sc, 0)
    world, trails = load_world(where), load_trails(where)
    kept = trails.background
    assert 0 < kept.height < BACKGROUND // 10

    def keys(df: pl.DataFrame) -> pl.DataFrame:
        return df.select(
            s=pl.col("surname").str.to_uppercase().str.replace_all(r"[^A-Z]", ""),
            g3=pl.col("given").str.to_uppercase().str.replace_all(r"[^A-Z]", "").str.slice(0, 3),
            dob=pl.col("dob"),
        )

    everyone = read_background(run / "background").collect().with_row_index("background_no")
    people = keys(world.people.with_columns(pl.col("dob").cast(pl.String)))
    by_people = (
        keys(everyone.with_columns(pl.col("dob").cast(pl.String)))
        .with_columns(everyone["background_no"].cast(pl.Int64))
        .join(people.select("s", "g3").unique(), on=["s", "g3"], how="semi")
    )
    assert set(by_people["background_no"]) <= set(kept["background_no"])
    assert by_people.height >= 0.9 * kept.height
    # the region's broker records as written (dates month first)
    own = trails.records.join(
        trails.truth_records.filter(pl.col("background_no").is_null()).select("record_id"), on="record_id"
    ).filter(pl.col("source") == "broker")
    own = own.with_columns(dob=pl.col("dob").str.to_date("%m/%d/%Y", strict=False).cast(pl.String))
    region = pl.concat([people, keys(own)])
    theirs = keys(kept.with_columns(pl.col("dob").cast(pl.String))).with_columns(kept["background_no"])
    matched = pl.concat(
        [
            theirs.join(region.select("s", "g3").unique(), on=["s", "g3"], how="semi"),
            theirs.join(region.select("s", "dob").drop_nulls().unique(), on=["s", "dob"], how="semi"),
        ]
    )
    assert set(matched["background_no"]) == set(kept["background_no"])


def test_background_records_are_truthful_and_apart_from_the_region(national: tuple[Scenario, Path]) -> None:
    sc, run = national
    where = world_dir(run, sc, 0)
    world, trails = load_world(where), load_trails(where)
    t = trails.truth_records.filter(pl.col("background_no").is_not_null())
    assert t.height > 0
    assert set(t["source"].unique()) == {"broker", "phone_directory", "social"}
    assert t["person_id"].is_null().all() and t["unit_id"].is_null().all()
    assert set(t["background_no"].unique()) <= set(trails.background["background_no"])
    every = trails.records.join(t.select("record_id", "stale"), on="record_id")
    # social profiles: 'in' a town no region town is, handles unique beside the region's, and in
    # no one's friend list
    social = every.filter(pl.col("source") == "social")
    assert social.height > 0
    assert not social["city"].is_in(world.units["town"].str.to_uppercase().implode()).any()
    handles = trails.records.filter(pl.col("source") == "social")["handle"]
    assert handles.n_unique() == handles.len()
    linked = pl.concat([trails.record_links["record_id"], trails.record_links["linked_record_id"]])
    assert not social["record_id"].is_in(linked.implode()).any()
    # listings: at the person's present address, with their phone
    listed = every.filter(pl.col("source") == "phone_directory")
    assert listed.height > 0 and listed["phone"].is_not_null().all()
    rec = every.filter(pl.col("source") != "social")
    # out-of-region addresses: fictional states, never a door of the register
    assert rec["address_text"].str.contains(r" (Q[M-Z]|X[A-Z]) 000(6[1-9]|[7-9]\d)$").mean() > 0.98
    assert not rec["address_text"].is_in(trails.address_register["address"].implode()).any()
    # phones from the top of the world's own number space: never a region phone
    assert not rec["phone"].drop_nulls().is_in(world.phones["phone"].implode()).any()
    # the stale records are the addresses before a move
    assert rec.filter(pl.col("stale"))["address_text"].n_unique() > 0


def test_no_background_no_background_records(tiny_run: Path) -> None:
    trails = load_trails(tiny_run)
    assert trails.background.is_empty()
    assert trails.truth_records["background_no"].is_null().all()
    assert not (tiny_run / FILE).exists()
    assert not (tiny_run / "background").exists()


def test_an_answer_at_a_background_namesakes_door_is_a_namesake_wrong_door(national: tuple[Scenario, Path]) -> None:
    """Hand-picked answers: the address of a background person sharing the subject's name is a
    namesake's wrong door with that person behind it; another background person's is other-wrong;
    the region's own scoring is untouched."""
    sc, run = national
    where = world_dir(run, sc, 0)
    world, trails = load_world(where), load_trails(where)
    cases = pl.read_parquet(where / "truth" / "cases.parquet").select("case_id", "person_id", "as_of")
    kept = trails.background
    subj = truth.name_keys(world.people.select("person_id", "given", "surname"))
    theirs = truth.name_keys(kept.select(person_id="background_no", given="given", surname="surname"))
    pairs = (
        cases.join(subj, on="person_id")
        .join(theirs.rename({"person_id": "background_no"}), on=["gkey", "skey"])
        .select("case_id", "background_no")
        .unique()
        .sort("case_id", "background_no")
    )
    assert pairs.height > 0
    case_a, bg_a = pairs.row(0)
    namesakes_of_b = set(pairs.filter(pl.col("case_id") == pairs["case_id"][-1])["background_no"])
    case_b = pairs["case_id"][-1]
    stranger = kept.filter(~pl.col("background_no").is_in(list(namesakes_of_b))).row(0, named=True)
    person = kept.filter(pl.col("background_no") == bg_a).row(0, named=True)
    answers = pl.DataFrame(
        {
            "case_id": [case_a, case_b],
            "rank": [1, 1],
            # the broker's style, as the broker system answers it; the stranger's as generated
            "address_text": [person["address"].upper().replace(",", ""), stranger["address"]],
            "evidence": [[], []],
            "score": [0.5, 0.5],
        },
        schema_overrides={"evidence": pl.List(pl.String)},
    )
    asked = cases.filter(pl.col("case_id").is_in([case_a, case_b]))
    out, residents = score_locate(
        answers, asked, world, trails.truth_records, trails.address_register, trails.records, trails.background
    )
    a = out.filter(pl.col("case_id") == case_a).row(0, named=True)
    b = out.filter(pl.col("case_id") == case_b).row(0, named=True)
    assert (a["outcome"], a["cause"], a["answered_background"]) == ("namesake", "namesake", True)
    assert (b["outcome"], b["cause"], b["answered_background"]) == ("other-wrong", "other", True)
    at_a = residents.filter(pl.col("case_id") == case_a)
    assert at_a["group"].to_list() == [person["group"]] and at_a["weight"].to_list() == [1.0]
    assert a["residents"] == 1.0
    # without the background truth the same answers name no door
    out0, _ = score_locate(answers, asked, world, trails.truth_records, trails.address_register, trails.records)
    assert set(out0["outcome"]) == {"no-such-address"}
    assert door_keys(pl.Series([person["address"]]))[0] == door_keys(pl.Series([answers["address_text"][0]]))[0]


def test_the_out_of_core_join_finds_the_same_people_at_any_memory_limit(national: tuple[Scenario, Path]) -> None:
    """The DuckDB join that finds the background people sharing a key with the region gives the
    people a plain in-memory join finds, whatever memory it is allowed, and only the first N."""
    sc, run = national
    world = load_world(world_dir(run, sc, 0))
    people = world.people.select(
        s=pl.col("surname").str.to_uppercase().str.replace_all(r"[^A-Z]", ""),
        g3=pl.col("given").str.to_uppercase().str.replace_all(r"[^A-Z]", "").str.slice(0, 3),
        dob=pl.col("dob").cast(pl.String),
    )
    by_name, by_dob = people.select("s", "g3").unique(), people.select("s", "dob").unique()
    first = 150_000
    found = {mb: kept_people(BackgroundInput(run / "background", first), by_name, by_dob, mb) for mb in (256, 2048)}
    assert found[256].equals(found[2048])
    everyone = read_background(run / "background").collect().head(first)
    keyed = everyone.with_row_index("background_no").with_columns(
        s=pl.col("surname").str.to_uppercase().str.replace_all(r"[^A-Z]", ""),
        g3=pl.col("given").str.to_uppercase().str.replace_all(r"[^A-Z]", "").str.slice(0, 3),
        dob_key=pl.col("dob").cast(pl.String),
    )
    plain = pl.concat(
        [
            keyed.join(by_name, on=["s", "g3"], how="semi"),
            keyed.join(by_dob.rename({"dob": "dob_key"}), on=["s", "dob_key"], how="semi"),
        ]
    )
    assert found[256]["background_no"].to_list() == sorted(set(plain["background_no"].to_list()))
    assert found[256]["background_no"].max() < first


def test_the_report_shows_the_file_sizes(national: tuple[Scenario, Path]) -> None:
    """The run's report has "Errors by the size of the broker's file" with each size's namesake
    share as its own scorecard gives it."""
    html = (national[1] / "report.html").read_text()
    assert "Errors by the size of the broker" in html
    for covered, card in _cards(national[1]):
        share = _metric(card, "error_share_namesake")
        key = f"file_sizes={covered}|broker|error_share_namesake|overall|all"
        for field in ("value", "lo", "hi"):
            assert f"data-key='{key}|{field}' data-value='{share[field]!r}'" in html, (key, field)
        assert f"{covered:,}" in html


def test_a_background_person_drawn_into_a_case_file_is_a_false_link(national: tuple[Scenario, Path]) -> None:
    """An entity made of a background person's record draws that person in: a false link (no tie
    to anyone in the region), never a person of the region, and outside the exposure share."""
    sc, run = national
    where = world_dir(run, sc, 0)
    world, trails = load_world(where), load_trails(where)
    cases = pl.read_parquet(where / "truth" / "cases.parquet").select("case_id", "person_id", "as_of").head(1)
    theirs = trails.truth_records.filter(pl.col("background_no").is_not_null()).row(0, named=True)
    answers = pl.DataFrame(
        {"case_id": [cases["case_id"][0]], "rank": [1], "entity": [[theirs["record_id"]]], "score": [1.0]},
        schema_overrides={"entity": pl.List(pl.String)},
    )
    entities, per_case, drawn = score_associates(answers, cases, world, trails.truth_records, trails.records)
    assert per_case.select("people_drawn", "true_links", "false_links").row(0) == (1, 0, 1)
    assert drawn["person_id"].to_list() == [-1 - theirs["background_no"]]
    assert entities["cls"].to_list() == ["no-tie"]
