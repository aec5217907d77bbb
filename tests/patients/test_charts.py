"""The patient's graphs: SVG from the database, accessible, with the numbers as a table."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from patients import charts, selectors
from patients.models import DiaryEntry, QuestionnaireResponse
from tests.patients.patient_helpers import enroll, step_of, tiny_version
from tests.work import settle

pytestmark = pytest.mark.django_db


@pytest.fixture
def diary(world):
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    return enrollment, step_of(version, "start-diary").diary_type


def _week(enrollment, diary_type, monday):
    for offset, (mood, minutes) in enumerate([(3, 20), (5, 40), (8, 600)]):
        DiaryEntry.objects.create(
            clinic_id=enrollment.clinic_id,
            enrollment=enrollment,
            diary_type=diary_type,
            entry_date=monday + timedelta(days=offset * 2),
            values={"mood": mood, "minutes": minutes, "kind": "free"},
        )
    settle()


def _charts(enrollment, diary_type, period, anchor):
    start, end = charts.period_bounds(period, anchor)
    fields = list(diary_type.chart_fields)
    rows = selectors.diary_chart_rows(
        enrollment=enrollment, diary_type=diary_type, fields=fields, since=start, until=end
    )
    summary = selectors.diary_chart_summary(
        enrollment=enrollment, diary_type=diary_type, fields=fields, since=start, until=end
    )
    return charts.diary_charts(
        diary_type=diary_type, period=period, start=start, end=end, rows=rows, summary=summary
    ), summary


def test_period_bounds():
    assert charts.period_bounds("week", date(2026, 3, 5)) == (date(2026, 3, 2), date(2026, 3, 8))
    assert charts.period_bounds("month", date(2026, 2, 14)) == (date(2026, 2, 1), date(2026, 2, 28))


def test_the_database_does_the_arithmetic(diary):
    enrollment, diary_type = diary
    monday = date(2026, 3, 2)
    _week(enrollment, diary_type, monday)
    rows = selectors.diary_chart_rows(
        enrollment=enrollment,
        diary_type=diary_type,
        fields=["mood", "minutes"],
        since=monday,
        until=monday + timedelta(days=6),
    )
    assert rows == [
        (monday, 3.0, 20.0),
        (monday + timedelta(days=2), 5.0, 40.0),
        (monday + timedelta(days=4), 8.0, 600.0),
    ]
    summary = selectors.diary_chart_summary(
        enrollment=enrollment,
        diary_type=diary_type,
        fields=["mood"],
        since=monday,
        until=monday + timedelta(days=6),
    )
    assert summary["count"] == 3
    assert summary["mood"] == {"avg": pytest.approx(16 / 3), "min": 3.0, "max": 8.0}


@pytest.mark.every_weekday
def test_week_chart_svg_has_the_values_a_title_a_description_and_a_table(diary):
    enrollment, diary_type = diary
    monday = date(2026, 3, 2)
    _week(enrollment, diary_type, monday)
    [mood_chart, minutes_chart], _summary = _charts(
        enrollment, diary_type, "week", monday + timedelta(days=3)
    )
    svg = str(mood_chart.svg)
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert f'aria-labelledby="{mood_chart.chart_id}-title {mood_chart.chart_id}-desc"' in svg
    assert "<title id=" in svg and "<desc id=" in svg
    assert "How was your mood?: on average 5.3, lowest 3, highest 8." in svg
    assert "Mon 2: How was your mood? 3</title>" in svg and "Fri 6: How was your mood? 8</title>" in svg
    assert "style=" not in svg  # the Content-Security-Policy forbids inline styles
    # The minutes (0-600) get their own chart and scale.
    assert [s.label for s in minutes_chart.series] == ["How many minutes?"]
    assert minutes_chart.y_max == 600
    # The same numbers as a table; missing days are marked.
    assert mood_chart.columns == ["How was your mood?"]
    assert mood_chart.rows[0] == ("Mon 2", ["3"]) and mood_chart.rows[1] == ("Tue 3", ["–"])
    # Gaps break the line: three separate points, no polyline across missing days.
    assert svg.count("<polyline") == 0


def test_month_chart_and_an_empty_period(diary):
    enrollment, diary_type = diary
    for day in range(1, 11):
        DiaryEntry.objects.create(
            clinic_id=enrollment.clinic_id,
            enrollment=enrollment,
            diary_type=diary_type,
            entry_date=date(2026, 3, day),
            values={"mood": day % 11, "minutes": 30},
        )
    settle()
    [mood_chart, _minutes], summary = _charts(enrollment, diary_type, "month", date(2026, 3, 20))
    assert summary["count"] == 10
    assert len(mood_chart.x_labels) == 31
    assert mood_chart.svg.count("<polyline") == 1
    [empty, _], _ = _charts(enrollment, diary_type, "month", date(2026, 5, 1))
    assert not empty.has_data and "There are no entries in this period yet." in empty.description


def test_a_graph_whose_questions_were_skipped_does_not_say_there_are_no_entries(clock, diary):
    """One day filled in, its optional minutes left empty: the minutes graph counts the day and
    says its questions were not filled in, never "no entries" beside "1 day filled in"."""
    enrollment, diary_type = diary
    DiaryEntry.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        diary_type=diary_type,
        entry_date=date(2026, 3, 3),
        values={"mood": 6},
    )
    settle()
    [mood_chart, minutes_chart], summary = _charts(enrollment, diary_type, "week", date(2026, 3, 2))
    assert summary["count"] == 1
    assert "1 day filled in." in minutes_chart.description
    assert "There are no entries in this period yet." not in minutes_chart.description
    assert "The questions of this graph were not filled in during this period." in minutes_chart.description
    assert "There are no entries" not in mood_chart.description and "on average 6" in mood_chart.description


def test_the_diary_page_shows_the_graph_and_the_table(diary, client_for, world):
    enrollment, diary_type = diary
    monday = timezone.localdate() - timedelta(days=timezone.localdate().weekday())
    DiaryEntry.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        diary_type=diary_type,
        entry_date=monday,
        values={"mood": 7, "minutes": 45},
    )
    settle()
    html = client_for(world.patient_a.user).get("/me/diaries/mood/").content.decode()
    assert '<svg class="chart"' in html
    assert "Show the numbers as a table" in html and "<caption>Mood diary" in html
    assert re.search(r"<td class=\"num\">7</td>", html)


def test_questionnaire_scores_over_time(diary):
    enrollment, _diary_type = diary
    first = QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        code="phq9",
        moment="start",
        answers=[1] * 9,
        total=Decimal("12"),
        completed_at=timezone.now() - timedelta(days=60),
    )
    QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        code="phq9",
        moment="end",
        answers=[0] * 9,
        total=Decimal("6"),
    )
    settle()
    [group] = charts.questionnaire_charts([first, *QuestionnaireResponse.objects.filter(moment="end")])
    assert group["name"] == "Mood (PHQ-9)"
    assert "lower score means" in group["explanation"]
    assert "Your first score was 12" in group["change"] and "your latest is 6" in group["change"]
    svg = str(group["chart"].svg)
    assert "Score 12</title>" in svg and "Score 6</title>" in svg
    assert group["chart"].y_min == 0 and group["chart"].y_max == 27
