"""The self-harm answer in the message composer: labelled as urgent (not as a routine flag),
listed first, and marked reviewed only with a record of the contact."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from patients import services as patient_services
from patients.models import QuestionnaireResponse
from tests.work import settle

URGENT = "Urgent: self-harm item answered"


def composer(world, attach=""):
    url = reverse("messaging:staff_conversation", args=[world.patient_a.pk])
    return f"{url}?attach={attach}" if attach else url


def _phq9(enrollment, item9: int, *, days_ago: int = 0) -> QuestionnaireResponse:
    answers = {str(n): "2" for n in range(1, 9)} | {"9": str(item9)}
    response = patient_services.questionnaire_submit(
        enrollment=enrollment, code="phq9", moment="start", answers=answers
    )
    QuestionnaireResponse.objects.filter(pk=response.pk).update(
        completed_at=timezone.now() - timedelta(days=days_ago)
    )
    settle()
    return response


def _flagged(enrollment, *, days_ago: int) -> QuestionnaireResponse:
    """A routine flag (a high GAD-7), no self-harm answer."""
    response = QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        code="gad7",
        moment="module",
        total=18,
        flags=["possible_anxiety"],
        completed_at=timezone.now() - timedelta(days=days_ago),
    )
    settle()
    return response


@pytest.fixture
def urgent(clock, world, enrollment):
    """A routine flagged GAD-7 from long ago, the urgent PHQ-9 after it, a newer routine one."""
    _flagged(enrollment, days_ago=6)
    response = _phq9(enrollment, 2, days_ago=3)
    _flagged(enrollment, days_ago=1)
    return response


def _questionnaire_items(html: str) -> list[str]:
    section = html[html.index("<h3>Questionnaires</h3>") :]
    section = section[: section.index("</ul>")]
    return re.findall(r'<li id="item-(questionnaire\d+)">(.*?)</li>', section, re.S)


def test_the_urgent_questionnaire_is_labelled_urgent_and_listed_first(clock, world, urgent, client_for):
    page = client_for(world.therapist.user).get(composer(world, f"questionnaire:{urgent.pk}"))
    html = page.content.decode()
    items = _questionnaire_items(html)
    assert len(items) == 3
    first_id, first = items[0]
    assert first_id == f"questionnaire{urgent.pk}"
    assert URGENT in first and "needs attention" not in first
    # The routine flags keep their own word, and never the urgent one.
    for _id, rest in items[1:]:
        assert "needs attention" in rest and URGENT not in rest
