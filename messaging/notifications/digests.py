"""Digest e-mails: pending notifications become at most one e-mail per person per window.

A *round* (``digest_round``, run every minute by beat and by ``manage.py send_digests``) takes
the recipients with pending rows, longest waiting first, in batches of ``BATCH_SIZE``; every
step reads and writes a whole batch at once, so a round costs a fixed number of queries per
batch, not per recipient or per row:

1. **Claim.** Rows nobody may receive (inactive user, e-mail off, kind off) are dropped. For
   each recipient the first of their windows that is due and has no digest yet (``windows_for``:
   a daily digest at the chosen hour, a weekly one, "soon", and "urgent" for urgent items) gets
   a :class:`~icbt.models.Digest`; one transaction inserts the batch's digests and moves the
   rows onto them with one conditional UPDATE (``digest IS NULL``) that must change exactly
   the rows read. The unique constraint on (recipient, window) is the mutex: a run that tries
   a window another run holds waits for that transaction (PostgreSQL) and then fails on the
   constraint; the batch then claims recipient by recipient, with ``select_for_update
   (skip_locked=True)`` on PostgreSQL, and sends nothing twice. SQLite serialises writers
   (``BEGIN IMMEDIATE``), so the same code is safe under ``make run``. The claim carries a
   lease (``ICBT_DIGEST_LEASE_SECONDS``, longer than Celery's hard time limit).
2. **Re-check** every claimed row at send time (``messaging.notifications.recheck``: one
   checker per kind over the batch's facts): already read, already reviewed, feedback given,
   patient active again, patient no longer in treatment, recipient no longer treats the
   patient, kind switched off. Those rows are dropped, not sent.
3. **Send** one e-mail per digest with a fixed Message-ID derived from recipient and window
   (stored on the digest when it was claimed), then, in one transaction for the batch, mark
   the digests sent and their rows sent, for the digests this run still holds (the lease is
   renewed before an e-mail leaves once half of it has passed).

Failures are caught per recipient: the error is logged by type only (no address, no text) and
the digest is released for a retry with back-off; other recipients go on.

**The one duplicate.** If a run dies after e-mails of a batch left and before step 3's
transaction committed, those digests stay claimed; once their lease has expired the next round
takes each over (a conditional UPDATE that must change one row) and sends it again, with the
same Message-ID, so mail clients can recognise the copy. In every other case a recipient gets
a window's e-mail at most once. A run that dies before sending leaves nothing lost: the next
round after the lease sends what was left.

**Privacy.** This module never reads a column with text a person wrote: rows are re-checked
with ``values()`` on ids, dates and statuses only. An e-mail says how many items wait, per
patient by case reference (never a name), with a link to each item; no clinical text, no
therapist or clinic name, no diagnosis or program name.
"""

import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Min, Q, Value, When
from django.db.models.functions import Cast
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from icbt.models import Digest, Notification, NotificationPreference, User
from icbt.roles import roles_of
from messaging import pending
from messaging.models import Message
from messaging.notifications import tips
from messaging.notifications.id_lists import id_in
from messaging.notifications.preferences import preference_of_loaded, preferences_path, unsubscribe_path
from messaging.notifications.recheck import Facts, recheck
from patients.models import Enrollment

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

# Recipients claimed, re-checked and sent together: every step reads and writes a batch at once.
BATCH_SIZE = 100


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


@dataclass(slots=True, eq=False)
class PendingRow:
    """A pending notification as the round reads it: ids, kind, link, urgency and time, nothing
    a person wrote. A round reads every pending row once (100,000 at a time), so a plain object
    built from ``values_list`` rather than a model instance; ``case_reference`` is added for
    the e-mail once the batch's patients are known."""

    pk: int
    recipient_id: int
    digest_id: int | None
    kind: str
    clinic_id: int | None
    patient_id: int | None
    object_type: str
    object_id: str
    url: str
    urgent: bool
    created_at: datetime
    case_reference: str | None = None


_PENDING_FIELDS = [f.name for f in fields(PendingRow) if f.name != "case_reference"]


def _pending_rows(queryset) -> list[PendingRow]:
    """The rows of ``queryset`` in its order (oldest first unless it says otherwise)."""
    return [PendingRow(*values) for values in queryset.values_list(*_PENDING_FIELDS)]


@dataclass
class _Plan:
    """What a batch will claim for one recipient: a window and the rows it takes."""

    user: User
    window: Window
    rows: list[PendingRow]
    last_tip: tuple[datetime, int] | None


@dataclass
class _Claim:
    """A digest this run holds (``token``) and the pending rows on it."""

    digest: Digest
    token: uuid.UUID
    rows: list[PendingRow]
    last_tip: tuple[datetime, int] | None = None
    verdicts: dict[int, str] = field(default_factory=dict)

    @property
    def keep(self) -> list[Notification]:
        return [row for row in self.rows if row.pk not in self.verdicts]


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

    stale = _stale_digests(clock, recipient_ids)
    for start in range(0, len(stale), BATCH_SIZE):
        if out_of_time():
            return report
        claims = _taken_over(stale[start : start + BATCH_SIZE], clock)
        report.resumed += len(claims)
        _deliver_batch(claims, clock, report, progress)
    order = _recipients_in_order(clock, recipient_ids)
    for start in range(0, len(order), BATCH_SIZE):
        if out_of_time():
            break
        batch = order[start : start + BATCH_SIZE]
        report.recipients += len(batch)
        _deliver_batch(_claim_batch(batch, clock, report), clock, report, progress)
    return report


def _stale_digests(clock: _Clock, recipient_ids) -> list[int]:
    stale = Digest.objects.filter(sent_at__isnull=True, lease_until__lt=clock.now())
    if recipient_ids is not None:
        stale = stale.filter(recipient_id__in=recipient_ids)
    return list(stale.order_by("lease_until").values_list("pk", flat=True))


def _recipients_in_order(clock: _Clock, recipient_ids) -> list[int]:
    """Everyone with unclaimed pending rows, the longest waiting first."""
    pending = _unclaimed(clock.now())
    if recipient_ids is not None:
        pending = pending.filter(recipient_id__in=recipient_ids)
    return list(
        pending.values("recipient_id")
        .annotate(oldest=Min("created_at"))
        .order_by("oldest", "recipient_id")
        .values_list("recipient_id", flat=True)
    )


def _lease(clock: _Clock) -> datetime:
    return clock.now() + timedelta(seconds=settings.ICBT_DIGEST_LEASE_SECONDS)


def _unclaimed(now):
    return Notification.objects.filter(state=State.PENDING, digest__isnull=True, created_at__lte=now)


def _users(user_ids) -> dict[int, User]:
    """The recipients with what their roles and preference need, in one query."""
    return User.objects.select_related("staff", "patient", "notification_preference").in_bulk(user_ids)


def _locked_ids(queryset) -> list[int]:
    """Ids of ``queryset``, locked against other runs on PostgreSQL (rows another run holds are
    skipped, not waited for). SQLite has no row locks: its writers are serialised instead."""
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True)
    return list(queryset.order_by().values_list("pk", flat=True))


# --- Claim --------------------------------------------------------------------------------------


def _due_window(preference, rows, taken: set[str], now) -> tuple[Window | None, list[Notification]]:
    """The first window of this person that is due and not taken yet, and the rows it takes."""
    for window in windows_for(preference, now):
        candidates = [row for row in rows if row.urgent] if window.urgent_only else rows
        if window.key in taken or not any(row.created_at <= window.due_before for row in candidates):
            continue
        return window, candidates
    return None, []


def _claim_batch(user_ids: list[int], clock: _Clock, report: RoundReport) -> list[_Claim]:
    """Drop what nobody may receive, then claim one due window per recipient of the batch: the
    digests are inserted together and the rows moved onto them with one conditional UPDATE, in
    one transaction. If another run got there first (a window taken, a row moved), the batch
    falls back to claiming recipient by recipient."""
    now = clock.now()
    users = _users(user_ids)
    rows_of = defaultdict(list)
    for row in _pending_rows(_unclaimed(now).filter(recipient_id__in=user_ids).order_by("created_at", "pk")):
        rows_of[row.recipient_id].append(row)
    planned, drops = _plan_claims(users, rows_of, now)
    report.dropped += _drop_planned(drops, now)
    if not planned:
        return []
    token = uuid.uuid4()
    try:
        with transaction.atomic():
            return _claim_planned(planned, token, clock)
    except (IntegrityError, _NothingToClaim):
        claims = []
        for plan in planned.values():
            claims += _claim_for_recipient(plan, clock)
        return claims


def _plan_claims(users, rows_of, now) -> tuple[dict[int, _Plan], dict[str, list[int]]]:
    """``{user id: plan}`` to claim, and ``{reason: row ids}`` to drop first."""
    keys = {uid: [w.key for w in windows_for(preference_of_loaded(u), now)] for uid, u in users.items()}
    taken, last_tips = _digests_known(list(users), keys)
    planned, drops = {}, defaultdict(list)
    for user_id, user in users.items():
        preference = preference_of_loaded(user)
        rows = rows_of[user_id]
        reason = _drop_reason(user, preference)
        if reason:
            drops[reason] += [row.pk for row in rows]
            continue
        drops["kind_off"] += [row.pk for row in rows if not preference.wants(row.kind)]
        rows = [row for row in rows if preference.wants(row.kind)]
        window, candidates = _due_window(preference, rows, taken[user_id], now)
        if window is not None:
            planned[user_id] = _Plan(user, window, candidates, last_tips.get(user_id))
    return planned, drops


def _digests_known(user_ids: list[int], keys: dict[int, list[str]]):
    """In one query: the windows of ``keys`` (``{user id: window keys}``) that already have a
    digest, and each person's latest digest with a tip, ``(sent at, tip number)``."""
    taken, last_tips = defaultdict(set), {}
    wanted = {key for some in keys.values() for key in some}
    for user_id, key, sent_at, number in (
        Digest.objects.filter(recipient_id__in=user_ids)
        .filter(Q(window_key__in=wanted) | Q(tip_number__isnull=False, sent_at__isnull=False))
        .order_by("sent_at", "pk")
        .values_list("recipient_id", "window_key", "sent_at", "tip_number")
    ):
        if key in keys.get(user_id, ()):
            taken[user_id].add(key)
        if number is not None and sent_at is not None:
            last_tips[user_id] = (sent_at, number)
    return taken, last_tips


def _drop_reason(user, preference) -> str:
    if not user.is_active:
        return "inactive_user"
    if not preference.email_enabled:
        return "email_off"
    return ""


def _drop_planned(drops: dict[str, list[int]], now) -> int:
    dropped = 0
    for reason, ids in drops.items():
        if ids:
            dropped += _drop(Notification.objects.filter(id_in("pk", ids)), reason, now)
    return dropped


def _drop(queryset, reason: str, now) -> int:
    with transaction.atomic():
        ids = _locked_ids(queryset)
        return Notification.objects.filter(id_in("pk", ids), state=State.PENDING, digest__isnull=True).update(
            state=State.DROPPED, dropped_reason=reason, handled_at=now
        )


def _new_digest(user, window: Window, token, clock) -> Digest:
    return Digest(
        recipient=user,
        window_key=window.key,
        message_id=message_id_for(user.pk, window.key),
        created_at=clock.now(),
        lease_token=token,
        lease_until=_lease(clock),
        attempts=1,
    )


def _claim_planned(planned: dict[int, _Plan], token, clock) -> list[_Claim]:
    plans = list(planned.values())
    digests = Digest.objects.bulk_create([_new_digest(p.user, p.window, token, clock) for p in plans])
    claims = [
        _Claim(digest, token, plan.rows, plan.last_tip) for digest, plan in zip(digests, plans, strict=True)
    ]
    ids = [row.pk for claim in claims for row in claim.rows]
    moved = Notification.objects.filter(id_in("pk", ids), state=State.PENDING, digest__isnull=True).update(
        digest=Case(*(When(recipient_id=claim.digest.recipient_id, then=claim.digest.pk) for claim in claims))
    )
    if moved != len(ids):
        raise _NothingToClaim
    return claims


def _claim_for_recipient(plan: _Plan, clock) -> list[_Claim]:
    """One recipient, one window at a time: the path when the batch met another run."""
    now, user = clock.now(), plan.user
    preference = preference_of_loaded(user)
    base = _unclaimed(now).filter(recipient=user)
    claims = []
    for window in windows_for(preference, now):
        candidates = base.filter(urgent=True) if window.urgent_only else base
        if preference.kinds_off:
            candidates = candidates.exclude(kind__in=preference.kinds_off)
        if Digest.objects.filter(recipient=user, window_key=window.key).exists():
            continue
        claim = _claim_window(user, window, candidates, clock)
        if claim is not None:
            claim.last_tip = plan.last_tip
            claims.append(claim)
    return claims


def _claim_window(user, window: Window, candidates, clock) -> _Claim | None:
    """Insert the digest for (user, window) and move the due rows onto it, in one transaction.
    None when another run holds this window or took the rows first."""
    token = uuid.uuid4()
    try:
        with transaction.atomic():
            digest = _new_digest(user, window, token, clock)
            digest.save(force_insert=True)
            if not candidates.filter(created_at__lte=window.due_before).exists():
                raise _NothingToClaim
            ids = _locked_ids(candidates)
            if not ids:
                raise _NothingToClaim
            moved = Notification.objects.filter(
                id_in("pk", ids), state=State.PENDING, digest__isnull=True
            ).update(digest=digest)
            if moved != len(ids):
                raise _NothingToClaim
    except (IntegrityError, _NothingToClaim):
        return None
    return _Claim(digest, token, _pending_rows(Notification.objects.filter(id_in("pk", ids))))


def _taken_over(digest_ids: list[int], clock: _Clock) -> list[_Claim]:
    """Claim digests whose lease expired (their run died or failed). Exactly one run wins each:
    the UPDATE is conditional on the lease still being expired and must change one row."""
    tokens = {}
    for digest_id in digest_ids:
        token = uuid.uuid4()
        changed = Digest.objects.filter(
            pk=digest_id, sent_at__isnull=True, lease_until__lt=clock.now()
        ).update(lease_token=token, lease_until=_lease(clock), attempts=F("attempts") + 1)
        if changed == 1:
            tokens[digest_id] = token
    if not tokens:
        return []
    digests = list(
        Digest.objects.filter(pk__in=list(tokens)).select_related(
            "recipient__staff", "recipient__patient", "recipient__notification_preference"
        )
    )
    rows_of = defaultdict(list)
    for row in _pending_rows(Notification.objects.filter(digest_id__in=list(tokens), state=State.PENDING)):
        rows_of[row.digest_id].append(row)
    _taken, last_tips = _digests_known([digest.recipient_id for digest in digests], {})
    return [
        _Claim(digest, tokens[digest.pk], rows_of[digest.pk], last_tips.get(digest.recipient_id))
        for digest in digests
    ]


# --- Deliver ------------------------------------------------------------------------------------


def _deliver_batch(claims: list[_Claim], clock: _Clock, report: RoundReport, progress) -> None:
    """Re-check every claimed row, send one e-mail per digest with something left, then mark
    the batch sent in one transaction. An error stays with its recipient."""
    if not claims:
        return
    facts = Facts.load([row for claim in claims for row in claim.rows])
    parts = EmailParts()
    sent, emptied = [], []
    for claim in claims:
        user = claim.digest.recipient
        claim.verdicts = recheck(
            claim.rows, roles=roles_of(user), preference=preference_of_loaded(user), facts=facts
        )
        if not claim.keep:
            emptied.append(claim)
            continue
        for row in claim.keep:
            patient = facts.patients.get(row.patient_id)
            row.case_reference = patient.case_reference if patient else None
        claim.digest.tip_number = _tip_for(user, claim.last_tip, clock.now())
        if _send_safely(claim, parts, clock, report, progress):
            sent.append(claim)
    _free_emptied(emptied, clock, report, progress)
    _finish(sent, clock)
    for claim in sent:
        _count_sent(claim, report, progress)


def _send_safely(claim: _Claim, parts: "EmailParts", clock: _Clock, report: RoundReport, progress) -> bool:
    """Send one digest; an error is logged by type only (an SMTP error may quote an address),
    and the digest is released for a retry with back-off, keeping its window and Message-ID."""
    try:
        if not _still_held(claim, clock):
            return False
        if settings.ICBT_DIGEST_SEND_PAUSE_MS:
            time.sleep(settings.ICBT_DIGEST_SEND_PAUSE_MS / 1000)
        email, _tip = build_email(claim.digest, claim.keep, clock.now(), parts)
        email.send()
    except Exception as exc:  # noqa: BLE001 - caught per recipient, retried later
        _release(claim, clock, report, exc, progress)
        return False
    # The e-mail has left. Until the batch's transaction commits, a crash means the next run
    # after the lease sends it again with the same Message-ID (the documented duplicate).
    return True


def _still_held(claim: _Claim, clock: _Clock) -> bool:
    """Renew the lease when half of it has passed (a slow relay); False if another run took the
    digest over. A fresh claim costs no query here."""
    half = timedelta(seconds=settings.ICBT_DIGEST_LEASE_SECONDS / 2)
    if clock.now() < claim.digest.lease_until - half:
        return True
    claim.digest.lease_until = _lease(clock)
    return (
        Digest.objects.filter(pk=claim.digest.pk, lease_token=claim.token, sent_at__isnull=True).update(
            lease_until=claim.digest.lease_until
        )
        == 1
    )


def _release(claim: _Claim, clock: _Clock, report: RoundReport, exc: Exception, progress) -> None:
    report.failed += 1
    digest_id = claim.digest.pk
    attempts = Digest.objects.filter(pk=digest_id).values_list("attempts", flat=True).first() or 1
    backoff = timedelta(minutes=min(60, 2 ** min(attempts, 6)))
    Digest.objects.filter(pk=digest_id, lease_token=claim.token, sent_at__isnull=True).update(
        lease_token=None, lease_until=clock.now() + backoff
    )
    logger.error("digest %s could not be sent (%s); retry after %s", digest_id, type(exc).__name__, backoff)
    if progress:
        progress(f"digest {digest_id}: failed ({type(exc).__name__}), will retry")


def _held(claims: list[_Claim]) -> Q:
    by_token = defaultdict(list)
    for claim in claims:
        by_token[claim.token].append(claim.digest.pk)
    held = Q(pk__in=[])
    for token, ids in by_token.items():
        held |= Q(pk__in=ids, lease_token=token)
    return held & Q(sent_at__isnull=True)


def _free_emptied(claims: list[_Claim], clock: _Clock, report: RoundReport, progress) -> None:
    """Nothing left after the re-check: drop the rows and delete the digests, so their windows
    are free again."""
    if not claims:
        return
    with transaction.atomic():
        held = set(Digest.objects.select_for_update().filter(_held(claims)).values_list("pk", flat=True))
        claims = [claim for claim in claims if claim.digest.pk in held]
        _mark_dropped({pk: r for claim in claims for pk, r in claim.verdicts.items()}, clock.now())
        Digest.objects.filter(pk__in=held).delete()
    for claim in claims:
        report.dropped += len(claim.verdicts)
        if progress:
            progress(
                f"user {claim.digest.recipient_id}: nothing left to send after the re-check "
                f"({len(claim.verdicts)} dropped)"
            )


def _finish(claims: list[_Claim], clock: _Clock) -> None:
    """Mark the digests sent and their rows sent (or dropped), for the digests this run still
    holds; one whose lease another run took over is left to that run (it sends, or sent, the
    same e-mail with the same Message-ID)."""
    if not claims:
        return
    now = clock.now()
    held = _held(claims)
    with transaction.atomic():
        # The rows the re-check dropped leave their digest first; every row still pending on a
        # digest this run holds is one it sent (a digest's rows are exactly its claim's rows).
        _mark_dropped({pk: r for claim in claims for pk, r in claim.verdicts.items()}, now)
        Notification.objects.filter(
            digest__in=Digest.objects.filter(held).values("pk"), state=State.PENDING
        ).update(state=State.SENT, handled_at=now)
        finished = Digest.objects.filter(held).update(
            sent_at=now,
            lease_token=None,
            lease_until=None,
            item_count=_per_digest(claims, "item_count", lambda claim: len(claim.keep)),
            tip_number=_per_digest(claims, "tip_number", lambda claim: claim.digest.tip_number),
        )
    if finished != len(claims):
        _forget_lost(claims, now)


def _forget_lost(claims: list[_Claim], now) -> None:
    """Leave out of the report the digests another run took over while their e-mails left."""
    ours = set(
        Digest.objects.filter(
            pk__in=[claim.digest.pk for claim in claims], sent_at=now, lease_token__isnull=True
        ).values_list("pk", flat=True)
    )
    for claim in claims:
        if claim.digest.pk not in ours:
            logger.warning(
                "digest %s: taken over by another run after sending (same Message-ID)", claim.digest.pk
            )
    claims[:] = [claim for claim in claims if claim.digest.pk in ours]


def _per_digest(claims: list[_Claim], field_name: str, value) -> Cast:
    """One value per digest in one UPDATE."""
    column = Digest._meta.get_field(field_name)
    case = Case(*(When(pk=claim.digest.pk, then=Value(value(claim))) for claim in claims), default=None)
    return Cast(case, output_field=column)


def _count_sent(claim: _Claim, report: RoundReport, progress) -> None:
    digest, kept = claim.digest, len(claim.keep)
    report.sent += 1
    report.items += kept
    report.dropped += len(claim.verdicts)
    report.emails.append(digest.window_key)
    logger.info("digest %s sent to user %s: %s items", digest.pk, digest.recipient_id, kept)
    if progress:
        progress(f"user {digest.recipient_id}: sent {digest.window_key} with {kept} item(s)")


def _mark_dropped(verdicts: dict[int, str], now) -> None:
    by_reason = defaultdict(list)
    for pk, reason in verdicts.items():
        by_reason[reason].append(pk)
    for reason, ids in by_reason.items():
        Notification.objects.filter(id_in("pk", ids), state=State.PENDING).update(
            state=State.DROPPED, dropped_reason=reason, handled_at=now, digest=None
        )


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


def item_path(row: Notification, paths: "Paths | None" = None) -> str:
    """The path of the item inside the application (the caller's ``url`` if it gave one).

    The link works signed out too: the view asks for the sign-in (and the second factor for
    staff) and then sends the person back to this path. ``paths`` shares the URLs already
    reversed for other rows of the batch.
    """
    if row.url:
        return row.url
    paths = paths or Paths()
    for name, kwargs, anchor in _LINKS.get(row.kind, []):
        path = paths.get(name, kwargs(row))
        if path is not None:
            return path + ("#" + anchor.format(id=row.object_id) if anchor else "")
    if row.patient_id and row.kind in STAFF_LABELS:
        path = paths.get("patients:staff_patient_detail", {"pk": row.patient_id})
        if path is not None:
            return path
    return reverse("home")


class Paths:
    """``reverse`` for the rows of one batch. A URL with one whole-number argument (a patient's
    page: every line of a therapist's e-mail has one) is reversed once per name, with a
    stand-in number whose digits are then replaced by the row's: a converter that writes a
    number as its digits (``<int:pk>``) gives exactly the path ``reverse`` gives, and one that
    does not (the stand-in missing from the path, or refused) is reversed as asked. Other
    arguments are reversed once per name and value. None where the name does not resolve.
    Kept for one batch only, so the next one sees a changed URLconf."""

    STAND_IN = 918273645546372819

    def __init__(self):
        self._found: dict[tuple, str | None] = {}
        self._shapes: dict[tuple[str, str], tuple[str, str] | None] = {}

    def get(self, name: str, kwargs: dict) -> str | None:
        if len(kwargs) == 1:
            ((argument, value),) = kwargs.items()
            if type(value) is int and value >= 0:
                shape = self._shape(name, argument)
                if shape is not None:
                    return f"{shape[0]}{value}{shape[1]}"
        return self._reversed(name, kwargs)

    def _shape(self, name: str, argument: str) -> tuple[str, str] | None:
        if (name, argument) not in self._shapes:
            path = self._reversed(name, {argument: self.STAND_IN})
            digits = str(self.STAND_IN)
            shape = None
            if path is not None and path.count(digits) == 1:
                before, _digits, after = path.partition(digits)
                shape = (before, after)
            self._shapes[(name, argument)] = shape
        return self._shapes[(name, argument)]

    def _reversed(self, name: str, kwargs: dict) -> str | None:
        key = (name, *kwargs.items())
        if key not in self._found:
            try:
                self._found[key] = reverse(name, kwargs=kwargs)
            except NoReverseMatch:
                self._found[key] = None
        return self._found[key]


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


def _tip_for(user, last: tuple[datetime, int] | None, now) -> int | None:
    """The next booster tip for a therapist, if they had none in the last seven days."""
    staff = roles_of(user).staff
    if staff is None or not staff.is_therapist:
        return None
    if last is None:
        return user.pk % len(tips.TIPS)
    sent_at, number = last
    return None if sent_at > now - TIP_EVERY else (number + 1) % len(tips.TIPS)


def _distinct(rows):
    """Urgent first, then oldest first; the same item twice (handed in again before the
    digest) gives one line."""
    seen = set()
    for row in sorted(rows, key=lambda r: (not r.urgent, r.created_at, r.pk)):
        item = (row.kind, row.object_type, row.object_id)
        if row.object_id and item in seen:
            continue
        seen.add(item)
        yield row


class EmailParts:
    """What the e-mails of one batch share, worked out once rather than once per line and per
    recipient: the URLs (:class:`Paths`) and, per language and time zone, the :class:`Wording`.

    Sharing changes no byte of an e-mail (``tests/messaging/test_digest_email_bytes.py``
    compares whole e-mails with ones recorded before): every value is the one the template
    tags and ``reverse`` gave for the same input. Kept for one batch only, so a changed
    catalogue, date format or URLconf is seen by the next."""

    def __init__(self):
        self.paths = Paths()
        self._wordings: dict[tuple[str, str], Wording] = {}

    def wording(self) -> "Wording":
        """The wording of the active language and time zone (``build_email`` activates the
        recipient's)."""
        key = (translation.get_language(), timezone.get_current_timezone_name())
        if key not in self._wordings:
            self._wordings[key] = Wording()
        return self._wordings[key]


class Wording:
    """The labels, dates and counts of the e-mails in one language and time zone, each made
    once: translated labels (lazy strings otherwise translate again at every line), a line's
    moment as ``|date:"DATETIME_FORMAT"`` shows it, and a group's "N items" as its
    ``blocktrans`` did: the translation trusted as the template's own text, the number
    localised."""

    def __init__(self):
        self._labels = {
            is_patient_mail: {
                kind: str(label) for kind, label in {**PATIENT_LABELS, **STAFF_LABELS, **preferred}.items()
            }
            for is_patient_mail, preferred in ((True, PATIENT_LABELS), (False, STAFF_LABELS))
        }
        self._dates: dict[datetime, str] = {}
        self._counts: dict[int, str] = {}

    def label(self, kind: str, *, is_patient_mail: bool) -> str | None:
        return self._labels[is_patient_mail].get(kind)

    def when(self, moment: datetime) -> str:
        if moment not in self._dates:
            self._dates[moment] = formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")
        return self._dates[moment]

    def items(self, count: int) -> str:
        if count not in self._counts:
            self._counts[count] = mark_safe(  # noqa: S308 - catalogue text and a number, as blocktrans
                ngettext("1 item", "%(count)s items", count) % {"count": formats.localize(count)}
            )
        return self._counts[count]


def _summary(row, paths: Paths) -> dict:
    since = row.created_at - timedelta(days=7)
    return {
        "figures": clinic_figures(row.clinic_id, since, row.created_at),
        "url": absolute(item_path(row, paths)),
    }


def _add_line(
    groups: dict, reference, row, parts: EmailParts, wording: Wording, is_patient_mail: bool
) -> None:
    group = groups.setdefault(
        reference,
        {"reference": reference, "lines": [], "count": 0, "more": 0, "_per_kind": defaultdict(int)},
    )
    group["count"] += 1
    group["_per_kind"][row.kind] += 1
    if group["_per_kind"][row.kind] > MAX_LINES_PER_KIND:
        group["more"] += 1
        return
    group["lines"].append(
        {
            "label": wording.label(row.kind, is_patient_mail=is_patient_mail),
            "url": absolute(item_path(row, parts.paths)),
            "when": wording.when(row.created_at),
            "urgent": row.urgent,
        }
    )


def _more_url(patient_id, paths: Paths) -> str:
    path = paths.get("patients:staff_patient_detail", {"pk": patient_id})
    return absolute(path if path is not None else reverse("home"))


def _ordered_groups(groups: dict, references: dict, parts: EmailParts, wording: Wording) -> list[dict]:
    """Per case reference (lines without one last), with a link to the patient when lines
    were left out."""
    ordered = sorted(groups.values(), key=lambda g: (g["reference"] is None, g["reference"] or ""))
    patient_of = {reference: patient_id for patient_id, reference in references.items()}
    for group in ordered:
        group.pop("_per_kind")
        group["items"] = wording.items(group["count"])
        if group["more"] and group["reference"]:
            group["more_url"] = _more_url(patient_of[group["reference"]], parts.paths)
    return ordered


def digest_context(digest: Digest, rows, parts: EmailParts | None = None) -> dict:
    """Everything the templates show: counts, case references, labels and links; nothing else.
    The rows carry their patient's ``case_reference`` and the digest its ``tip_number``, read
    for the whole batch before; ``parts`` holds what the batch's e-mails share."""
    parts = parts or EmailParts()
    wording = parts.wording()
    user = digest.recipient
    is_patient_mail = roles_of(user).staff is None
    references = {r.patient_id: r.case_reference for r in rows if r.patient_id}
    groups: dict[object, dict] = {}
    summaries = []
    urgent_count = 0
    for row in _distinct(rows):
        if row.kind == Kind.WEEKLY_SUMMARY:
            summaries.append(_summary(row, parts.paths))
            continue
        urgent_count += row.urgent
        hidden = is_patient_mail or row.kind == Kind.INTAKE_REQUEST
        reference = None if hidden else references.get(row.patient_id)
        _add_line(groups, reference, row, parts, wording, is_patient_mail)
    ordered = _ordered_groups(groups, references, parts, wording)
    tip_number = digest.tip_number
    return {
        "is_patient_mail": is_patient_mail,
        "groups": ordered,
        "summaries": summaries,
        "count": sum(g["count"] for g in ordered),
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


def build_email(
    digest: Digest, rows, now, parts: EmailParts | None = None
) -> tuple[EmailMultiAlternatives, int | None]:
    """The digest e-mail, in the recipient's language: plain text and HTML, the neutral sender,
    the fixed Message-ID, one-click List-Unsubscribe (RFC 8058). ``parts``: what the e-mails
    of one batch share (the same e-mail, built once per batch instead of once per line)."""
    user = digest.recipient
    with translation.override(user.language or settings.LANGUAGE_CODE):
        context = digest_context(digest, rows, parts)
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
