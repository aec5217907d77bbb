"""Ending or stepping up a treatment leaves urgent items and unanswered messages on the worklist,
and the end forms warn about them before anything ends."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging.models import Conversation, Message
from patients.models import Enrollment, QuestionnaireResponse
from tests.messaging.helpers import enroll, submitted_answer
from tests.work import settle
from therapists.worklist import pending_count, worklist

pytestmark = pytest.mark.every_weekday


def _urgent_phq9(enrollment):
    created = QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        code="phq9",
        moment="module",
        total=16,
        band="moderately severe",
        flags=["self_harm"],
    )
    settle()
    return created


def _patient_message(enrollment):
    conversation, _ = Conversation.objects.get_or_create(enrollment=enrollment)
    conversation.enrollment = enrollment
    message = Message(
        clinic_id=conversation.enrollment.clinic_id,
        conversation=conversation,
        author=enrollment.patient.user,
        body="Can we talk?",
        created_at=timezone.now() - timedelta(hours=2),
    )
    message.save()
    return message


@pytest.fixture
def busy(world):
    enrollment = enroll(world.patient_a, weekday=timezone.localdate().weekday())
    _urgent_phq9(enrollment)
    _patient_message(enrollment)
    submitted_answer(enrollment)
    QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        code="phq9",
        moment="start",
        total=3,
        band="minimal",
    )
    settle()
    return enrollment


@pytest.mark.parametrize("status", [Enrollment.Status.STEPPED_UP, Enrollment.Status.STOPPED])
def test_urgent_items_and_unanswered_messages_stay_after_the_end(world, busy, status):
    Enrollment.objects.filter(pk=busy.pk).update(status=status, ended_at=timezone.now())
    settle()
    result = worklist(fetched_by=world.therapist.user)
    kinds = sorted((item.kind, item.urgent) for item in result.items)
    # The urgent flag and the message stay; the assignment and the non-urgent score drop off.
    assert kinds == [("message", False), ("questionnaire", True)]
    assert result.patients and result.patients[0][0] == world.patient_a.pk
    assert pending_count(fetched_by=world.therapist.user) == 2


def test_handled_items_of_an_ended_enrollment_leave_the_worklist(world, busy):
    Enrollment.objects.filter(pk=busy.pk).update(status=Enrollment.Status.COMPLETED)
    QuestionnaireResponse.objects.filter(enrollment=busy).update(reviewed_at=timezone.now())
    settle()
    reply = Message(
        clinic_id=Conversation.objects.get(enrollment=busy).enrollment.clinic_id,
        conversation=Conversation.objects.get(enrollment=busy),
        author=world.therapist.user,
        body="Yes",
    )
    reply.save()
    settle()
    assert worklist(fetched_by=world.therapist.user).items == []
    assert pending_count(fetched_by=world.therapist.user) == 0


def test_the_patient_link_opens_without_a_form_error_when_nothing_waits(world, client_for):
    enroll(world.patient_a, status=Enrollment.Status.PAUSED)
    page = client_for(world.therapist.user).get(
        reverse("therapists:worklist"), {"patient": world.patient_a.pk}
    )
    assert page.status_code == 200
    assert not page.context["form"].errors
    assert "is not one of the available choices" not in page.content.decode()


def _status_url(world, enrollment):
    return reverse("patients:staff_enrollment_status", args=[world.patient_a.pk, enrollment.pk])


def test_stepping_up_warns_and_asks_for_a_confirmation_first(world, busy, client_for):
    client = client_for(world.therapist.user)
    page = client.get(_status_url(world, busy), {"action": "step_up"})
    assert "1 urgent item and 1 message still open" in page.content.decode()
    refused = client.post(_status_url(world, busy), {"action": "step_up", "reason": "needs more care"})
    assert refused.status_code == 200
    assert "confirm_open_items" in refused.context["form"].errors
    busy.refresh_from_db()
    assert busy.status == Enrollment.Status.ACTIVE
    done = client.post(
        _status_url(world, busy),
        {"action": "step_up", "reason": "needs more care", "confirm_open_items": "on"},
    )
    assert done.status_code == 302
    busy.refresh_from_db()
    assert busy.status == Enrollment.Status.STEPPED_UP
    assert {item.kind for item in worklist(fetched_by=world.therapist.user).items} == {
        "message",
        "questionnaire",
    }


def test_pausing_asks_nothing_and_a_quiet_end_needs_no_confirmation(clock, world, client_for):
    enrollment = enroll(world.patient_a)
    client = client_for(world.therapist.user)
    page = client.get(_status_url(world, enrollment), {"action": "stop"})
    assert "still open" not in page.content.decode()
    assert "confirm_open_items" not in page.context["form"].fields
    done = client.post(_status_url(world, enrollment), {"action": "stop", "reason": "moved abroad"})
    assert done.status_code == 302
    # In the therapist's words (not "enrollment").
    followed = client.get(done.url).content.decode()
    assert "The treatment is now " in followed and "enrollment is now" not in followed


def test_completing_from_the_end_page_warns_in_the_plural(world, client_for):
    enrollment = enroll(world.patient_a)
    _urgent_phq9(enrollment)
    _urgent_phq9(enrollment)
    _patient_message(enrollment)
    url = reverse("patients:staff_enrollment_end", args=[world.patient_a.pk, enrollment.pk])
    client = client_for(world.therapist.user)
    assert "2 urgent items and 1 message still open" in client.get(url).content.decode()
    refused = client.post(url, {"reason": ""})
    enrollment.refresh_from_db()
    assert refused.status_code == 200 and enrollment.is_open
    client.post(url, {"reason": "", "confirm_open_items": "on"})
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED


def test_after_the_end_the_therapist_can_still_answer_the_waiting_message_once(world, busy, client_for):
    from django.core.exceptions import ValidationError

    from messaging import services as messaging_services

    Enrollment.objects.filter(pk=busy.pk).update(status=Enrollment.Status.STEPPED_UP, ended_at=timezone.now())
    settle()
    busy.refresh_from_db()
    conversation = Conversation.objects.get(enrollment=busy)
    conversation.enrollment = busy
    messaging_services.message_send(
        conversation=conversation, author=world.therapist.user, body="Read it; we talk on Tuesday."
    )
    assert "message" not in {item.kind for item in worklist(fetched_by=world.therapist.user).items}
    with pytest.raises(ValidationError):  # nothing waits any more: the box is closed again
        messaging_services.message_send(conversation=conversation, author=world.therapist.user, body="More")
    with pytest.raises(ValidationError):  # and it stays closed for the patient
        messaging_services.message_send(conversation=conversation, author=world.patient_a.user, body="Hi")


def test_the_stepped_care_decision_warns_and_asks_for_a_confirmation(world, client_for):
    from tests.patients import staff_helpers as sh

    enrollment = sh.enroll(world.patient_a, sh.fatigue_version())
    _urgent_phq9(enrollment)
    url = reverse("patients:staff_enrollment_end", args=[world.patient_a.pk, enrollment.pk])
    client = client_for(world.therapist.user)
    assert "1 urgent item still open" in client.get(url).content.decode()
    decision = {"decision": "step_up", "reason": "Still severely fatigued"}
    assert client.post(url, decision).status_code == 200
    enrollment.refresh_from_db()
    assert enrollment.is_open
    assert client.post(url, {**decision, "confirm_open_items": "on"}).status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.STEPPED_UP
