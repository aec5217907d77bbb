"""Every event the services handle writes its pending notification (in the service's own
transaction): for the therapist a diary entry (new ones only), an assignment, a questionnaire
(urgent with the PHQ-9 self-harm flag), a message, an intake request, a referral; for the patient
a message and feedback."""

from datetime import date

import pytest
from django.utils import timezone

from icbt.models import Notification
from messaging import services as messaging_services
from patients import services as patient_services
from tests.messaging.digest_helpers import PHQ9_CALM, PHQ9_SELF_HARM, Treated, conversation

pytestmark = pytest.mark.django_db

Kind = Notification.Kind


@pytest.fixture
def t(world):
    return Treated(world)


def rows(**filters):
    return list(
        Notification.objects.filter(**filters).values_list("recipient_id", "kind", "object_type", "urgent")
    )


def test_new_diary_entry_notifies_the_therapist_once(t):
    today = timezone.localdate()
    entry = patient_services.diary_entry_save(
        enrollment=t.enrollment_a, diary_type=t.mood, entry_date=today, answers={"mood": 4}
    )
    patient_services.diary_entry_save(  # a correction on the same day is not news
        enrollment=t.enrollment_a, diary_type=t.mood, entry_date=today, answers={"mood": 5}
    )
    assert rows() == [(t.world.therapist.user.pk, Kind.DIARY_ENTRY, "diary_entry", False)]
    assert Notification.objects.get().object_id == str(entry.pk)
    assert Notification.objects.get().patient_id == t.world.patient_a.pk


def test_assignment_and_questionnaires(t):
    answer = patient_services.assignment_submit(
        enrollment=t.enrollment_a, step=t.steps["plan"], answers={"word": "calm"}
    )
    calm = patient_services.questionnaire_submit(
        enrollment=t.enrollment_a, code="phq9", moment="start", answers=PHQ9_CALM
    )
    worrying = patient_services.questionnaire_submit(
        enrollment=t.enrollment_b, code="phq9", moment="start", answers=PHQ9_SELF_HARM
    )
    therapist = t.world.therapist.user.pk
    assert sorted(rows()) == sorted(
        [
            (therapist, Kind.ASSIGNMENT_SUBMITTED, "assignment_answer", False),
            (therapist, Kind.QUESTIONNAIRE_COMPLETED, "questionnaire_response", False),
            (therapist, Kind.QUESTIONNAIRE_COMPLETED, "questionnaire_response", True),
        ]
    )
    urgent = Notification.objects.get(urgent=True)
    assert urgent.object_id == str(worrying.pk) and urgent.patient_id == t.world.patient_b.pk
    assert {answer.pk, calm.pk} and "self_harm" in worrying.flags


def test_messages_both_ways_and_feedback(t):
    conv = conversation(t.enrollment_a)
    from_patient = messaging_services.message_send(
        conversation=conv, author=t.world.patient_a.user, body="Hi"
    )
    to_patient = messaging_services.message_send(
        conversation=conv, author=t.world.therapist.user, body="Hello"
    )
    entry = patient_services.diary_entry_save(
        enrollment=t.enrollment_a, diary_type=t.mood, entry_date=timezone.localdate(), answers={"mood": 4}
    )
    feedback = messaging_services.feedback_send(
        conversation=conv, author=t.world.therapist.user, body="Well done", items=[f"diary:{entry.pk}"]
    )
    therapist, patient = t.world.therapist.user.pk, t.world.patient_a.user.pk
    assert rows(object_type="message") == [
        (therapist, Kind.MESSAGE_RECEIVED, "message", False),
        (patient, Kind.MESSAGE_WAITING, "message", False),
        (patient, Kind.FEEDBACK_WAITING, "message", False),
    ]
    ids = list(Notification.objects.filter(object_type="message").values_list("object_id", flat=True))
    assert ids == [str(from_patient.pk), str(to_patient.pk), str(feedback.pk)]


def test_intake_request_reaches_every_therapist_of_the_clinic(t):
    request = patient_services.intake_request_create(
        clinic=t.world.clinic, program=t.version.program, name="Someone", email="someone@example.org"
    )
    recipients = set(Notification.objects.values_list("recipient_id", flat=True))
    assert recipients == {t.world.therapist.user.pk, t.world.therapist2.user.pk}
    assert set(Notification.objects.values_list("kind", "object_id", "clinic_id", "patient_id")) == {
        (Kind.INTAKE_REQUEST, str(request.pk), t.world.clinic.pk, None)
    }


def test_referral_reaches_the_colleague(t):
    t.world.therapist2.training_date = date(2025, 1, 1)
    t.world.therapist2.save(update_fields=["training_date"])
    referral = patient_services.referral_create(
        patient=t.world.patient_a,
        referred_by=t.world.therapist,
        to_therapist=t.world.therapist2,
        program=t.version.program,
    )
    assert rows() == [(t.world.therapist2.user.pk, Kind.REFERRAL, "referral", False)]
    assert Notification.objects.get().object_id == str(referral.pk)
