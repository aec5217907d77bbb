"""Assignments: autosaved drafts, handing in, validation that keeps everything typed, the energy
points budget, editing after handing in, and the therapist's feedback next to the answer."""

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from patients import services
from patients.models import AssignmentAnswer, StepProgress
from tests.patients.patient_helpers import enroll, step_of, tiny_version, write_feedback

pytestmark = pytest.mark.django_db

STEP_URL = "/me/steps/first/plan/"
DRAFT_URL = "/me/steps/first/plan/draft/"

VALID = {
    "word": "Courage",
    "story": "My secret story about the garden",
    "pattern": "a",
    "sure": "7",
    "goals__1": "Walk to the park",
    "energy__1": "4",
    "energy__2": "3",
    **{
        f"moments__1__{c}": f"{c} text"
        for c in ("situation", "thought", "feeling", "behaviour", "helpful_thought")
    },
}


@pytest.fixture
def setup(world, client_for):
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    return world, step_of(version, "plan"), enrollment, client_for(world.patient_a.user)


def _answer(enrollment):
    return AssignmentAnswer.objects.get(enrollment=enrollment)


def test_draft_autosave_endpoint_answers_json_and_keeps_text_encrypted(setup):
    _world, _step, enrollment, client = setup
    response = client.post(DRAFT_URL, {"story": "Half a sentence about my garden", "energy__1": "25"})
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "saved" and data["saved_at"] and len(data["saved_at_display"]) == 5
    answer = _answer(enrollment)
    assert answer.status == AssignmentAnswer.Status.DRAFT and answer.draft_saved_at
    content = json.loads(answer.content)
    assert content["story"] == "Half a sentence about my garden"
    # Points over the budget are kept as typed in a draft.
    assert content["energy"]["items"][0] == {"activity": "Shower", "points": 25, "own": False}
    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM patients_assignmentanswer WHERE id = %s", [answer.pk])
        assert "garden" not in cursor.fetchone()[0]
    # The draft is shown again in the form.
    html = client.get(STEP_URL).content.decode()
    assert "Half a sentence about my garden" in html and "Saved at" in html


def test_draft_keeps_what_a_form_would_refuse(setup):
    _world, _step, enrollment, client = setup
    client.post(
        DRAFT_URL,
        {
            "moments__1__situation": "At the shop",
            "sure": "not a number",
            "energy__own1": "3",
            "goals__2": "Second goal only",
        },
    )
    content = json.loads(_answer(enrollment).content)
    assert content["moments"] == [
        {"situation": "At the shop", "thought": "", "feeling": "", "behaviour": "", "helpful_thought": ""}
    ]
    assert content["sure"] == "not a number"
    assert content["goals"] == ["Second goal only"]
    assert {"activity": "", "points": 3, "own": True} in content["energy"]["items"]


def test_submit_with_errors_keeps_the_text_says_what_to_fix_and_saves_a_draft(clock, setup):
    _world, _step, enrollment, client = setup
    data = dict(VALID, word="", story="Everything I typed must come back")
    response = client.post(STEP_URL, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Everything I typed must come back" in html
    assert 'id="id_word_error"' in html and "Please write a few words here." in html
    assert "Please check your answers" in html
    answer = _answer(enrollment)
    assert answer.status == AssignmentAnswer.Status.DRAFT
    assert json.loads(answer.content)["story"] == "Everything I typed must come back"


def test_energy_points_over_the_budget_are_refused_with_a_message_next_to_the_field(setup):
    _world, step, enrollment, client = setup
    response = client.post(STEP_URL, dict(VALID, energy__1="8", energy__2="5"))
    html = response.content.decode()
    assert "You used 13 points, but you have 10. Take away 3 points." in html
    assert 'id="id_energy_error"' in html
    assert "Points too many" in html
    assert _answer(enrollment).status == AssignmentAnswer.Status.DRAFT
    # The service refuses it too, whatever sent it.
    with pytest.raises(ValidationError) as excinfo:
        services.assignment_submit(
            enrollment=enrollment,
            step=step,
            answers={"energy": {"budget": 10, "items": [{"activity": "Shower", "points": 11, "own": False}]}},
        )
    assert "energy" in excinfo.value.error_dict


def test_submit_hands_in_marks_the_step_done_and_shows_the_answer(setup):
    _world, step, enrollment, client = setup
    response = client.post(STEP_URL, VALID)
    assert response.status_code == 302 and response["Location"] == STEP_URL
    answer = _answer(enrollment)
    assert answer.status == AssignmentAnswer.Status.SUBMITTED and answer.submitted_at
    assert answer.submitted_content == answer.content
    assert json.loads(answer.content)["goals"] == ["Walk to the park"]
    assert StepProgress.objects.get(enrollment=enrollment, step=step).completed_at
    html = client.get(STEP_URL).content.decode()
    assert "Handed in" in html and "My secret story about the garden" in html
    assert f'data-draft-done="{enrollment.pk}:/me/steps/first/plan/"' in html
    assert "Change my answer" in html and 'name="word"' not in html


def test_editing_after_handing_in_keeps_the_submission_for_the_therapist(setup):
    _world, _step, enrollment, client = setup
    client.post(STEP_URL, VALID)
    submitted = _answer(enrollment)
    html = client.get(STEP_URL + "?edit=1").content.decode()
    assert 'name="word"' in html and "Courage" in html
    # Opening the form and autosaving the same text changes nothing.
    response = client.post(DRAFT_URL, dict(VALID, loaded_at=timezone.now().isoformat()))
    assert response.json()["status"] == "unchanged"
    assert _answer(enrollment).status == AssignmentAnswer.Status.SUBMITTED
    # A real change makes it a draft; the handed-in version stays.
    response = client.post(DRAFT_URL, dict(VALID, word="Patience", loaded_at=timezone.now().isoformat()))
    assert response.json()["status"] == "saved"
    answer = _answer(enrollment)
    assert answer.status == AssignmentAnswer.Status.DRAFT
    assert json.loads(answer.content)["word"] == "Patience"
    assert json.loads(answer.submitted_content)["word"] == "Courage"
    assert answer.submitted_at == submitted.submitted_at
    assert "You are changing the answer you handed in" in client.get(STEP_URL).content.decode()
    client.post(STEP_URL, dict(VALID, word="Patience"))
    answer = _answer(enrollment)
    assert answer.status == AssignmentAnswer.Status.SUBMITTED
    assert json.loads(answer.submitted_content)["word"] == "Patience"


def test_a_late_autosave_does_not_undo_a_submit(setup):
    _world, _step, enrollment, client = setup
    loaded_before = (timezone.now() - timedelta(seconds=5)).isoformat()
    client.post(STEP_URL, VALID)
    response = client.post(DRAFT_URL, dict(VALID, word="stale", loaded_at=loaded_before))
    assert response.json()["status"] == "unchanged"
    assert _answer(enrollment).status == AssignmentAnswer.Status.SUBMITTED


def test_save_and_finish_later_works_without_javascript(setup):
    _world, _step, enrollment, client = setup
    response = client.post(STEP_URL, {"story": "Saved with the button", "action": "draft"})
    assert response.status_code == 302
    answer = _answer(enrollment)
    assert answer.status == AssignmentAnswer.Status.DRAFT and "Saved with the button" in answer.content


def test_the_therapists_feedback_is_shown_next_to_the_answer(setup):
    world, _step, enrollment, client = setup
    client.post(STEP_URL, VALID)
    write_feedback(
        enrollment, author=world.therapist.user, body="Lovely first step, Anna.", answer=_answer(enrollment)
    )
    html = client.get(STEP_URL).content.decode()
    assert "Feedback from your therapist" in html and "Lovely first step, Anna." in html
    home = client.get(reverse("patients:home")).content.decode()
    assert "Read your feedback" in home and 'href="/me/messages/"' in home
    assert f'<a href="{STEP_URL}">See the feedback next to your work</a>' in home


def test_another_patient_only_ever_reaches_their_own_answer(setup, client_for):
    world, _step, enrollment, client = setup
    client.post(STEP_URL, VALID)
    other = client_for(world.patient_b.user)
    assert other.post(DRAFT_URL, {"word": "B"}).status_code == 404  # B is not enrolled
    assert other.get(STEP_URL).status_code == 404
    enroll(world.patient_b)
    assert other.post(DRAFT_URL, {"word": "Bob's own"}).json()["status"] == "saved"
    assert json.loads(_answer(enrollment).content)["word"] == "Courage"
    assert AssignmentAnswer.objects.count() == 2
    assert "Courage" not in other.get(STEP_URL).content.decode()
    assert client_for(world.therapist.user).post(DRAFT_URL, {"word": "x"}).status_code == 404


def test_a_stored_answer_that_is_not_json_is_shown_in_the_form_as_written(setup):
    _world, _step, enrollment, client = setup
    client.post(DRAFT_URL, {"story": "first words"})
    answer = _answer(enrollment)
    answer.content = "Written before answers were kept per field"
    answer.save()
    response = client.get(STEP_URL)
    assert response.status_code == 200
    assert "Written before answers were kept per field" in response.content.decode()


def test_an_own_activity_left_without_points_is_kept_with_0_points(clock, setup):
    from messaging.presentation import answer_lines

    _world, _step, enrollment, client = setup
    response = client.post(STEP_URL, dict(VALID, energy__own1_label="Gardening", energy__own1=""))
    assert response.status_code == 302
    answer = _answer(enrollment)
    items = json.loads(answer.content)["energy"]["items"]
    assert {"activity": "Gardening", "points": 0, "own": True} in items
    # Shown to the patient after handing in, in the form when reopened, and to the therapist.
    assert "<li>Gardening: 0</li>" in client.get(STEP_URL).content.decode()
    html = client.get(STEP_URL + "?edit=1").content.decode()
    assert 'name="energy__own1_label" value="Gardening"' in html
    therapist = {line.label: line.value for line in answer_lines(answer)}
    assert "activity: Gardening; own: yes; points: 0" in therapist["Your points"]


def test_points_below_0_are_refused_in_plain_words_and_kept(clock, setup):
    _world, step, enrollment, client = setup
    response = client.post(STEP_URL, dict(VALID, energy__1="-3", energy__2="4"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Points can&#x27;t be below 0." in html or "Points can't be below 0." in html
    assert 'value="-3"' in html
    assert _answer(enrollment).status == AssignmentAnswer.Status.DRAFT
    # The service refuses it too, whatever sent it (7 points in all, within the budget).
    with pytest.raises(ValidationError, match="below 0"):
        services.assignment_submit(
            enrollment=enrollment,
            step=step,
            answers={
                "energy": {
                    "budget": 10,
                    "items": [
                        {"activity": "Shower", "points": -3, "own": False},
                        {"activity": "Cook", "points": 10, "own": False},
                    ],
                }
            },
        )
