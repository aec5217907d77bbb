"""Face-to-face, phone, video and group sessions in the same timeline (blended care)."""

import datetime
import importlib

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.db import connection as db_connection
from django.urls import reverse
from django.utils import timezone

from patients import services
from patients.models import TimelineEvent, TreatmentSession
from tests.patients import staff_helpers as sh

pytestmark = pytest.mark.django_db

NOTE = "Discussed the fear of relapse; agreed to keep the walking plan."


def test_a_session_is_recorded_with_an_encrypted_note(world):
    enrollment = sh.enroll(world.patient_a)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    session = services.treatment_session_record(
        patient=world.patient_a,
        staff=world.therapist,
        held_on=yesterday,
        kind="face_to_face",
        minutes=45,
        note=NOTE,
    )
    assert session.enrollment == enrollment
    stored = sh.raw_column(TreatmentSession, "note", session.pk)
    assert stored and "relapse" not in stored and "walking" not in stored
    assert TreatmentSession.objects.get().note == NOTE
    event = TimelineEvent.objects.get(kind=TimelineEvent.Kind.SESSION)
    assert event.detail == {
        "session": session.pk,
        "kind": "face_to_face",
        "minutes": 45,
        "held_on": yesterday.isoformat(),
    }
    assert timezone.localtime(event.at).date() == yesterday
    assert sh.audit_actions(object_type="treatment_session", patient=world.patient_a) == ["create"]


def test_a_session_without_enrollment_is_fine(world):
    session = services.treatment_session_record(
        patient=world.patient_b, staff=world.therapist, held_on=timezone.localdate(), kind="group", minutes=90
    )
    assert session.enrollment is None


def test_future_sessions_and_silly_minutes_are_refused(world):
    with pytest.raises(ValidationError):
        services.treatment_session_record(
            patient=world.patient_a,
            staff=world.therapist,
            held_on=timezone.localdate() + datetime.timedelta(days=1),
            kind="phone",
            minutes=10,
        )
    with pytest.raises(ValidationError):
        services.treatment_session_record(
            patient=world.patient_a,
            staff=world.therapist,
            held_on=timezone.localdate(),
            kind="phone",
            minutes=0,
        )
    assert not TreatmentSession.objects.exists()


def test_the_session_form_keeps_the_note_when_something_is_wrong(world, client_for):
    url = reverse("patients:staff_session_create", args=[world.patient_a.pk])
    client = client_for(world.therapist.user)
    response = client.post(
        url, {"held_on": timezone.localdate().isoformat(), "kind": "video", "minutes": "900", "note": NOTE}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="id_minutes_error"' in html
    assert NOTE in html
    response = client.post(
        url, {"held_on": timezone.localdate().isoformat(), "kind": "video", "minutes": "30", "note": NOTE}
    )
    assert response.status_code == 302
    timeline = client.get(response["Location"]).content.decode()
    assert "Video call, 30 minutes" in timeline
    assert "fear of relapse" in timeline


def test_colleagues_cannot_record_sessions(world, client_for):
    url = reverse("patients:staff_session_create", args=[world.patient_a.pk])
    data = {"held_on": timezone.localdate().isoformat(), "kind": "video", "minutes": "30", "note": NOTE}
    assert client_for(world.therapist2.user).post(url, data).status_code == 403
    assert client_for(world.outsider.user).post(url, data).status_code == 404
    assert not TreatmentSession.objects.exists()


def test_the_session_form_says_what_the_patient_export_does(world, client_for):
    """One rule in the words and in the export: a session note is part of the patient's file, so
    the form says the patient can read it and their own data holds it; an internal note says the
    patient cannot, and their own data leaves it out."""
    from messaging.forms import NoteForm
    from messaging.models import StaffNote

    sh.enroll(world.patient_a)
    url = reverse("patients:staff_session_create", args=[world.patient_a.pk])
    page = client_for(world.therapist.user).get(url).content.decode()
    assert "Only you and colleagues who treat this patient can read it" not in page
    assert "the patient can read it when they download their own data" in page
    assert "and so can the patient, in their own data" in page

    services.treatment_session_record(
        patient=world.patient_a,
        staff=world.therapist,
        held_on=timezone.localdate(),
        kind="phone",
        minutes=20,
        note=NOTE,
    )
    StaffNote.objects.create(
        clinic_id=world.patient_a.clinic_id,
        patient=world.patient_a,
        author=world.therapist,
        body="INTERNAL-WORKING-NOTE-MARKER",
    )
    assert "The patient cannot" in str(NoteForm().fields["body"].help_text)
    own = client_for(world.patient_a.user).get(reverse("patients:my_data_json")).content.decode()
    assert "fear of relapse" in own
    assert "INTERNAL-WORKING-NOTE-MARKER" not in own


def test_a_session_line_points_at_its_session_and_older_lines_are_linked_by_the_migration(clock, world):
    migration = importlib.import_module("patients.migrations.0022_timeline_session")
    session = services.treatment_session_record(
        patient=world.patient_a, staff=world.therapist, held_on=timezone.localdate(), kind="phone", minutes=20
    )
    other = services.treatment_session_record(
        patient=world.patient_b, staff=world.therapist, held_on=timezone.localdate(), kind="phone", minutes=20
    )
    event = TimelineEvent.objects.get(kind=TimelineEvent.Kind.SESSION, patient=world.patient_a)
    assert event.session == session
    # Lines written before the key existed: the migration reads the id from the detail; an id
    # of another patient's session links nothing.
    stray = TimelineEvent.objects.create(
        clinic_id=world.patient_a.clinic_id,
        patient=world.patient_a,
        kind=TimelineEvent.Kind.SESSION,
        detail={"session": other.pk, "kind": "phone", "minutes": 20},
    )
    TimelineEvent.objects.update(session=None)

    class Editor:
        connection = db_connection

    for _run in range(2):  # safe to run twice
        migration.link_sessions(django_apps, Editor())
    assert TimelineEvent.objects.get(pk=event.pk).session_id == session.pk
    assert TimelineEvent.objects.get(pk=stray.pk).session_id is None
    assert TimelineEvent.objects.get(patient=world.patient_b, kind="session").session_id == other.pk
