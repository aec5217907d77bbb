"""A questionnaire half filled in is kept: "Next", "Save and finish later" and a send with
missing answers save the answers so far as a draft, shown again when the patient comes back."""

import re

import pytest
from django.urls import reverse

from patients import services
from patients.models import QuestionnaireDraft, QuestionnaireResponse
from tests.patients.patient_helpers import enroll, step_of, tiny_version

pytestmark = pytest.mark.django_db

PHQ_URL = "/me/steps/first/mood-start/"


@pytest.fixture
def setup(world, client_for):
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    return version, enrollment, client_for(world.patient_a.user)


def _checked(html, name, value):
    return re.search(rf'<input[^>]*name="{name}"[^>]*value="{value}"[^>]*checked', html) is not None


def test_next_keeps_the_answers_given_so_far_and_they_come_back(setup):
    version, enrollment, client = setup
    page = client.get(PHQ_URL).content.decode()
    # "Next" sends the questionnaire form (as a draft), it is not a plain link away.
    assert re.search(r'<button[^>]*form="questionnaire-form"[^>]*name="action"[^>]*value="next"', page)
    response = client.post(PHQ_URL, {"q1": "2", "q2": "3", "action": "next"})
    assert response.status_code == 302 and response.url != PHQ_URL
    assert not QuestionnaireResponse.objects.filter(enrollment=enrollment).exists()
    step = step_of(version, "mood-start")
    assert services.questionnaire_draft_get(
        enrollment=enrollment, code="phq9", moment="start", step=step
    ) == {
        1: 2,
        2: 3,
    }
    again = client.get(PHQ_URL).content.decode()
    assert _checked(again, "q1", "2") and _checked(again, "q2", "3")


def test_save_and_finish_later_then_send_removes_the_draft(setup):
    _version, enrollment, client = setup
    client.post(PHQ_URL, {"q1": "1", "action": "draft"})
    assert QuestionnaireDraft.objects.filter(enrollment=enrollment).count() == 1
    # An empty save does not wipe what was kept.
    client.post(PHQ_URL, {"action": "draft"})
    assert QuestionnaireDraft.objects.get(enrollment=enrollment).answers == {"1": 1}
    full = {f"q{n}": "1" for n in range(1, 10)} | {"q9": "0"}
    assert client.post(PHQ_URL, full).status_code == 302
    assert QuestionnaireResponse.objects.filter(enrollment=enrollment).count() == 1
    assert not QuestionnaireDraft.objects.filter(enrollment=enrollment).exists()


def test_a_send_with_missing_answers_keeps_them_as_a_draft(setup):
    _version, enrollment, client = setup
    response = client.post(PHQ_URL, {"q1": "2", "q5": "1"})
    assert response.status_code == 200
    assert QuestionnaireDraft.objects.get(enrollment=enrollment).answers == {"1": 2, "5": 1}


def test_a_start_questionnaire_without_a_step_keeps_its_draft(setup):
    _version, enrollment, client = setup
    url = reverse("patients:questionnaire_fill", args=["start", "pain_nrs"])
    assert client.post(url, {"q1": "4", "action": "draft"}).status_code == 302
    assert _checked(client.get(url).content.decode(), "q1", "4")
    assert QuestionnaireDraft.objects.filter(enrollment=enrollment, step__isnull=True).count() == 1
