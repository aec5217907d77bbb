"""notify(): rows in the caller's transaction, idempotent dedupe keys, nothing after a rollback."""

import pytest
from django.db import transaction

from icbt.models import Notification
from icbt.notifications import Kind, notify
from tests.work import settle

pytestmark = pytest.mark.django_db


def test_notify_writes_a_pending_row(world):
    row = notify(
        recipient=world.therapist.user,
        kind=Kind.DIARY_ENTRY,
        patient=world.patient_a,
        object_type="diary_entry",
        object_id=12,
    )
    row.refresh_from_db()
    assert row.state == Notification.State.PENDING
    assert row.patient_id == world.patient_a.pk
    assert row.clinic_id == world.clinic.pk
    assert row.object_id == "12"


def test_dedupe_key_creates_once_and_keeps_the_transaction_usable(world):
    with transaction.atomic():
        first = notify(
            recipient=world.therapist.user,
            kind=Kind.FEEDBACK_DUE,
            patient=world.patient_a,
            dedupe_key="feedback_due:1:2026-03-02",
        )
        second = notify(
            recipient=world.therapist.user,
            kind=Kind.FEEDBACK_DUE,
            patient=world.patient_a,
            dedupe_key="feedback_due:1:2026-03-02",
        )
        # the transaction still works after the duplicate
        other = notify(
            recipient=world.therapist2.user,
            kind=Kind.FEEDBACK_DUE,
            patient=world.patient_a,
            dedupe_key="feedback_due:1:2026-03-02",
        )
    assert first is not None and second is None and other is not None
    assert Notification.objects.filter(dedupe_key="feedback_due:1:2026-03-02").count() == 2


def test_rollback_leaves_no_notification_and_queues_no_task(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                notify(
                    recipient=world.therapist.user,
                    kind=Kind.DIARY_ENTRY,
                    patient=world.patient_a,
                    object_type="diary_entry",
                    object_id=1,
                )
                raise RuntimeError("the event failed")
    assert not Notification.objects.exists()
    assert callbacks == []


def test_commit_queues_one_delivery_task(world, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    from messaging import tasks

    monkeypatch.setattr(tasks.notifications_deliver, "delay", lambda rid: queued.append(rid))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            notify(
                recipient=world.therapist.user,
                kind=Kind.DIARY_ENTRY,
                patient=world.patient_a,
                object_type="diary_entry",
                object_id=1,
            )
    assert len(callbacks) == 1
    assert queued == [world.therapist.user.pk]


def test_on_commit_the_worker_task_delivers_at_once_when_due(world, django_capture_on_commit_callbacks):
    """The real path: notify() -> on_commit -> messaging.tasks.notifications_deliver (eager in
    tests) -> a digest round for that one person. A "soon" person gets the e-mail at once."""
    from django.core import mail

    from icbt.models import NotificationPreference

    NotificationPreference.objects.create(user=world.therapist.user, email_enabled=True, frequency="soon")
    from patients.models import IntakeRequest
    from programs.models import Program
    from tests.programs.helpers import load_tiny

    load_tiny()
    request = IntakeRequest.objects.create(
        clinic=world.clinic, program=Program.objects.first(), name="N", email="n@example.org"
    )
    settle()
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            notify(
                recipient=world.therapist.user,
                kind=Kind.INTAKE_REQUEST,
                clinic_id=world.clinic.pk,
                object_type="intake_request",
                object_id=request.pk,
            )
    assert [m.to for m in mail.outbox] == [[world.therapist.user.email]]
    assert Notification.objects.get().state == Notification.State.SENT


def test_a_broker_that_is_down_does_not_break_the_event(
    world, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    from messaging import tasks

    def down(recipient_id):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.notifications_deliver, "delay", down)
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            notify(
                recipient=world.therapist.user,
                kind=Kind.DIARY_ENTRY,
                patient=world.patient_a,
                object_type="diary_entry",
                object_id=1,
            )
    assert Notification.objects.count() == 1
    assert "beat will pick it up" in caplog.text


def test_unknown_kind_and_absolute_url_are_refused(world):
    with pytest.raises(ValueError):
        notify(recipient=world.therapist.user, kind="nonsense")
    with pytest.raises(ValueError):
        notify(recipient=world.therapist.user, kind=Kind.DIARY_ENTRY, url="https://elsewhere.example/x")
