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

import operator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import reduce
from types import SimpleNamespace

from django.conf import settings
from django.db.models import Q
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


def latest_overdue_base(today: date, *, feedback_weekday: int, fortnightly: bool) -> date:
    """The last day that, as the day of the last feedback (or as the start date before any
    feedback), makes feedback overdue on ``today`` for this weekday and cadence. Every earlier
    day does too: the slot, the due day and the overdue day never go back as that day goes on."""
    cadence = Enrollment.Cadence.FORTNIGHTLY if fortnightly else Enrollment.Cadence.WEEKLY
    base = today
    while True:
        probe = SimpleNamespace(
            last_feedback_at=None,
            start_date=base,
            feedback_weekday=feedback_weekday,
            feedback_cadence=cadence,
        )
        if feedback_state(probe, today).is_overdue:
            return base
        base -= timedelta(days=1)


def feedback_overdue_q(today: date) -> Q:
    """The enrollments whose feedback is overdue on ``today`` (:func:`feedback_state`) as one
    database condition, so a count of overdue treatments is a COUNT in the database: per weekday
    and cadence the day of the last feedback (its local date), or the start date before any
    feedback, is at most :func:`latest_overdue_base`."""
    fortnightly = Q(feedback_cadence=Enrollment.Cadence.FORTNIGHTLY)
    branches = []
    for weekday in range(7):
        for is_fortnightly in (False, True):
            base = latest_overdue_base(today, feedback_weekday=weekday, fortnightly=is_fortnightly)
            next_midnight = timezone.make_aware(datetime.combine(base + timedelta(days=1), time.min))
            branches.append(
                Q(feedback_weekday=weekday)
                & (fortnightly if is_fortnightly else ~fortnightly)
                & (
                    Q(last_feedback_at__isnull=True, start_date__lte=base)
                    | Q(last_feedback_at__lt=next_midnight)
                )
            )
    return reduce(operator.or_, branches)


def last_activity(enrollment) -> datetime:
    """The moment a quiet spell is counted from."""
    if enrollment.last_activity_at:
        return enrollment.last_activity_at
    if enrollment.started_at:
        return enrollment.started_at
    return timezone.make_aware(datetime.combine(enrollment.start_date, time.min))
