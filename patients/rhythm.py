"""The treatment's rhythm, one home for the rules every page, scanner and e-mail counts with:
when feedback is due, when it is overdue, and when a patient was last active.

Pure functions: they read the fields of an enrollment (or of anything that has the same
attributes, such as the worklist's plain rows) and never touch the database.

* **Slot**: feedback belongs to the patient's feedback weekday nearest to the day it was given
  (at most three days before or after), so feedback a day early or late counts for that week.
* **Due**: one week (weekly) or two (fortnightly) after the slot of the last feedback; before
  any feedback, the start date stands in for it.
* **Overdue**: ``ICBT_FEEDBACK_OVERDUE_WORKING_DAYS`` working days (Monday to Friday) after the
  due day.
* **Last activity**: the patient's last activity, else the moment treatment started, else the
  start date's local midnight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

from patients.models import Enrollment

FORTNIGHTLY_DAYS = 14
WEEKLY_DAYS = 7


def add_working_days(day: date, count: int) -> date:
    """``day`` plus ``count`` working days (Monday to Friday)."""
    while count > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def feedback_slot(day: date, feedback_weekday: int) -> date:
    """The feedback weekday nearest to ``day`` (at most three days before or after): the week a
    day belongs to, for feedback and check-in days alike."""
    forward = (feedback_weekday - day.weekday()) % 7
    return day + timedelta(days=forward) if forward <= 3 else day - timedelta(days=7 - forward)


def feedback_due_on(enrollment) -> date:
    """The day the next feedback is due."""
    last = enrollment.last_feedback_at
    base = timezone.localdate(last) if last else enrollment.start_date
    slot = feedback_slot(base, enrollment.feedback_weekday)
    fortnightly = enrollment.feedback_cadence == Enrollment.Cadence.FORTNIGHTLY
    return slot + timedelta(days=FORTNIGHTLY_DAYS if fortnightly else WEEKLY_DAYS)


def feedback_overdue_on(due_on: date) -> date:
    """The day feedback due on ``due_on`` becomes overdue."""
    return add_working_days(due_on, settings.ICBT_FEEDBACK_OVERDUE_WORKING_DAYS)


@dataclass
class FeedbackState:
    due_on: date
    overdue_on: date
    today: date

    @property
    def is_due(self) -> bool:
        return self.today >= self.due_on

    @property
    def is_overdue(self) -> bool:
        return self.today >= self.overdue_on

    @property
    def days_left(self) -> int:
        return (self.due_on - self.today).days


def feedback_state(enrollment, today: date) -> FeedbackState:
    """When the next feedback is due and whether it is due or overdue on ``today``."""
    due_on = feedback_due_on(enrollment)
    return FeedbackState(due_on=due_on, overdue_on=feedback_overdue_on(due_on), today=today)


def last_activity(enrollment) -> datetime:
    """The moment a quiet spell is counted from."""
    if enrollment.last_activity_at:
        return enrollment.last_activity_at
    if enrollment.started_at:
        return enrollment.started_at
    return timezone.make_aware(datetime.combine(enrollment.start_date, time.min))
