"""SVG charts drawn on the server: line charts (the patient's diaries and scores), an
activity-spread grid, and grouped and horizontal bar charts (the manager's dashboard and the clinic
period report). The same markup works in the page, in an e-mail and in a WeasyPrint PDF.

Accessibility: every chart is an ``<svg role="img">`` labelled by its ``<title>`` and ``<desc>``
(the description says in words what the chart shows); series differ in colour *and* in pattern
(dashes and markers for lines, hatching for bars), so colour is never the only cue; each point,
bar and cell carries a ``<title>`` with its value; and every chart comes with the same numbers as a
table (``columns`` / ``rows``), which the templates show under it. No ``style`` attributes and no
``<style>`` element (the Content-Security-Policy forbids inline styles): presentation attributes
only.

This module knows nothing about patients or models: it draws the numbers it is given.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.formats import get_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
RIGHT = 16
# Bar charts name DejaVu Sans first (installed with WeasyPrint's system libraries); no web fonts.
FONT = "DejaVu Sans, Verdana, system-ui, sans-serif"
LINE_FONT = "system-ui, sans-serif"
# Round numbers an axis may end at: times a power of ten.
LINE_FACTORS = (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)
BAR_FACTORS = (1, 2, 2.5, 5, 10)


@dataclass
class Series:
    label: str
    values: list[float | None]


def fmt(value) -> str:
    """A number for people to read, with the decimal mark of the active language ("2,5" in
    Dutch). Only for text: never for SVG coordinates."""
    if value is None:
        return "–"
    if isinstance(value, Decimal):
        value = float(value)
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.1f}".replace(".", get_format("DECIMAL_SEPARATOR"))


def nice_max(value: float, factors=LINE_FACTORS) -> float:
    """The smallest round number (one of ``factors`` times a power of ten) at or above ``value``:
    with the line factors an axis of minutes ends at 600 rather than at 1440."""
    value = max(float(value), 1.0)
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in factors:
        if factor * magnitude >= value:
            return factor * magnitude
    return 10 * magnitude  # pragma: no cover - every list of factors ends at 10


def _marker(shape: str, x: float, y: float, colour: str) -> str:
    if shape == "square":
        return f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{colour}"/>'
    if shape == "triangle":
        points = f"{x:.1f},{y - 5:.1f} {x + 5:.1f},{y + 4:.1f} {x - 5:.1f},{y + 4:.1f}"
        return f'<polygon points="{points}" fill="{colour}"/>'
    if shape == "diamond":
        points = f"{x:.1f},{y - 5:.1f} {x + 5:.1f},{y:.1f} {x:.1f},{y + 5:.1f} {x - 5:.1f},{y:.1f}"
        return f'<polygon points="{points}" fill="{colour}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>'


def svg_start(chart, height: float, *, font: str = LINE_FONT, sized: bool = False) -> list[str]:
    """The opening of a chart's SVG: labelled by its title and description, on white. A ``sized``
    chart also states its width and height (e-mail clients and the PDF need them)."""
    cid = escape(chart.chart_id)
    size = f'width="{WIDTH}" height="{height}" ' if sized else ""
    return [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" {size}'
        f'role="img" aria-labelledby="{cid}-title {cid}-desc" font-family="{font}" font-size="12">',
        f'<title id="{cid}-title">{escape(chart.title)}</title>',
        f'<desc id="{cid}-desc">{escape(chart.description)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
    ]


# --- Line charts --------------------------------------------------------------------------------

PLOT_HEIGHT = 200
LEFT, BOTTOM = 48, 40
LEGEND_ROW = 22  # the legend lists one line per series above the plot, so long labels fit
# Colour, dash pattern and marker per line: WCAG AA contrast on white, and never colour alone.
STYLES = [
    ("#0b5c8c", "", "circle"),
    ("#8a4b00", "8 4", "square"),
    ("#1d6b34", "2 3", "triangle"),
    ("#6a3d9a", "10 3 2 3", "diamond"),
    ("#a3123a", "1 3", "circle"),
    ("#3d4a57", "6 2", "square"),
    ("#005f5f", "12 4", "triangle"),
]


@dataclass
class Chart:
    """One chart: the SVG, and the same numbers for the table under it."""

    chart_id: str
    title: str
    description: str
    x_labels: list[str]
    series: list[Series]
    y_min: float
    y_max: float
    svg: SafeString = field(default=mark_safe(""))  # noqa: S308 - empty
    # Vertical marks on the x axis: (index of the x label, short text), e.g. where a module began.
    markers: list[tuple[int, str]] = field(default_factory=list)
    # The table under the chart when it should show other numbers than those plotted (raw
    # scores beside a chart drawn in percent of each scale).
    table: list[tuple[str, list[str]]] | None = None
    # Grid lines where the default steps would not read well (clock times every three hours), and
    # how a value is written (a clock time rather than a number).
    ticks: list[float] | None = None
    formatter: Callable[[float], str] | None = None

    def fmt(self, value) -> str:
        return self.formatter(value) if self.formatter is not None and value is not None else fmt(value)

    @property
    def columns(self) -> list[str]:
        return [s.label for s in self.series]

    @property
    def rows(self) -> list[tuple[str, list[str]]]:
        if self.table is not None:
            return self.table
        return [
            (label, [self.fmt(s.values[i]) for s in self.series]) for i, label in enumerate(self.x_labels)
        ]

    @property
    def has_data(self) -> bool:
        return any(v is not None for s in self.series for v in s.values)


def _ticks(y_min: float, y_max: float) -> list[float]:
    """Grid lines from the bottom to the top of the range, both ends included (a CIS axis runs
    8, 20, 30, 40, 50, 56: the highest score has a line to be read against)."""
    span = y_max - y_min
    step = next((s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500) if span / s <= 6), span / 5 or 1)
    ticks = [y_min]
    value = math.floor(y_min / step) * step + step
    while value < y_max - step / 2 + 1e-9:
        if value > y_min + step / 2 - 1e-9:
            ticks.append(value)
        value += step
    if y_max > y_min:
        ticks.append(y_max)
    return ticks


def render_svg(chart: Chart, *, label_every: int = 1) -> SafeString:
    """The SVG of ``chart``: a line per series, gaps where a day has no value."""
    top = 14 + LEGEND_ROW * len(chart.series)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, PLOT_HEIGHT
    height = top + plot_h + BOTTOM
    count = max(len(chart.x_labels), 1)
    span = (chart.y_max - chart.y_min) or 1

    def x_at(i: int) -> float:
        return LEFT + (plot_w * (i + 0.5) / count)

    def y_at(v: float) -> float:
        # Inside the plot whatever the value: the axis is the instrument's range.
        v = min(max(float(v), chart.y_min), chart.y_max)
        return top + plot_h - (v - chart.y_min) / span * plot_h

    parts = svg_start(chart, height)
    for tick in chart.ticks or _ticks(chart.y_min, chart.y_max):
        y = y_at(tick)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#c9d2da" '
            f'stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#4a5560">{chart.fmt(tick)}</text>'
        )
    for i, label in enumerate(chart.x_labels):
        if i % label_every == 0 or i == count - 1:
            parts.append(
                f'<text x="{x_at(i):.1f}" y="{height - BOTTOM + 18}" text-anchor="middle" '
                f'fill="#4a5560">{escape(label)}</text>'
            )
    for index, text in chart.markers:
        x = x_at(index) - plot_w / count / 2
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="#4a5560" '
            f'stroke-width="1.5" stroke-dasharray="3 3"/>'
        )
        parts.append(
            f'<text x="{x + 3:.1f}" y="{top + 12}" fill="#1b1f24" font-size="11">{escape(text)}</text>'
        )
    # Legend: one line per series above the plot.
    for index, series in enumerate(chart.series):
        colour, dash, shape = STYLES[index % len(STYLES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        y = 16 + LEGEND_ROW * index
        parts.append(
            f'<line x1="{LEFT}" y1="{y}" x2="{LEFT + 28}" y2="{y}" stroke="{colour}" '
            f'stroke-width="3"{dash_attr}/>'
        )
        parts.append(_marker(shape, LEFT + 14, y, colour))
        parts.append(
            f'<text x="{LEFT + 36}" y="{y + 5}" fill="#1b1f24" font-size="14">{escape(series.label)}</text>'
        )
    for index, series in enumerate(chart.series):
        colour, dash, shape = STYLES[index % len(STYLES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        segment: list[str] = []
        segments = []
        for i, value in enumerate(series.values):
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{x_at(i):.1f},{y_at(value):.1f}")
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) > 1:
                parts.append(
                    f'<polyline points="{" ".join(seg)}" fill="none" stroke="{colour}" stroke-width="2.5"'
                    f'{dash_attr} stroke-linejoin="round"/>'
                )
        for i, value in enumerate(series.values):
            if value is None:
                continue
            parts.append(
                f"<g>{_marker(shape, x_at(i), y_at(value), colour)}"
                f"<title>{escape(chart.x_labels[i])}: {escape(series.label)} {chart.fmt(value)}</title></g>"
            )
    parts.append(
        f'<line x1="{LEFT}" y1="{top + plot_h}" x2="{WIDTH - RIGHT}" y2="{top + plot_h}" '
        f'stroke="#4a5560" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


SPREAD_LEFT, SPREAD_ROW = 96, 34


def render_spread_svg(chart: Chart, *, label_every: int = 1) -> SafeString:
    """The activity-spread view: a row per part of the day, a column per day, each cell darker
    the more activity it holds, with its number written in it (so shade is never the only cue)."""
    count = max(len(chart.x_labels), 1)
    cell_w = (WIDTH - SPREAD_LEFT - RIGHT) / count
    height = 8 + SPREAD_ROW * len(chart.series) + BOTTOM
    parts = svg_start(chart, height)
    for row, series in enumerate(chart.series):
        y = 8 + SPREAD_ROW * row
        parts.append(
            f'<text x="{SPREAD_LEFT - 8}" y="{y + SPREAD_ROW / 2 + 4:.1f}" text-anchor="end" '
            f'fill="#1b1f24">{escape(series.label)}</text>'
        )
        for i, value in enumerate(series.values):
            x = SPREAD_LEFT + cell_w * i
            share = 0.0 if value is None else min(max(float(value) / chart.y_max, 0.0), 1.0)
            text_colour = "#ffffff" if share > 0.55 else "#1b1f24"
            parts.append(
                f'<g><rect x="{x + 1:.1f}" y="{y + 1}" width="{cell_w - 2:.1f}" height="{SPREAD_ROW - 2}" '
                f'fill="#0b5c8c" fill-opacity="{0.06 + 0.9 * share:.2f}" stroke="#c9d2da"/>'
                f'<text x="{x + cell_w / 2:.1f}" y="{y + SPREAD_ROW / 2 + 4:.1f}" text-anchor="middle" '
                f'fill="{text_colour}">{escape(chart.fmt(value))}</text>'
                f"<title>{escape(chart.x_labels[i])}: {escape(series.label)} {chart.fmt(value)}</title></g>"
            )
    for i, label in enumerate(chart.x_labels):
        if i % label_every == 0 or i == count - 1:
            parts.append(
                f'<text x="{SPREAD_LEFT + cell_w * (i + 0.5):.1f}" y="{height - BOTTOM + 18}" '
                f'text-anchor="middle" fill="#4a5560">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


# --- Bar charts --------------------------------------------------------------------------------

BAR_LEFT, BAR_TOP, BAR_BOTTOM = 52, 44, 56
# Colour (WCAG AA on white), dash pattern and marker for lines; the same colours with a fill
# pattern for bars.
COLOURS = ["#0b5c8c", "#8a4b00", "#1d6b34", "#6a3d9a", "#9b1c31", "#3d4f5c"]
DASHES = ["", "8 4", "2 3", "10 3 2 3", "4 4", "1 2"]
MARKERS = ["circle", "square", "triangle", "diamond", "circle", "square"]
PATTERNS = ["solid", "hatch", "dots", "cross", "hatch-back", "solid"]


@dataclass
class BarChart:
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


def bar_ticks(y_max: float) -> list[float]:
    step = y_max / 5 if y_max >= 5 else 1
    return [step * i for i in range(int(round(y_max / step)) + 1)]


def _defs(chart: BarChart) -> str:
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


def _legend(chart: BarChart, *, bars: bool) -> list[str]:
    parts, x = [], BAR_LEFT
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


def _axes(parts: list[str], *, y_max: float, height: int, unit: str) -> None:
    plot_h = height - BAR_TOP - BAR_BOTTOM
    for tick in bar_ticks(y_max):
        y = BAR_TOP + plot_h - tick / y_max * plot_h
        parts.append(
            f'<line x1="{BAR_LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#c9d2da" '
            f'stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{BAR_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#4a5560">{fmt(tick)}</text>'
        )
    if unit:
        parts.append(
            f'<text x="{BAR_LEFT - 6}" y="{BAR_TOP - 10}" text-anchor="end" '
            f'fill="#4a5560">{escape(unit)}</text>'
        )
    parts.append(
        f'<line x1="{BAR_LEFT}" y1="{BAR_TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{BAR_TOP + plot_h}" '
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


def _category_labels(parts: list[str], chart: BarChart, *, x_at, height: int) -> None:
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
            f'<text class="category" x="{x}" y="{height - BAR_BOTTOM + 18}" text-anchor="middle" '
            f'fill="#4a5560">{tspans}</text>'
        )


def bar_chart(chart: BarChart, *, height: int = 280) -> BarChart:
    """Grouped vertical bars: one group per category, one bar per series. Sets and returns
    ``chart.svg``."""
    plot_w, plot_h = WIDTH - BAR_LEFT - RIGHT, height - BAR_TOP - BAR_BOTTOM
    count = max(len(chart.categories), 1)
    group_w = plot_w / count
    nseries = max(len(chart.series), 1)
    bar_w = max(min(group_w * 0.8 / nseries, 40), 1.5)
    y_max = nice_max(max([v or 0 for s in chart.series for v in s.values] or [1]), BAR_FACTORS)
    parts = svg_start(chart, height, font=FONT, sized=True)
    parts.append(_defs(chart))
    _axes(parts, y_max=y_max, height=height, unit=chart.unit)
    parts += _legend(chart, bars=True)

    def x_at(i: int) -> float:
        return BAR_LEFT + group_w * (i + 0.5)

    cid = escape(chart.chart_id)
    for index, series in enumerate(chart.series):
        colour = COLOURS[index % len(COLOURS)]
        for i, value in enumerate(series.values):
            if not value:
                continue
            bar_h = float(value) / y_max * plot_h
            x = x_at(i) - bar_w * nseries / 2 + bar_w * index
            y = BAR_TOP + plot_h - bar_h
            parts.append(
                f'<g><rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}" '
                f'fill="url(#{cid}-p{index})" stroke="{colour}" stroke-width="1"/>'
                f"<title>{escape(chart.categories[i])}: {escape(series.label)} {fmt(value)}</title></g>"
            )
    _category_labels(parts, chart, x_at=x_at, height=height)
    parts.append("</svg>")
    chart.svg = mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
    return chart


def hbar_chart(chart: BarChart) -> BarChart:
    """Horizontal bars, one row per category (the funnel), one bar per series within a row."""
    nseries = max(len(chart.series), 1)
    row_h = 10 + 14 * nseries
    label_w = 150
    height = BAR_TOP + row_h * max(len(chart.categories), 1) + 16
    plot_w = WIDTH - label_w - RIGHT - 40
    x_max = nice_max(max([v or 0 for s in chart.series for v in s.values] or [1]), BAR_FACTORS)
    parts = svg_start(chart, height, font=FONT, sized=True)
    parts.append(_defs(chart))
    parts += _legend(chart, bars=True)
    cid = escape(chart.chart_id)
    for i, label in enumerate(chart.categories):
        top = BAR_TOP + i * row_h
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
        f'<line x1="{label_w}" y1="{BAR_TOP - 4}" x2="{label_w}" y2="{height - 12}" stroke="#4a5560" '
        f'stroke-width="1"/>'
    )
    parts.append("</svg>")
    chart.svg = mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
    return chart
