"""Charts as inline SVG, drawn here so the report renders offline with no script at all.

Colours are the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies)
and every series also has its own marker shape, so charts read in black-and-white print. Every
label is escaped; every chart has a table of its numbers beside it in the report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
SHAPES = ("circle", "square", "triangle", "diamond", "cross", "circle-open", "square-open", "triangle-open")
FONT = "font-family='system-ui, -apple-system, Segoe UI, Roboto, sans-serif' font-size='12'"


@dataclass(frozen=True)
class Point:
    row: str  # the row label (a group, a stratum level)
    series: str  # the series (a system)
    value: float | None
    lo: float | None
    hi: float | None


def _marker(shape: str, x: float, y: float, color: str) -> str:
    r = 4.5
    fill = "white" if shape.endswith("-open") else color
    base = shape.removesuffix("-open")
    if base == "circle":
        return f"<circle cx='{x:.1f}' cy='{y:.1f}' r='{r}' fill='{fill}' stroke='{color}' stroke-width='1.5'/>"
    if base == "square":
        return (
            f"<rect x='{x - r:.1f}' y='{y - r:.1f}' width='{2 * r}' height='{2 * r}' fill='{fill}' "
            f"stroke='{color}' stroke-width='1.5'/>"
        )
    if base == "triangle":
        pts = f"{x:.1f},{y - r - 1:.1f} {x - r - 0.5:.1f},{y + r:.1f} {x + r + 0.5:.1f},{y + r:.1f}"
        return f"<polygon points='{pts}' fill='{fill}' stroke='{color}' stroke-width='1.5'/>"
    if base == "diamond":
        pts = f"{x:.1f},{y - r - 1:.1f} {x + r + 1:.1f},{y:.1f} {x:.1f},{y + r + 1:.1f} {x - r - 1:.1f},{y:.1f}"
        return f"<polygon points='{pts}' fill='{fill}' stroke='{color}' stroke-width='1.5'/>"
    return (
        f"<path d='M{x - r:.1f},{y - r:.1f}L{x + r:.1f},{y + r:.1f}M{x - r:.1f},{y + r:.1f}L{x + r:.1f},{y - r:.1f}' "
        f"stroke='{color}' stroke-width='2.2'/>"
    )


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(v))
    for step in (1, 2, 2.5, 5, 10):
        if step * mag >= v:
            return step * mag
    return 10 * mag


def legend(series: Sequence[str], x: float, y: float) -> str:
    parts = []
    for i, s in enumerate(series):
        cx = x + i * 110
        parts.append(_marker(SHAPES[i % len(SHAPES)], cx, y, PALETTE[i % len(PALETTE)]))
        parts.append(f"<text x='{cx + 9:.0f}' y='{y + 4:.0f}' {FONT}>{escape(s)}</text>")
    return "".join(parts)


def dot_whisker(
    points: Sequence[Point],
    rows: Sequence[str],
    series: Sequence[str],
    title: str,
    axis_label: str,
    fmt: Callable[[float], str],
    log: bool = False,
    reference: float | None = None,
    reference_label: str = "",
) -> Markup:
    """One line per row; each series a marker with its interval as a whisker."""
    longest = max([len(r) for r in rows] + [8])
    left, right, top, row_h = int(min(320, 24 + 7 * longest)), 40, 46, 16 + 13 * max(len(series), 1)
    width = 760
    height = top + row_h * len(rows) + 50
    vals = [v for p in points for v in (p.value, p.lo, p.hi) if v is not None and (v > 0 or not log)]
    if log:
        lo_v = min([v for v in vals if v > 0] + [reference or 1.0, 0.5])
        hi_v = max([*vals, reference or 1.0, 2.0])
        lo_e, hi_e = math.floor(math.log2(lo_v)), math.ceil(math.log2(hi_v))
        ticks = [2.0**e for e in range(lo_e, hi_e + 1)]

        def sx(v: float) -> float:
            v = max(v, 2.0**lo_e)
            return left + (math.log2(v) - lo_e) / max(hi_e - lo_e, 1) * (width - left - right)
    else:
        top_v = _nice_max(max([*vals, 0.0]))
        ticks = [top_v * i / 5 for i in range(6)]

        def sx(v: float) -> float:
            return left + v / top_v * (width - left - right)

    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='100%' role='img' "
        f"aria-label='{escape(title)}'>",
        f"<title>{escape(title)}</title>",
        f"<text x='8' y='16' {FONT} font-weight='600'>{escape(title)}</text>",
        legend(series, left, 32),
    ]
    axis_y = top + row_h * len(rows) + 4
    for t in ticks:
        x = sx(t)
        out.append(f"<line x1='{x:.1f}' y1='{top - 6}' x2='{x:.1f}' y2='{axis_y}' stroke='#ddd'/>")
        out.append(f"<text x='{x:.1f}' y='{axis_y + 14}' {FONT} text-anchor='middle'>{escape(fmt(t))}</text>")
    out.append(
        f"<text x='{(left + width - right) / 2:.0f}' y='{axis_y + 32}' {FONT} text-anchor='middle'>"
        f"{escape(axis_label)}</text>"
    )
    if reference is not None:
        x = sx(reference)
        out.append(
            f"<line x1='{x:.1f}' y1='{top - 6}' x2='{x:.1f}' y2='{axis_y}' stroke='#333' stroke-dasharray='4 3'/>"
        )
        if reference_label:
            out.append(
                f"<text x='{width - right}' y='36' {FONT} text-anchor='end'>dashed line: "
                f"{escape(reference_label)}</text>"
            )
    index = {(p.row, p.series): p for p in points}
    for r, row in enumerate(rows):
        y0 = top + r * row_h
        if r % 2 == 0:
            out.append(f"<rect x='0' y='{y0}' width='{width}' height='{row_h}' fill='#f6f6f6'/>")
        out.append(f"<text x='{left - 10}' y='{y0 + row_h / 2 + 4:.0f}' {FONT} text-anchor='end'>{escape(row)}</text>")
        for s, name in enumerate(series):
            p = index.get((row, name))
            if p is None or p.value is None or (log and p.value <= 0):
                continue
            y = y0 + 10 + s * 13
            color = PALETTE[s % len(PALETTE)]
            if p.lo is not None and p.hi is not None and (not log or p.hi > 0):
                x1, x2 = sx(max(p.lo, 1e-9) if log else p.lo), sx(p.hi)
                out.append(
                    f"<line x1='{x1:.1f}' y1='{y:.1f}' x2='{x2:.1f}' y2='{y:.1f}' stroke='{color}' stroke-width='1.6'/>"
                )
                for xe in (x1, x2):
                    out.append(
                        f"<line x1='{xe:.1f}' y1='{y - 3:.1f}' x2='{xe:.1f}' y2='{y + 3:.1f}' stroke='{color}'/>"
                    )
            out.append(_marker(SHAPES[s % len(SHAPES)], sx(p.value), y, color))
            out.append(f"<title>{escape(f'{name}, {row}: {fmt(p.value)}')}</title>")
    out.append("</svg>")
    return Markup("".join(out))


def stacked_shares(
    shares: Sequence[tuple[str, Sequence[tuple[str, float]]]], categories: Sequence[str], title: str
) -> Markup:
    """One horizontal bar per series, split into category shares (labels printed on the bar)."""
    left, width, top, bar_h, gap = 170.0, 760, 46, 26, 12
    height = top + len(shares) * (bar_h + gap) + 10
    span = width - left - 40
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='100%' role='img' "
        f"aria-label='{escape(title)}'>",
        f"<title>{escape(title)}</title>",
        f"<text x='{left}' y='16' {FONT} font-weight='600'>{escape(title)}</text>",
    ]
    for i, c in enumerate(categories):
        lx = left + i * 115
        out.append(f"<rect x='{lx:.0f}' y='26' width='12' height='12' fill='{PALETTE[i % len(PALETTE)]}'/>")
        out.append(f"<text x='{lx + 16:.0f}' y='36' {FONT}>{escape(c)}</text>")
    for r, (name, parts) in enumerate(shares):
        y = top + r * (bar_h + gap)
        out.append(f"<text x='{left - 10}' y='{y + bar_h / 2 + 4:.0f}' {FONT} text-anchor='end'>{escape(name)}</text>")
        x = left
        total = sum(v for _, v in parts) or 1.0
        for cat, v in parts:
            w = span * v / total
            i = list(categories).index(cat)
            color = PALETTE[i % len(PALETTE)]
            out.append(
                f"<rect x='{x:.1f}' y='{y}' width='{w:.1f}' height='{bar_h}' fill='{color}' stroke='white'>"
                f"<title>{escape(f'{name}: {cat} {100 * v:.1f}%')}</title></rect>"
            )
            if w > 34:
                ink = "black" if color in ("#E69F00", "#F0E442", "#56B4E9") else "white"
                out.append(
                    f"<text x='{x + w / 2:.1f}' y='{y + bar_h / 2 + 4:.0f}' {FONT} fill='{ink}' "
                    f"text-anchor='middle'>{100 * v:.0f}%</text>"
                )
            x += w
    out.append("</svg>")
    return Markup("".join(out))


def lines(
    series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
    title: str,
    x_label: str,
    y_label: str,
    x_fmt: Callable[[float], str],
    y_fmt: Callable[[float], str],
    vline: float | None = None,
    vline_label: str = "",
) -> Markup:
    """Step-free polylines (one per series, with its marker at each point), e.g. a trade-off
    curve of correct answers against wrong doors; an optional vertical line marks a budget."""
    width, height, left, right, top, bottom = 640, 320, 64, 150, 36, 48
    xs = [x for _, pts in series for x, _ in pts] + ([vline] if vline is not None else [])
    ys = [y for _, pts in series for _, y in pts]
    xmax, ymax = _nice_max(max(xs, default=1.0)), _nice_max(max(ys, default=1.0))
    pw, ph = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + pw * x / xmax

    def py(y: float) -> float:
        return top + ph * (1 - y / ymax)

    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='{width}' height='{height}' "
        f"role='img' aria-label='{escape(title)}' {FONT}>",
        f"<text x='{left}' y='18' font-weight='600'>{escape(title)}</text>",
        f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' stroke='#999'/>",
    ]
    for i in range(5):
        xv, yv = xmax * i / 4, ymax * i / 4
        out.append(f"<text x='{px(xv):.1f}' y='{top + ph + 16}' text-anchor='middle'>{escape(x_fmt(xv))}</text>")
        out.append(f"<text x='{left - 6}' y='{py(yv) + 4:.1f}' text-anchor='end'>{escape(y_fmt(yv))}</text>")
    out.append(f"<text x='{left + pw / 2:.1f}' y='{height - 8}' text-anchor='middle'>{escape(x_label)}</text>")
    out.append(
        f"<text transform='translate(14 {top + ph / 2:.1f}) rotate(-90)' text-anchor='middle'>{escape(y_label)}</text>"
    )
    if vline is not None:
        out.append(
            f"<line x1='{px(vline):.1f}' x2='{px(vline):.1f}' y1='{top}' y2='{top + ph}' stroke='#666' "
            "stroke-dasharray='4 3'/>"
        )
        out.append(f"<text x='{px(vline) + 4:.1f}' y='{top + 12}'>{escape(vline_label)}</text>")
    for k, (name, pts) in enumerate(series):
        color, shape = PALETTE[k % len(PALETTE)], SHAPES[k % len(SHAPES)]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        out.append(f"<polyline points='{path}' fill='none' stroke='{color}' stroke-width='1.8'/>")
        out += [_marker(shape, px(x), py(y), color) for x, y in pts[:: max(1, len(pts) // 12)]]
        ly = top + 14 + 18 * k
        out.append(_marker(shape, width - right + 14, ly - 4, color))
        out.append(f"<text x='{width - right + 24}' y='{ly}'>{escape(name)}</text>")
    out.append("</svg>")
    return Markup("".join(out))


STAY_COLOURS = {"home": PALETTE[0], "work": PALETTE[1], "informal_work": PALETTE[1], "second_job": PALETTE[1]}


def timeline(tl: Mapping[str, Any], title: str, days: float) -> Markup:
    """One subject's audit window: a band of their true stays (home, work, elsewhere) above each
    ping of the clue device, placed by its distance from the true home (dots) and from the
    answered home (squares), on a log scale of metres. A night-shift worker whose home was
    placed at work shows as pings near the answer while the band says work."""
    width, height, left, right, top, band, bottom = 820, 260, 64, 230, 36, 14, 40
    pw = width - left - right
    plot_top = top + band + 8
    ph = height - plot_top - bottom
    span = max(days, 1.0) * 1440.0
    dmax = 10_000.0

    def px(minute: float) -> float:
        return left + pw * min(max(minute, 0.0), span) / span

    def py(d: float | None) -> float:
        v = math.log10(1.0 + min(max(d or 0.0, 0.0), dmax))
        return plot_top + ph * (1 - v / math.log10(1.0 + dmax))

    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='{width}' height='{height}' "
        f"role='img' aria-label='{escape(title)}' {FONT}>",
        f"<text x='{left}' y='18' font-weight='600'>{escape(title)}</text>",
        f"<rect x='{left}' y='{plot_top}' width='{pw}' height='{ph}' fill='none' stroke='#999'/>",
    ]
    for start, end, kind in tl.get("stays", []):
        colour = STAY_COLOURS.get(str(kind), "#bbbbbb")
        x0, x1 = px(float(start)), px(float(end))
        out.append(f"<rect x='{x0:.1f}' y='{top}' width='{max(x1 - x0, 0.5):.1f}' height='{band}' fill='{colour}'/>")
    for d in range(int(days) + 1):
        out.append(f"<text x='{px(d * 1440.0):.1f}' y='{plot_top + ph + 14}' text-anchor='middle'>{d}</text>")
    for d in (0, 10, 100, 1000, 10_000):
        out.append(f"<text x='{left - 6}' y='{py(d) + 4:.1f}' text-anchor='end'>{d:,} m</text>")
    out.append(f"<text x='{left + pw / 2:.1f}' y='{height - 6}' text-anchor='middle'>days into the audit window</text>")
    # every ping one zero-length segment of one path per series, drawn by its line cap (round:
    # a dot; square: a square): a few bytes a ping, and the two series tell apart in print
    true_pts, answer_pts = [], []
    for minute, d_answer, d_true, _source in tl.get("pings", []):
        x = px(float(minute))
        true_pts.append(f"M{x:.1f} {py(d_true):.1f}h0")
        if d_answer is not None:
            answer_pts.append(f"M{x:.1f} {py(d_answer):.1f}h0")
    series = [
        ("round", PALETTE[0], "ping: metres from the true home", true_pts),
        ("square", PALETTE[1], "ping: metres from the answer", answer_pts),
    ]
    for k, (cap, colour, label, pts) in enumerate(series):
        if pts:
            out.append(
                f"<path d='{''.join(pts)}' stroke='{colour}' stroke-width='5' stroke-linecap='{cap}' "
                "fill='none' opacity='0.8'/>"
            )
        ly = plot_top + 14 + 18 * k
        out.append(
            f"<path d='M{width - right + 14} {ly - 4}h0' stroke='{colour}' stroke-width='7' stroke-linecap='{cap}'/>"
        )
        out.append(f"<text x='{width - right + 24}' y='{ly}'>{escape(label)}</text>")
    for k, (label, colour) in enumerate((("home", PALETTE[0]), ("work", PALETTE[1]), ("elsewhere", "#bbbbbb"))):
        ly = plot_top + 64 + 18 * k
        out.append(f"<rect x='{width - right + 8}' y='{ly - 10}' width='12' height='10' fill='{colour}'/>")
        out.append(f"<text x='{width - right + 24}' y='{ly}'>stay: {label}</text>")
    out.append("</svg>")
    return Markup("".join(out))


PURPOSE_COLOURS = {
    "commute": PALETTE[0],
    "shift_work": PALETTE[1],
    "field_work": PALETTE[2],
    "school_run": PALETTE[5],
    "errand": "#bbbbbb",
    "family_visit": PALETTE[3],
    "target_run": PALETTE[6],
}
READ_LANES = ("corridor", "intersection", "patrol")


def vehicle_timeline(tl: Mapping[str, Any], title: str, days: float) -> Markup:
    """One vehicle's audit window: a band of its true trips coloured by purpose, above its reads by
    camera kind (dots: right reads; crosses: misreads) and the reads of the flagged plate that
    came from other vehicles (squares). A wrong-car stop shows as squares where the band is empty."""
    width, height, left, right, top, band, bottom = 820, 220, 96, 200, 36, 14, 40
    pw = width - left - right
    plot_top = top + band + 8
    ph = height - plot_top - bottom
    span = max(days, 1.0) * 1440.0

    def px(minute: float) -> float:
        return left + pw * min(max(minute, 0.0), span) / span

    def lane(kind: str) -> float:
        k = READ_LANES.index(kind) if kind in READ_LANES else len(READ_LANES) - 1
        return plot_top + ph * (k + 0.5) / len(READ_LANES)

    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='{width}' height='{height}' "
        f"role='img' aria-label='{escape(title)}' {FONT}>",
        f"<text x='{left}' y='18' font-weight='600'>{escape(title)}</text>",
        f"<rect x='{left}' y='{plot_top}' width='{pw}' height='{ph}' fill='none' stroke='#999'/>",
    ]
    for start, end, purpose in tl.get("trips", []):
        x0, x1 = px(float(start)), px(float(end))
        colour = PURPOSE_COLOURS.get(str(purpose), "#bbbbbb")
        out.append(f"<rect x='{x0:.1f}' y='{top}' width='{max(x1 - x0, 1.0):.1f}' height='{band}' fill='{colour}'/>")
    for kind in READ_LANES:
        out.append(f"<text x='{left - 6}' y='{lane(kind) + 4:.1f}' text-anchor='end'>{kind}</text>")
    for d in range(int(days) + 1):
        out.append(f"<text x='{px(d * 1440.0):.1f}' y='{plot_top + ph + 14}' text-anchor='middle'>{d}</text>")
    out.append(f"<text x='{left + pw / 2:.1f}' y='{height - 6}' text-anchor='middle'>days into the audit window</text>")
    right_pts: list[str] = []
    wrong_pts: list[str] = []
    other_pts: list[str] = []
    for minute, kind, misread in tl.get("reads", []):
        (wrong_pts if misread else right_pts).append(f"M{px(float(minute)):.1f} {lane(str(kind)):.1f}h0")
    for minute, kind, _ in tl.get("others", []):
        other_pts.append(f"M{px(float(minute)):.1f} {lane(str(kind)) + 8:.1f}h0")
    series = [
        ("round", PALETTE[0], "its reads", right_pts),
        ("square", PALETTE[1], "its reads, misread", wrong_pts),
        ("square", PALETTE[6], "another car's reads", other_pts),
    ]
    for k, (cap, colour, label, pts) in enumerate(series):
        if pts:
            out.append(
                f"<path d='{''.join(pts)}' stroke='{colour}' stroke-width='6' stroke-linecap='{cap}' "
                "fill='none' opacity='0.85'/>"
            )
        ly = plot_top + 14 + 18 * k
        out.append(
            f"<path d='M{width - right + 14} {ly - 4}h0' stroke='{colour}' stroke-width='7' stroke-linecap='{cap}'/>"
        )
        out.append(f"<text x='{width - right + 24}' y='{ly}'>{escape(label)}</text>")
    shown = sorted({str(p) for _, _, p in tl.get("trips", [])})
    for k, purpose in enumerate(shown[:5]):
        ly = plot_top + 70 + 16 * k
        colour = PURPOSE_COLOURS.get(purpose, "#bbbbbb")
        out.append(f"<rect x='{width - right + 8}' y='{ly - 10}' width='12' height='10' fill='{colour}'/>")
        out.append(f"<text x='{width - right + 24}' y='{ly}'>trip: {escape(purpose.replace('_', ' '))}</text>")
    out.append("</svg>")
    return Markup("".join(out))
