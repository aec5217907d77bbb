"""The diary page reads the open treatment under its row lock (``own_enrollment(locked=True)``):
a save that waits for that lock while the therapist ends the treatment reads it as ended once
the lock is free, and is refused with what was typed. Needs real PostgreSQL (the row is checked
again after the wait): it fails (never skips) on another database."""

import threading
import time

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from patients import services
from patients.models import DiaryEntry, Enrollment, StepProgress
from tests.patients.patient_helpers import enroll, step_of, tiny_version

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WRITE_URL = "/me/diaries/mood/write/"
ENTRY = {"mood": "6", "bedtime": "22:30", "walked": "yes", "minutes": "25", "kind": "free"}


def test_a_save_waiting_for_the_lock_while_the_treatment_ends_is_refused_and_keeps_the_text(world, clock):
    if connection.vendor != "postgresql":
        pytest.fail("This test needs PostgreSQL: run it with DATABASE_URL=postgres://...")
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    StepProgress.objects.create(enrollment=enrollment, step=step_of(version, "start-diary"))
    client = Client()
    client.force_login(world.patient_a.user)
    result = {}

    def save():
        try:
            data = dict(ENTRY, note="Typed while it ended", entry_date=timezone.localdate().isoformat())
            response = client.post(WRITE_URL, data)
            result["status"], result["html"] = response.status_code, response.content.decode()
        finally:
            connection.close()

    with transaction.atomic():
        # The therapist's request holds the treatment's lock; the patient's save waits for it.
        Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        saving = threading.Thread(target=save)
        saving.start()
        _wait_until_another_connection_waits_for_a_lock()
        assert saving.is_alive()
        services.enrollment_status_change(enrollment=enrollment, staff=world.therapist, action="complete")
    saving.join(timeout=60)
    assert result["status"] == 200
    assert "Your program has ended" in result["html"] and "Typed while it ended" in result["html"]
    assert not DiaryEntry.objects.filter(enrollment=enrollment).exists()


def _wait_until_another_connection_waits_for_a_lock(seconds: float = 30.0) -> None:
    """Until the save's connection waits for a row lock (not merely started, nor done)."""
    if not _wait_until_another_connection_waits_for_a_lock_or(None, seconds):
        pytest.fail("the save never waited for the treatment's lock")


def test_a_review_during_a_correction_never_leaves_the_corrected_entry_without_its_work_item(
    world, clock, monkeypatch
):
    """A correction of an entry that waits for review leaves its week's item as it is. A review
    (which takes the entry's row, not the treatment's lock) that lands between the correction's
    read and its write would close that item while the correction makes the entry wait again:
    the entry's row lock makes the review wait until the correction is committed."""
    from patients import work_items
    from patients.services import work

    if connection.vendor != "postgresql":
        pytest.fail("This test needs PostgreSQL: run it with DATABASE_URL=postgres://...")
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    diary_type = version.diary_types.get(slug="mood")
    today = timezone.localdate()
    entry = services.diary_entry_save(
        enrollment=enrollment, diary_type=diary_type, entry_date=today, answers={"mood": 5}, today=today
    )
    assert not work_items.reconcile()
    reviewing = threading.Thread(target=_review, args=(enrollment.pk, entry.pk, world.therapist.user.pk))
    write = work._diary_entry_write

    def written_after_a_review(*args, **kwargs):
        # The correction has read the entry (still waiting for review): the therapist reviews it.
        reviewing.start()
        _wait_until_another_connection_waits_for_a_lock_or(reviewing)
        return write(*args, **kwargs)

    monkeypatch.setattr(work, "_diary_entry_write", written_after_a_review)
    with transaction.atomic():
        services.diary_entry_save(
            enrollment=Enrollment.objects.get(pk=enrollment.pk),
            diary_type=diary_type,
            entry_date=today,
            answers={"mood": 2},
            today=today,
        )
    reviewing.join(timeout=60)
    assert not reviewing.is_alive()
    entry.refresh_from_db()
    assert entry.values == {"mood": 2}
    # The review came after the correction: the corrected entry is reviewed and its week closed.
    assert entry.reviewed_at is not None
    assert not work_items.reconcile()


def _review(enrollment_id, entry_id, user_id):
    from icbt.models import User
    from messaging import services as messaging_services

    try:
        messaging_services.item_mark_reviewed(
            enrollment=Enrollment.objects.get(pk=enrollment_id),
            item=f"diary:{entry_id}",
            reviewed_by=User.objects.get(pk=user_id),
        )
    finally:
        connection.close()


def _wait_until_another_connection_waits_for_a_lock_or(thread, seconds: float = 30.0) -> bool:
    """Until another connection waits for a row lock (True), or ``thread`` is done (it needed
    none) or the time is up (False)."""
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline and (thread is None or thread.is_alive()):
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # a transaction reads one snapshot
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False
