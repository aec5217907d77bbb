"""Writing pending notifications: the one entry point every service uses.

    from icbt.notifications import Kind, notify
    notify(recipient=therapist.user, kind=Kind.DIARY_ENTRY, patient=enrollment.patient,
           object_type="diary_entry", object_id=entry.pk)

Guarantees:

- The row is written in the caller's transaction: an event that is rolled back leaves no
  notification, and the delivery task is queued with ``transaction.on_commit``, so a rolled
  back event queues nothing either.
- With a ``dedupe_key`` the call is idempotent per recipient: a second call with the same key
  (a periodic scanner running twice, two scanners at once) creates nothing, and a duplicate
  never aborts the caller's transaction (the insert runs in a savepoint).
- Nothing clinical is stored: ids, a kind, a link. Callers must never put text a person wrote
  into ``object_type``, ``url`` or ``dedupe_key``.

Delivery (digests, re-checks, e-mail) is ``messaging``'s job; this module only finds its task
by name in the Celery registry, so the infrastructure layer does not import the app above it.
"""

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from icbt.models import Notification

Kind = Notification.Kind
DELIVERY_TASK = "messaging.tasks.notifications_deliver"

logger = logging.getLogger(__name__)


def notify(
    *,
    recipient,
    kind: str,
    patient=None,
    clinic_id: int | None = None,
    object_type: str = "",
    object_id=None,
    url: str = "",
    urgent: bool = False,
    dedupe_key: str = "",
    now: datetime | None = None,
) -> Notification | None:
    """Write one pending notification for ``recipient`` (a User) in the current transaction.

    ``patient`` is a ``patients.Patient`` or its id; ``clinic_id`` defaults to the patient's
    clinic. ``url`` is a path inside the application (``/staff/...``); when empty the digest
    builds the link from ``object_type`` / ``object_id`` / the patient at send time. ``now``
    lets tests and scanners place the event in time.

    Returns the new row, or None when ``dedupe_key`` was already taken for this recipient.
    """
    if kind not in Kind.values:
        raise ValueError(f"Unknown notification kind {kind!r}.")
    if url and not url.startswith("/"):
        raise ValueError("notify(url=...) takes a path inside the application, not an absolute URL.")
    patient_id = getattr(patient, "pk", patient)
    if clinic_id is None and patient is not None and hasattr(patient, "clinic_id"):
        clinic_id = patient.clinic_id
    row = Notification(
        recipient=recipient,
        kind=kind,
        patient_id=patient_id,
        clinic_id=clinic_id,
        object_type=object_type,
        object_id="" if object_id is None else str(object_id),
        url=url,
        urgent=urgent,
        dedupe_key=dedupe_key,
        created_at=now or timezone.now(),
    )
    if dedupe_key:
        # A savepoint: a duplicate key rolls back only this insert, never the caller's event.
        # On PostgreSQL a concurrent insert of the same key waits for the other transaction
        # and then fails here, so two scanners at once still create one row.
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError:
            if Notification.objects.filter(recipient=recipient, dedupe_key=dedupe_key).exists():
                return None
            raise
    else:
        row.save(force_insert=True)
    recipient_id = recipient.pk
    transaction.on_commit(lambda: _queue_delivery(recipient_id))
    return row


def _queue_delivery(recipient_id: int) -> None:
    """Ask a worker to look at this recipient now (urgent items, "soon" preferences).

    Best effort: the beat schedule visits every recipient every minute anyway, so a broker
    that is down must not turn a committed event into an error page.
    """
    from icbt.celery import task_named

    try:
        task_named(DELIVERY_TASK).delay(recipient_id)
    except Exception:  # noqa: BLE001 - delivery is retried by the beat schedule
        logger.warning(
            "notifications: could not queue delivery for user %s; beat will pick it up", recipient_id
        )
