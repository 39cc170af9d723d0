"""The report's "Errors by the size of the broker's file" (issue 13): each size's figures come from
its own run's scorecard, in the sweep's order; a size not yet run says so; the section renders."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from trailbench.report.file_sizes import COLUMNS, load_file_sizes
from trailbench.report.html import environment, fmt, render_report

DEMO = Path(__file__).parent.parent / "runs" / "demo" / "scorecard.json"
METRICS = [m for m, _ in COLUMNS]
# namesake share of the broker's wrong answers at each size, growing with the file
NAMESAKE = {0: 0.05, 90000: 0.15, 990000: 0.3, 10000000: 0.45}


def _rows(system: str, values: dict[str, float], cases: int, **where: str) -> list[dict[str, Any]]:
    return [
        {
            "system": system,
            "task": "locate",
            "metric": m,
            "slice": where.get("slice", "overall"),
            "level": where.get("level", "all"),
            "value": v,
            "lo": round(v * 0.8, 6),
            "hi": round(v * 1.2, 6),
            "estimable": True,
            "cases": cases,
        }
        for m, v in values.items()
    ]


def _card(background: int) -> dict[str, Any]:
    """A scorecard with only what the section reads: the broker's overall figures at this size,
    and decoys (another system, a group slice) that must not be shown."""
    namesake = NAMESAKE[background]
    broker = {
        "wrong_door_rate": 0.1 + namesake / 10,
        "error_share_stale": 0.5 - namesake / 2,
        "error_share_namesake": namesake,
        "error_share_digit_error": 0.2,
        "error_share_unit_missing": 0.1,
        "error_share_other": 0.2 - namesake / 2,
    }
    decoy = dict.fromkeys(broker, 0.999)
    return {
        "confidence": 0.9,
        "metrics": _rows("broker", broker, 1000 + background // 1000)
        + _rows("exact", decoy, 7)
        + _rows("broker", decoy, 7, slice="group", level="Black"),
    }


def _sweep(run: Path, backgrounds: list[int], missing: tuple[int, ...] = ()) -> None:
    """A run directory whose largest size is the run itself and the others are file_sizes/<N>."""
    levels = []
    for i, b in enumerate(backgrounds):
        rel = "." if i == len(backgrounds) - 1 else f"file_sizes/{b}"
        levels.append({"covered": 10000 + b, "region_people": 10000, "background_people": b, "run": rel})
        if b not in missing:
            (run / rel).mkdir(parents=True, exist_ok=True)
            (run / rel / "scorecard.json").write_text(json.dumps(_card(b)))
    run.mkdir(parents=True, exist_ok=True)
    (run / "file_sizes.json").write_text(json.dumps({"system": "broker", "task": "locate", "levels": levels}))


class Cells(HTMLParser):
    """The data-key cells (key, raw value, text shown), the text of every cell and every heading."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, tuple[str, str]] = {}
        self.text: list[str] = []
        self.headings: list[str] = []
        self._key: tuple[str, str] | None = None
        self._tag = ""
        self._buf = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("td", "th", "h2"):
            self._tag, self._buf = tag, ""
            self._key = (a["data-key"], a.get("data-value", "")) if "data-key" in a else None

    def handle_data(self, data: str) -> None:
        self._buf += data

    def handle_endtag(self, tag: str) -> None:
        if tag != self._tag:
            return
        if tag == "h2":
            self.headings.append(self._buf.strip())
        else:
            self.text.append(self._buf.strip())
            if self._key is not None:
                self.cells[self._key[0]] = (self._key[1], self._buf.strip())
        self._tag = ""


def _render_section(ctx: dict[str, Any] | None) -> str:
    """The section alone: its block of report.html.j2 rendered with only its own context."""
    tmpl = environment().get_template("report.html.j2")
    return "".join(tmpl.blocks["file_sizes"](tmpl.new_context({"file_sizes": ctx})))


def test_no_sweep_no_section(tmp_path: Path) -> None:
    (tmp_path / "scorecard.json").write_text(json.dumps(_card(0)))
    assert load_file_sizes(tmp_path) is None
    assert "file-sizes" not in _render_section(None)
    (tmp_path / "file_sizes.json").write_text("{not json")
    assert load_file_sizes(tmp_path) is None


def test_each_size_from_its_own_scorecard_in_order(tmp_path: Path) -> None:
    backgrounds = [0, 90000, 990000, 10000000]
    _sweep(tmp_path, backgrounds)
    ctx = load_file_sizes(tmp_path)
    assert ctx is not None
    assert ctx["system"] == "broker" and ctx["task"] == "locate" and ctx["ci"] == "90% CI"
    rows = ctx["rows"]
    assert [r["covered"] for r in rows] == ["10,000", "100,000", "1,000,000", "10,010,000"]
    assert [r["background"] for r in rows] == ["0", "90,000", "990,000", "10,000,000"]
    assert [r["run"] for r in rows] == ["file_sizes/0", "file_sizes/90000", "file_sizes/990000", "."]
    assert [r["status"] for r in rows] == ["", "", "", ""]
    # the namesake share grows with the file, each from its own level's scorecard, with its interval
    assert [r["metrics"]["error_share_namesake"]["value"] for r in rows] == [NAMESAKE[b] for b in backgrounds]
    for r, b in zip(rows, backgrounds, strict=True):
        assert r["cases"] == 1000 + b // 1000
        for m in METRICS:
            want = next(x for x in _card(b)["metrics"] if x["metric"] == m and x["system"] == "broker")
            got = r["metrics"][m]
            assert (got["value"], got["lo"], got["hi"]) == (want["value"], want["lo"], want["hi"]), (b, m)
            assert got["value"] != 0.999  # never the other system's or the group slice's row
    assert "<svg" in ctx["chart"] and "namesake share of wrong answers" in ctx["chart"]
    assert any("first three letters of the given name" in t for t in ctx["explanation"])
    assert any("prefixes of the larger" in t for t in ctx["explanation"])


def test_rendered_cells_show_each_size(tmp_path: Path) -> None:
    backgrounds = [0, 90000, 990000, 10000000]
    _sweep(tmp_path, backgrounds)
    html = _render_section(load_file_sizes(tmp_path))
    p = Cells()
    p.feed(html)
    assert p.headings == ["Errors by the size of the broker's file"]
    assert len(p.cells) == len(backgrounds) * len(METRICS) * 3
    for b in backgrounds:
        card = _card(b)
        for m in METRICS:
            want = next(x for x in card["metrics"] if x["metric"] == m and x["system"] == "broker")
            for field in ("value", "lo", "hi"):
                raw, shown = p.cells[f"file_sizes={10000 + b}|broker|{m}|overall|all|{field}"]
                assert raw == repr(want[field]) and shown == fmt(m, want[field])
    # the namesake column reads down in the sweep's order
    shown = [html.index(f"file_sizes={10000 + b}|broker|error_share_namesake|overall|all|value") for b in backgrounds]
    assert shown == sorted(shown)
    assert "first three letters of the given name" in html and "<svg" in html
    assert "90% CI low" in html


def test_a_size_not_yet_run_says_so(tmp_path: Path) -> None:
    _sweep(tmp_path, [0, 90000, 990000], missing=(90000,))
    ctx = load_file_sizes(tmp_path)
    assert ctx is not None
    assert [r["status"] for r in ctx["rows"]] == ["", "not run", ""]
    gap = ctx["rows"][1]
    assert gap["cases"] is None and gap["metrics"] == {}
    assert [r["metrics"]["error_share_namesake"]["value"] for r in (ctx["rows"][0], ctx["rows"][2])] == [0.05, 0.3]
    p = Cells()
    p.feed(_render_section(ctx))
    assert "not run" in p.text
    assert not [k for k in p.cells if k.startswith("file_sizes=100000|")]
    assert len(p.cells) == 2 * len(METRICS) * 3


def test_one_size_none_run(tmp_path: Path) -> None:
    _sweep(tmp_path, [0], missing=(0,))
    ctx = load_file_sizes(tmp_path)
    assert ctx is not None
    assert [r["status"] for r in ctx["rows"]] == ["not run"]
    assert ctx["chart"] is None
    html = _render_section(ctx)
    assert "not run" in html and "<svg" not in html


@pytest.mark.skipif(not DEMO.exists(), reason="runs/demo is not in this checkout (made by `make demo`)")
def test_full_report_has_the_section_only_with_a_sweep(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(DEMO, run / "scorecard.json")
    plain = render_report(run, tmp_path / "plain.html").read_text()
    p = Cells()
    p.feed(plain)
    assert "Errors by the size of the broker's file" not in p.headings and 'id="file-sizes"' not in plain
    assert 'href="#file-sizes"' not in plain
    demo = json.loads(DEMO.read_text())
    namesake = next(
        r
        for r in demo["metrics"]
        if (r["system"], r["metric"], r["slice"], r["level"]) == ("broker", "error_share_namesake", "overall", "all")
    )
    levels = [
        {"covered": 10000, "region_people": 10000, "background_people": 0, "run": "file_sizes/0"},
        {"covered": 20000, "region_people": 10000, "background_people": 10000, "run": "."},
    ]
    (run / "file_sizes.json").write_text(json.dumps({"system": "broker", "task": "locate", "levels": levels}))
    html = render_report(run, tmp_path / "swept.html").read_text()
    assert 'href="#file-sizes"' in html
    p = Cells()
    p.feed(html)
    assert "Errors by the size of the broker's file" in p.headings
    assert p.headings.index("Errors by the size of the broker's file") > p.headings.index("Explained cases")
    raw, shown = p.cells["file_sizes=20000|broker|error_share_namesake|overall|all|value"]
    assert raw == repr(namesake["value"]) and shown == fmt("error_share_namesake", namesake["value"])
    assert "not run" in p.text
