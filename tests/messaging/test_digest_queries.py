"""A digest round costs a bounded number of queries per recipient, however many recipients and
items there are: the round claims, re-checks and sends a batch of recipients at a time.

Counted as on PostgreSQL in production: every statement sent to the database, transaction
control (BEGIN, COMMIT) not included, so the test runs outside the test transaction."""

from datetime import date, timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from icbt.models import Digest, Notification
from patients.models import DiaryEntry
from tests.factories import make_patient, make_staff
from tests.messaging.digest_helpers import enroll, local
from tests.work import settle

pytestmark = pytest.mark.django_db(transaction=True)

QUERIES_PER_RECIPIENT = 5
ROUND_QUERIES = 13  # a round of one batch, whatever its size (it was 29 per recipient)
ITEMS_EACH = 25
NOW = local(2026, 3, 3, 8, 30)


TRANSACTION_CONTROL = {"BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"}


def therapists_with_work(world, version, count: int) -> list[str]:
    """``count`` therapists, each with a patient in treatment and ``ITEMS_EACH`` diary entries
    waiting (one already reviewed, so the re-check drops it). Returns their addresses."""
    rows, addresses = [], []
    for n in range(count):
        staff = make_staff(world.clinic, f"digest-{n}@example.org", therapist=True, totp=False)
        patient = make_patient(world.clinic, staff, f"digest-patient-{n}@example.org")
        enrollment = enroll(patient, version)
        entries = DiaryEntry.objects.bulk_create(
            DiaryEntry(
                clinic_id=enrollment.clinic_id,
                enrollment=enrollment,
                diary_type=version.diary_types.get(slug="mood"),
                entry_date=date(2026, 2, 23) + timedelta(days=day),
                reviewed_at=NOW if day == 0 else None,
            )
            for day in range(ITEMS_EACH)
        )
        rows += [
            Notification(
                recipient=staff.user,
                kind=Notification.Kind.DIARY_ENTRY,
                patient_id=patient.pk,
                clinic_id=patient.clinic_id,
                object_type="diary_entry",
                object_id=str(entry.pk),
                created_at=local(2026, 3, 2, 9),
            )
            for entry in entries
        ]
        addresses.append(staff.user.email)
    settle()
    Notification.objects.bulk_create(rows)
    return addresses


@pytest.mark.parametrize("recipients", [3, 12])
def test_a_round_costs_at_most_five_queries_per_recipient(world, recipients):
    from messaging.notifications.digests import digest_round
    from tests.programs.helpers import load_tiny

    addresses = therapists_with_work(world, load_tiny(), recipients)
    mail.outbox = []
    with CaptureQueriesContext(connection) as captured:
        report = digest_round(now=NOW, time_budget=None)
    statements = [q["sql"] for q in captured.captured_queries if q["sql"] not in TRANSACTION_CONTROL]
    assert sorted(address for message in mail.outbox for address in message.to) == sorted(addresses)
    assert report.sent == recipients and report.dropped == recipients
    assert report.items == recipients * (ITEMS_EACH - 1)
    assert Digest.objects.filter(sent_at__isnull=False).count() == recipients
    assert not Notification.objects.filter(state=Notification.State.PENDING).exists()
    assert len(statements) <= QUERIES_PER_RECIPIENT * recipients, statements
    assert len(statements) <= ROUND_QUERIES, statements  # one batch: the same at 3 and at 12
