"""The patient's own graphs, drawn as SVG on the server: no JavaScript, and the same picture works
in the browser, in an e-mail and in a PDF.

Accessibility: every chart is an ``<svg role="img">`` labelled by its ``<title>`` and ``<desc>``
(the desc says in words what the picture shows); lines differ in colour *and* in dash pattern
and marker shape, so colour is never the only cue; each point has a ``<title>`` with its date
and value; and every chart comes with the same numbers as a table (``Chart.rows``), which the
templates show under it. No ``style`` attributes (the Content-Security-Policy forbids them):
presentation attributes only.

The numbers come from the database (``patients.selectors.diary_chart_rows`` and
``diary_chart_summary``): at most one row per day is read, and averages are computed by the
database.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from programs import questionnaires
from programs.field_types import field_type

WIDTH, PLOT_HEIGHT = 640, 200
LEFT, RIGHT, BOTTOM = 48, 16, 40
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
class Series:
    label: str
    values: list[float | None]


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
        return self.formatter(value) if self.formatter is not None and value is not None else _fmt(value)

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


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, Decimal):
        value = float(value)
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.1f}"


def _nice_max(value: float) -> float:
    """The smallest 'round' number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten) at or
    above ``value``, so an axis of minutes ends at 600 rather than at 1440."""
    value = max(float(value), 1.0)
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if factor * magnitude >= value:
            return factor * magnitude
    return 10 * magnitude


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


# Questionnaire moments in the order of a treatment: a start score comes before an end score,
# whatever order a therapist typed them in.
MOMENT_ORDER = {"start": 0, "module": 1, "end": 2}


def in_treatment_order(responses) -> list:
    """``responses`` ordered by moment (start, during, end), then by date."""
    return sorted(responses, key=lambda r: (MOMENT_ORDER.get(r.moment, 1), r.completed_at, r.pk or 0))


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


def _svg_start(chart: Chart, height: float) -> list[str]:
    """The opening of a chart's SVG: labelled by its title and description, on white."""
    cid = escape(chart.chart_id)
    return [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" font-family="system-ui, sans-serif" font-size="12">',
        f'<title id="{cid}-title">{escape(chart.title)}</title>',
        f'<desc id="{cid}-desc">{escape(chart.description)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
    ]


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

    parts = _svg_start(chart, height)
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


# --- Diaries ---------------------------------------------------------------------------------------


def period_bounds(period: str, anchor: date) -> tuple[date, date]:
    """The week (Monday to Sunday) or the calendar month around ``anchor``."""
    if period == "month":
        start = anchor.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return start, following - timedelta(days=1)
    start = anchor - timedelta(days=anchor.weekday())
    return start, start + timedelta(days=6)


# Times are drawn as hours after noon (patients.selectors.clock_number): 18:00 to 12:00 the next
# day, a grid line every three hours.
CLOCK_LOW, CLOCK_HIGH = 6.0, 24.0
CLOCK_TICKS = [6.0, 9.0, 12.0, 15.0, 18.0, 21.0, 24.0]
DAY_PART_LABELS = {
    "morning": gettext_lazy("Morning"),
    "afternoon": gettext_lazy("Afternoon"),
    "evening": gettext_lazy("Evening"),
}


def clock_text(value: float) -> str:
    """Hours after noon as a clock time: 11.5 is "23:30", 19 is "07:00"."""
    minutes = round(((value + 12) % 24) * 60) % (24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _field_groups(diary_type) -> list[tuple[tuple, list[dict]]]:
    """Chart fields grouped into charts: the times on one clock chart (bed, asleep, up per night),
    the amounts per part of the day on one spread grid, and the other numbers one chart per range
    (pain 0-10 on one, minutes on another)."""
    definitions = {d["name"]: d for d in diary_type.fields}
    groups: dict[tuple, list[dict]] = {}
    for name in diary_type.chart_fields:
        d = definitions.get(name)
        if d is None or not field_type(d).is_chartable:
            continue
        if d["type"] == "time":
            key = ("clock", CLOCK_LOW, CLOCK_HIGH)
        elif d.get("day_part"):
            key = ("spread", 0, d.get("max", 10))
        else:
            key = ("line", d.get("min", 0), d.get("max", 10))
        groups.setdefault(key, []).append(d)
    return list(groups.items())


def _sentence(kind: str, label: str, stats: dict, fmt) -> str:
    values = {"label": label, "avg": fmt(stats["avg"]), "min": fmt(stats["min"]), "max": fmt(stats["max"])}
    if kind == "clock":
        return _("%(label)s: on average %(avg)s, earliest %(min)s, latest %(max)s.") % values
    return _("%(label)s: on average %(avg)s, lowest %(min)s, highest %(max)s.") % values


def _chart_title(kind: str, diary_title: str, when: str) -> str:
    if kind == "clock":
        return _("%(diary)s: times per night – %(when)s") % {"diary": diary_title, "when": when}
    if kind == "spread":
        return _("%(diary)s: activity over the day – %(when)s") % {"diary": diary_title, "when": when}
    return f"{diary_title} – {when}"


def _kind_note(kind: str) -> list[str]:
    if kind == "clock":
        return [_("Each day shows the night before that morning.")]
    if kind == "spread":
        return [_("Darker cells mean more activity in that part of the day.")]
    return []


def diary_charts(
    *,
    diary_type,
    period: str,
    start: date,
    end: date,
    rows: list[tuple],
    summary: dict,
    chart_id: str = "diary",
) -> list[Chart]:
    """Charts of one diary over ``start``..``end``: a line chart per range of values, a clock chart
    of its times and a spread grid of its amounts per part of the day. ``rows`` and ``summary``
    come from ``selectors.diary_chart_rows`` / ``diary_chart_summary`` called with
    ``diary_type.chart_fields``."""
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    index = {row[0]: row[1:] for row in rows}
    fields = list(diary_type.chart_fields)
    if period == "month":
        x_labels = [str(d.day) for d in days]
        when = date_format(start, "YEAR_MONTH_FORMAT")
    else:
        x_labels = [date_format(d, "D j") for d in days]
        when = _("the week of %(date)s") % {"date": date_format(start)}
    charts = []
    for number, ((kind, low, high), definitions) in enumerate(_field_groups(diary_type), start=1):
        fmt = clock_text if kind == "clock" else _fmt
        series, sentences, observed = [], [], []
        for d in definitions:
            position = fields.index(d["name"])
            values = [index[day][position] if day in index else None for day in days]
            observed += [v for v in values if v is not None]
            label = DAY_PART_LABELS[d["day_part"]] if kind == "spread" else d["label"]
            series.append(Series(str(label), values))
            stats = summary.get(d["name"]) or {}
            if stats.get("avg") is not None:
                sentences.append(_sentence(kind, str(label), stats, fmt))
        y_max = float(high) if high <= 100 or kind == "clock" else _nice_max(max(observed, default=10))
        if kind == "spread":
            y_max = max([*observed, 1.0])
        if not sentences:
            sentences.append(_("There are no entries in this period yet."))
        description = " ".join(
            [
                ngettext(
                    "%(diary)s, %(when)s: %(count)s day filled in.",
                    "%(diary)s, %(when)s: %(count)s days filled in.",
                    summary.get("count", 0),
                )
                % {"diary": diary_type.title, "when": when, "count": summary.get("count", 0)},
                *_kind_note(kind),
                *sentences,
                _("The numbers per day are in the table below the graph."),
            ]
        )
        chart = Chart(
            f"{chart_id}-{number}",
            _chart_title(kind, diary_type.title, when),
            description,
            x_labels,
            series,
            float(low),
            y_max,
            ticks=CLOCK_TICKS if kind == "clock" else None,
            formatter=clock_text if kind == "clock" else None,
        )
        label_every = 1 if period == "week" else 5
        chart.svg = (
            render_spread_svg(chart, label_every=label_every)
            if kind == "spread"
            else render_svg(chart, label_every=label_every)
        )
        charts.append(chart)
    return charts


SPREAD_LEFT, SPREAD_ROW = 96, 34


def render_spread_svg(chart: Chart, *, label_every: int = 1) -> SafeString:
    """The activity-spread view: a row per part of the day, a column per day, each cell darker
    the more activity it holds, with its number written in it (so shade is never the only cue)."""
    count = max(len(chart.x_labels), 1)
    cell_w = (WIDTH - SPREAD_LEFT - RIGHT) / count
    height = 8 + SPREAD_ROW * len(chart.series) + BOTTOM
    parts = _svg_start(chart, height)
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


# --- Questionnaires --------------------------------------------------------------------------------

EXPLANATIONS = {
    questionnaires.PHQ9: gettext_lazy(
        "These questions are about your mood in the last two weeks. The score goes from 0 to 27. "
        "A lower score means you were bothered less."
    ),
    questionnaires.GAD7: gettext_lazy(
        "These questions are about worry and tension in the last two weeks. The score goes from 0 to 21. "
        "A lower score means you were bothered less."
    ),
    questionnaires.RAND36_PF: gettext_lazy(
        "These questions are about what you can do in daily life, like walking, climbing stairs and getting "
        "dressed. The score goes from 0 to 100. A higher score means you can do more."
    ),
    questionnaires.PAIN_NRS: gettext_lazy(
        "How much pain you had on average in the past week, from 0 (no pain) to 10 (the worst pain you can "
        "imagine). A lower number means less pain."
    ),
    questionnaires.FATIGUE_NRS: gettext_lazy(
        "How tired you were on average in the past week, from 0 (not tired) to 10 (as tired as you can "
        "imagine). A lower number means less tired."
    ),
    questionnaires.CIS_FATIGUE: gettext_lazy(
        "These questions are about how tired you feel. The score goes from 8 to 56. A lower score means "
        "you feel less tired."
    ),
}


def score_explanation(code: str) -> str:
    return EXPLANATIONS.get(code, "")


def questionnaire_charts(responses) -> list[dict]:
    """Per questionnaire: its name, a plain explanation, the scores over time as a chart, and
    the rows for the table, by moment (start, during, end) and date."""
    by_code: dict[str, list] = {}
    for response in in_treatment_order(responses):
        by_code.setdefault(response.code, []).append(response)
    result = []
    for code, items in by_code.items():
        if code not in questionnaires.INSTRUMENTS or code in questionnaires.CHECK_IN_CODES:
            continue  # an unknown code is left out, it never breaks the page; check-ins have their own
        instrument = questionnaires.get_instrument(code)
        labels = [date_format(timezone.localtime(r.completed_at)) for r in items]
        name = str(instrument.short_name)
        first, last = items[0], items[-1]
        if len(items) > 1:
            change = _(
                "Your first score was %(first)s (%(first_date)s); your latest is %(last)s (%(last_date)s)."
            ) % {
                "first": _fmt(first.total),
                "first_date": labels[0],
                "last": _fmt(last.total),
                "last_date": labels[-1],
            }
        else:
            change = _("Your score was %(score)s on %(date)s.") % {
                "score": _fmt(first.total),
                "date": labels[0],
            }
        better = _("Higher is better.") if instrument.higher_is_better else _("Lower is better.")
        chart = Chart(
            f"q-{code}",
            name,
            f"{name}: {change} {better}",
            labels,
            [Series(_("Score"), [float(r.total) for r in items])],
            float(instrument.min_total),
            float(instrument.max_total),
        )
        chart.svg = render_svg(chart)
        result.append(
            {
                "code": code,
                "name": name,
                "explanation": score_explanation(code),
                "chart": chart,
                "responses": items,
                "change": change,
                "better": better,
            }
        )
    return result
