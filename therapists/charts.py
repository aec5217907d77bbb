"""Bar and line charts for the manager's dashboard and the clinic period report, drawn as SVG on
the server: the same markup works in the page, in an e-mail and in a WeasyPrint PDF.

Accessibility: every chart is an ``<svg role="img">`` labelled by its ``<title>`` and ``<desc>``
(the description says in words what the chart shows); series differ in colour *and* in pattern
(hatching for bars, dashes and markers for lines), so colour is never the only cue; each bar and
point carries a ``<title>`` with its value; and every chart comes with the same numbers as a
table (``Chart.columns`` / ``Chart.rows``), shown under it. No ``style`` attributes and no
``<style>`` element (the Content-Security-Policy forbids inline styles): presentation attributes
only. Fonts: DejaVu Sans first (installed with WeasyPrint's system libraries), no web fonts.

This module knows nothing about patients or models: it draws the numbers it is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 44, 56
FONT = "DejaVu Sans, Verdana, system-ui, sans-serif"
# Colour (WCAG AA on white), dash pattern and marker for lines; the same colours with a fill
# pattern for bars.
COLOURS = ["#0b5c8c", "#8a4b00", "#1d6b34", "#6a3d9a", "#9b1c31", "#3d4f5c"]
DASHES = ["", "8 4", "2 3", "10 3 2 3", "4 4", "1 2"]
MARKERS = ["circle", "square", "triangle", "diamond", "circle", "square"]
PATTERNS = ["solid", "hatch", "dots", "cross", "hatch-back", "solid"]


@dataclass
class Series:
    label: str
    values: list[float | None]


@dataclass
class Chart:
    """One chart: the SVG, and the same numbers for the table under it."""

    chart_id: str
    title: str
    description: str
    categories: list[str]
    series: list[Series]
    unit: str = ""
    svg: SafeString = field(default_factory=lambda: mark_safe(""))  # noqa: S308 - empty

    @property
    def columns(self) -> list[str]:
        return [s.label for s in self.series]

    @property
    def rows(self) -> list[tuple[str, list[str]]]:
        return [(label, [fmt(s.values[i]) for s in self.series]) for i, label in enumerate(self.categories)]

    @property
    def has_data(self) -> bool:
        return any(v for s in self.series for v in s.values)


def fmt(value) -> str:
    if value is None:
        return "–"
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return f"{value:.1f}"


def nice_max(value: float) -> float:
    """The smallest round number (1, 2, 2.5, 5 times a power of ten) at or above ``value``."""
    value = max(float(value), 1.0)
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= value:
            return factor * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def ticks(y_max: float) -> list[float]:
    step = y_max / 5 if y_max >= 5 else 1
    return [step * i for i in range(int(round(y_max / step)) + 1)]


def _open(chart: Chart, height: int) -> list[str]:
    cid = escape(chart.chart_id)
    return [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-labelledby="{cid}-title {cid}-desc" '
        f'font-family="{FONT}" font-size="12">',
        f'<title id="{cid}-title">{escape(chart.title)}</title>',
        f'<desc id="{cid}-desc">{escape(chart.description)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
    ]


def _defs(chart: Chart) -> str:
    """Fill patterns for bars, one per series, so that series differ by more than colour."""
    cid = escape(chart.chart_id)
    parts = ["<defs>"]
    for index in range(len(chart.series)):
        colour = COLOURS[index % len(COLOURS)]
        kind = PATTERNS[index % len(PATTERNS)]
        pid = f"{cid}-p{index}"
        parts.append(f'<pattern id="{pid}" width="8" height="8" patternUnits="userSpaceOnUse">')
        if kind == "solid":
            parts.append(f'<rect width="8" height="8" fill="{colour}"/>')
        else:
            parts.append(
                f'<rect width="8" height="8" fill="#ffffff"/><rect width="8" height="8" fill="{colour}" '
                f'fill-opacity="0.35"/>'
            )
            if kind in ("hatch", "cross"):
                parts.append(f'<path d="M0,8 L8,0" stroke="{colour}" stroke-width="2"/>')
            if kind in ("hatch-back", "cross"):
                parts.append(f'<path d="M0,0 L8,8" stroke="{colour}" stroke-width="2"/>')
            if kind == "dots":
                parts.append(f'<circle cx="4" cy="4" r="2" fill="{colour}"/>')
        parts.append("</pattern>")
    parts.append("</defs>")
    return "".join(parts)


def _legend(chart: Chart, *, bars: bool) -> list[str]:
    parts, x = [], LEFT
    cid = escape(chart.chart_id)
    for index, series in enumerate(chart.series):
        colour = COLOURS[index % len(COLOURS)]
        if bars:
            parts.append(
                f'<rect x="{x}" y="10" width="16" height="12" fill="url(#{cid}-p{index})" '
                f'stroke="{colour}" stroke-width="1"/>'
            )
        else:
            dash = DASHES[index % len(DASHES)]
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<line x1="{x}" y1="16" x2="{x + 16}" y2="16" stroke="{colour}" stroke-width="3"'
                f"{dash_attr}/>"
            )
            parts.append(_marker(MARKERS[index % len(MARKERS)], x + 8, 16, colour))
        parts.append(f'<text x="{x + 22}" y="20" fill="#1b1f24">{escape(series.label)}</text>')
        x += 40 + 7 * len(series.label)
    return parts


def _marker(shape: str, x: float, y: float, colour: str) -> str:
    if shape == "square":
        return f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{colour}"/>'
    if shape == "triangle":
        return (
            f'<polygon points="{x:.1f},{y - 5:.1f} {x + 5:.1f},{y + 4:.1f} {x - 5:.1f},{y + 4:.1f}" '
            f'fill="{colour}"/>'
        )
    if shape == "diamond":
        return (
            f'<polygon points="{x:.1f},{y - 5:.1f} {x + 5:.1f},{y:.1f} {x:.1f},{y + 5:.1f} '
            f'{x - 5:.1f},{y:.1f}" fill="{colour}"/>'
        )
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>'


def _axes(parts: list[str], *, y_max: float, height: int, unit: str) -> None:
    plot_h = height - TOP - BOTTOM
    for tick in ticks(y_max):
        y = TOP + plot_h - tick / y_max * plot_h
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#c9d2da" '
            f'stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#4a5560">{fmt(tick)}</text>'
        )
    if unit:
        parts.append(
            f'<text x="{LEFT - 6}" y="{TOP - 10}" text-anchor="end" fill="#4a5560">{escape(unit)}</text>'
        )
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" '
        f'stroke="#4a5560" stroke-width="1"/>'
    )


# The widest a character of the axis font (12 px DejaVu Sans) is drawn, on average, in pixels:
# wide enough that estimated labels never overlap where the real ones would.
CHAR_WIDTH = 7.5


def text_width(text: str) -> float:
    return len(text) * CHAR_WIDTH


def _label_lines(label: str, room: float) -> list[str]:
    """The label on one line, or split at its last space onto two ("Dec" over "2026") when one
    line would not fit in ``room`` pixels."""
    if text_width(label) <= room or " " not in label.strip():
        return [label]
    head, tail = label.strip().rsplit(" ", 1)
    return [head, tail]


def _category_labels(parts: list[str], chart: Chart, *, x_at, height: int) -> None:
    """Labels under the categories, never overlapping: on two lines when one is too wide, and
    only every n-th label (always the last) when even that does not fit."""
    count = len(chart.categories)
    if not count:
        return
    room = abs(x_at(1) - x_at(0)) if count > 1 else WIDTH
    lines = [_label_lines(label, room - 6) for label in chart.categories]
    widest = max(text_width(line) for label in lines for line in label) + 6
    every = max(1, math.ceil(widest / room))
    shown = [i for i in range(count) if i % every == 0]
    if shown[-1] != count - 1:
        shown[-1] = count - 1  # the last category replaces the label that would crowd it
    for i in shown:
        x = f"{x_at(i):.1f}"
        tspans = "".join(
            f'<tspan x="{x}" dy="{0 if n == 0 else 14}">{escape(line)}</tspan>'
            for n, line in enumerate(lines[i])
        )
        parts.append(
            f'<text class="category" x="{x}" y="{height - BOTTOM + 18}" text-anchor="middle" '
            f'fill="#4a5560">{tspans}</text>'
        )


def bar_chart(chart: Chart, *, height: int = 280) -> Chart:
    """Grouped vertical bars: one group per category, one bar per series. Sets and returns
    ``chart.svg``."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    count = max(len(chart.categories), 1)
    group_w = plot_w / count
    nseries = max(len(chart.series), 1)
    bar_w = max(min(group_w * 0.8 / nseries, 40), 1.5)
    y_max = nice_max(max([v or 0 for s in chart.series for v in s.values] or [1]))
    parts = _open(chart, height)
    parts.append(_defs(chart))
    _axes(parts, y_max=y_max, height=height, unit=chart.unit)
    parts += _legend(chart, bars=True)

    def x_at(i: int) -> float:
        return LEFT + group_w * (i + 0.5)

    cid = escape(chart.chart_id)
    for index, series in enumerate(chart.series):
        colour = COLOURS[index % len(COLOURS)]
        for i, value in enumerate(series.values):
            if not value:
                continue
            bar_h = float(value) / y_max * plot_h
            x = x_at(i) - bar_w * nseries / 2 + bar_w * index
            y = TOP + plot_h - bar_h
            parts.append(
                f'<g><rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}" '
                f'fill="url(#{cid}-p{index})" stroke="{colour}" stroke-width="1"/>'
                f"<title>{escape(chart.categories[i])}: {escape(series.label)} {fmt(value)}</title></g>"
            )
    _category_labels(parts, chart, x_at=x_at, height=height)
    parts.append("</svg>")
    chart.svg = mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
    return chart


def hbar_chart(chart: Chart) -> Chart:
    """Horizontal bars, one row per category (the funnel), one bar per series within a row."""
    nseries = max(len(chart.series), 1)
    row_h = 10 + 14 * nseries
    label_w = 150
    height = TOP + row_h * max(len(chart.categories), 1) + 16
    plot_w = WIDTH - label_w - RIGHT - 40
    x_max = nice_max(max([v or 0 for s in chart.series for v in s.values] or [1]))
    parts = _open(chart, height)
    parts.append(_defs(chart))
    parts += _legend(chart, bars=True)
    cid = escape(chart.chart_id)
    for i, label in enumerate(chart.categories):
        top = TOP + i * row_h
        parts.append(
            f'<text x="{label_w - 8}" y="{top + row_h / 2 + 4:.1f}" text-anchor="end" '
            f'fill="#1b1f24">{escape(label)}</text>'
        )
        for index, series in enumerate(chart.series):
            value = series.values[i] or 0
            width = float(value) / x_max * plot_w
            y = top + 5 + index * 14
            colour = COLOURS[index % len(COLOURS)]
            parts.append(
                f'<g><rect x="{label_w}" y="{y:.1f}" width="{max(width, 0.5):.1f}" height="12" '
                f'fill="url(#{cid}-p{index})" stroke="{colour}" stroke-width="1"/>'
                f"<title>{escape(label)}: {escape(series.label)} {fmt(value)}</title></g>"
            )
            parts.append(
                f'<text x="{label_w + width + 4:.1f}" y="{y + 10:.1f}" fill="#1b1f24">{fmt(value)}</text>'
            )
    parts.append(
        f'<line x1="{label_w}" y1="{TOP - 4}" x2="{label_w}" y2="{height - 12}" stroke="#4a5560" '
        f'stroke-width="1"/>'
    )
    parts.append("</svg>")
    chart.svg = mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
    return chart
