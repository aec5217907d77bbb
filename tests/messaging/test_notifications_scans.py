"""The periodic scanners: feedback due and overdue by cadence, inactivity with at most three
reminders in a row, modules opened, diaries due, the managers' weekly figures. Running twice
creates nothing twice."""

from datetime import date, timedelta

import pytest

from icbt.models import Notification
from messaging.notifications.scans import notifications_scan
from patients.models import Enrollment, ModuleState
from patients.rhythm import add_working_days, feedback_due_on
from tests.messaging.digest_helpers import Treated, local
from tests.work import settle

pytestmark = pytest.mark.django_db

Kind = Notification.Kind


@pytest.fixture
def t(world):
    treated = Treated(world)
    # Start Monday 23 February 2026; feedback on Fridays; patient B not in this story.
    Enrollment.objects.filter(pk=treated.enrollment_b.pk).update(status=Enrollment.Status.COMPLETED)
    Enrollment.objects.filter(pk=treated.enrollment_a.pk).update(feedback_weekday=4)
    settle()
    treated.enrollment_a.refresh_from_db()
    return treated


def kinds(user=None):
    rows = Notification.objects.all() if user is None else Notification.objects.filter(recipient=user)
    return sorted(rows.values_list("kind", flat=True))


def touch(enrollment, when):
    Enrollment.objects.filter(pk=enrollment.pk).update(last_activity_at=when)
    settle()


def test_working_days_and_feedback_due_days(t):
    assert add_working_days(date(2026, 3, 6), 2) == date(2026, 3, 10)  # Friday + 2 = Tuesday
    e = t.enrollment_a
    assert feedback_due_on(e) == date(2026, 2, 27)  # first Friday a week after the start
    e.feedback_cadence = Enrollment.Cadence.FORTNIGHTLY
    assert feedback_due_on(e) == date(2026, 3, 6)
    e.feedback_cadence = Enrollment.Cadence.WEEKLY
    e.last_feedback_at = local(2026, 3, 7, 10)  # a day late for Friday 6 March: that slot counts
    assert feedback_due_on(e) == date(2026, 3, 13)


def test_feedback_due_then_overdue_once_each(t):
    therapist = t.world.therapist.user
    touch(t.enrollment_a, local(2026, 2, 27, 9))
    notifications_scan(now=local(2026, 2, 26, 10))  # the day before: nothing yet
    assert kinds(therapist) == []
    notifications_scan(now=local(2026, 2, 27, 10))
    notifications_scan(now=local(2026, 2, 27, 11))
    assert kinds(therapist) == [Kind.FEEDBACK_DUE]
    touch(t.enrollment_a, local(2026, 3, 2, 9))
    notifications_scan(now=local(2026, 3, 2, 10))  # Monday: one working day later
    assert kinds(therapist) == [Kind.FEEDBACK_DUE]
    touch(t.enrollment_a, local(2026, 3, 3, 9))
    notifications_scan(now=local(2026, 3, 3, 10))  # Tuesday: two working days
    notifications_scan(now=local(2026, 3, 3, 11))
    assert kinds(therapist) == [Kind.FEEDBACK_DUE, Kind.FEEDBACK_OVERDUE]


def test_no_feedback_due_when_it_was_given_in_the_period(t):
    Enrollment.objects.filter(pk=t.enrollment_a.pk).update(
        last_feedback_at=local(2026, 3, 4, 15), last_activity_at=local(2026, 3, 6, 9)
    )
    settle()
    notifications_scan(now=local(2026, 3, 6, 10))
    assert Kind.FEEDBACK_DUE not in kinds()


def test_inactivity_three_reminders_in_a_row_then_silence_until_activity(t):
    patient, therapist = t.world.patient_a.user, t.world.therapist.user
    Enrollment.objects.filter(pk=t.enrollment_a.pk).update(last_feedback_at=local(2026, 3, 20, 9))
    settle()
    touch(t.enrollment_a, local(2026, 3, 1, 20))
    for day in range(1, 30):
        notifications_scan(now=local(2026, 3, 1, 21) + timedelta(days=day))
        notifications_scan(now=local(2026, 3, 1, 22) + timedelta(days=day))
    reminders = Notification.objects.filter(recipient=patient, kind=Kind.INACTIVITY_REMINDER).order_by(
        "created_at"
    )
    assert [r.created_at.date() for r in reminders] == [
        date(2026, 3, 8),
        date(2026, 3, 15),
        date(2026, 3, 22),
    ]
    assert Notification.objects.filter(recipient=therapist, kind=Kind.PATIENT_INACTIVE).count() == 1
    t.enrollment_a.refresh_from_db()
    assert t.enrollment_a.reminders_in_a_row == 3

    touch(t.enrollment_a, local(2026, 4, 1, 20))  # the patient comes back, then goes quiet again
    notifications_scan(now=local(2026, 4, 8, 21))
    t.enrollment_a.refresh_from_db()
    assert t.enrollment_a.reminders_in_a_row == 1
    assert Notification.objects.filter(recipient=patient, kind=Kind.INACTIVITY_REMINDER).count() == 4
    assert Notification.objects.filter(recipient=therapist, kind=Kind.PATIENT_INACTIVE).count() == 2


def test_per_patient_inactivity_days(t):
    Enrollment.objects.filter(pk=t.enrollment_a.pk).update(
        inactivity_days=3, last_feedback_at=local(2026, 3, 5)
    )
    settle()
    touch(t.enrollment_a, local(2026, 3, 2, 9))
    notifications_scan(now=local(2026, 3, 4, 10))
    assert Kind.INACTIVITY_REMINDER not in kinds()
    notifications_scan(now=local(2026, 3, 5, 10))
    assert Kind.INACTIVITY_REMINDER in kinds() and Kind.PATIENT_INACTIVE in kinds()


def test_module_opened_once_whatever_opened_it(t):
    patient = t.world.patient_a.user
    touch(t.enrollment_a, local(2026, 3, 2, 9))
    notifications_scan(now=local(2026, 3, 2, 10))
    assert Kind.MODULE_OPENED not in kinds(patient)
    ModuleState.objects.create(enrollment=t.enrollment_a, module_number=2, state=ModuleState.State.OPENED)
    notifications_scan(now=local(2026, 3, 2, 11))
    notifications_scan(now=local(2026, 3, 2, 12))
    opened = Notification.objects.get(recipient=patient, kind=Kind.MODULE_OPENED)
    assert opened.url == "/me/modules/second/"


def test_diary_due_in_the_evening_once_a_day(t):
    from patients.models import StepProgress

    patient = t.world.patient_a.user
    StepProgress.objects.create(
        enrollment=t.enrollment_a, step=t.steps["start-diary"], first_seen_at=local(2026, 3, 2, 9)
    )
    touch(t.enrollment_a, local(2026, 3, 2, 9))
    notifications_scan(now=local(2026, 3, 2, 12))
    assert Kind.DIARY_DUE not in kinds(patient)
    notifications_scan(now=local(2026, 3, 2, 17, 15))
    notifications_scan(now=local(2026, 3, 2, 20))
    assert kinds(patient).count(Kind.DIARY_DUE) == 1
    assert Notification.objects.get(kind=Kind.DIARY_DUE).url == "/me/diaries/"


def test_weekly_summary_on_mondays_for_each_manager_once(t):
    manager = t.world.manager.user
    notifications_scan(now=local(2026, 3, 1, 10))  # Sunday
    assert Kind.WEEKLY_SUMMARY not in kinds(manager)
    notifications_scan(now=local(2026, 3, 2, 0, 10))
    notifications_scan(now=local(2026, 3, 2, 23))
    assert kinds(manager) == [Kind.WEEKLY_SUMMARY]
    outsider = Notification.objects.get(recipient=t.world.outsider.user, kind=Kind.WEEKLY_SUMMARY)
    assert outsider.clinic_id == t.world.other_clinic.pk


def test_a_whole_scan_twice_creates_nothing_twice(t):
    touch(t.enrollment_a, local(2026, 2, 24, 9))
    first = notifications_scan(now=local(2026, 3, 9, 18))
    count = Notification.objects.count()
    second = notifications_scan(now=local(2026, 3, 9, 18, 15))
    assert first.total == count > 0
    assert second.total == 0 and Notification.objects.count() == count


def test_stale_triggers_are_not_created(t):
    touch(t.enrollment_a, local(2025, 11, 1, 9))
    notifications_scan(now=local(2026, 3, 2, 10))
    assert Kind.PATIENT_INACTIVE not in kinds() and Kind.INACTIVITY_REMINDER not in kinds()
