"""The overdue rule of patients/rhythm.py as a database condition (``feedback_overdue_q``): it
picks exactly the enrollments ``feedback_state`` calls overdue, for every feedback weekday and
cadence, a start date or a last feedback (late and early in the local day) on each of forty days,
on every day of the week."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from patients import rhythm
from patients.models import Enrollment
from tests.factories import make_patient
from tests.messaging.helpers import enroll
from tests.work import settle

pytestmark = [pytest.mark.django_db, pytest.mark.every_weekday]


def _local(day, hour, minute=0):
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@pytest.mark.parametrize("overdue_working_days", [0, 2])
def test_the_condition_picks_what_feedback_state_calls_overdue(world, settings, overdue_working_days):
    settings.ICBT_FEEDBACK_OVERDUE_WORKING_DAYS = overdue_working_days
    today = timezone.localdate()
    enrollments = [
        enroll(
            make_patient(world.clinic, world.therapist, f"rhythm{weekday}{cadence}@patients.test"),
            weekday=weekday,
            cadence=cadence,
        )
        for weekday in range(7)
        for cadence in Enrollment.Cadence.values
    ]
    ids = [e.pk for e in enrollments]
    condition = rhythm.feedback_overdue_q(today)
    seen_overdue = seen_not_overdue = 0
    for days_ago in range(40):
        base = today - timedelta(days=days_ago)
        for fields in (
            {"start_date": base, "last_feedback_at": None},
            {"start_date": base - timedelta(days=60), "last_feedback_at": _local(base, 0, 5)},
            {"start_date": base - timedelta(days=60), "last_feedback_at": _local(base, 23, 55)},
        ):
            Enrollment.objects.filter(pk__in=ids).update(**fields)
            rows = list(Enrollment.objects.filter(pk__in=ids))
            expected = {e.pk for e in rows if rhythm.feedback_state(e, today).is_overdue}
            assert (
                set(Enrollment.objects.filter(condition, pk__in=ids).values_list("pk", flat=True)) == expected
            )
            seen_overdue += len(expected)
            seen_not_overdue += len(rows) - len(expected)
    assert seen_overdue and seen_not_overdue
    settle()  # the rhythm was written around the services: the work items follow it


def test_the_latest_overdue_base_is_overdue_and_the_next_day_is_not(clock, settings):
    settings.ICBT_FEEDBACK_OVERDUE_WORKING_DAYS = 2
    today = timezone.localdate()
    for weekday in range(7):
        for fortnightly in (False, True):
            base = rhythm.latest_overdue_base(today, feedback_weekday=weekday, fortnightly=fortnightly)
            cadence = Enrollment.Cadence.FORTNIGHTLY if fortnightly else Enrollment.Cadence.WEEKLY

            def state(day, weekday=weekday, cadence=cadence):
                probe = Enrollment(start_date=day, feedback_weekday=weekday, feedback_cadence=cadence)
                return rhythm.feedback_state(probe, today)

            assert state(base).is_overdue
            assert not state(base + timedelta(days=1)).is_overdue
