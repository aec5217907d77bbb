"""Safety signals on the patient's pages: an open urgent item (a self-harm answer) is flagged at
the top of the overview, beside the name in "My patients" and "My caseload", and on the
timeline's line of the questionnaire."""

import pytest
from django.urls import reverse
from django.utils import timezone

from patients import services
from patients.models import QuestionnaireResponse
from tests.messaging.helpers import enroll
from tests.work import settle

BANNER = 'id="urgent-banner-title"'
MARK = "Urgent: self-harm item answered"


def _phq9(enrollment, item9: int) -> QuestionnaireResponse:
    answers = {str(n): "1" for n in range(1, 9)} | {"9": str(item9)}
    response = services.questionnaire_submit(
        enrollment=enrollment, code="phq9", moment="start", answers=answers
    )
    settle()
    return response


@pytest.fixture
def enrolled(clock, world):
    return enroll(world.patient_a, start_days_ago=3, weekday=timezone.localdate().weekday())


def test_the_overview_flags_an_open_self_harm_answer_at_the_top(clock, world, enrolled, client_for):
    response = _phq9(enrolled, 1)
    client = client_for(world.therapist.user)
    html = client.get(reverse("patients:staff_patient_detail", args=[world.patient_a.pk])).content.decode()
    assert BANNER in html
    banner = html[html.index(BANNER) : html.index("</section>", html.index(BANNER))]
    assert "PHQ-9" in banner and "thoughts of self-harm" in banner
    assert f"?attach=questionnaire:{response.pk}" in banner
    assert html.index(BANNER) < html.index('id="timeline-heading"')
    # The timeline's line of the questionnaire says so too.
    timeline = html[html.index('id="timeline-heading"') :]
    assert MARK in timeline


def test_a_routine_answer_gets_no_banner(clock, world, enrolled, client_for):
    _phq9(enrolled, 0)
    client = client_for(world.therapist.user)
    html = client.get(reverse("patients:staff_patient_detail", args=[world.patient_a.pk])).content.decode()
    assert BANNER not in html and MARK not in html


@pytest.mark.parametrize("name", ["patients:staff_patient_list", "therapists:caseload"])
def test_the_lists_mark_the_patient_with_an_open_urgent_item(clock, world, enrolled, client_for, name):
    client = client_for(world.therapist.user)
    assert MARK not in client.get(reverse(name)).content.decode()
    _phq9(enrolled, 2)
    html = client.get(reverse(name)).content.decode()
    assert html.count(MARK) == 1
    row = html[html.rindex("<tr", 0, html.index(MARK)) : html.index(MARK)]
    assert "Anna" in row and "Bob" not in row


def test_two_open_self_harm_answers_name_the_oldest_and_count_the_other(clock, world, enrolled, client_for):
    first = _phq9(enrolled, 1)
    _phq9(enrolled, 2)
    client = client_for(world.therapist.user)
    html = client.get(reverse("patients:staff_patient_detail", args=[world.patient_a.pk])).content.decode()
    banner = html[html.index(BANNER) : html.index("</section>", html.index(BANNER))]
    assert f"?attach=questionnaire:{first.pk}" in banner
    assert "1 more urgent answer: all are listed first in the message box." in banner
