"""Charts of measurement through treatment: the patient's weekly check-ins in plain words, and the
therapist's one chart of every score per patient (weeks on the x axis, module starts marked).
SVG on the server (icbt.charts.render_svg), so they work in the browser and in the PDF."""

from __future__ import annotations

from datetime import date

from django.utils.translation import gettext as _

from icbt.charts import Chart, Series, fmt, render_svg
from patients import measurement
from programs import questionnaires


def _symptom_name(code: str) -> str:
    return _("Pain") if code == questionnaires.CHECK_IN_PAIN else _("Fatigue")


def patient_weekly(enrollment, responses) -> dict | None:
    """The patient's check-ins week by week: a chart (symptom 0-10 and mood 0-6; weeks without a
    check-in are gaps, never zero) and sentences in plain words. None without any check-in."""
    code = measurement.check_in_code(enrollment.version)
    weeks = measurement.weekly_values(enrollment, responses)
    if not code or not weeks:
        return None
    symptom = _symptom_name(code)
    first_week, last_week = weeks[0].number, weeks[-1].number
    numbers = list(range(first_week, last_week + 1))
    by_number = {w.number: w for w in weeks}
    labels = [_("Week %(n)s") % {"n": n} for n in numbers]
    first, last = weeks[0], weeks[-1]
    sentences = [
        _("In week %(week)s you rated your %(what)s %(score)s out of 10.")
        % {"week": last.number, "what": symptom.lower(), "score": fmt(last.symptom)}
    ]
    if len(weeks) > 1:
        sentences.append(
            _("In week %(week)s it was %(score)s.") % {"week": first.number, "score": fmt(first.symptom)}
        )
    if last.phq2 is not None:
        sentences.append(_("Your mood score was %(score)s out of 6.") % {"score": last.phq2})
    sentences.append(_("For both, lower is better."))
    chart = Chart(
        "checkins",
        _("Your weekly check-ins"),
        " ".join(sentences),
        labels,
        [
            Series(
                _("%(what)s (0 to 10)") % {"what": symptom},
                [_value(by_number, n, "symptom") for n in numbers],
            ),
            Series(_("Mood (0 to 6)"), [_value(by_number, n, "phq2") for n in numbers]),
        ],
        0.0,
        10.0,
    )
    chart.svg = render_svg(chart, label_every=1 if len(numbers) <= 12 else 2)
    return {"chart": chart, "sentences": sentences, "weeks": weeks}


def _value(by_number, number, attribute):
    week = by_number.get(number)
    value = getattr(week, attribute) if week is not None else None
    return None if value is None else float(value)


def staff_scores(enrollment, responses, module_starts: dict[int, date], *, today: date) -> Chart | None:
    """Every score of the patient on one chart: the weekly symptom and PHQ-2, and each
    questionnaire's total in the week it was filled in, drawn as a percentage of its scale so
    they share an axis; the table lists the raw scores. Module starts are marked. None when the
    patient has no score yet."""
    code = measurement.check_in_code(enrollment.version)
    weeks = measurement.weekly_values(enrollment, responses)
    series_values: dict[str, dict[int, tuple[float, float]]] = {}  # name -> week -> (raw, %)
    order: list[str] = []

    def put(name, number, raw, low, high):
        if name not in series_values:
            series_values[name] = {}
            order.append(name)
        span = (high - low) or 1
        series_values[name][number] = (float(raw), (float(raw) - low) / span * 100)

    if code:
        symptom = _symptom_name(code)
        for week in weeks:
            put(_("%(what)s, weekly (0-10)") % {"what": symptom}, week.number, week.symptom, 0, 10)
        for week in weeks:
            if week.phq2 is not None:
                put(_("PHQ-2, weekly (0-6)"), week.number, week.phq2, 0, 6)
    for response in sorted(responses, key=lambda r: (r.completed_at, r.pk or 0)):
        if response.code in questionnaires.CHECK_IN_CODES or response.code not in questionnaires.INSTRUMENTS:
            continue
        instrument = questionnaires.get_instrument(response.code)
        number = measurement.week_number(enrollment, _local_date(response.completed_at))
        direction = _("higher is better") if instrument.higher_is_better else _("lower is better")
        scale = f"{fmt(instrument.min_total)}-{fmt(instrument.max_total)}"
        name = f"{instrument.short_name} ({scale}, {direction})"
        put(name, max(number, 1), response.total, float(instrument.min_total), float(instrument.max_total))
    if not order:
        return None
    last_week = max(
        [max(values) for values in series_values.values()]
        + [measurement.week_number(enrollment, today)]
        + [measurement.week_number(enrollment, d) for d in module_starts.values()]
    )
    numbers = list(range(1, max(last_week, 1) + 1))
    labels = [_("Week %(n)s") % {"n": n} for n in numbers]
    markers = []
    for module_number, day in sorted(module_starts.items()):
        week = measurement.week_number(enrollment, day)
        if 1 <= week <= len(numbers):
            markers.append((week - 1, _("M%(n)s") % {"n": module_number}))
    chart = Chart(
        f"scores-{enrollment.pk}",
        _("All scores by week (percent of each scale)"),
        _(
            "Each score drawn as a percentage of its scale, by week of treatment; dashed lines mark "
            "where a module began. The table lists the scores themselves."
        ),
        labels,
        [Series(name, [series_values[name].get(n, (None, None))[1] for n in numbers]) for name in order],
        0.0,
        100.0,
        markers=markers,
    )
    chart.table = [
        (label, [fmt(series_values[name].get(n, (None, None))[0]) for name in order])
        for n, label in zip(numbers, labels, strict=True)
        if any(n in series_values[name] for name in order)
    ]
    chart.svg = render_svg(chart, label_every=1 if len(numbers) <= 12 else 2)
    return chart


def _local_date(moment) -> date:
    from django.utils import timezone

    return timezone.localtime(moment).date()


def staff_scores_for(
    enrollment,
    *,
    today: date | None = None,
    only_measured: bool = False,
    responses=None,
    module_starts: dict[int, date] | None = None,
) -> Chart | None:
    """``staff_scores`` with its data read here (two queries; none for what the caller passes:
    the enrollment's ``responses``, its ``module_starts`` as ``Progress.module_starts()`` gives
    them). ``only_measured``: nothing (and no query) for a version without a measurement
    schedule, for pages with a pinned query count."""
    from django.utils import timezone

    from patients import selectors

    if enrollment is None or (only_measured and not enrollment.version.measurement_schedule):
        return None
    if responses is None:
        responses = selectors.measured_responses_for(enrollment=enrollment)
    starts = module_starts if module_starts is not None else selectors.module_starts(enrollment=enrollment)
    return staff_scores(enrollment, responses, starts, today=today or timezone.localdate())
