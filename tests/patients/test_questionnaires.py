"""Questionnaires: scored automatically with programs' scoring, PHQ-9 item 9 flagged with a kind
message and the clinic's crisis instructions, licensed CIS with or without loaded texts, scores
over time."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from patients import services
from patients.models import QuestionnaireResponse, StepProgress, TimelineEvent
from programs.models import LicensedInstrument
from tests.patients.patient_helpers import enroll, step_of, tiny_version

pytestmark = pytest.mark.django_db

PHQ_URL = "/me/steps/first/mood-start/"
CIS_URL = "/me/steps/first/fatigue-start/"


@pytest.fixture
def setup(world, client_for):
    world.clinic.crisis_instructions = "Call the crisis line of Alpha Clinic: 0800-1234."
    world.clinic.save()
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    return world, version, enrollment, client_for(world.patient_a.user)


def _phq(item9=0, others=1):
    return {**{f"q{n}": str(others) for n in range(1, 9)}, "q9": str(item9)}


def test_a_questionnaire_step_is_scored_and_stored(setup):
    _world, version, enrollment, client = setup
    response = client.post(PHQ_URL, _phq(others=1))
    assert response.status_code == 302
    stored = QuestionnaireResponse.objects.get(enrollment=enrollment)
    assert (stored.code, stored.moment, stored.total, stored.band) == (
        "phq9",
        "start",
        Decimal("8.0"),
        "mild",
    )
    assert stored.answers == [1, 1, 1, 1, 1, 1, 1, 1, 0] and stored.flags == []
    assert stored.step == step_of(version, "mood-start")
    assert StepProgress.objects.get(enrollment=enrollment, step=stored.step).completed_at
    assert TimelineEvent.objects.filter(enrollment=enrollment, kind=TimelineEvent.Kind.QUESTIONNAIRE).exists()
    html = client.get(PHQ_URL).content.decode()
    assert "Your score: <strong>8</strong>" in html and "That is: mild." in html
    assert "A lower score means you were bothered less" in html
    assert "Thank you for your honest answer" not in html
    # Answered once per step.
    assert "Your score: <strong>8</strong>" in client.post(PHQ_URL, _phq(others=3)).content.decode()
    assert QuestionnaireResponse.objects.count() == 1


def test_phq9_item_9_shows_a_kind_message_with_the_crisis_instructions_and_flags_it(setup):
    _world, _version, enrollment, client = setup
    client.post(PHQ_URL, _phq(item9=1, others=0))
    stored = QuestionnaireResponse.objects.get(enrollment=enrollment)
    assert "self_harm" in stored.flags and stored.is_urgent
    html = client.get(PHQ_URL).content.decode()
    assert "Thank you for your honest answer" in html
    assert (
        'Call the crisis line of Alpha Clinic: <a href="tel:08001234" class="crisis-phone">0800-1234</a>.'
        in html
    )
    assert "Call the crisis line" in client.get(reverse("patients:questionnaires")).content.decode()


def test_an_incomplete_questionnaire_is_refused_and_keeps_the_answers(setup):
    _world, _version, enrollment, client = setup
    data = _phq()
    del data["q4"]
    data["q2"] = "3"
    response = client.post(PHQ_URL, data)
    html = response.content.decode()
    assert response.status_code == 200 and "Please answer this question." in html
    assert 'name="q2" value="3" id="id_q2_3" checked' in html or ('value="3"' in html and "checked" in html)
    assert not QuestionnaireResponse.objects.exists()
    with pytest.raises(ValidationError):
        services.questionnaire_submit(enrollment=enrollment, code="phq9", moment="start", answers={1: 1})


def test_licensed_cis_without_texts_is_asked_by_the_therapist_and_the_step_is_done(setup):
    _world, version, enrollment, client = setup
    html = client.get(CIS_URL).content.decode()
    assert "is filled in with your therapist" in html
    assert StepProgress.objects.get(
        enrollment=enrollment, step=step_of(version, "fatigue-start")
    ).completed_at


def test_licensed_cis_with_the_clinics_texts_is_filled_in_and_scored(setup):
    world, _version, enrollment, client = setup
    LicensedInstrument.objects.create(
        clinic=world.clinic,
        code="cis_fatigue",
        language="en",
        title="CIS (licensed)",
        items=[f"Licensed item {n}" for n in range(1, 9)],
        options=[{"value": v, "label": str(v)} for v in range(1, 8)],
        reverse_scored=[2, 5],
        severe_threshold=35,
        licence_note="Licensed to Alpha Clinic.",
        source_sha256="0" * 64,
    )
    html = client.get(CIS_URL).content.decode()
    assert "Licensed item 8" in html
    response = client.post(CIS_URL, {f"q{n}": "6" for n in range(1, 9)})
    assert response.status_code == 302
    stored = QuestionnaireResponse.objects.get(enrollment=enrollment, code="cis_fatigue")
    assert stored.total == Decimal(6 * 6 + 2 * 2)  # items 2 and 5 reversed: 8 - 6
    assert stored.band == "severe" and "severe_fatigue" in stored.flags
    assert stored.moment == "module"  # not in the tiny program's start list


def test_a_start_questionnaire_without_a_step_is_filled_in_from_home(setup):
    _world, _version, enrollment, client = setup
    home = client.get(reverse("patients:home")).content.decode()
    url = reverse("patients:questionnaire_fill", args=["start", "pain_nrs"])
    assert url in home
    assert client.get(url).status_code == 200
    response = client.post(url, {"q1": "7"})
    assert response.status_code == 200 and "Your score: <strong>7</strong>" in response.content.decode()
    stored = QuestionnaireResponse.objects.get(enrollment=enrollment, code="pain_nrs")
    assert (stored.moment, stored.total, stored.step) == ("start", Decimal("7.0"), None)
    assert url not in client.get(reverse("patients:home")).content.decode()
    # Not due for anyone else, and not for a questionnaire the version does not list.
    assert client.get(reverse("patients:questionnaire_fill", args=["start", "gad7"])).status_code == 404


def test_scores_over_time_page(setup):
    _world, _version, enrollment, client = setup
    client.post(PHQ_URL, _phq(others=2))
    html = client.get(reverse("patients:questionnaires")).content.decode()
    assert "Mood (PHQ-9)" in html and '<svg class="chart"' in html and "Your score was 16" in html
    assert "Lower is better." in html
