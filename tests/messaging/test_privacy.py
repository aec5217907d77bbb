"""No message text outside the encrypted columns: not in logs, SQL, task arguments, error reports
or e-mails, and not in plaintext in any messaging table. Then: key rotation re-encrypts
messages end to end."""

import io
import logging

import pytest
from celery import Celery
from celery.app.task import Task
from django.apps import apps
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.views.debug import ExceptionReporter

from icbt import crypto
from messaging import services
from messaging.models import Conversation, Message, MessageDraft, StaffNote
from patients.models import CareShare
from tests.messaging.helpers import diary_entry, share

MARKER = "Qz7-MARKER-butterfly-5521"
JSON = {"HTTP_ACCEPT": "application/json"}
LOGGERS = [
    "",
    "django",
    "django.request",
    "django.db.backends",
    "django.security",
    "celery",
    "icbt",
    "messaging",
    "patients",
    "therapists",
    "programs",
]


@pytest.fixture
def capture_everything(caplog, monkeypatch):
    """Every log record at DEBUG (SQL with its parameters included) and every task queued."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    tasks = []
    monkeypatch.setattr(
        Task,
        "apply_async",
        lambda self, args=None, kwargs=None, **options: tasks.append((self.name, args, kwargs, options)),
    )
    monkeypatch.setattr(
        Celery,
        "send_task",
        lambda self, name, args=None, kwargs=None, **options: tasks.append((name, args, kwargs, options)),
    )
    previous = connection.force_debug_cursor
    connection.force_debug_cursor = True
    yield caplog, tasks
    connection.force_debug_cursor = previous


def _everything_written(world, enrollment, client_for):
    """Every way text gets in: patient message and draft, therapist feedback, plain message and
    draft, a note, covering colleague's message, and refused input (too long, closed)."""
    entry = diary_entry(enrollment)
    patient, therapist = client_for(world.patient_a.user), client_for(world.therapist.user)
    patient.post(reverse("messaging:patient_draft"), {"body": f"draft {MARKER}"}, **JSON)
    patient.post(reverse("messaging:patient_draft"), {"body": f"{MARKER} " * 2000}, **JSON)
    patient.post(reverse("messaging:patient_conversation"), {"body": f"reply {MARKER}"})
    patient.post(reverse("messaging:patient_conversation"), {"body": f"{MARKER} " * 2000})
    patient.post(reverse("messaging:patient_draft"), {"body": f"second draft {MARKER}"}, **JSON)

    staff = reverse("messaging:staff_conversation", args=[world.patient_a.pk])
    therapist.post(
        reverse("messaging:staff_draft", args=[world.patient_a.pk]),
        {"body": f"staff draft {MARKER}", "attach": [f"diary:{entry.pk}"]},
        **JSON,
    )
    therapist.post(staff, {"body": f"feedback {MARKER}", "attach": [f"diary:{entry.pk}"], "send": "feedback"})
    therapist.post(staff, {"body": f"message {MARKER}", "send": "message"})
    therapist.post(staff, {"body": f"{MARKER} " * 2000, "send": "feedback"})
    therapist.post(
        reverse("messaging:item_review", args=[world.patient_a.pk]),
        {"item": f"diary:{entry.pk}", "body": f"kept while reviewing {MARKER}"},
    )
    therapist.post(reverse("messaging:notes", args=[world.patient_a.pk]), {"body": f"note {MARKER}"})
    share(world)
    client_for(world.therapist2.user).post(staff, {"body": f"cover {MARKER}", "send": "message"})
    # Both sides read everything (decrypting it) once more.
    therapist.get(staff)
    patient.get(reverse("messaging:patient_conversation"))
    therapist.get(reverse("messaging:notes", args=[world.patient_a.pk]))


def test_marker_never_leaves_the_encrypted_columns(world, enrollment, client_for, capture_everything):
    caplog, tasks = capture_everything
    _everything_written(world, enrollment, client_for)

    # The text did get in (and reads back), so the checks below are not vacuous.
    assert Message.objects.filter(conversation__enrollment=enrollment).count() == 4
    assert all(MARKER in m.body for m in Message.objects.all())
    assert MARKER in StaffNote.objects.get().body
    assert {MARKER in d.body for d in MessageDraft.objects.all()} == {True}
    # SQL was logged, with its parameters: the checks below see what reached the database.
    assert any('INSERT INTO "messaging_message"' in r.getMessage() for r in caplog.records)

    for record in caplog.records:
        assert MARKER not in record.getMessage(), record.name
        assert MARKER not in repr(record.args), record.name
        assert MARKER not in repr(getattr(record, "params", "")), record.name
    assert MARKER not in repr(tasks)
    for message in mail.outbox:
        parts = [
            message.subject,
            message.body,
            message.from_email,
            message.alternatives,
            message.extra_headers,
        ]
        assert MARKER not in repr(parts)

    # Raw SQL on every table of the app (and the shares, timeline and audit trail): no plaintext.
    tables = [m._meta.db_table for m in apps.get_app_config("messaging").get_models()]
    tables += [CareShare._meta.db_table, "patients_timelineevent", "icbt_auditevent", "patients_diaryentry"]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from the app registry
            assert MARKER not in repr(cursor.fetchall()), table
    # Messages, drafts and notes are stored, but as ciphertext.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT body FROM messaging_message UNION ALL SELECT body FROM messaging_messagedraft "
            "UNION ALL SELECT body FROM messaging_staffnote"
        )
        bodies = [row[0] for row in cursor.fetchall()]
    assert len(bodies) == 4 + MessageDraft.objects.count() + 1
    assert all(body.startswith(f"{crypto.TOKEN_PREFIX}:") for body in bodies)


def test_error_reports_carry_no_message_text(world, enrollment, client_for, capture_everything, monkeypatch):
    """A crash while sending: the error e-mail Django would send to the admins (built from the
    logged request, as AdminEmailHandler does) holds neither the POST body nor local variables."""
    caplog, _tasks = capture_everything

    def explode(*args, **kwargs):
        raise RuntimeError("storage went away")

    monkeypatch.setattr(MessageDraft.objects, "filter", explode)  # inside message_send, after the text
    for user, url in [
        (world.patient_a.user, reverse("messaging:patient_conversation")),
        (world.therapist.user, reverse("messaging:staff_conversation", args=[world.patient_a.pk])),
    ]:
        client = Client(raise_request_exception=False)
        client.force_login(user)
        response = client.post(url, {"body": f"crash {MARKER}", "send": "message"})
        assert response.status_code == 500
    failures = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
    assert len(failures) == 2
    for record in failures:
        reporter = ExceptionReporter(record.request, *record.exc_info, is_email=True)
        text, html = reporter.get_traceback_text(), reporter.get_traceback_html()
        assert "storage went away" in text  # the report is real...
        assert MARKER not in text and MARKER not in html  # ...and clean
        assert MARKER not in record.getMessage()
    assert not Message.objects.exists()


def test_rotate_keys_reencrypts_messages_end_to_end(world, enrollment, client_for):
    entry = diary_entry(enrollment)
    conversation = services.conversation_get_or_create(enrollment=enrollment)
    feedback = services.feedback_send(
        conversation=conversation,
        author=world.therapist.user,
        body=f"feedback {MARKER}",
        items=[f"diary:{entry.pk}"],
    )
    reply = services.message_send(
        conversation=conversation, author=world.patient_a.user, body=f"reply {MARKER}"
    )
    services.draft_save(conversation=conversation, author=world.patient_a.user, body=f"draft {MARKER}")
    note = services.note_add(patient=world.patient_a, author=world.therapist, body=f"note {MARKER}")

    def tokens():
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, body FROM messaging_message ORDER BY id")
            rows = dict(cursor.fetchall())
            cursor.execute("SELECT body FROM messaging_staffnote")
            rows["note"] = cursor.fetchone()[0]
            cursor.execute("SELECT body FROM messaging_messagedraft")
            rows["draft"] = cursor.fetchone()[0]
        return rows

    before = tokens()
    out = io.StringIO()
    call_command("rotate_keys", "--new-data-keys", grace_seconds=0, stdout=out)
    after = tokens()
    assert "messaging.message: 2/2 rows" in out.getvalue()
    for key, token in before.items():
        assert after[key] != token
        assert crypto.token_key_id(after[key]) != crypto.token_key_id(token)
        assert MARKER not in after[key]
    assert "retired data key(s) deleted" in out.getvalue()  # the old keys are gone: only new ones can read

    crypto.clear_key_cache()
    assert Message.objects.get(pk=feedback.pk).body == f"feedback {MARKER}"
    assert Message.objects.get(pk=reply.pk).body == f"reply {MARKER}"
    assert StaffNote.objects.get(pk=note.pk).body == f"note {MARKER}"
    assert MessageDraft.objects.get().body == f"draft {MARKER}"
    assert entry.feedback_links.get().message.body == f"feedback {MARKER}"
    page = client_for(world.patient_a.user).get(reverse("messaging:patient_conversation")).content.decode()
    assert f"feedback {MARKER}" in page and f"draft {MARKER}</textarea>" in page

    # Again: nothing left to do.
    out = io.StringIO()
    call_command("rotate_keys", grace_seconds=0, stdout=out)
    assert tokens() == after
    assert Conversation.objects.count() == 1
