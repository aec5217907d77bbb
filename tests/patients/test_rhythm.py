"""The feedback rhythm and quiet spells (patients/rhythm.py), on every day of the week: pure
functions over an enrollment's fields, no database."""

from datetime import datetime, time, timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from patients import rhythm
from patients.models import Enrollment

pytestmark = pytest.mark.every_weekday

WEEKLY = Enrollment.Cadence.WEEKLY
FORTNIGHTLY = Enrollment.Cadence.FORTNIGHTLY


def enrollment(start_date, *, weekday, cadence=WEEKLY, last_feedback_at=None, **moments):
    return SimpleNamespace(
        start_date=start_date,
        feedback_weekday=weekday,
        feedback_cadence=cadence,
        last_feedback_at=last_feedback_at,
        last_activity_at=moments.get("last_activity_at"),
        started_at=moments.get("started_at"),
    )


def local(day, hour=12):
    return timezone.make_aware(datetime.combine(day, time(hour)))


def working_days_between(first, last):
    """Working days after ``first`` up to and including ``last``."""
    days = (first + timedelta(days=n) for n in range(1, (last - first).days + 1))
    return sum(1 for day in days if day.weekday() < 5)


@pytest.mark.parametrize("count", range(6))
def test_add_working_days_counts_monday_to_friday_only(clock, count):
    today = clock.today()
    result = rhythm.add_working_days(today, count)
    assert working_days_between(today, result) == count
    if count:
        assert result.weekday() < 5
    else:
        assert result == today


@pytest.mark.parametrize("feedback_weekday", range(7))
def test_the_slot_is_the_nearest_feedback_weekday(clock, feedback_weekday):
    today = clock.today()
    slot = rhythm.feedback_slot(today, feedback_weekday)
    assert slot.weekday() == feedback_weekday
    assert abs((slot - today).days) <= 3


@pytest.mark.parametrize(("cadence", "interval"), [(WEEKLY, 7), (FORTNIGHTLY, 14)])
def test_due_one_interval_after_the_slot_of_the_start(clock, cadence, interval):
    today = clock.today()
    e = enrollment(today, weekday=4, cadence=cadence)
    assert rhythm.feedback_due_on(e) == rhythm.feedback_slot(today, 4) + timedelta(days=interval)


@pytest.mark.parametrize("shift", [-3, -1, 0, 1, 3])
def test_feedback_a_few_days_early_or_late_counts_for_its_week(clock, shift):
    slot = rhythm.feedback_slot(clock.today(), 2)
    given = local(slot + timedelta(days=shift))
    e = enrollment(slot - timedelta(days=30), weekday=2, last_feedback_at=given)
    assert rhythm.feedback_due_on(e) == slot + timedelta(days=7)


def test_due_then_overdue_after_the_working_days(clock, settings):
    settings.ICBT_FEEDBACK_OVERDUE_WORKING_DAYS = 2
    today = clock.today()
    e = enrollment(today - timedelta(days=7), weekday=today.weekday())
    due_on = rhythm.feedback_due_on(e)
    assert due_on == today
    overdue_on = rhythm.add_working_days(due_on, 2)
    before = rhythm.feedback_state(e, today - timedelta(days=1))
    assert (before.is_due, before.is_overdue, before.days_left) == (False, False, 1)
    on_the_day = rhythm.feedback_state(e, today)
    assert (on_the_day.is_due, on_the_day.is_overdue, on_the_day.days_left) == (True, False, 0)
    assert on_the_day.overdue_on == overdue_on
    assert not rhythm.feedback_state(e, overdue_on - timedelta(days=1)).is_overdue
    assert rhythm.feedback_state(e, overdue_on).is_overdue


def test_last_activity_then_the_start_then_the_start_date(clock):
    today = clock.today()
    started = local(today - timedelta(days=9), 8)
    active = local(today - timedelta(days=2), 21)
    e = enrollment(today - timedelta(days=10), weekday=0, started_at=started, last_activity_at=active)
    assert rhythm.last_activity(e) == active
    e.last_activity_at = None
    assert rhythm.last_activity(e) == started
    e.started_at = None
    assert rhythm.last_activity(e) == local(today - timedelta(days=10), 0)
