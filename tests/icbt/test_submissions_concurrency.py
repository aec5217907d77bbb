"""Twenty copies of one form POST at the same moment write one row, on PostgreSQL (the unique
key makes every copy wait for the first one's commit). Needs real PostgreSQL: it fails (never
skips) on another database."""

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from messaging.models import StaffNote
from patients.models import TreatmentSession
from tests.icbt.test_submissions import key_on
from tests.messaging.helpers import enroll

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

COPIES = 20


def _require_postgres():
    if connection.vendor != "postgresql":
        pytest.fail("This test needs PostgreSQL: run it with DATABASE_URL=postgres://...")


def _post_at_once(user, url, data) -> list[int]:
    """POST ``data`` from ``COPIES`` threads released together, each with its own client (and
    its own database connection); return the status codes."""
    clients = []
    for _i in range(COPIES):
        client = Client()
        client.force_login(user)
        clients.append(client)
    barrier = threading.Barrier(COPIES)
    statuses, errors = [None] * COPIES, []

    def run(index):
        try:
            barrier.wait(timeout=30)
            statuses[index] = clients[index].post(url, data).status_code
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(COPIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return statuses


def test_twenty_identical_note_posts_at_once_write_one_note(world):
    _require_postgres()
    enroll(world.patient_a)
    user = world.therapist.user
    url = reverse("messaging:notes", args=[world.patient_a.pk])
    page_client = Client()
    page_client.force_login(user)
    key = key_on(page_client.get(url))
    statuses = _post_at_once(user, url, {"body": "Sent from a shaky train.", "submission_key": key})
    assert statuses == [302] * COPIES
    assert StaffNote.objects.count() == 1


def test_twenty_identical_session_posts_at_once_write_one_session(world):
    _require_postgres()
    enroll(world.patient_a)
    user = world.therapist.user
    url = reverse("patients:staff_session_create", args=[world.patient_a.pk])
    page_client = Client()
    page_client.force_login(user)
    key = key_on(page_client.get(url))
    data = {
        "held_on": timezone.localdate().isoformat(),
        "kind": "phone",
        "minutes": "15",
        "submission_key": key,
    }
    statuses = _post_at_once(user, url, data)
    assert statuses == [302] * COPIES
    assert TreatmentSession.objects.count() == 1
