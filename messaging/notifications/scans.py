"""Periodic scanners that create the time-based notifications: feedback due and overdue,
patients who went quiet (and the reminders to them), modules opened and diaries due, the
managers' weekly figures.

Every notification made here carries a ``dedupe_key`` that names the enrollment (or clinic)
and the moment it is about, so a scanner that runs twice, or two scanners at once, create each
notification once (see ``icbt.notifications.notify``). A trigger older than ``STALE_AFTER`` is
not created any more: after an outage nobody gets a pile of stale items, and handled rows can
be purged after the retention period without their keys coming back.

All dates are in the installation's time zone (``TIME_ZONE``).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from icbt.models import Notification, StaffMember
from icbt.notifications import notify
from patients import rhythm
from patients.models import Enrollment
from patients.progress import progress_for

Kind = Notification.Kind

STALE_AFTER = timedelta(days=14)
MAX_REMINDERS_IN_A_ROW = 3
SUMMARY_WEEKDAY = 0  # the managers' figures are made on Mondays


@dataclass
class ScanReport:
    created: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, row) -> None:
        if row is not None:
            self.created[kind] = self.created.get(kind, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.created.values())


def notifications_scan(*, now: datetime | None = None) -> ScanReport:
    """Run every scanner once. Safe to run at any time and as often as wanted."""
    now = now or timezone.now()
    report = ScanReport()
    enrollments = list(
        Enrollment.objects.filter(status=Enrollment.Status.ACTIVE)
        .select_related("patient__user", "therapist__user", "version")
        .defer("status_reason")
    )
    for enrollment in enrollments:
        feedback_scan(enrollment, now=now, report=report)
        inactivity_scan(enrollment, now=now, report=report)
        progress_scan(enrollment, now=now, report=report)
    weekly_summary_scan(now=now, report=report)
    return report


# --- Feedback due / overdue ---------------------------------------------------------------------


def feedback_scan(enrollment: Enrollment, *, now: datetime, report: ScanReport) -> None:
    """Feedback due and overdue by ``patients.rhythm`` (the rule the composer and the worklist
    show). One notice of each per due day: the dedupe key names the day, and feedback given
    moves the due day forward."""
    state = rhythm.feedback_state(enrollment, timezone.localdate(now))
    if not state.is_due:
        return
    day, today = state.due_on, state.today
    if state.is_overdue:
        kind, trigger = Kind.FEEDBACK_OVERDUE, state.overdue_on
    else:
        kind, trigger = Kind.FEEDBACK_DUE, day
    if today - trigger > STALE_AFTER:
        return
    with transaction.atomic():
        row = notify(
            recipient=enrollment.therapist.user,
            kind=kind,
            patient=enrollment.patient,
            object_type="enrollment",
            object_id=enrollment.pk,
            dedupe_key=f"{kind}:{enrollment.pk}:{day.isoformat()}",
            now=now,
        )
    report.add(kind, row)


# --- Inactivity ---------------------------------------------------------------------------------


def inactivity_scan(enrollment: Enrollment, *, now: datetime, report: ScanReport) -> None:
    """After ``inactivity_days`` without activity: one notice to the therapist per quiet
    spell, and a reminder to the patient after N, 2N and 3N days, at most three in a row.

    ``reminders_in_a_row`` counts the reminders of the current quiet spell. The patient's
    activity starts a new spell (a new ``last_activity_at``, so new dedupe keys); the counter is
    set back to zero by the activity itself, and here as well when a spell has no reminder yet.
    """
    last = rhythm.last_activity(enrollment)
    every = timedelta(days=enrollment.inactivity_days)
    quiet = now - last
    if quiet < every:
        return
    spell = f"{enrollment.pk}:{last.astimezone(UTC):%Y%m%dT%H%M%S}"
    with transaction.atomic():
        if now - (last + every) <= STALE_AFTER:
            row = notify(
                recipient=enrollment.therapist.user,
                kind=Kind.PATIENT_INACTIVE,
                patient=enrollment.patient,
                object_type="enrollment",
                object_id=enrollment.pk,
                dedupe_key=f"inactive:{spell}",
                now=now,
            )
            report.add(Kind.PATIENT_INACTIVE, row)
        locked = Enrollment.objects.select_for_update().only("pk", "reminders_in_a_row").get(pk=enrollment.pk)
        prefix = f"reminder:{spell}:"
        sent = Notification.objects.filter(
            recipient=enrollment.patient.user, dedupe_key__startswith=prefix
        ).count()
        if sent == 0 and locked.reminders_in_a_row:
            locked.reminders_in_a_row = 0
        due = int(quiet / every)
        number = sent + 1
        if (
            number <= due
            and locked.reminders_in_a_row < MAX_REMINDERS_IN_A_ROW
            and now - (last + every * number) <= STALE_AFTER
        ):
            row = notify(
                recipient=enrollment.patient.user,
                kind=Kind.INACTIVITY_REMINDER,
                patient=enrollment.patient,
                object_type="enrollment",
                object_id=enrollment.pk,
                dedupe_key=f"{prefix}{number}",
                now=now,
            )
            if row is not None:
                locked.reminders_in_a_row += 1
            report.add(Kind.INACTIVITY_REMINDER, row)
        locked.save(update_fields=["reminders_in_a_row"])
        enrollment.reminders_in_a_row = locked.reminders_in_a_row


# --- Modules and diaries (for the patient) ----------------------------------------------------

DIARY_REMINDER_HOUR = 17  # a diary reminder is made from this hour on (local time), once a day


def _path(name: str, **kwargs) -> str:
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return ""


def progress_scan(enrollment: Enrollment, *, now: datetime, report: ScanReport) -> None:
    """From the patient's progress (``patients.progress``, the same rules the pages use):

    - *a module opened*: a module after the first that is open and not started yet, once per
      module, whatever opened it (the previous one finished, its date came, the therapist
      opened it);
    - *a diary due*: from ``DIARY_REMINDER_HOUR`` on, a diary the patient keeps is not filled
      in for today (weekly: for seven days); once a day.
    """
    today = timezone.localdate(now)
    progress = progress_for(enrollment, today=today)
    for module in progress.modules[1:]:
        if not module.is_open or module.is_started:
            continue
        with transaction.atomic():
            row = notify(
                recipient=enrollment.patient.user,
                kind=Kind.MODULE_OPENED,
                patient=enrollment.patient,
                object_type="enrollment",
                object_id=enrollment.pk,
                url=_path("patients:module", module_slug=module.module.slug),
                dedupe_key=f"module_opened:{enrollment.pk}:{module.module.number}",
                now=now,
            )
        report.add(Kind.MODULE_OPENED, row)
    if timezone.localtime(now).hour < DIARY_REMINDER_HOUR:
        return
    if not any(diary.due for diary in progress.diaries_today()):
        return
    with transaction.atomic():
        row = notify(
            recipient=enrollment.patient.user,
            kind=Kind.DIARY_DUE,
            patient=enrollment.patient,
            object_type="enrollment",
            object_id=enrollment.pk,
            url=_path("patients:diary_list"),
            dedupe_key=f"diary_due:{enrollment.pk}:{today.isoformat()}",
            now=now,
        )
    report.add(Kind.DIARY_DUE, row)


# --- Managers -----------------------------------------------------------------------------------


def weekly_summary_scan(*, now: datetime, report: ScanReport) -> None:
    """On Mondays, one "weekly figures" item for every active manager of a clinic. The figures
    themselves (counts only) are computed when the e-mail is written."""
    today = timezone.localdate(now)
    if today.weekday() != SUMMARY_WEEKDAY:
        return
    year, week, _weekday = today.isocalendar()
    managers = StaffMember.objects.filter(is_manager=True, user__is_active=True).select_related("user")
    for manager in managers:
        with transaction.atomic():
            row = notify(
                recipient=manager.user,
                kind=Kind.WEEKLY_SUMMARY,
                clinic_id=manager.clinic_id,
                object_type="clinic",
                object_id=manager.clinic_id,
                dedupe_key=f"weekly_summary:{manager.clinic_id}:{year}-W{week:02d}",
                now=now,
            )
        report.add(Kind.WEEKLY_SUMMARY, row)
