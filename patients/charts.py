"""The patient's own graphs: which numbers of a diary or a questionnaire make which chart, and in
which words the chart is described. ``icbt.charts`` draws them as SVG on the server: no JavaScript,
and the same picture works in the browser, in an e-mail and in a PDF.

Every chart's description says in words what the picture shows, and its table
(``Chart.rows``) gives the same numbers under it (see ``icbt.charts`` for the rest of what makes
the charts accessible).

The numbers come from the database (``patients.selectors.diary_chart_rows`` and
``diary_chart_summary``): at most one row per day is read, and averages are computed by the
database.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from icbt.charts import Chart, Series, fmt, nice_max, render_spread_svg, render_svg
from programs import questionnaires
from programs.field_types import field_type

# Questionnaire moments in the order of a treatment: a start score comes before an end score,
# whatever order a therapist typed them in.
MOMENT_ORDER = {"start": 0, "module": 1, "end": 2}


def in_treatment_order(responses) -> list:
    """``responses`` ordered by moment (start, during, end), then by date."""
    return sorted(responses, key=lambda r: (MOMENT_ORDER.get(r.moment, 1), r.completed_at, r.pk or 0))


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
        write = clock_text if kind == "clock" else fmt
        series, sentences, observed = [], [], []
        for d in definitions:
            position = fields.index(d["name"])
            values = [index[day][position] if day in index else None for day in days]
            observed += [v for v in values if v is not None]
            label = DAY_PART_LABELS[d["day_part"]] if kind == "spread" else d["label"]
            series.append(Series(str(label), values))
            stats = summary.get(d["name"]) or {}
            if stats.get("avg") is not None:
                sentences.append(_sentence(kind, str(label), stats, write))
        y_max = float(high) if high <= 100 or kind == "clock" else nice_max(max(observed, default=10))
        if kind == "spread":
            y_max = max([*observed, 1.0])
        if not sentences:
            # Days with an entry, but none of this graph's (optional) questions answered: say
            # that, never "no entries" beside "1 day filled in".
            sentences.append(
                _("The questions of this graph were not filled in during this period.")
                if summary.get("count", 0)
                else _("There are no entries in this period yet.")
            )
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
                "first": fmt(first.total),
                "first_date": labels[0],
                "last": fmt(last.total),
                "last_date": labels[-1],
            }
        else:
            change = _("Your score was %(score)s on %(date)s.") % {
                "score": fmt(first.total),
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
