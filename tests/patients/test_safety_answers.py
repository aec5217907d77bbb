"""A safety answer is never lost: a questionnaire answered a second time (a second tab, a page kept
open) keeps the new answers when item 9 is above 0, and they take the urgent path; calm second
answers leave the first one standing."""

import pytest

from icbt.models import Notification
from patients.models import QuestionnaireResponse
from tests.patients.patient_helpers import enroll, tiny_version
from tests.work import settle

pytestmark = pytest.mark.django_db

PHQ_URL = "/me/steps/first/mood-start/"


def _phq(item9):
    return {**{f"q{n}": "1" for n in range(1, 9)}, "q9": str(item9)}


@pytest.fixture
def patient_client(world, client_for):
    enroll(world.patient_a, tiny_version())
    return client_for(world.patient_a.user)


def test_a_second_answer_with_item_9_is_kept_and_urgent(world, patient_client):
    client = patient_client
    client.post(PHQ_URL, _phq(0))
    assert not Notification.objects.filter(urgent=True).exists()
    response = client.post(PHQ_URL, _phq(2))
    assert response.status_code == 302
    assert sorted(r.answers[8] for r in QuestionnaireResponse.objects.all()) == [0, 2]
    assert Notification.objects.filter(recipient=world.therapist.user, urgent=True).exists()
    page = client.get(PHQ_URL).content.decode()
    assert 'class="crisis" role="alert"' in page and 'href="tel:112"' in page


def test_a_calm_second_answer_leaves_the_first_standing(patient_client):
    client = patient_client
    client.post(PHQ_URL, _phq(0))
    client.post(PHQ_URL, _phq(0))
    assert QuestionnaireResponse.objects.count() == 1


def test_the_same_holds_for_a_questionnaire_without_a_step(world):
    from django.core.exceptions import ValidationError

    from patients import services

    enrollment = enroll(world.patient_b, tiny_version())

    def submit(item9):
        answers = {**{n: 1 for n in range(1, 9)}, 9: item9}
        return services.questionnaire_submit(
            enrollment=enrollment, code="phq9", moment="end", answers=answers
        )

    submit(0)
    assert submit(1).flags[0] == "self_harm"
    with pytest.raises(ValidationError):
        submit(0)  # calm again: the first answer stands
    assert sorted(r.answers[8] for r in QuestionnaireResponse.objects.filter(code="phq9")) == [0, 1]


def test_a_phq9_with_item_9_sent_after_the_end_is_kept_and_urgent(world, client_for):
    from patients.models import Enrollment

    enrollment = enroll(world.patient_a, tiny_version())
    client = client_for(world.patient_a.user)
    client.get(PHQ_URL)  # the page opened before the end ...
    Enrollment.objects.filter(pk=enrollment.pk).update(status=Enrollment.Status.COMPLETED)
    settle()
    client.post(PHQ_URL, _phq(1))  # ... and sent after it
    stored = QuestionnaireResponse.objects.get(enrollment=enrollment)
    assert stored.flags[0] == "self_harm"
    assert Notification.objects.filter(recipient=world.therapist.user, urgent=True).exists()
    page = client.get(PHQ_URL).content.decode()
    assert 'class="crisis" role="alert"' in page and 'href="tel:112"' in page
    # Without a step (the end questionnaire) the same, and the answer page shows the crisis lines.
    page = client.post("/me/questionnaires/end/phq9/", _phq(2)).content.decode()
    assert 'class="crisis" role="alert"' in page and 'href="tel:112"' in page
    assert QuestionnaireResponse.objects.filter(enrollment=enrollment, moment="end", step=None).exists()


def test_a_calm_phq9_after_the_end_is_refused(world, client_for):
    from patients.models import Enrollment

    enrollment = enroll(world.patient_a, tiny_version(), status=Enrollment.Status.COMPLETED)
    client = client_for(world.patient_a.user)
    page = client.post(PHQ_URL, _phq(0)).content.decode()
    assert "Your program has ended" in page and 'class="crisis"' not in page
    assert not QuestionnaireResponse.objects.filter(enrollment=enrollment).exists()
    # Incomplete, with item 9 above 0: not kept, but the crisis lines are on the page.
    page = client.post(PHQ_URL, {"q9": "2"}).content.decode()
    assert 'class="crisis" role="alert"' in page and 'href="tel:112"' in page
    assert not QuestionnaireResponse.objects.filter(enrollment=enrollment).exists()


def test_an_unknown_questionnaire_is_not_found_not_a_server_error(patient_client):
    assert patient_client.post("/me/questionnaires/end/no-such-code/", _phq(2)).status_code == 404
    assert patient_client.get("/me/questionnaires/end/no-such-code/").status_code == 404
