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
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # a transaction reads one snapshot
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    pytest.fail("the save never waited for the treatment's lock")
