"""A score typed in from a paper form: the moment has no default, and an end score filed while
the start score is missing needs a confirmation."""

import pytest
from django.urls import reverse

from patients.models import QuestionnaireResponse
from tests.patients import staff_helpers as sh

pytestmark = pytest.mark.django_db


@pytest.fixture
def end_page(world, client_for):
    enrollment = sh.enroll(world.patient_a, sh.fatigue_version())
    client = client_for(world.therapist.user)
    enter = reverse("patients:staff_questionnaire_enter", args=[world.patient_a.pk, enrollment.pk])
    end = reverse("patients:staff_enrollment_end", args=[world.patient_a.pk, enrollment.pk])
    return enrollment, client, enter, end


def test_the_moment_has_no_default(end_page):
    _enrollment, client, enter, end = end_page
    html = client.get(end).content.decode()
    select = html[html.index('name="moment"') : html.index("</select>", html.index('name="moment"'))]
    # A browser shows the first option when none is selected: that must be the empty choice.
    options = [part.split('"')[1] for part in select.split("<option value=")[1:]]
    assert options == ["", "start", "end"]
    assert 'value="end" selected' not in select and 'value="start" selected' not in select
    response = client.post(enter, {"code": "cis_fatigue", "total": "30"})
    assert response.status_code == 200
    assert "Choose whether this is the start or the end score." in response.content.decode()
    assert not QuestionnaireResponse.objects.exists()


def test_an_end_score_without_a_start_score_asks_for_a_confirmation(end_page):
    enrollment, client, enter, _end = end_page
    refused = client.post(enter, {"code": "cis_fatigue", "moment": "end", "total": "30"})
    html = refused.content.decode()
    assert refused.status_code == 200 and "There is no start score of this questionnaire yet" in html
    assert 'type="checkbox" name="end_without_start"' in html
    assert 'value="30"' in html  # what was typed is kept
    assert not QuestionnaireResponse.objects.filter(enrollment=enrollment).exists()
    confirmed = client.post(
        enter, {"code": "cis_fatigue", "moment": "end", "total": "30", "end_without_start": "on"}
    )
    assert confirmed.status_code == 302
    assert QuestionnaireResponse.objects.get(enrollment=enrollment).moment == "end"


def test_an_end_score_after_the_start_score_needs_no_confirmation(end_page):
    enrollment, client, enter, _end = end_page
    assert client.post(enter, {"code": "cis_fatigue", "moment": "start", "total": "44"}).status_code == 302
    assert client.post(enter, {"code": "cis_fatigue", "moment": "end", "total": "30"}).status_code == 302
    assert list(
        QuestionnaireResponse.objects.filter(enrollment=enrollment).values_list("moment", flat=True)
    ) == [
        "start",
        "end",
    ]
