"""End of Master your Fatigue: end questionnaires, the stepped-care advice and the decision."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from patients import services, stepped_care
from patients.models import Enrollment, QuestionnaireResponse, SteppedCareDecision, TimelineEvent
from tests.patients import staff_helpers as sh
from tests.work import settle

pytestmark = pytest.mark.django_db


# --- The rule -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cis, pf, advice",
    [
        (34, 71, stepped_care.FINISH),  # just below both thresholds
        (35, 71, stepped_care.STEP_UP),  # CIS at the threshold: severe fatigue
        (34, 70, stepped_care.STEP_UP),  # physical functioning at the threshold: impaired
        (35, 70, stepped_care.STEP_UP),
        (8, 100, stepped_care.FINISH),
        (None, 71, stepped_care.INCOMPLETE),
        (34, None, stepped_care.INCOMPLETE),
        (40, None, stepped_care.STEP_UP),  # one score meeting its threshold is enough
        (None, 50, stepped_care.STEP_UP),
        (None, None, stepped_care.INCOMPLETE),
    ],
)
def test_advice_at_the_threshold_edges(cis, pf, advice):
    result = stepped_care.advice_for(cis_total=cis, pf_total=pf)
    assert result.code == advice
    assert "35 or higher" in result.rule and "70 or lower" in result.rule


def test_thresholds_come_from_settings(settings):
    settings.ICBT_STEPUP_CIS_THRESHOLD = 40
    settings.ICBT_STEPUP_RAND_PF_THRESHOLD = 65
    assert stepped_care.advice_for(cis_total=39, pf_total=70).code == stepped_care.FINISH
    assert stepped_care.advice_for(cis_total=40, pf_total=70).code == stepped_care.STEP_UP
    assert stepped_care.advice_for(cis_total=20, pf_total=65).code == stepped_care.STEP_UP
    assert "40 or higher" in stepped_care.advice_for(cis_total=1, pf_total=1).rule


def test_only_the_fatigue_program_has_stepped_care():
    assert stepped_care.applies_to("master-your-fatigue")
    assert not stepped_care.applies_to("master-your-pain")


# --- Scores entered by the therapist ------------------------------------------------------------------


@pytest.fixture
def enrollment(world):
    item = sh.enroll(world.patient_a, sh.fatigue_version())
    item.patient = world.patient_a
    return item


def _enter(world, enrollment, code, total, moment="end"):
    # These tests file end scores without start scores on purpose: confirmed as such.
    return services.questionnaire_score_enter(
        enrollment=enrollment,
        staff=world.therapist,
        code=code,
        moment=moment,
        total=total,
        end_without_start=moment == "end",
    )


def test_entered_scores_are_validated_by_the_programs_scoring(world, enrollment):
    response = _enter(world, enrollment, "cis_fatigue", "41")
    assert (float(response.total), response.band, response.entered_by) == (
        41.0,
        "severe",
        world.therapist.user,
    )
    assert response.flags == ["severe_fatigue"]
    for code, total in [
        ("cis_fatigue", "7"),
        ("cis_fatigue", "57"),
        ("rand36_pf", "72"),
        ("rand36_pf", "abc"),
        ("gad7", "5"),
    ]:
        with pytest.raises(ValidationError):
            _enter(world, enrollment, code, total, moment="start")
    with pytest.raises(ValidationError):  # once per moment
        _enter(world, enrollment, "cis_fatigue", "30")
    event = TimelineEvent.objects.get(kind=TimelineEvent.Kind.QUESTIONNAIRE)
    assert event.detail["entered"] is True and event.detail["total"] == 41.0
    assert sh.audit_actions(object_type="questionnaire_response", patient=world.patient_a) == ["create"]


# --- The decision -------------------------------------------------------------------------------------


def test_step_up_is_recorded_with_the_advice_and_the_reason(world, enrollment):
    _enter(world, enrollment, "cis_fatigue", "38")
    _enter(world, enrollment, "rand36_pf", "75")
    decision = services.stepped_care_decide(
        enrollment=enrollment,
        staff=world.therapist,
        decision="step_up",
        reason="Still severely fatigued; patient wants face-to-face CBT",
    )
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.STEPPED_UP and enrollment.ended_at is not None
    assert decision.advice == {
        "advice": "step_up",
        "cis_total": 38.0,
        "pf_total": 75.0,
        "cis_threshold": 35,
        "pf_threshold": 70,
        "cis_severe": True,
        "pf_impaired": False,
        "cis_threshold_source": "published",
        "pf_threshold_source": "published",
    }
    assert "face-to-face" not in sh.raw_column(SteppedCareDecision, "reason", decision.pk)
    kinds = sh.timeline_kinds(world.patient_a)
    assert kinds[-2:] == [TimelineEvent.Kind.STATUS, TimelineEvent.Kind.STEPPED_CARE]
    assert sh.audit_actions(object_type="stepped_care_decision", patient=world.patient_a) == ["create"]


def test_finishing_against_the_advice_is_allowed_with_a_reason(world, enrollment):
    _enter(world, enrollment, "cis_fatigue", "36")
    services.stepped_care_decide(
        enrollment=enrollment,
        staff=world.therapist,
        decision="finish",
        reason="Patient returns to work full time and declines more treatment",
    )
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert SteppedCareDecision.objects.get().advice["advice"] == "step_up"


def test_the_decision_needs_a_reason_and_is_made_once(world, enrollment):
    with pytest.raises(ValidationError):
        services.stepped_care_decide(
            enrollment=enrollment, staff=world.therapist, decision="finish", reason=" "
        )
    services.stepped_care_decide(
        enrollment=enrollment, staff=world.therapist, decision="finish", reason="Done"
    )
    with pytest.raises(ValidationError):
        services.stepped_care_decide(
            enrollment=enrollment, staff=world.therapist, decision="step_up", reason="Changed my mind"
        )


def test_other_programs_have_no_stepped_care_decision(world):
    enrollment = sh.enroll(world.patient_a, sh.pain_version())
    with pytest.raises(ValidationError):
        services.stepped_care_decide(
            enrollment=enrollment, staff=world.therapist, decision="finish", reason="x"
        )


# --- The page -------------------------------------------------------------------------------------------


def test_the_end_page_shows_scores_the_rule_and_records_the_decision(world, enrollment, client_for):
    QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id, enrollment=enrollment, code="rand36_pf", moment="end", total="65"
    )
    settle()
    client = client_for(world.therapist.user)
    url = reverse("patients:staff_enrollment_end", args=[world.patient_a.pk, enrollment.pk])
    html = client.get(url).content.decode()
    assert "Advice: step up to face-to-face CBT" in html
    assert "35 or higher" in html and "70 or lower" in html
    assert "licensed: enter the score from the paper form" in html
    response = client.post(
        reverse("patients:staff_questionnaire_enter", args=[world.patient_a.pk, enrollment.pk]),
        {"code": "cis_fatigue", "moment": "end", "total": "70"},
    )
    assert response.status_code == 200
    assert "between 8 and 56" in response.content.decode()
    response = client.post(
        reverse("patients:staff_questionnaire_enter", args=[world.patient_a.pk, enrollment.pk]),
        {"code": "cis_fatigue", "moment": "end", "total": "30", "end_without_start": "on"},
    )
    assert response.status_code == 302
    response = client.post(url, {"decision": "step_up", "reason": ""})
    assert response.status_code == 200
    assert 'id="id_reason_error"' in response.content.decode()
    response = client.post(url, {"decision": "step_up", "reason": "Physical functioning still impaired"})
    assert response.status_code == 302
    html = client.get(url).content.decode()
    assert "Physical functioning still impaired" in html
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.STEPPED_UP


def test_other_programs_end_with_complete(world, client_for):
    enrollment = sh.enroll(world.patient_a)
    url = reverse("patients:staff_enrollment_end", args=[world.patient_a.pk, enrollment.pk])
    client = client_for(world.therapist.user)
    html = client.get(url).content.decode()
    assert "Stepped-care advice" not in html
    assert client.post(url, {"reason": "All modules done"}).status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED


# --- One source for the thresholds: the clinic's licensed file, else the setting, else published ---

LICENSED_CIS_40 = """\
instrument: cis_fatigue
language: en
title: Fatigue questionnaire (licensed)
licence: Licensed to the test clinic.
options: [{value: 1, label: "1"}, {value: 2, label: "2"}, {value: 3, label: "3"}, {value: 4, label: "4"},
          {value: 5, label: "5"}, {value: 6, label: "6"}, {value: 7, label: "7"}]
reverse_scored: [2, 5]
severe_threshold: 40
items: [one, two, three, four, five, six, seven, eight]
"""


def _load_licensed_40(world):
    from programs import services as program_services

    return program_services.licensed_instrument_load(
        clinic=world.clinic, data=LICENSED_CIS_40.encode(), uploaded_by=world.admin.user
    )


def test_a_licensed_file_that_says_40_sets_both_the_band_and_the_advice(world, enrollment, client_for):
    _load_licensed_40(world)
    response = _enter(world, enrollment, "cis_fatigue", "38")
    _enter(world, enrollment, "rand36_pf", "80")
    # 38 is below the clinic's 40: not severe, and the advice agrees (with the setting's 35 it
    # would have said "step up" beside a band that says "not severe").
    assert response.band == "not_severe"
    url = reverse(
        "patients:staff_enrollment_end", kwargs={"pk": world.patient_a.pk, "enrollment_id": enrollment.pk}
    )
    html = client_for(world.therapist.user).get(url).content.decode()
    assert "Advice: finish the program" in html
    assert (
        "CIS fatigue threshold used: 40 (from your clinic&#x27;s licensed questionnaire file (en))." in html
    )
    assert "RAND-36 physical functioning threshold used: 70 (the published value)." in html
    decision = services.stepped_care_decide(
        enrollment=enrollment, staff=world.therapist, decision="finish", reason="Doing well"
    )
    assert decision.advice["cis_threshold"] == 40 and decision.advice["cis_threshold_source"] == "licensed"


def test_the_installation_setting_is_named_when_it_differs_from_the_published_value(
    world, enrollment, client_for, settings
):
    settings.ICBT_STEPUP_RAND_PF_THRESHOLD = 65
    _enter(world, enrollment, "cis_fatigue", "36")
    url = reverse(
        "patients:staff_enrollment_end", kwargs={"pk": world.patient_a.pk, "enrollment_id": enrollment.pk}
    )
    html = client_for(world.therapist.user).get(url).content.decode()
    assert "CIS fatigue threshold used: 35 (the published value)." in html
    assert "threshold used: 65 (from this installation&#x27;s setting ICBT_STEPUP_RAND_PF_THRESHOLD)." in html
    assert "Advice: step up to face-to-face CBT" in html


def test_the_mid_treatment_measurement_gives_an_early_signal(world, enrollment, client_for):
    from decimal import Decimal

    from django.utils import timezone

    _load_licensed_40(world)
    for code, total in (("cis_fatigue", Decimal("44")), ("rand36_pf", Decimal("85"))):
        QuestionnaireResponse.objects.create(
            clinic_id=enrollment.clinic_id,
            enrollment=enrollment,
            code=code,
            moment="module",
            answers=[],
            total=total,
            completed_at=timezone.now(),
        )
    settle()
    client = client_for(world.therapist.user)
    for url in (
        reverse("patients:staff_patient_detail", kwargs={"pk": world.patient_a.pk}),
        reverse(
            "patients:staff_enrollment_end", kwargs={"pk": world.patient_a.pk, "enrollment_id": enrollment.pk}
        ),
    ):
        html = client.get(url).content.decode()
        assert "Likely to need face-to-face CBT: plan an early conversation" in html, url
        assert "CIS fatigue threshold used: 40" in html


def test_no_early_signal_without_a_mid_treatment_measurement(world, enrollment, client_for):
    html = (
        client_for(world.therapist.user)
        .get(reverse("patients:staff_patient_detail", kwargs={"pk": world.patient_a.pk}))
        .content.decode()
    )
    assert "data-mid-advice" not in html


def test_a_mid_treatment_score_can_be_entered_from_paper_when_the_schedule_asks_it(world, client_for):
    version = sh.measured_version(
        "master-your-fatigue", after_module={"3": ["phq9", "cis_fatigue", "rand36_pf"]}
    )
    enrollment = sh.enroll(world.patient_b, version)
    response = services.questionnaire_score_enter(
        enrollment=enrollment, staff=world.therapist, code="cis_fatigue", moment="module", total="41"
    )
    assert response.moment == "module" and response.band == "severe"
    with pytest.raises(ValidationError):  # not in the schedule after a module
        services.questionnaire_score_enter(
            enrollment=enrollment, staff=world.therapist, code="fatigue_nrs", moment="module", total="5"
        )
    html = (
        client_for(world.therapist.user)
        .get(reverse("patients:staff_patient_detail", kwargs={"pk": world.patient_b.pk}))
        .content.decode()
    )
    assert "Likely to need face-to-face CBT: plan an early conversation" in html
    assert "RAND-36 physical functioning, mid-treatment:" in html and "no score yet" in html
