"""The data migrations that protect existing rows: plaintext left in the newly encrypted columns
is encrypted in place (readable afterwards, safe to run twice), the questionnaire's derived flag
columns are filled in, and audit events written before the hash chain are chained. Run against
the real database of the suite (SQLite, or PostgreSQL with DATABASE_URL)."""

import importlib
import json

import pytest
from django.apps import apps as django_apps
from django.db import connection

from icbt import crypto
from icbt.audit import Action, audit_record
from icbt.audit_chain import verify_chain
from icbt.models import AuditChainHead, AuditEvent
from messaging.models import FeedbackTemplate
from patients.models import IntakeRequest, QuestionnaireResponse, TimelineEvent
from tests.messaging.helpers import enroll, tiny_version
from tests.work import settle

pytestmark = pytest.mark.django_db

PATIENTS_0004 = importlib.import_module("patients.migrations.0008_encrypt_intake_questionnaire_diary_advice")
PATIENTS_0005 = importlib.import_module("patients.migrations.0009_encrypt_timeline_detail")
MESSAGING_0002 = importlib.import_module("messaging.migrations.0003_encrypt_feedback_templates")
ICBT_0005 = importlib.import_module("icbt.migrations.0008_audit_hash_chain")


def _raw_set(model, pk, **columns):
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(model._meta.get_field(name).column)} = %s" for name in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE id = %s",  # noqa: S608
            [*columns.values(), pk],
        )


def _raw_get(model, pk, name):
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote(model._meta.get_field(name).column)} FROM {quote(model._meta.db_table)} "  # noqa: S608
            "WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()[0]


class _Editor:
    """What the migration functions use of a schema editor."""

    def __init__(self):
        self.connection = connection

    def execute(self, sql, params=None):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def test_plaintext_rows_from_before_are_encrypted_in_place(world):
    program = tiny_version().program
    intake = IntakeRequest.objects.create(
        clinic=world.clinic, program=program, name="x", email="x@example.org"
    )
    enrollment = enroll(world.patient_a)
    response = QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id, enrollment=enrollment, code="phq9", moment="start", total=20
    )
    settle()
    event = TimelineEvent.objects.create(
        clinic_id=enrollment.clinic_id, patient=world.patient_a, enrollment=enrollment, kind="questionnaire"
    )
    template = FeedbackTemplate.objects.create(clinic=world.clinic, title="x", body="x")
    # The rows as an older version left them: plain text and plain JSON.
    _raw_set(IntakeRequest, intake.pk, name="Old Name", email="old@example.org", phone="0612345678")
    _raw_set(
        QuestionnaireResponse,
        response.pk,
        answers="[3, 3, 3, 3, 2, 2, 2, 0, 2]",
        band="moderately_severe",
        flags='["self_harm"]',
        urgent=False,
        flagged=False,
    )
    _raw_set(TimelineEvent, event.pk, detail='{"code": "phq9", "flags": ["self_harm"]}')
    _raw_set(FeedbackTemplate, template.pk, title="Old title", body="Old text {first_name}")

    for _run in range(2):  # safe to run twice
        PATIENTS_0004.encrypt_rows(django_apps, _Editor())
        PATIENTS_0005.encrypt_details(django_apps, _Editor())
        MESSAGING_0002.encrypt_templates(django_apps, _Editor())

    prefix = f"{crypto.TOKEN_PREFIX}:"
    for model, pk, name in [
        (IntakeRequest, intake.pk, "name"),
        (IntakeRequest, intake.pk, "email"),
        (IntakeRequest, intake.pk, "phone"),
        (QuestionnaireResponse, response.pk, "answers"),
        (QuestionnaireResponse, response.pk, "band"),
        (QuestionnaireResponse, response.pk, "flags"),
        (TimelineEvent, event.pk, "detail"),
        (FeedbackTemplate, template.pk, "title"),
        (FeedbackTemplate, template.pk, "body"),
    ]:
        assert str(_raw_get(model, pk, name)).startswith(prefix), (model.__name__, name)

    intake = IntakeRequest.objects.get(pk=intake.pk)
    assert (intake.name, intake.email, intake.phone) == ("Old Name", "old@example.org", "0612345678")
    response = QuestionnaireResponse.objects.get(pk=response.pk)
    assert response.answers == [3, 3, 3, 3, 2, 2, 2, 0, 2]
    assert (response.band, response.flags) == ("moderately_severe", ["self_harm"])
    assert TimelineEvent.objects.get(pk=event.pk).detail == {"code": "phq9", "flags": ["self_harm"]}
    template = FeedbackTemplate.objects.get(pk=template.pk)
    assert (template.title, template.body) == ("Old title", "Old text {first_name}")


def test_the_flag_columns_are_derived_from_the_plain_flags(world):
    enrollment = enroll(world.patient_a)
    urgent = QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id, enrollment=enrollment, code="phq9", moment="start", total=20
    )
    marked = QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id, enrollment=enrollment, code="phq9", moment="end", total=20
    )
    calm = QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id, enrollment=enrollment, code="phq9", moment="module", total=2
    )
    settle()
    # Before the migration the flags are plain JSON, as the historical model reads them.
    state_apps = _apps_before_encryption()
    for response, flags in [(urgent, ["self_harm"]), (marked, ["possible_depression"]), (calm, [])]:
        _raw_set(QuestionnaireResponse, response.pk, flags=json.dumps(flags), urgent=False, flagged=False)
    PATIENTS_0004.derive_flag_columns(state_apps, _Editor())
    settle()  # a real database runs this migration before the work-item table exists (filled after migrate)
    rows = dict(QuestionnaireResponse.objects.values_list("pk", "urgent"))
    flagged = dict(QuestionnaireResponse.objects.values_list("pk", "flagged"))
    assert (rows[urgent.pk], flagged[urgent.pk]) == (True, True)
    assert (rows[marked.pk], flagged[marked.pk]) == (False, True)
    assert (rows[calm.pk], flagged[calm.pk]) == (False, False)


def _apps_before_encryption():
    """The models as ``derive_flag_columns`` sees them: flags still plain JSON, the two derived
    columns just added."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connection)
    state = loader.project_state(("patients", "0007_assignment_answer_from_intake"))
    for operation in PATIENTS_0004.Migration.operations:
        if isinstance(operation, PATIENTS_0004.migrations.RunPython):
            break
        operation.state_forwards("patients", state)
    return state.apps


def test_audit_events_from_before_the_chain_are_chained(world):
    events = [
        audit_record(user=world.therapist.user, action=Action.VIEW, patient_id=world.patient_a.pk)
        for _ in range(3)
    ]
    audit_record(user=None, action=Action.SEARCH, object_type="admin:index")
    # As an older version left them: no number, no hashes, no chain heads.
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            cursor.execute("ALTER TABLE icbt_auditevent DISABLE TRIGGER icbt_auditevent_append_only")
        cursor.execute("UPDATE icbt_auditevent SET chain_seq = NULL, prev_hash = '', hash = ''")
        if postgres:
            cursor.execute("ALTER TABLE icbt_auditevent ENABLE TRIGGER icbt_auditevent_append_only")
        cursor.execute("DELETE FROM icbt_auditchainhead")
    with pytest.raises(Exception, match="not sealed"):
        verify_chain(world.clinic.pk)

    ICBT_0005.seal_existing(django_apps, _Editor())

    assert verify_chain(world.clinic.pk)[0] == 3
    assert verify_chain(0)[0] == 1
    assert AuditChainHead.objects.get(chain=world.clinic.pk).seq == 3
    # New events continue the chain.
    audit_record(user=world.therapist.user, action=Action.VIEW, patient_id=world.patient_b.pk)
    assert verify_chain(world.clinic.pk)[0] == 4
    assert AuditEvent.objects.get(pk=events[0].pk).chain_seq == 1
