"""Every encrypted row carries its clinic: the services set it, rows from before are filled in by
a data migration (on the suite's database, SQLite or PostgreSQL), and the data key follows it."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from icbt.models import DataKey
from messaging.models import Message, StaffNote
from messaging.services import conversation_get_or_create, message_send, note_add
from patients.models import DiaryEntry, QuestionnaireResponse, TimelineEvent
from tests.messaging.helpers import diary_entry, enroll, questionnaire

BEFORE = [("patients", "0013_enrollment_team"), ("messaging", "0003_encrypt_feedback_templates")]


def _rows(world):
    """One row of each kind, in both clinics, the way the application writes them."""
    rows = []
    for patient, staff in ((world.patient_a, world.therapist), (world.other_patient, world.outsider)):
        enrollment = enroll(patient)
        rows.append(diary_entry(enrollment, note="slept badly"))
        rows.append(questionnaire(enrollment))
        rows.append(
            message_send(
                conversation=conversation_get_or_create(enrollment=enrollment),
                author=staff.user,
                body="Well done",
            )
        )
        rows.append(note_add(patient=patient, author=staff, body="private"))
        rows.append(
            TimelineEvent.objects.create(
                patient=patient,
                clinic_id=patient.clinic_id,
                kind=TimelineEvent.Kind.REFERRAL,
                detail={"x": 1},
            )
        )
    return rows


def _clinics(rows):
    return {(type(row), row.pk): type(row).objects.get(pk=row.pk).clinic_id for row in rows}


@pytest.mark.django_db(transaction=True)
def test_rows_from_before_get_their_clinic_from_their_parents(world):
    rows = _rows(world)
    expected = _clinics(rows)
    assert {world.clinic.pk, world.other_patient.clinic_id} == set(expected.values())
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    executor.loader.build_graph()
    old_entry = executor.loader.project_state(BEFORE).apps.get_model("patients", "DiaryEntry")
    assert "clinic" not in {f.name for f in old_entry._meta.get_fields()}

    call_command("migrate", verbosity=0)

    assert _clinics(rows) == expected
    texts = {type(row).objects.get(pk=row.pk).body for row in rows if isinstance(row, (Message, StaffNote))}
    assert texts == {"Well done", "private"}


def test_the_service_sets_the_clinic_and_its_data_key_encrypts(world):
    enrollment = enroll(world.other_patient)
    entry = diary_entry(enrollment, note="tired")
    response = questionnaire(enrollment)
    assert entry.clinic_id == response.clinic_id == world.other_patient.clinic_id
    key_scopes = set(DataKey.objects.values_list("scope", flat=True))
    assert world.other_patient.clinic_id in key_scopes
    assert DiaryEntry.objects.get(pk=entry.pk).text
    assert QuestionnaireResponse.objects.filter(clinic_id=world.other_patient.clinic_id).count() == 1


def test_encrypting_a_changed_row_loads_no_parent(world, django_assert_num_queries):
    entry = diary_entry(enroll(world.patient_a), note="first")
    fresh = DiaryEntry.objects.get(pk=entry.pk)  # without its enrollment
    fresh.text = '{"note": "second"}'
    with django_assert_num_queries(2) as queries:  # the clinic's active data key, the UPDATE
        fresh.save(update_fields=["text"])
    assert not any("patients_enrollment" in q["sql"] for q in queries.captured_queries)
    assert DiaryEntry.objects.get(pk=entry.pk).text == '{"note": "second"}'
