"""The diary fields the modules ask for: time fell asleep, yesterday's rest counted on yesterday,
activity per part of the day, planned against done, energy points used, and the thought record's
re-rating. Each reaches the patient's graphs, the therapist's composer (the diary-week cards) and
the own-data PDF; entries written before these fields existed keep working."""

from datetime import date, timedelta
from functools import cache

import pytest
from django.template.loader import render_to_string

from messaging.presentation import diary_tables
from patients import charts, reports, selectors
from patients.models import DiaryEntry
from programs import content_loader
from programs.models import DiaryType
from tests.patients.patient_helpers import enroll, tiny_version
from tests.work import settle

pytestmark = pytest.mark.django_db

MONDAY = date(2026, 3, 2)


@cache
def _parsed_diaries() -> dict:
    parsed = content_loader.read_content(content_loader.default_root())
    return {(p.program, p.language, d.slug): d for p in parsed for d in p.diaries}


def _diary_type(version, program: str, slug: str) -> DiaryType:
    d = _parsed_diaries()[(program, "en", slug)]
    return DiaryType.objects.create(
        version=version,
        slug=slug,
        title=d.title,
        frequency=d.frequency,
        entries=d.entries,
        fields=d.fields,
        chart_fields=d.chart,
    )


@pytest.fixture
def diaries(world):
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    return enrollment, {
        "sleep": _diary_type(version, "master-your-fatigue", "sleep-wake"),
        "activity": _diary_type(version, "master-your-fatigue", "activity"),
        "pain": _diary_type(version, "master-your-pain", "activity-pain"),
        "thoughts": _diary_type(version, "master-your-pain", "thoughts"),
    }


def _entry(enrollment, diary_type, day, values, text=""):
    created = DiaryEntry.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        diary_type=diary_type,
        entry_date=day,
        per_moment=diary_type.per_moment,
        values=values,
        text=text,
    )
    settle()
    return created


def _week_charts(enrollment, diary_type, monday=MONDAY):
    start, end = charts.period_bounds("week", monday)
    bounds = {
        "enrollment": enrollment,
        "diary_type": diary_type,
        "fields": list(diary_type.chart_fields),
        "since": start,
        "until": end,
    }
    return charts.diary_charts(
        diary_type=diary_type,
        period="week",
        start=start,
        end=end,
        rows=selectors.diary_chart_rows(**bounds),
        summary=selectors.diary_chart_summary(**bounds),
    )


def _chart_with(found, label):
    return next(c for c in found if label in c.columns)


SLEEP = {"bedtime": "23:30", "asleep_time": "00:15", "woke_time": "07:00", "got_up_time": "07:30"}


def test_yesterdays_rest_counts_on_yesterday(diaries):
    enrollment, types = diaries
    sleep = types["sleep"]
    _entry(
        enrollment, sleep, MONDAY + timedelta(days=1), SLEEP | {"sleep_quality": 6, "lying_down_minutes": 90}
    )
    _entry(
        enrollment, sleep, MONDAY + timedelta(days=2), SLEEP | {"sleep_quality": 4, "lying_down_minutes": 30}
    )
    rows = selectors.diary_chart_rows(
        enrollment=enrollment,
        diary_type=sleep,
        fields=["sleep_quality", "lying_down_minutes"],
        since=MONDAY,
        until=MONDAY + timedelta(days=6),
    )
    assert rows == [
        (MONDAY, None, 90.0),
        (MONDAY + timedelta(days=1), 6.0, 30.0),
        (MONDAY + timedelta(days=2), 4.0, None),
    ]
    # Tuesday alone: its own night's sleep, and the rest of Tuesday told on Wednesday morning.
    tuesday = MONDAY + timedelta(days=1)
    summary = selectors.diary_chart_summary(
        enrollment=enrollment, diary_type=sleep, fields=["lying_down_minutes"], since=tuesday, until=tuesday
    )
    assert summary["count"] == 1 and summary["lying_down_minutes"]["avg"] == 30.0


def test_the_sleep_chart_draws_bed_asleep_and_up_per_night(diaries):
    enrollment, types = diaries
    _entry(enrollment, types["sleep"], MONDAY, SLEEP | {"sleep_quality": 6, "lying_down_minutes": 0})
    _entry(
        enrollment, types["sleep"], MONDAY + timedelta(days=1), {"bedtime": "22:45", "got_up_time": "08:00"}
    )
    chart = _chart_with(_week_charts(enrollment, types["sleep"]), "About what time did you fall asleep?")
    assert chart.columns == [
        "When did you go to bed?",
        "About what time did you fall asleep?",
        "When did you get up?",
    ]
    assert "times per night" in chart.title
    assert chart.rows[0][1] == ["23:30", "00:15", "07:30"]
    assert chart.rows[1][1] == ["22:45", "–", "08:00"]  # an entry from before "fell asleep" existed
    assert "earliest 22:45, latest 23:30" in chart.description
    assert ">21:00<" in chart.svg and ">03:00<" in chart.svg


def test_the_activity_spread_view_shows_each_part_of_the_day(diaries):
    enrollment, types = diaries
    values = {"fatigue_morning": 5, "active_morning": 2, "active_afternoon": 0.5, "active_evening": 0}
    _entry(enrollment, types["activity"], MONDAY, values | {"walk_cycle_minutes": 10, "planned_minutes": 15})
    _entry(
        enrollment,
        types["activity"],
        MONDAY + timedelta(days=1),
        {"fatigue_morning": 6, "walk_cycle_minutes": 5},
    )
    found = _week_charts(enrollment, types["activity"])
    spread = _chart_with(found, "Morning")
    assert spread.columns == ["Morning", "Afternoon", "Evening"]
    assert "activity over the day" in spread.title
    assert spread.rows[0][1] == ["2", "0.5", "0"] and spread.rows[1][1] == ["–", "–", "–"]
    assert 'fill-opacity="0.96"' in spread.svg and "Darker cells mean more activity" in spread.description
    planned = _chart_with(found, "How many minutes of walking or cycling were in your plan for today?")
    assert "How many minutes did you walk or cycle today?" in planned.columns
    assert planned.rows[0][1] == ["10", "15"]


def test_the_pain_diary_charts_activity_points_and_plan(diaries):
    enrollment, types = diaries
    values = {
        "pain_morning": 4,
        "rest_breaks": 3,
        "active_morning": 1,
        "active_afternoon": 3,
        "active_evening": 1,
    }
    values |= {"points_used": 18, "plan_minutes": 20, "done_minutes": 15}
    _entry(enrollment, types["pain"], MONDAY, values)
    found = _week_charts(enrollment, types["pain"])
    assert _chart_with(found, "Afternoon").rows[0][1] == ["1", "3", "1"]
    assert _chart_with(found, "How many energy points did you use today?").rows[0][1] == ["18"]
    plan = _chart_with(found, "How many minutes were in your activity plan for today?")
    assert plan.rows[0][1] == ["20", "15"]


def test_the_thought_record_charts_the_feeling_before_and_after_the_helpful_thought(diaries):
    enrollment, types = diaries
    _entry(enrollment, types["thoughts"], MONDAY, {"feeling_strength": 8, "feeling_after": 5})
    _entry(
        enrollment, types["thoughts"], MONDAY + timedelta(days=1), {"feeling_strength": 7}
    )  # an older entry
    chart = _chart_with(_week_charts(enrollment, types["thoughts"]), "How strong was that feeling?")
    assert chart.columns[1] == "Read your helpful thought again. How strong is the feeling now?"
    assert chart.rows[0][1] == ["8", "5"] and chart.rows[1][1] == ["7", "–"]


NEW_FIELDS = {
    "sleep": {"asleep_time": "00:15"},
    "activity": {"active_morning": 2, "planned_minutes": 15},
    "pain": {"active_afternoon": 3, "points_used": 18, "plan_minutes": 20, "done_minutes": 15},
    "thoughts": {"feeling_after": 5},
}


def _label(diary_type, name):
    return next(d["label"] for d in diary_type.fields if d["name"] == name)


def test_every_new_field_reaches_the_composers_diary_cards(diaries):
    enrollment, types = diaries
    entries = [_entry(enrollment, types[key], MONDAY, values) for key, values in NEW_FIELDS.items()]
    entries.append(_entry(enrollment, types["pain"], MONDAY - timedelta(days=1), {"pain_morning": 3}))
    cards = {table.diary_type.slug: table for table in diary_tables(entries)}
    for key, values in NEW_FIELDS.items():
        table = cards[types[key].slug]
        cells = {line.label: line.value for line in table.rows[-1][1]}
        for name, value in values.items():
            assert str(value) in cells[_label(types[key], name)], (key, name)
    older = {line.label: line.value for line in cards["activity-pain"].rows[0][1]}
    assert older[_label(types["pain"], "points_used")] == "–"


def test_every_new_field_reaches_the_own_data_pdf(world, diaries):
    enrollment, types = diaries
    for key, values in NEW_FIELDS.items():
        _entry(enrollment, types[key], MONDAY, values)
    data = reports.own_data_for_pdf(reports.own_data(patient=world.patient_a))
    html = render_to_string("patients/reports/own_data.html", {"data": data, "patient": world.patient_a})
    for key, values in NEW_FIELDS.items():
        for name in values:
            assert _label(types[key], name) in html, (key, name)
    lines = [line for e in data["enrollments"] for entry in e["diary_entries"] for line in entry["lines"]]
    assert (_label(types["thoughts"], "feeling_after"), "5") in lines
