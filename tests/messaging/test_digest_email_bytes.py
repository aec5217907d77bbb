"""The digest e-mail, byte for byte: subject, plain text, HTML and headers of a therapist's, a
manager's and a patient's e-mail in English and Dutch are exactly the ones recorded in
``digest_emails/`` from the code before the round learned to share work between the e-mails of
a batch (labels, dates, counts and paths worked out once per language). Everything the e-mail
depends on is fixed here: ids, times, the secret key, the signing timestamp of the unsubscribe
link, the site URL.

Also: a batch works out each date, label and path once, however many e-mails and lines show it.

After an intended change to the e-mails, record them again with
``ICBT_RECORD_DIGEST_EMAILS=1 pytest tests/messaging/test_digest_email_bytes.py`` and read the diff.
"""

import json
import os
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import signing
from django.utils import formats

from icbt.models import Digest, Notification, StaffMember, User
from icbt.roles import Roles
from messaging.notifications import digests
from patients.models import Patient
from tests.messaging.digest_helpers import local

pytestmark = pytest.mark.django_db

RECORDED = Path(__file__).parent / "digest_emails"
Kind = Notification.Kind
CLINIC = 7001
NOW = local(2026, 11, 3, 8)


@pytest.fixture(autouse=True)
def fixed(settings, monkeypatch):
    settings.SECRET_KEY = "digest-bytes-" + "k" * 50
    settings.SITE_URL = "https://icbt.example.org"
    settings.DEFAULT_FROM_EMAIL = "iCBT <no-reply@icbt.example.org>"
    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: "1qZ3x0")


def person(pk, email, language, *, staff=None, patient=None) -> User:
    user = User(pk=pk, email=email, language=language, is_active=True)
    user._icbt_roles = Roles(staff=staff, patient=patient)
    return user


def row(
    pk, kind, created_at, *, patient=None, reference=None, object_type="", object_id="", urgent=False, url=""
):
    notification = Notification(
        pk=pk,
        kind=kind,
        clinic_id=CLINIC,
        patient_id=patient,
        object_type=object_type,
        object_id=str(object_id),
        urgent=urgent,
        url=url,
        created_at=created_at,
    )
    notification.case_reference = reference
    return notification


def therapist_rows() -> list[Notification]:
    """Two patients with every kind a therapist hears of, one with more diary entries than a
    group shows; an urgent message; an intake request (no case reference) and a referral;
    minutes, days and months that differ between the languages."""
    start = local(2026, 10, 30, 23, 59)
    rows = [
        row(
            1,
            Kind.DIARY_ENTRY,
            start,
            patient=501,
            reference="C-7KQ2MD",
            object_type="diary_entry",
            object_id=81,
        ),
        row(
            2,
            Kind.DIARY_ENTRY,
            start,
            patient=501,
            reference="C-7KQ2MD",
            object_type="diary_entry",
            object_id=81,
        ),
        row(
            3,
            Kind.MESSAGE_RECEIVED,
            start + timedelta(hours=3),
            patient=501,
            reference="C-7KQ2MD",
            object_type="message",
            object_id=12,
            urgent=True,
        ),
        row(
            4,
            Kind.ASSIGNMENT_SUBMITTED,
            start + timedelta(days=1),
            patient=501,
            reference="C-7KQ2MD",
            object_type="assignment_answer",
            object_id=3,
        ),
        row(
            5,
            Kind.QUESTIONNAIRE_COMPLETED,
            start + timedelta(days=1, minutes=7),
            patient=501,
            reference="C-7KQ2MD",
            object_type="questionnaire_response",
            object_id=4,
        ),
        row(
            6,
            Kind.FEEDBACK_OVERDUE,
            start + timedelta(days=2),
            patient=502,
            reference="A-<&>\"'",
            object_type="enrollment",
            object_id=9,
        ),
        row(7, Kind.PATIENT_INACTIVE, start + timedelta(days=2, hours=1), patient=502, reference="A-<&>\"'"),
        row(
            8,
            Kind.INTAKE_REQUEST,
            start + timedelta(days=2, hours=2),
            object_type="intake_request",
            object_id=5,
        ),
        row(
            9,
            Kind.REFERRAL,
            start + timedelta(days=2, hours=3),
            patient=503,
            reference="R-1",
            object_type="referral",
            object_id=6,
        ),
        row(
            10,
            Kind.FEEDBACK_DUE,
            start + timedelta(days=2, hours=4),
            patient=503,
            reference="R-1",
            url="/staff/somewhere/?a=1&b=2",
        ),
    ]
    rows += [
        row(
            100 + n,
            Kind.DIARY_ENTRY,
            start - timedelta(days=n, minutes=n),
            patient=502,
            reference="A-<&>\"'",
            object_type="diary_entry",
            object_id=200 + n,
        )
        for n in range(digests.MAX_LINES_PER_KIND + 3)
    ]
    return rows


def patient_rows() -> list[Notification]:
    start = local(2026, 11, 2, 6, 5)
    return [
        row(
            1, Kind.FEEDBACK_WAITING, start, patient=601, reference="P-1", object_type="message", object_id=70
        ),
        row(
            2, Kind.MESSAGE_WAITING, start, patient=601, reference="P-1", object_type="message", object_id=71
        ),
        row(
            3,
            Kind.MODULE_OPENED,
            start + timedelta(minutes=1),
            patient=601,
            object_type="module",
            object_id=2,
        ),
        row(4, Kind.DIARY_DUE, start + timedelta(minutes=2), patient=601),
        row(5, Kind.INACTIVITY_REMINDER, start + timedelta(hours=5), patient=601, urgent=True),
    ]


def manager_rows() -> list[Notification]:
    return [row(1, Kind.WEEKLY_SUMMARY, local(2026, 11, 2, 1), object_type="clinic", object_id=CLINIC)]


def cases():
    """(name, digest, rows) for every recorded e-mail."""
    for language in ("en", "nl"):
        therapist = StaffMember(pk=3001, clinic_id=CLINIC, is_therapist=True)
        manager = StaffMember(pk=3002, clinic_id=CLINIC, is_manager=True)
        patient = Patient(pk=601, clinic_id=CLINIC)
        for name, user, rows, tip in (
            (
                "therapist",
                person(4001, "therapist@example.org", language, staff=therapist),
                therapist_rows(),
                5,
            ),
            ("manager", person(4002, "manager@example.org", language, staff=manager), manager_rows(), None),
            ("patient", person(4003, "patient@example.org", language, patient=patient), patient_rows(), None),
        ):
            digest = Digest(
                pk=9000 + user.pk,
                recipient=user,
                window_key="daily:2026-11-03",
                message_id=f"<digest.{name}-{language}@icbt.example.org>",
                tip_number=tip,
            )
            yield f"{name}-{language}", digest, rows


def parts(email) -> dict:
    (html, mimetype), *others = email.alternatives
    return {
        "subject": email.subject,
        "from": email.from_email,
        "to": email.to,
        "headers": email.extra_headers,
        "alternatives": [mimetype, *(other[1] for other in others)],
        "text": email.body,
        "html": html,
    }


def record(name: str, email) -> None:
    RECORDED.mkdir(exist_ok=True)
    found = parts(email)
    (RECORDED / f"{name}.txt").write_text(found.pop("text"), encoding="utf-8")
    (RECORDED / f"{name}.html").write_text(found.pop("html"), encoding="utf-8")
    (RECORDED / f"{name}.json").write_text(
        json.dumps(found, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def assert_recorded(name: str, email) -> None:
    found = parts(email)
    assert found.pop("text").encode() == (RECORDED / f"{name}.txt").read_bytes()
    assert found.pop("html").encode() == (RECORDED / f"{name}.html").read_bytes()
    assert found == json.loads((RECORDED / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", [name for name, _digest, _rows in cases()])
def test_the_email_is_byte_for_byte_the_recorded_one(name):
    ((_name, digest, rows),) = [case for case in cases() if case[0] == name]
    email, tip = digests.build_email(digest, rows, NOW)
    assert tip == digest.tip_number
    if os.environ.get("ICBT_RECORD_DIGEST_EMAILS") == "1":
        record(name, email)
    assert_recorded(name, email)


def test_one_batch_in_two_languages_gives_each_email_its_own_words():
    """The e-mails of a batch share their parts, in whatever order the languages come: an
    English e-mail after a Dutch one (and the other way round) is still the recorded one."""
    shared = digests.EmailParts()
    everything = list(cases())
    for name, digest, rows in [*everything, *reversed(everything)]:
        email, _tip = digests.build_email(digest, rows, NOW, shared)
        assert_recorded(name, email)


def test_a_batch_works_out_each_date_and_path_once(monkeypatch):
    """Three therapists' e-mails of one batch, twenty patients each, at four moments: one
    ``reverse`` for the patients' pages and one date formatting per moment, instead of one per
    line (and per template)."""
    calls = Counter()
    real_reverse, real_date_format = digests.reverse, formats.date_format

    def counting_reverse(name, *args, **kwargs):
        calls[name] += 1
        return real_reverse(name, *args, **kwargs)

    def counting_date_format(value, *args, **kwargs):
        calls["date_format"] += 1
        return real_date_format(value, *args, **kwargs)

    monkeypatch.setattr(digests, "reverse", counting_reverse)
    monkeypatch.setattr(formats, "date_format", counting_date_format)
    parts = digests.EmailParts()
    start = local(2026, 11, 2, 9)
    for n in range(3):
        user = person(4100 + n, f"t{n}@example.org", "en", staff=StaffMember(pk=3100 + n, clinic_id=CLINIC))
        rows = [
            row(
                i,
                Kind.DIARY_ENTRY,
                start + timedelta(minutes=i % 4),
                patient=700 + i,
                reference=f"C-{i:02d}",
                object_type="diary_entry",
                object_id=900 + i,
            )
            for i in range(20)
        ]
        digest = Digest(pk=9100 + n, recipient=user, window_key="daily:2026-11-03", message_id=f"<{n}@x>")
        email, _tip = digests.build_email(digest, rows, NOW, parts)
        assert [line for line in email.body.splitlines() if "/staff/patients/" in line] == [
            f"  https://icbt.example.org/staff/patients/{700 + i}/messages/#item-diary{900 + i}"
            for i in range(20)
        ]
    assert calls["messaging:staff_conversation"] == 1
    assert calls["date_format"] == 4
