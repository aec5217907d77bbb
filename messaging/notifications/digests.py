"""Digest e-mails: pending notifications become at most one e-mail per person per window.

A *round* (``digest_round``, run every minute by beat and by ``manage.py send_digests``) does,
per recipient:

1. **Claim.** For each of the recipient's windows that is due (``windows_for``: a daily digest
   at the chosen hour, a weekly one, "soon", and "urgent" for urgent items), one transaction
   inserts the :class:`~icbt.models.Digest` row for (recipient, window) and points the pending
   rows at it. The unique constraint on (recipient, window) is the mutex: a second run that
   tries the same window at the same moment waits for the first transaction (PostgreSQL) and
   then fails on the constraint, so it sends nothing. Rows are picked with
   ``select_for_update(skip_locked=True)`` on PostgreSQL and moved with a conditional UPDATE
   (``digest IS NULL``) that must change exactly the rows picked; SQLite serialises writers
   (``BEGIN IMMEDIATE``), so the same code is safe under ``make run``. The claim carries a
   lease (``ICBT_DIGEST_LEASE_SECONDS``, longer than Celery's hard time limit).
2. **Re-check** every claimed row at send time (``recheck``): already read, already reviewed,
   feedback given, patient active again, patient no longer in treatment, recipient no longer
   treats the patient, kind switched off. Those rows are dropped, not sent.
3. **Send** one e-mail with a fixed Message-ID derived from recipient and window (stored on the
   digest when it was claimed), then, in one transaction, mark the digest sent and its rows
   sent, conditional on still holding the lease.

Failures are caught per recipient: the error is logged by type only (no address, no text) and
the digest is released for a retry with back-off; other recipients go on.

**The one duplicate.** If a run dies after the e-mail left and before step 3's transaction
committed, the digest stays claimed; once its lease has expired the next round takes it over
(a conditional UPDATE that must change one row) and sends it again, with the same Message-ID,
so mail clients can recognise the copy. In every other case a recipient gets a window's e-mail
at most once. A run that dies before sending leaves nothing lost: the next round after the
lease sends what was left.

**Privacy.** This module never reads a column with text a person wrote: rows are re-checked
with ``values()`` on ids, dates and statuses only. An e-mail says how many items wait, per
patient by case reference (never a name), with a link to each item; no clinical text, no
therapist or clinic name, no diagnosis or program name.
"""

import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Min
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from icbt.models import Digest, Notification, NotificationPreference, User
from icbt.roles import roles_of
from messaging import pending
from messaging.models import Message
from messaging.notifications import tips
from messaging.notifications.preferences import preferences_for_users, preferences_path, unsubscribe_path
from patients.access import staff_may_treat
from patients.models import (
    AssignmentAnswer,
    DiaryEntry,
    Enrollment,
    IntakeRequest,
    Patient,
    QuestionnaireResponse,
    Referral,
)

logger = logging.getLogger("icbt.digests")

Kind = Notification.Kind
State = Notification.State
Frequency = NotificationPreference.Frequency

# Lines shown per patient and kind before "and N more".
MAX_LINES_PER_KIND = 40
# A run stops taking new recipients after this many seconds (below the soft time limit).
DEFAULT_TIME_BUDGET = 180
TIP_EVERY = timedelta(days=7)

STAFF_LABELS = {
    Kind.DIARY_ENTRY: _("New diary entry"),
    Kind.ASSIGNMENT_SUBMITTED: _("Assignment handed in"),
    Kind.QUESTIONNAIRE_COMPLETED: _("Questionnaire completed"),
    Kind.MESSAGE_RECEIVED: _("New message"),
    Kind.FEEDBACK_DUE: _("Feedback due"),
    Kind.FEEDBACK_OVERDUE: _("Feedback overdue"),
    Kind.PATIENT_INACTIVE: _("No activity for a while"),
    Kind.INTAKE_REQUEST: _("New request for an intake"),
    Kind.REFERRAL: _("A colleague referred a patient to you"),
}
PATIENT_LABELS = {
    Kind.FEEDBACK_WAITING: _("Your therapist has written feedback for you"),
    Kind.MESSAGE_WAITING: _("You have a new message"),
    Kind.MODULE_OPENED: _("A new part is open for you"),
    Kind.DIARY_DUE: _("A reminder to fill in your diary"),
    Kind.INACTIVITY_REMINDER: _("We have not seen you for a while. A small step today is enough."),
}

# Kinds about a patient that only make sense while the enrollment is active (not paused).
_NEEDS_ACTIVE = {
    Kind.FEEDBACK_DUE,
    Kind.FEEDBACK_OVERDUE,
    Kind.PATIENT_INACTIVE,
    Kind.DIARY_DUE,
    Kind.INACTIVITY_REMINDER,
}
# Kinds about a patient who need not be in treatment (yet).
_NO_ENROLLMENT_NEEDED = {Kind.REFERRAL, Kind.INTAKE_REQUEST, Kind.WEEKLY_SUMMARY}


# --- Windows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """One e-mail slot. A recipient is due when a pending row was created at or before
    ``due_before`` and no digest exists yet for ``key``."""

    key: str
    due_before: datetime
    urgent_only: bool = False


def _floor_minutes(moment: datetime, minutes: int) -> datetime:
    seconds = max(1, minutes) * 60
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def windows_for(preference: NotificationPreference, now: datetime) -> list[Window]:
    """The windows of this person at ``now``, main window first.

    Daily: the most recent occurrence of the chosen hour (installation time zone); rows
    created after it wait for the next day. Weekly: the most recent chosen weekday and hour.
    Soon: slots of ``ICBT_DIGEST_SOON_MINUTES``. Urgent items of a daily or weekly person also
    get a "soon" slot of their own when ``urgent_soon`` is on.
    """
    soon = _floor_minutes(now, settings.ICBT_DIGEST_SOON_MINUTES).strftime("%Y-%m-%dT%H:%M")
    if preference.frequency == Frequency.SOON:
        return [Window(f"soon:{soon}", now)]
    local = timezone.localtime(now)
    if preference.frequency == Frequency.WEEKLY:
        start = (local - timedelta(days=(local.weekday() - preference.weekday) % 7)).replace(
            hour=preference.hour, minute=0, second=0, microsecond=0
        )
        if start > local:
            start -= timedelta(days=7)
        main = Window(f"weekly:{start.date().isoformat()}", start)
    else:
        start = local.replace(hour=preference.hour, minute=0, second=0, microsecond=0)
        if start > local:
            start -= timedelta(days=1)
        main = Window(f"daily:{start.date().isoformat()}", start)
    windows = [main]
    if preference.urgent_soon:
        windows.append(Window(f"urgent:{soon}", now, urgent_only=True))
    return windows


def message_id_for(recipient_id: int, window_key: str) -> str:
    """The Message-ID of a digest: the same for the same recipient and window, always.

    A keyed hash, so the header reveals neither the user id nor the window to a reader.
    Stored on the Digest when claimed, so a resend uses it even if SECRET_KEY changed since.
    """
    digest = salted_hmac(
        "icbt.digest.message-id", f"{recipient_id}:{window_key}", algorithm="sha256"
    ).hexdigest()
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return f"<digest.{digest[:40]}@{domain}>"


# --- The round ----------------------------------------------------------------------------------


@dataclass
class RoundReport:
    recipients: int = 0
    sent: int = 0
    items: int = 0
    dropped: int = 0
    resumed: int = 0
    failed: int = 0
    emails: list[str] = field(default_factory=list)  # window keys sent, for the command's output


class _Clock:
    """Either the real time, read afresh at every step, or a fixed ``now`` (tests, replays)."""

    def __init__(self, fixed: datetime | None):
        self.fixed = fixed

    def now(self) -> datetime:
        return self.fixed or timezone.now()


class _NothingToClaim(Exception):
    pass


class _LeaseLost(Exception):
    pass


def digest_round(
    *,
    now: datetime | None = None,
    recipient_ids=None,
    time_budget: float | None = DEFAULT_TIME_BUDGET,
    progress=None,
) -> RoundReport:
    """Send every digest that is due at ``now`` (default: the real time). Safe to run twice and
    to run concurrently with itself: see the module docstring for the guarantees.

    ``recipient_ids`` limits the round to some people (the task queued by an event does that).
    ``progress`` receives one line per recipient (``manage.py send_digests``).
    """
    clock = _Clock(now)
    report = RoundReport()
    started = time.monotonic()

    def out_of_time() -> bool:
        return time_budget is not None and time.monotonic() - started > time_budget

    stale = Digest.objects.filter(sent_at__isnull=True, lease_until__lt=clock.now())
    if recipient_ids is not None:
        stale = stale.filter(recipient_id__in=recipient_ids)
    for digest_id in list(stale.order_by("lease_until").values_list("pk", flat=True)):
        if out_of_time():
            return report
        token = _take_over(digest_id, clock)
        if token is not None:
            report.resumed += 1
            _deliver_safely(digest_id, token, clock, report, progress)

    pending = Notification.objects.filter(
        state=State.PENDING, digest__isnull=True, created_at__lte=clock.now()
    )
    if recipient_ids is not None:
        pending = pending.filter(recipient_id__in=recipient_ids)
    order = list(
        pending.values("recipient_id")
        .annotate(oldest=Min("created_at"))
        .order_by("oldest", "recipient_id")
        .values_list("recipient_id", flat=True)
    )
    users = User.objects.in_bulk(order)
    preferences = preferences_for_users(users.values())
    for user_id in order:
        if out_of_time():
            break
        user = users[user_id]
        report.recipients += 1
        try:
            claims = _claim_for_recipient(user, preferences[user_id], clock, report)
        except Exception as exc:  # noqa: BLE001 - one recipient must not stop the others
            report.failed += 1
            logger.error("digest claim for user %s failed: %s", user_id, type(exc).__name__)
            continue
        for digest_id, token in claims:
            _deliver_safely(digest_id, token, clock, report, progress)
    return report


def _lease(clock: _Clock) -> datetime:
    return clock.now() + timedelta(seconds=settings.ICBT_DIGEST_LEASE_SECONDS)


def _unclaimed(user, now):
    return Notification.objects.filter(
        recipient=user, state=State.PENDING, digest__isnull=True, created_at__lte=now
    )


def _locked_ids(queryset) -> list[int]:
    """Ids of ``queryset``, locked against other runs on PostgreSQL (rows another run holds are
    skipped, not waited for). SQLite has no row locks: its writers are serialised instead."""
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True)
    return list(queryset.order_by().values_list("pk", flat=True))


def _drop(queryset, reason: str, now) -> int:
    with transaction.atomic():
        ids = _locked_ids(queryset)
        return Notification.objects.filter(pk__in=ids, state=State.PENDING, digest__isnull=True).update(
            state=State.DROPPED, dropped_reason=reason, handled_at=now
        )


def _claim_for_recipient(user, preference, clock, report) -> list[tuple[int, uuid.UUID]]:
    now = clock.now()
    base = _unclaimed(user, now)
    if not user.is_active:
        report.dropped += _drop(base, "inactive_user", now)
        return []
    if not preference.email_enabled:
        report.dropped += _drop(base, "email_off", now)
        return []
    if preference.kinds_off:
        report.dropped += _drop(base.filter(kind__in=preference.kinds_off), "kind_off", now)
    claims = []
    for window in windows_for(preference, now):
        candidates = base.filter(urgent=True) if window.urgent_only else base
        if not candidates.filter(created_at__lte=window.due_before).exists():
            continue
        if Digest.objects.filter(recipient=user, window_key=window.key).exists():
            continue
        claim = _claim_window(user, window, candidates, clock)
        if claim is not None:
            claims.append(claim)
    return claims


def _claim_window(user, window: Window, candidates, clock) -> tuple[int, uuid.UUID] | None:
    """Insert the digest for (user, window) and move the due rows onto it, in one transaction.
    None when another run holds this window or took the rows first."""
    token = uuid.uuid4()
    try:
        with transaction.atomic():
            digest = Digest.objects.create(
                recipient=user,
                window_key=window.key,
                message_id=message_id_for(user.pk, window.key),
                created_at=clock.now(),
                lease_token=token,
                lease_until=_lease(clock),
                attempts=1,
            )
            if not candidates.filter(created_at__lte=window.due_before).exists():
                raise _NothingToClaim
            ids = _locked_ids(candidates)
            if not ids:
                raise _NothingToClaim
            moved = Notification.objects.filter(pk__in=ids, state=State.PENDING, digest__isnull=True).update(
                digest=digest
            )
            if moved != len(ids):
                raise _NothingToClaim
    except (IntegrityError, _NothingToClaim):
        return None
    return digest.pk, token


def _take_over(digest_id: int, clock: _Clock) -> uuid.UUID | None:
    """Claim a digest whose lease expired (its run died or failed). Exactly one run wins: the
    UPDATE is conditional on the lease still being expired and must change one row."""
    token = uuid.uuid4()
    changed = Digest.objects.filter(pk=digest_id, sent_at__isnull=True, lease_until__lt=clock.now()).update(
        lease_token=token, lease_until=_lease(clock), attempts=F("attempts") + 1
    )
    return token if changed == 1 else None


def _hold(digest_id: int, token: uuid.UUID, clock: _Clock) -> bool:
    """Renew our lease right before the e-mail leaves; False if another run took it over."""
    return (
        Digest.objects.filter(pk=digest_id, lease_token=token, sent_at__isnull=True).update(
            lease_until=_lease(clock)
        )
        == 1
    )


def _deliver_safely(digest_id, token, clock, report, progress) -> None:
    """Deliver one claimed digest; any error stays with this recipient. The error is logged by
    type only (an SMTP error may quote an address), and the digest is released for a retry
    with back-off, keeping its window and Message-ID."""
    try:
        _deliver(digest_id, token, clock, report, progress)
    except _LeaseLost:
        # Our lease expired while the e-mail was leaving and another run took the digest over:
        # it sends (or sent) the same e-mail with the same Message-ID. Nothing to release.
        logger.warning("digest %s: taken over by another run after sending (same Message-ID)", digest_id)
    except Exception as exc:  # noqa: BLE001 - caught per recipient, retried later
        report.failed += 1
        attempts = Digest.objects.filter(pk=digest_id).values_list("attempts", flat=True).first() or 1
        backoff = timedelta(minutes=min(60, 2 ** min(attempts, 6)))
        Digest.objects.filter(pk=digest_id, lease_token=token, sent_at__isnull=True).update(
            lease_token=None, lease_until=clock.now() + backoff
        )
        logger.error(
            "digest %s could not be sent (%s); retry after %s", digest_id, type(exc).__name__, backoff
        )
        if progress:
            progress(f"digest {digest_id}: failed ({type(exc).__name__}), will retry")


def _deliver(digest_id, token, clock, report, progress) -> None:
    digest = Digest.objects.select_related("recipient").get(pk=digest_id)
    user = digest.recipient
    rows = list(Notification.objects.filter(digest_id=digest_id, state=State.PENDING))
    verdicts = recheck(user, rows)
    keep = [row for row in rows if row.pk not in verdicts]
    if not keep:
        with transaction.atomic():
            if not _hold(digest_id, token, clock):
                return
            _mark_dropped(verdicts, clock.now())
            Digest.objects.filter(pk=digest_id).delete()
        report.dropped += len(verdicts)
        if progress:
            progress(f"user {user.pk}: nothing left to send after the re-check ({len(verdicts)} dropped)")
        return
    if not _hold(digest_id, token, clock):
        return
    if settings.ICBT_DIGEST_SEND_PAUSE_MS:
        time.sleep(settings.ICBT_DIGEST_SEND_PAUSE_MS / 1000)
    email, tip_number = build_email(digest, keep, clock.now())
    email.send()
    # The e-mail has left. Until the transaction below commits, a crash means the next run
    # after the lease sends it again with the same Message-ID (the documented duplicate).
    with transaction.atomic():
        finished = Digest.objects.filter(pk=digest_id, lease_token=token, sent_at__isnull=True).update(
            sent_at=clock.now(),
            lease_token=None,
            lease_until=None,
            item_count=len(keep),
            tip_number=tip_number,
        )
        if finished != 1:
            raise _LeaseLost
        Notification.objects.filter(pk__in=[row.pk for row in keep]).update(
            state=State.SENT, handled_at=clock.now()
        )
        _mark_dropped(verdicts, clock.now())
    report.sent += 1
    report.items += len(keep)
    report.dropped += len(verdicts)
    report.emails.append(digest.window_key)
    logger.info("digest %s sent to user %s: %s items", digest_id, user.pk, len(keep))
    if progress:
        progress(f"user {user.pk}: sent {digest.window_key} with {len(keep)} item(s)")


def _mark_dropped(verdicts: dict[int, str], now) -> None:
    by_reason = defaultdict(list)
    for pk, reason in verdicts.items():
        by_reason[reason].append(pk)
    for reason, ids in by_reason.items():
        Notification.objects.filter(pk__in=ids, state=State.PENDING).update(
            state=State.DROPPED, dropped_reason=reason, handled_at=now, digest=None
        )


# --- Re-check at send time ----------------------------------------------------------------------


def _ids(rows, object_type: str) -> set[int]:
    return {int(row.object_id) for row in rows if row.object_type == object_type and row.object_id.isdigit()}


def _values(model, ids, *fields_):
    if not ids:
        return {}
    return {v["pk"]: v for v in model.objects.filter(pk__in=ids).values("pk", *fields_)}


def recheck(user, rows) -> dict[int, str]:
    """``{row id: reason}`` for every row that must not be sent any more.

    Reads ids, statuses and timestamps only (``values()``), never encrypted text.
    """
    reasons: dict[int, str] = {}
    roles = roles_of(user)
    preference = preferences_for_users([user])[user.pk]
    patient_ids = {row.patient_id for row in rows if row.patient_id}
    patients = Patient.objects.in_bulk(patient_ids)
    enrollments = {}
    for enrollment in Enrollment.objects.filter(
        patient_id__in=patient_ids, status__in=Enrollment.OPEN_STATUSES
    ).values("pk", "patient_id", "status", "last_activity_at", "last_feedback_at"):
        enrollments[enrollment["patient_id"]] = enrollment
    diary = _values(DiaryEntry, _ids(rows, "diary_entry"), "reviewed_at")
    answers = _values(AssignmentAnswer, _ids(rows, "assignment_answer"), "reviewed_at", "status")
    questionnaires = _values(QuestionnaireResponse, _ids(rows, "questionnaire_response"), "reviewed_at")
    messages = _values(Message, _ids(rows, "message"), "read_at")
    intakes = _values(IntakeRequest, _ids(rows, "intake_request"), "status", "clinic_id")
    referrals = _values(Referral, _ids(rows, "referral"), "status", "to_therapist_id")
    overdue = {(row.patient_id, row.object_id) for row in rows if row.kind == Kind.FEEDBACK_OVERDUE}

    for row in rows:
        reason = _check_row(
            row,
            roles,
            preference,
            patients,
            enrollments,
            diary,
            answers,
            questionnaires,
            messages,
            intakes,
            referrals,
            overdue,
        )
        if reason:
            reasons[row.pk] = reason
    return reasons


def _check_row(
    row,
    roles,
    preference,
    patients,
    enrollments,
    diary,
    answers,
    questionnaires,
    messages,
    intakes,
    referrals,
    overdue,
) -> str:
    if not preference.wants(row.kind):
        return "kind_off"
    staff, own_patient = roles.staff, roles.patient
    object_id = int(row.object_id) if row.object_id.isdigit() else None

    if row.kind == Kind.WEEKLY_SUMMARY:
        ok = staff is not None and staff.is_manager and staff.clinic_id == row.clinic_id
        return "" if ok else "no_access"
    if row.kind == Kind.INTAKE_REQUEST:
        intake = intakes.get(object_id)
        if staff is None or intake is None or intake["clinic_id"] != staff.clinic_id:
            return "no_access" if intake else "gone"
        return "" if intake["status"] == IntakeRequest.Status.NEW else "handled"

    patient = patients.get(row.patient_id)
    if patient is None:
        return "gone"
    if own_patient is not None and staff is None:
        if own_patient.pk != patient.pk:
            return "no_access"
    elif staff is not None:
        if row.kind == Kind.REFERRAL:
            referral = referrals.get(object_id)
            if referral is None:
                return "gone"
            if referral["to_therapist_id"] != staff.pk:
                return "no_access"
            return "" if referral["status"] == Referral.Status.PENDING else "handled"
        if not staff_may_treat(staff, patient):
            return "no_access"
    else:
        return "no_access"

    enrollment = enrollments.get(patient.pk)
    if row.kind not in _NO_ENROLLMENT_NEEDED:
        if enrollment is None:
            return "not_in_treatment"
        if row.kind in _NEEDS_ACTIVE and enrollment["status"] != Enrollment.Status.ACTIVE:
            return "not_active"

    if row.kind == Kind.DIARY_ENTRY:
        item = diary.get(object_id)
        return "gone" if item is None else ("already_reviewed" if item["reviewed_at"] else "")
    if row.kind == Kind.ASSIGNMENT_SUBMITTED:
        item = answers.get(object_id)
        if item is None:
            return "gone"
        if item["reviewed_at"]:
            return "already_reviewed"
        return "" if item["status"] == AssignmentAnswer.Status.SUBMITTED else "withdrawn"
    if row.kind == Kind.QUESTIONNAIRE_COMPLETED:
        item = questionnaires.get(object_id)
        return "gone" if item is None else ("already_reviewed" if item["reviewed_at"] else "")
    if row.kind in (Kind.MESSAGE_RECEIVED, Kind.MESSAGE_WAITING, Kind.FEEDBACK_WAITING):
        item = messages.get(object_id)
        return "gone" if item is None else ("already_read" if item["read_at"] else "")
    if row.kind in (Kind.FEEDBACK_DUE, Kind.FEEDBACK_OVERDUE):
        if row.kind == Kind.FEEDBACK_DUE and (row.patient_id, row.object_id) in overdue:
            return "superseded"
        given = enrollment["last_feedback_at"]
        return "feedback_given" if given and given >= row.created_at else ""
    if row.kind in (Kind.PATIENT_INACTIVE, Kind.INACTIVITY_REMINDER, Kind.DIARY_DUE, Kind.MODULE_OPENED):
        active = enrollment["last_activity_at"]
        return "active_again" if active and active > row.created_at else ""
    return ""


# --- Links --------------------------------------------------------------------------------------


# Where each kind of item lives, best first: (URL name, kwargs from the row, anchor from the row).
# The staff conversation page shows the work beside the composer with anchors ``item-diary7``,
# ``item-answer3``, ``item-questionnaire2`` and messages as ``message-12``. A name that does not
# resolve is skipped, so links follow the views as they are added.
def _patient(row):
    return {"pk": row.patient_id}


def _none(row):
    return {}


_LINKS = {
    Kind.DIARY_ENTRY: [("messaging:staff_conversation", _patient, "item-diary{id}")],
    Kind.ASSIGNMENT_SUBMITTED: [("messaging:staff_conversation", _patient, "item-answer{id}")],
    Kind.QUESTIONNAIRE_COMPLETED: [("messaging:staff_conversation", _patient, "item-questionnaire{id}")],
    Kind.MESSAGE_RECEIVED: [("messaging:staff_conversation", _patient, "message-{id}")],
    Kind.FEEDBACK_DUE: [("messaging:staff_conversation", _patient, "work")],
    Kind.FEEDBACK_OVERDUE: [("messaging:staff_conversation", _patient, "work")],
    Kind.PATIENT_INACTIVE: [("messaging:staff_conversation", _patient, "")],
    Kind.INTAKE_REQUEST: [
        ("patients:staff_intake_request_detail", lambda r: {"pk": r.object_id}, ""),
        ("patients:staff_intake_request_list", _none, ""),
    ],
    Kind.REFERRAL: [
        ("patients:staff_referral_detail", lambda r: {"pk": r.object_id}, ""),
        ("patients:staff_referral_list", _none, ""),
    ],
    Kind.FEEDBACK_WAITING: [("messaging:patient_conversation", _none, "message-{id}")],
    Kind.MESSAGE_WAITING: [("messaging:patient_conversation", _none, "message-{id}")],
    Kind.MODULE_OPENED: [("patients:home", _none, "")],
    Kind.DIARY_DUE: [("patients:diary_list", _none, ""), ("patients:home", _none, "")],
    Kind.INACTIVITY_REMINDER: [("patients:home", _none, "")],
    Kind.WEEKLY_SUMMARY: [("therapists:clinic_overview", _none, "")],
}


def item_path(row: Notification) -> str:
    """The path of the item inside the application (the caller's ``url`` if it gave one).

    The link works signed out too: the view asks for the sign-in (and the second factor for
    staff) and then sends the person back to this path.
    """
    if row.url:
        return row.url
    for name, kwargs, anchor in _LINKS.get(row.kind, []):
        try:
            path = reverse(name, kwargs=kwargs(row))
        except NoReverseMatch:
            continue
        return path + ("#" + anchor.format(id=row.object_id) if anchor else "")
    if row.patient_id and row.kind in STAFF_LABELS:
        try:
            return reverse("patients:staff_patient_detail", kwargs={"pk": row.patient_id})
        except NoReverseMatch:
            pass
    return reverse("home")


def absolute(path: str) -> str:
    return settings.SITE_URL + path


# --- The e-mail ---------------------------------------------------------------------------------


def clinic_figures(clinic_id: int, since: datetime, until: datetime) -> list[tuple[str, int]]:
    """A manager's weekly figures: counts only, never a name or a word a person wrote."""
    enrollments = Enrollment.objects.filter(clinic_id=clinic_id)
    in_week = {"ended_at__gte": since, "ended_at__lt": until}
    waiting = pending.waiting_work(enrollments=pending.waiting_enrollments(enrollments), clinic_id=clinic_id)
    return [
        (_("Patients in treatment"), enrollments.filter(status=Enrollment.Status.ACTIVE).count()),
        (
            _("Started in the last 7 days"),
            enrollments.filter(started_at__gte=since, started_at__lt=until).count(),
        ),
        (
            _("Completed in the last 7 days"),
            enrollments.filter(status=Enrollment.Status.COMPLETED, **in_week).count(),
        ),
        (
            _("Stopped in the last 7 days"),
            enrollments.filter(status=Enrollment.Status.STOPPED, **in_week).count(),
        ),
        (
            _("Stepped up to face-to-face care in the last 7 days"),
            enrollments.filter(status=Enrollment.Status.STEPPED_UP, **in_week).count(),
        ),
        (
            _("Feedback messages sent in the last 7 days"),
            Message.objects.filter(
                conversation__enrollment__clinic_id=clinic_id,
                is_feedback=True,
                created_at__gte=since,
                created_at__lt=until,
            ).count(),
        ),
        (_("Work waiting for feedback"), waiting.patient_work),
        (_("Intake requests waiting"), waiting.intake_request),
        (_("Referrals waiting for an answer"), waiting.referral),
    ]


def _tip_for(user, now) -> int | None:
    """The next booster tip for a therapist, if they had none in the last seven days."""
    staff = roles_of(user).staff
    if staff is None or not staff.is_therapist:
        return None
    recent = Digest.objects.filter(recipient=user, tip_number__isnull=False, sent_at__isnull=False)
    if recent.filter(sent_at__gt=now - TIP_EVERY).exists():
        return None
    last = recent.order_by("-sent_at", "-pk").values_list("tip_number", flat=True).first()
    return (user.pk if last is None else last + 1) % len(tips.TIPS)


def digest_context(user, rows, now) -> dict:
    """Everything the templates show: counts, case references, labels and links; nothing else."""
    is_patient_mail = roles_of(user).staff is None
    labels = PATIENT_LABELS if is_patient_mail else STAFF_LABELS
    references = dict(
        Patient.objects.filter(pk__in={r.patient_id for r in rows if r.patient_id}).values_list(
            "pk", "case_reference"
        )
    )
    groups: dict[object, dict] = {}
    summaries = []
    urgent_count = 0
    seen = set()
    for row in sorted(rows, key=lambda r: (not r.urgent, r.created_at, r.pk)):
        item = (row.kind, row.object_type, row.object_id)
        if row.object_id and item in seen:
            continue  # the same item twice (handed in again before the digest): one line
        seen.add(item)
        if row.kind == Kind.WEEKLY_SUMMARY:
            summaries.append(
                {
                    "figures": clinic_figures(
                        row.clinic_id, row.created_at - timedelta(days=7), row.created_at
                    ),
                    "url": absolute(item_path(row)),
                }
            )
            continue
        urgent_count += row.urgent
        reference = (
            None if is_patient_mail or row.kind == Kind.INTAKE_REQUEST else references.get(row.patient_id)
        )
        group = groups.setdefault(
            reference,
            {"reference": reference, "lines": [], "count": 0, "more": 0, "_per_kind": defaultdict(int)},
        )
        group["count"] += 1
        group["_per_kind"][row.kind] += 1
        if group["_per_kind"][row.kind] > MAX_LINES_PER_KIND:
            group["more"] += 1
            continue
        group["lines"].append(
            {
                "label": labels.get(row.kind) or STAFF_LABELS.get(row.kind) or PATIENT_LABELS.get(row.kind),
                "url": absolute(item_path(row)),
                "when": timezone.localtime(row.created_at),
                "urgent": row.urgent,
            }
        )
    ordered = sorted(groups.values(), key=lambda g: (g["reference"] is None, g["reference"] or ""))
    for group in ordered:
        group.pop("_per_kind")
        if group["more"] and group["reference"]:
            patient_id = next(
                r.patient_id for r in rows if references.get(r.patient_id) == group["reference"]
            )
            try:
                group["more_url"] = absolute(
                    reverse("patients:staff_patient_detail", kwargs={"pk": patient_id})
                )
            except NoReverseMatch:
                group["more_url"] = absolute(reverse("home"))
    count = sum(g["count"] for g in ordered)
    tip_number = _tip_for(user, now)
    return {
        "is_patient_mail": is_patient_mail,
        "groups": ordered,
        "summaries": summaries,
        "count": count,
        "urgent_count": urgent_count,
        "tip": tips.tip_text(tip_number) if tip_number is not None else "",
        "tip_number": tip_number,
        "site_url": settings.SITE_URL,
        "preferences_url": absolute(preferences_path()),
        "unsubscribe_url": absolute(unsubscribe_path(user)),
    }


def _subject(context) -> str:
    if context["is_patient_mail"]:
        return str(_("Something new is waiting for you"))
    count = context["count"]
    if not count and context["summaries"]:
        return str(_("Your weekly overview"))
    subject = ngettext("%(count)s item is waiting for you", "%(count)s items are waiting for you", count) % {
        "count": count
    }
    if context["urgent_count"]:
        subject = str(_("Urgent: %(subject)s")) % {"subject": subject}
    return subject


def build_email(digest: Digest, rows, now) -> tuple[EmailMultiAlternatives, int | None]:
    """The digest e-mail, in the recipient's language: plain text and HTML, the neutral sender,
    the fixed Message-ID, one-click List-Unsubscribe (RFC 8058)."""
    user = digest.recipient
    with translation.override(user.language or settings.LANGUAGE_CODE):
        context = digest_context(user, rows, now)
        context["subject"] = _subject(context)
        subject = " ".join(render_to_string("messaging/emails/digest_subject.txt", context).split())
        text = render_to_string("messaging/emails/digest.txt", context)
        html = render_to_string("messaging/emails/digest.html", context)
    headers = {
        "Message-ID": digest.message_id,
        "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "All",
    }
    email = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[user.email], headers=headers
    )
    email.attach_alternative(html, "text/html")
    return email, context["tip_number"]


def purge_handled(*, now: datetime | None = None) -> int:
    """Delete handled notifications and sent digests older than the retention period.

    The scanners never create a time-based item whose moment is older than 14 days, far
    inside the retention, so a purged dedupe key cannot come back.
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.ICBT_NOTIFICATION_RETENTION_DAYS)
    deleted, _per_model = Notification.objects.filter(
        state__in=[State.SENT, State.DROPPED], handled_at__lt=cutoff
    ).delete()
    Digest.objects.filter(sent_at__lt=cutoff).delete()
    return deleted
