"""What the patient reads in *Who looked at my file* about a review and about a colleague's
draft: a review is read as a review (never as a change of what they wrote), and a staff
member's unsent draft is their own note, kept in the staff trail only."""

import pytest
from django.urls import reverse

from icbt.audit import Action
from icbt.models import AuditEvent
from tests.messaging.helpers import questionnaire, share

pytestmark = pytest.mark.django_db


def _access_log(world, client_for) -> str:
    return client_for(world.patient_a.user).get(reverse("patients:access_log")).content.decode()


def test_a_review_reads_as_a_review_for_the_patient_and_the_admin(clock, world, enrollment, client_for):
    result = questionnaire(enrollment)
    response = client_for(world.therapist.user).post(
        reverse("messaging:item_review", args=[world.patient_a.pk]), {"item": f"questionnaire:{result.pk}"}
    )
    assert response.status_code == 302
    events = AuditEvent.objects.filter(user=world.therapist.user, patient_id=world.patient_a.pk)
    assert not events.filter(action=Action.CHANGE).exists()
    assert events.filter(action=Action.REVIEW, object_type="questionnaire_response").count() == 1

    page = _access_log(world, client_for)
    assert "Your therapist A. Person reviewed your answers" in page
    assert "reviewed your work." in page
    assert "changed" not in page


def test_an_old_review_event_reads_as_a_review(clock, world, enrollment, client_for):
    AuditEvent.objects.create(
        user=world.therapist.user,
        user_email=world.therapist.user.email,
        role="therapist",
        action=Action.CHANGE,
        clinic_id=world.patient_a.clinic_id,
        patient_id=world.patient_a.pk,
        object_type="review",
        object_id=str(world.patient_a.pk),
    )
    assert "Your therapist A. Person reviewed your work." in _access_log(world, client_for)


def test_a_colleagues_unsent_draft_is_not_shown_to_the_patient(clock, world, enrollment, client_for):
    share(world)
    response = client_for(world.therapist2.user).post(
        reverse("messaging:staff_draft", args=[world.patient_a.pk]), {"body": "Not sent yet"}
    )
    assert response.status_code in (200, 302)
    # The staff-side trail keeps it, on behalf of the treating therapist.
    kept = AuditEvent.objects.get(user=world.therapist2.user, object_type="message_draft")
    assert kept.on_behalf_of == world.therapist.user

    page = _access_log(world, client_for)
    assert "a message to you" not in page
    assert "T. Person" not in page
