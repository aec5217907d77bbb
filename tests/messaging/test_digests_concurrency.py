"""Two digest rounds (and two scanners) at once on PostgreSQL: every e-mail is sent once, every
notification is created once. Real row locks need real PostgreSQL, so these tests fail (never
skip) on any other database."""

import threading
from collections import Counter

import pytest
from django.core import mail
from django.db import connection

import icbt.notifications
from icbt.models import Digest, Notification
from icbt.notifications import Kind, notify
from messaging.notifications.digests import digest_round
from messaging.notifications.scans import notifications_scan
from patients.models import IntakeRequest
from tests.factories import make_staff
from tests.messaging.digest_helpers import Treated, local
from tests.work import settle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_delivery_on_commit(monkeypatch):
    """Rows are committed here; the rounds under test are started by hand, not by notify()."""
    monkeypatch.setattr(icbt.notifications, "_queue_delivery", lambda recipient_id: None)


def _require_postgres():
    if connection.vendor != "postgresql":
        pytest.fail(
            "This test needs PostgreSQL: run it with DATABASE_URL=postgres://... (it is deselected "
            "without DATABASE_URL)."
        )


def _at_once(function, count=2):
    """Run ``function`` in ``count`` threads released together; return their results."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(index):
        try:
            barrier.wait(timeout=30)
            results[index] = function()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def test_two_rounds_at_once_send_each_email_once(world, settings):
    _require_postgres()
    settings.ICBT_DIGEST_SEND_PAUSE_MS = 20  # let the two rounds interleave
    t = Treated(world)
    when = local(2026, 3, 2, 9)
    request = IntakeRequest.objects.create(
        clinic=world.clinic, program=t.version.program, name="N", email="n@example.org"
    )
    settle()
    staff = [
        make_staff(world.clinic, f"colleague{i}@alpha.test", therapist=True, totp=False) for i in range(14)
    ]
    recipients = [world.therapist.user, *[s.user for s in staff]]
    for user in recipients:
        notify(
            recipient=user,
            kind=Kind.INTAKE_REQUEST,
            clinic_id=world.clinic.pk,
            object_type="intake_request",
            object_id=request.pk,
            now=when,
        )
        notify(
            recipient=user,
            kind=Kind.INTAKE_REQUEST,
            clinic_id=world.clinic.pk,
            object_type="intake_request",
            object_id=request.pk,
            urgent=True,
            now=when,
        )  # a daily and an urgent window race as well

    reports = _at_once(lambda: digest_round(now=local(2026, 3, 3, 8)))

    sent_to = Counter(message.to[0] for message in mail.outbox)
    assert sent_to == Counter({user.email: 1 for user in recipients})
    assert sum(r.sent for r in reports) == len(recipients)
    assert sum(r.failed for r in reports) == 0
    assert Digest.objects.filter(sent_at__isnull=False).count() == len(recipients)
    assert set(Notification.objects.values_list("state", flat=True)) == {"sent"}
    message_ids = [m.extra_headers["Message-ID"] for m in mail.outbox]
    assert len(set(message_ids)) == len(recipients)


def test_two_scanners_at_once_create_each_notification_once(world):
    _require_postgres()
    from patients.models import Enrollment

    t = Treated(world)
    Enrollment.objects.update(last_activity_at=local(2026, 2, 23, 9))
    now = local(2026, 3, 2, 18)

    reports = _at_once(lambda: notifications_scan(now=now))

    created = sum(r.total for r in reports)
    assert created == Notification.objects.count() > 0
    keys = list(Notification.objects.values_list("recipient_id", "dedupe_key"))
    assert len(keys) == len(set(keys))
    assert t.enrollment_a.pk
