"""After an intake the patient page offers "Enroll now", and the goals set at the intake reach
the patient's goals assignment as an answer they can change, marked as set at the intake."""

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from patients import services
from patients.models import AssignmentAnswer, Intake
from tests.patients import staff_helpers as sh
from tests.work import settle

pytestmark = [pytest.mark.django_db, pytest.mark.every_weekday]


def _intake(world, *, decision=Intake.Decision.INDICATED, goals=("Walk to the shop", "Cook twice a week")):
    item = Intake(
        clinic_id=world.patient_a.clinic_id,
        patient=world.patient_a,
        program=sh.tiny().program,
        therapist=world.therapist,
        held_on=timezone.localdate(),
        answers=json.dumps({"kind": "general", "goals": list(goals)}),
        decision=decision,
        decision_reason="" if decision == Intake.Decision.INDICATED else "Another treatment fits better",
    )
    item.save()
    settle()
    return item


def test_the_patient_page_offers_enroll_now_after_an_indicated_intake(world, client_for):
    client = client_for(world.therapist.user)
    detail = reverse("patients:staff_patient_detail", args=[world.patient_a.pk])
    enroll = reverse("patients:staff_enrollment_create", args=[world.patient_a.pk])
    assert "Record the intake, then enroll" in client.get(detail).content.decode()
    intake = _intake(world)
    html = client.get(detail).content.decode()
    assert "Record the intake, then enroll" not in html
    assert "Enroll now" in html and enroll in html
    intake_page = client.get(reverse("patients:staff_intake_detail", args=[world.patient_a.pk, intake.pk]))
    assert "Enroll now" in intake_page.content.decode()


def test_a_not_indicated_intake_says_so_instead(world, client_for):
    _intake(world, decision=Intake.Decision.NOT_INDICATED)
    html = (
        client_for(world.therapist.user)
        .get(reverse("patients:staff_patient_detail", args=[world.patient_a.pk]))
        .content.decode()
    )
    assert "Record the intake, then enroll" not in html and "Enroll now" not in html
    assert "not indicated" in html


def test_the_intake_goals_reach_the_goals_assignment_editable_and_marked(world, client_for):
    intake = _intake(world)
    enrollment = services.enrollment_create(
        patient=world.patient_a,
        version=sh.tiny(),
        therapist=world.therapist,
        enrolled_by=world.therapist,
        start_date=timezone.localdate(),
        intake=intake,
    )
    answer = AssignmentAnswer.objects.get(enrollment=enrollment)
    assert answer.step.slug == "plan" and answer.from_intake
    assert answer.status == AssignmentAnswer.Status.DRAFT
    assert json.loads(answer.content) == {"goals": ["Walk to the shop", "Cook twice a week"]}
    html = client_for(world.patient_a.user).get("/me/steps/first/plan/").content.decode()
    assert "set these goals together at your intake" in html
    assert 'value="Walk to the shop"' in html and 'value="Cook twice a week"' in html


def test_no_intake_no_goals_answer(world):
    enrollment = services.enrollment_create(
        patient=world.patient_a,
        version=sh.tiny(),
        therapist=world.therapist,
        enrolled_by=world.therapist,
        start_date=timezone.localdate(),
    )
    assert not AssignmentAnswer.objects.filter(enrollment=enrollment).exists()
