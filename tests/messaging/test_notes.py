"""Internal notes: encrypted, for the staff who treat the patient (and cover) only."""

from django.db import connection
from django.urls import reverse

from icbt.models import AuditEvent
from messaging import services
from messaging.models import StaffNote
from tests.messaging.helpers import share


def notes_url(world):
    return reverse("messaging:notes", args=[world.patient_a.pk])


def test_therapist_writes_and_reads_notes(world, enrollment, client_for):
    therapist = client_for(world.therapist.user)
    response = therapist.post(notes_url(world), {"body": "Mentioned trouble sleeping; ask next week."})
    assert response.status_code == 302
    note = StaffNote.objects.get()
    assert note.author == world.therapist
    with connection.cursor() as cursor:
        cursor.execute("SELECT body FROM messaging_staffnote")
        assert "trouble sleeping" not in cursor.fetchone()[0]
    assert "Mentioned trouble sleeping" in therapist.get(notes_url(world)).content.decode()
    assert AuditEvent.objects.filter(
        object_type="staff_note", action="create", object_id=str(note.pk)
    ).exists()
    assert AuditEvent.objects.filter(
        object_type="staff_notes", action="view", user=world.therapist.user
    ).exists()


def test_notes_are_refused_to_colleagues_managers_patients_and_other_clinics(world, enrollment, client_for):
    services.note_add(patient=world.patient_a, author=world.therapist, body="Private remark")
    assert client_for(world.therapist2.user).get(notes_url(world)).status_code == 403
    assert client_for(world.manager.user).get(notes_url(world)).status_code == 403
    assert client_for(world.admin.user).get(notes_url(world)).status_code == 403
    assert client_for(world.outsider.user).get(notes_url(world)).status_code == 404
    assert client_for(world.patient_a.user).get(notes_url(world)).status_code == 404
    page = client_for(world.patient_a.user).get(reverse("messaging:patient_conversation")).content.decode()
    assert "Private remark" not in page
    refused = AuditEvent.objects.filter(outcome="denied", object_type="staff_notes")
    assert {e.user_id for e in refused} >= {world.therapist2.user.pk, world.manager.user.pk}
    assert client_for(world.therapist2.user).post(notes_url(world), {"body": "x"}).status_code == 403
    assert StaffNote.objects.count() == 1


def test_a_covering_colleague_reads_and_adds_notes(world, enrollment, client_for):
    services.note_add(patient=world.patient_a, author=world.therapist, body="Before the holiday")
    share(world)
    colleague = client_for(world.therapist2.user)
    assert "Before the holiday" in colleague.get(notes_url(world)).content.decode()
    assert colleague.post(notes_url(world), {"body": "Called, all well."}).status_code == 302
    event = AuditEvent.objects.get(object_type="staff_note", user=world.therapist2.user)
    assert event.on_behalf_of == world.therapist.user


def test_empty_note_is_refused(world, enrollment, client_for):
    response = client_for(world.therapist.user).post(notes_url(world), {"body": "   "})
    assert response.status_code == 200
    assert "Write the note first." in response.content.decode()
    assert not StaffNote.objects.exists()
