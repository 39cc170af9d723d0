"""The report: numbers equal the scorecard's, planted markup is inert, and the page opens
offline in headless Chromium with no request leaving the file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import SANDBOX, small_scenario

from trailbench.pipeline import run_all
from trailbench.report.html import fmt, render_report

FAKES = Path(__file__).parent / "fake_systems"
PAYLOAD = "<script>alert('planted')</script>"


class Cells(HTMLParser):
    """Collects data-key cells, tags, attributes and every src/href."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str]] = []
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str]] = []
        self._open: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        a = {k: v or "" for k, v in attrs}
        self.attrs += list(a.items())
        if "data-key" in a:
            self._open = {"key": a["data-key"], "value": a["data-value"], "text": ""}

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._open is not None:
            self.cells.append(self._open)
            self._open = None


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    r = tmp_path_factory.mktemp("report") / "run"
    sc = small_scenario(
        docket={"cases": 120},
        audit={"bootstrap": 200},
        systems={
            "run": ["exact", "broker", "markup"],
            "commands": {"markup": f"{sys.executable} {FAKES / 'markup.py'}"},
        },
    )
    run_all(sc, r, use_sandbox=SANDBOX)
    return r


def _lookup(card: dict[str, Any], key: str) -> tuple[str, Any]:
    parts = key.split("|")
    if parts[1] == "exposure":
        row = next(e for e in card["exposure"] if e["system"] == parts[0])
        return "exposure_share", row[parts[2]]
    if parts[4] == "disparity":
        system, metric, slice_, level, _, field = parts
        row = next(
            (
                d
                for d in card["disparities"]
                if (d["system"], d["metric"], d["slice"], d["level"]) == (system, metric, slice_, level)
            ),
            None,
        )
        return "ratio", None if row is None else row[field]
    system, metric, slice_, level, field = parts
    row = next(
        m
        for m in card["metrics"]
        if (m["system"], m["metric"], m["slice"], m["level"]) == (system, metric, slice_, level)
    )
    return metric, row[field]


def _row(card: dict[str, Any], key: str) -> dict[str, Any]:
    parts = key.split("|")
    table = card["disparities"] if len(parts) == 6 and parts[4] == "disparity" else card["metrics"]
    return next(r for r in table if (r["system"], r["metric"], r["slice"], r["level"]) == tuple(parts[:4]))


def test_every_number_equals_the_scorecard(run: Path) -> None:
    card = json.loads((run / "scorecard.json").read_text())
    parser = Cells()
    parser.feed((run / "report.html").read_text())
    assert len(parser.cells) > 300
    small = 0
    for c in parser.cells:
        metric, value = _lookup(card, c["key"])
        if c["key"].endswith("|estimable"):  # a slice with too few cases: said, never estimated
            row = _row(card, c["key"])
            assert value is False and c["text"] == f"too few cases ({row['cases']})", c
            assert row["cases"] < card["scenario"]["audit"]["min_group_cases"]
            small += 1
            continue
        assert c["value"] == ("" if value is None else repr(value)), c
        if c["key"].endswith("|p_holm"):
            assert c["text"] == (
                "–" if value is None else f"{value:.2g}" + (" ◆" if _row(card, c["key"])["detected"] else "")
            ), c
            continue
        assert c["text"] == fmt(metric, value), c
    assert small > 0  # this small docket has groups too small to estimate
    keys = {c["key"] for c in parser.cells}
    for s in ("exact", "broker", "markup"):
        assert f"{s}|wrong_door_rate|overall|all|value" in keys


def test_planted_markup_is_text(run: Path) -> None:
    html = (run / "report.html").read_text()
    assert PAYLOAD not in html
    assert "&lt;script&gt;alert(&#39;planted&#39;)&lt;/script&gt;" in html
    parser = Cells()
    parser.feed(html)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert not [k for k, _ in parser.attrs if k.startswith("on")]


def test_self_contained(run: Path) -> None:
    html = (run / "report.html").read_text()
    parser = Cells()
    parser.feed(html)
    refs = [v for k, v in parser.attrs if k in ("src", "href") and not v.startswith("#")]
    assert refs == []
    assert "url(" not in html and "@import" not in html
    assert (run / "report.html").stat().st_size < 5 * 1024 * 1024


def test_report_command_rerenders(run: Path, tmp_path: Path) -> None:
    out = render_report(run, tmp_path / "again.html")
    assert out.read_text() == (run / "report.html").read_text()


def _png_stats(png: bytes) -> tuple[int, int, float]:
    """(width, height, share of non-white bytes) of an 8-bit PNG, read with zlib alone."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(png):
        n = int.from_bytes(png[pos : pos + 4], "big")
        kind = png[pos + 4 : pos + 8]
        body = png[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            width, height = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    return width, height, sum(1 for b in raw[:: max(1, len(raw) // 200_000)] if b < 200) / min(len(raw), 200_000)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def page_requests(chromium: str, page: Path, work: Path, shot: Path | None = None) -> list[str]:
    """URLs the page itself asked the network for (Chromium's net log; the browser's own
    background traffic, whose initiator is "not an origin", is not the page's)."""
    netlog = work / "netlog.json"
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        f"--user-data-dir={work / 'profile'}",
        "--hide-scrollbars",
        "--window-size=1280,2400",
        f"--log-net-log={netlog}",
    ]
    cmd += [f"--screenshot={shot}"] if shot else ["--dump-dom"]
    subprocess.run([*cmd, page.as_uri()], check=True, capture_output=True, timeout=120)
    text = netlog.read_text().rstrip()
    log = json.loads(text if text.endswith("}") else text.rstrip(",") + "]}")
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    jobs = [e["params"] for e in log["events"] if e["type"] == start_job and "url" in e.get("params", {})]
    return [p["url"] for p in jobs if p.get("initiator") != "not an origin"]


@pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian package 'chromium'; .ci/run installs it)"
)
def test_the_request_check_catches_a_page_that_calls_out(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    page = tmp_path / "leaky.html"
    page.write_text('<p>x</p><img src="http://127.0.0.1:9/pixel.png">')
    assert page_requests(CHROMIUM, page, tmp_path) == ["http://127.0.0.1:9/pixel.png"]


@pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian package 'chromium'; .ci/run installs it)"
)
def test_opens_offline_in_headless_chromium(run: Path, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    shot = tmp_path / "report.png"
    assert page_requests(CHROMIUM, run / "report.html", tmp_path, shot) == []
    width, height, ink = _png_stats(shot.read_bytes())
    assert (width, height) == (1280, 2400)
    assert ink > 0.01, "the screenshot is blank"
