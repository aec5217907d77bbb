"""The intake queue (requests from the public pages) and the intake itself, per program."""

import datetime
import json
import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from icbt.models import AuditEvent, User
from patients import intake_criteria, services
from patients.models import Intake, IntakeRequest, Patient, TimelineEvent
from tests.patients import staff_helpers as sh

pytestmark = pytest.mark.django_db

QUEUE = reverse("patients:staff_intake_request_list")
# User, staff role, patient role, TOTP check, savepoint, the requests, two for the
# program titles, the audit event, the navigation's unread-message count, release: whatever the
# number of requests.
QUEUE_QUERIES = 11


# --- The intake queue ---------------------------------------------------------------------------


def test_the_queue_shows_the_clinics_waiting_requests_only(world, client_for):
    mine = sh.intake_request(world.clinic, name="Petra Jansen")
    sh.intake_request(world.clinic, name="Closed Person", status=IntakeRequest.Status.CLOSED)
    sh.intake_request(world.other_clinic, name="Other Clinic Person")
    html = client_for(world.therapist2.user).get(QUEUE).content.decode()
    assert "Petra Jansen" in html
    assert reverse("patients:staff_intake_request_detail", args=[mine.pk]) in html
    assert "Closed Person" not in html
    assert "Other Clinic Person" not in html
    assert "Closed Person" in client_for(world.therapist2.user).get(QUEUE + "?show=all").content.decode()
    assert AuditEvent.objects.filter(object_type="intake_request_list", action="search").exists()


def test_the_queue_query_count_is_pinned(world, client_for, django_assert_max_num_queries):
    client = client_for(world.therapist.user)
    sh.intake_request(world.clinic)
    client.get(QUEUE)
    with django_assert_max_num_queries(QUEUE_QUERIES):
        assert client.get(QUEUE).status_code == 200
    for i in range(25):
        sh.intake_request(world.clinic, name=f"Person {i}", email=f"p{i}@home.test")
    with django_assert_max_num_queries(QUEUE_QUERIES):
        response = client.get(QUEUE)
    assert response.content.decode().count("/staff/intake-requests/") >= 26


def test_a_request_is_read_with_its_message_and_audited(world, client_for):
    request = sh.intake_request(world.clinic, message="Please call after 3.")
    html = (
        client_for(world.therapist.user)
        .get(reverse("patients:staff_intake_request_detail", args=[request.pk]))
        .content.decode()
    )
    assert "Please call after 3." in html
    assert 'value="Petra"' in html and 'value="Jansen"' in html  # the invitation form is prefilled
    assert sh.audit_actions(object_type="intake_request") == ["view"]


@pytest.mark.parametrize("status", ["new", "contacted", "closed"])
def test_the_status_control_is_preset_to_the_current_status_in_order(clock, world, client_for, status):
    """Saving without a choice changes nothing; the statuses are listed as a request moves."""
    request = sh.intake_request(world.clinic, status=status)
    response = client_for(world.therapist.user).get(
        reverse("patients:staff_intake_request_detail", args=[request.pk])
    )
    form = response.context["status_form"]
    assert form["status"].value() == status
    assert [value for value, _label in form.fields["status"].choices] == ["new", "contacted", "closed"]
    assert re.search(rf'<option value="{status}"[^>]*selected', response.content.decode())


def test_marking_a_request_contacted_is_audited(world, client_for):
    request = sh.intake_request(world.clinic)
    response = client_for(world.therapist.user).post(
        reverse("patients:staff_intake_request_status", args=[request.pk]), {"status": "contacted"}
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert (request.status, request.handled_by) == ("contacted", world.therapist)
    assert request.handled_at is not None
    assert sh.audit_actions(object_type="intake_request") == ["change", "change"]  # the access and the change


def test_service_refuses_an_unknown_status(world):
    request = sh.intake_request(world.clinic)
    with pytest.raises(ValidationError):
        services.intake_request_status_set(intake_request=request, staff=world.therapist, status="invited")


def test_invite_to_intake_makes_the_patient_account_and_sends_the_invitation(
    world, client_for, django_capture_on_commit_callbacks
):
    request = sh.intake_request(world.clinic, language="nl")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(world.therapist.user).post(
            reverse("patients:staff_intake_request_invite", args=[request.pk]),
            {"first_name": "Petra", "last_name": "Jansen", "email": "petra@home.test", "language": "nl"},
        )
    patient = Patient.objects.get(user__email="petra@home.test")
    assert response.status_code == 302
    assert response["Location"] == reverse("patients:staff_patient_detail", args=[patient.pk])
    assert (patient.clinic, patient.therapist, patient.user.language) == (world.clinic, world.therapist, "nl")
    request.refresh_from_db()
    assert request.status == IntakeRequest.Status.INVITED
    assert [m.to for m in mail.outbox] == [["petra@home.test"]]
    with pytest.raises(ValidationError):
        services.intake_request_invite(
            intake_request=request,
            staff=world.therapist,
            first_name="P",
            last_name="J",
            email="other@home.test",
            language="en",
        )


def test_an_invitation_with_a_taken_address_keeps_what_was_typed(world, client_for):
    request = sh.intake_request(world.clinic)
    response = client_for(world.therapist.user).post(
        reverse("patients:staff_intake_request_invite", args=[request.pk]),
        {"first_name": "Anna", "last_name": "Again", "email": world.patient_a.user.email, "language": "en"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "There is already an account" in html
    assert 'value="Again"' in html
    assert IntakeRequest.objects.get().status == IntakeRequest.Status.NEW


# --- The CDC summary ------------------------------------------------------------------------------


def _fatigue_answers(*, main=5, symptoms=4, exclusions=()):
    codes = [code for code, _label in intake_criteria.CDC_MAIN_CRITERIA]
    return {
        "criteria": {code: i < main for i, code in enumerate(codes)},
        "symptoms": [code for code, _label in intake_criteria.CDC_SYMPTOMS][:symptoms],
        "exclusions": list(exclusions),
    }


@pytest.mark.parametrize(
    "main, symptoms, exclusions, met",
    [
        (5, 4, (), True),
        (5, 8, (), True),
        (5, 3, (), False),  # four of eight symptoms are needed
        (4, 8, (), False),  # every main criterion is needed
        (5, 5, ("bipolar",), False),  # an exclusion rules it out
    ],
)
def test_cdc_summary(main, symptoms, exclusions, met):
    summary = intake_criteria.intake_summary(
        "fatigue", _fatigue_answers(main=main, symptoms=symptoms, exclusions=exclusions)
    )
    assert summary.criteria_met is met
    assert (summary.main_met, summary.symptom_count) == (main, symptoms)
    assert summary.as_dict()["criteria_met"] is met


def test_pain_summary_calls_more_than_three_months_chronic():
    assert intake_criteria.intake_summary("pain", {"duration_months": 3}).chronic is False
    assert intake_criteria.intake_summary("pain", {"duration_months": 4}).chronic is True


# --- Recording the intake -------------------------------------------------------------------------


def test_intake_record_stores_answers_encrypted_with_summary_timeline_and_audit(world):
    version = sh.fatigue_version()
    answers = {**_fatigue_answers(symptoms=5), "comorbidity": "Migraine since 2010", "goals": ["Work 3 days"]}
    intake = services.intake_record(
        patient=world.patient_a,
        program=version.program,
        therapist=world.therapist,
        held_on=timezone.localdate(),
        answers=answers,
        decision="indicated",
        activity_pattern="low_active",
    )
    stored = json.loads(Intake.objects.get(pk=intake.pk).answers)
    assert stored["summary"]["criteria_met"] is True
    assert stored["summary"]["symptom_count"] == 5
    assert stored["goals"] == ["Work 3 days"]
    raw = sh.raw_column(Intake, "answers", intake.pk)
    assert "Migraine" not in raw and "Work 3 days" not in raw
    event = TimelineEvent.objects.get(patient=world.patient_a, kind=TimelineEvent.Kind.INTAKE)
    assert event.detail == {
        "intake": intake.pk,
        "program": "master-your-fatigue",
        "decision": "indicated",
        "held_on": timezone.localdate().isoformat(),
    }
    assert sh.audit_actions(object_type="intake", patient=world.patient_a) == ["create"]


def test_a_pain_intake_requires_goals_and_a_refusal_requires_a_reason(world):
    program = sh.pain_version().program
    with pytest.raises(ValidationError) as exc:
        services.intake_record(
            patient=world.patient_a,
            program=program,
            therapist=world.therapist,
            held_on=timezone.localdate(),
            answers={"goals": ["", "  "]},
            decision="not_indicated",
        )
    assert set(exc.value.message_dict) == {"goal_1", "decision_reason"}
    assert not Intake.objects.exists()


def _pain_post(**overrides):
    data = {
        "held_on": timezone.localdate().isoformat(),
        "duration_months": "18",
        "locations": ["lower_back", "neck"],
        "intensity_now": "6",
        "intensity_average": "5",
        "intensity_worst": "9",
        "interference_daily": "7",
        "interference_sleep": "4",
        "interference_mood": "5",
        "medication": "Paracetamol",
        "comorbidity": "Depressive episode in 2019",
        "activity_pattern": "persistence",
        "goal_1": "Play with my grandchildren",
        "decision": "indicated",
        "decision_reason": "",
    }
    data.update(overrides)
    return data


def _intake_url(world, slug):
    return reverse("patients:staff_intake_create", args=[world.patient_a.pk, slug])


def test_the_pain_intake_form_saves_and_shows_the_intake(world, client_for):
    sh.pain_version()
    client = client_for(world.therapist.user)
    response = client.post(_intake_url(world, "master-your-pain"), _pain_post())
    intake = Intake.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "patients:staff_intake_detail", args=[world.patient_a.pk, intake.pk]
    )
    assert intake.activity_pattern == "persistence"
    html = client.get(response["Location"]).content.decode()
    assert "Play with my grandchildren" in html
    assert "Chronic pain (more than three months): yes, 18 months" in html
    assert "lower back" in html


def test_a_failed_intake_submission_keeps_everything_typed(world, client_for):
    sh.pain_version()
    response = client_for(world.therapist.user).post(
        _intake_url(world, "master-your-pain"),
        _pain_post(goal_1="", intensity_worst="12", medication="Tramadol 50 mg at night"),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="id_goal_1_error"' in html
    assert 'id="id_intensity_worst_error"' in html
    assert "Tramadol 50 mg at night" in html
    assert "Depressive episode in 2019" in html
    assert 'value="lower_back" id="id_locations_4" checked' in html
    assert not Intake.objects.exists()


def test_checking_the_criteria_shows_the_summary_without_saving(world, client_for):
    sh.fatigue_version()
    data = {
        "held_on": timezone.localdate().isoformat(),
        "symptoms": ["sore_throat", "muscle_pain", "headaches", "unrefreshing_sleep", "joint_pain"],
        "check": "1",
        "goal_1": "Cycle to work",
    }
    for code, _label in intake_criteria.CDC_MAIN_CRITERIA:
        data[f"criterion_{code}"] = "on"
    response = client_for(world.therapist.user).post(_intake_url(world, "master-your-fatigue"), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "CDC criteria met: yes" in html
    assert "Symptoms: 5 of 8 (at least 4 needed)" in html
    assert 'id="id_decision_error"' not in html  # the decision is not asked yet
    assert 'value="Cycle to work"' in html
    assert not Intake.objects.exists()


def test_the_fatigue_form_lists_the_criteria_symptoms_and_exclusions(world, client_for):
    sh.fatigue_version()
    html = client_for(world.therapist.user).get(_intake_url(world, "master-your-fatigue")).content.decode()
    for _code, label in [
        *intake_criteria.CDC_MAIN_CRITERIA,
        *intake_criteria.CDC_SYMPTOMS,
        *intake_criteria.CDC_EXCLUSIONS,
    ]:
        assert str(label).replace("'", "&#x27;") in html
    assert "<legend>" in html


def test_the_intake_date_cannot_be_in_the_future(world, client_for):
    sh.pain_version()
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    response = client_for(world.therapist.user).post(
        _intake_url(world, "master-your-pain"), _pain_post(held_on=tomorrow.isoformat())
    )
    assert 'id="id_held_on_error"' in response.content.decode()


def test_intake_pages_are_only_for_the_patients_therapist(world, client_for):
    sh.pain_version()
    assert (
        client_for(world.therapist2.user)
        .post(_intake_url(world, "master-your-pain"), _pain_post())
        .status_code
        == 403
    )
    assert client_for(world.outsider.user).get(_intake_url(world, "master-your-pain")).status_code == 404
    assert not Intake.objects.exists()
    assert User.objects.filter(email=world.patient_a.user.email).exists()
