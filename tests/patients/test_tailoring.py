"""Tailoring per patient: skip or add steps, open or hold modules, change the feedback rhythm."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from patients import services
from patients.models import ModuleState, StepOverride, TimelineEvent
from patients.progress import HELD, LOCKED, OPEN, progress_for
from programs.models import ClinicProgramSetting
from tests.patients import staff_helpers as sh
from tests.work import settle

pytestmark = pytest.mark.django_db

# User, staff role, patient role, TOTP check, savepoint, the patient, the audit event,
# the enrollment, seven for progress, five for the outline, the navigation's unread-message
# count, release.
TAILOR_QUERIES = 22


@pytest.fixture
def enrollment(world):
    item = sh.enroll(world.patient_a)
    item.patient = world.patient_a
    return item


def _shown(enrollment, module_slug="first"):
    progress = progress_for(enrollment, with_diaries=False)
    return [s.step.slug for s in progress.module(module_slug).steps]


def test_skipping_and_adding_a_step(world, enrollment):
    assert "plan" in _shown(enrollment)
    services.step_override_set(
        enrollment=enrollment, staff=world.therapist, step_key="first/plan", included=False
    )
    assert "plan" not in _shown(enrollment)
    services.step_override_set(
        enrollment=enrollment, staff=world.therapist, step_key="first/plan", included=True
    )
    assert "plan" in _shown(enrollment)
    assert StepOverride.objects.get().included is True
    assert sh.timeline_kinds(world.patient_a) == [
        TimelineEvent.Kind.STEP_SKIPPED,
        TimelineEvent.Kind.STEP_ADDED,
    ]
    assert sh.audit_actions(object_type="step_override", patient=world.patient_a) == ["change", "change"]


def test_adding_an_optional_step_the_clinic_switched_off(world, enrollment):
    ClinicProgramSetting.objects.create(
        clinic=world.clinic, program=enrollment.version.program, optional_steps_off=["first/story"]
    )
    assert "story" not in _shown(enrollment)
    services.step_override_set(
        enrollment=enrollment, staff=world.therapist, step_key="first/story", included=True
    )
    assert "story" in _shown(enrollment)


def test_unknown_steps_and_ended_enrollments_are_refused(world, enrollment):
    with pytest.raises(ValidationError):
        services.step_override_set(
            enrollment=enrollment, staff=world.therapist, step_key="first/nope", included=False
        )
    enrollment.status = "completed"
    enrollment.save(update_fields=["status"])
    settle()
    with pytest.raises(ValidationError):
        services.step_override_set(
            enrollment=enrollment, staff=world.therapist, step_key="first/plan", included=False
        )
    assert not StepOverride.objects.exists()


def test_opening_holding_and_releasing_a_module(world, enrollment):
    assert progress_for(enrollment).modules[1].state == LOCKED
    services.module_state_set(enrollment=enrollment, staff=world.therapist, module_number=2, state="opened")
    assert progress_for(enrollment).modules[1].state == OPEN
    services.module_state_set(enrollment=enrollment, staff=world.therapist, module_number=1, state="held")
    assert progress_for(enrollment).modules[0].state == HELD
    services.module_state_set(enrollment=enrollment, staff=world.therapist, module_number=1, state="default")
    assert progress_for(enrollment).modules[0].state == OPEN
    assert not ModuleState.objects.filter(module_number=1).exists()
    assert sh.timeline_kinds(world.patient_a) == [
        TimelineEvent.Kind.MODULE_OPENED,
        TimelineEvent.Kind.MODULE_HELD,
        TimelineEvent.Kind.MODULE_DEFAULT,
    ]
    assert len(sh.audit_actions(object_type="module_state", patient=world.patient_a)) == 3
    with pytest.raises(ValidationError):
        services.module_state_set(
            enrollment=enrollment, staff=world.therapist, module_number=7, state="opened"
        )


@pytest.mark.every_weekday
def test_changing_the_feedback_rhythm(world, enrollment, client_for):
    url = reverse("patients:staff_enrollment_cadence", args=[world.patient_a.pk, enrollment.pk])
    client = client_for(world.therapist.user)
    assert 'value="weekly"' in client.get(url).content.decode()
    response = client.post(
        url, {"feedback_cadence": "fortnightly", "feedback_weekday": "9", "inactivity_days": "5"}
    )
    assert response.status_code == 200
    assert 'id="id_feedback_weekday_error"' in response.content.decode()
    response = client.post(
        url, {"feedback_cadence": "fortnightly", "feedback_weekday": "4", "inactivity_days": "5"}
    )
    assert response.status_code == 302
    enrollment.refresh_from_db()
    assert (enrollment.feedback_cadence, enrollment.feedback_weekday, enrollment.inactivity_days) == (
        "fortnightly",
        4,
        5,
    )
    event = TimelineEvent.objects.get(kind=TimelineEvent.Kind.CADENCE)
    assert event.detail["after"] == {"cadence": "fortnightly", "weekday": 4, "inactivity_days": 5}
    assert event.detail["before"]["cadence"] == "weekly"
    # Saving the same rhythm again writes nothing.
    client.post(url, {"feedback_cadence": "fortnightly", "feedback_weekday": "4", "inactivity_days": "5"})
    assert TimelineEvent.objects.filter(kind=TimelineEvent.Kind.CADENCE).count() == 1


def test_the_tailor_page_and_its_buttons(world, enrollment, client_for):
    client = client_for(world.therapist.user)
    url = reverse("patients:staff_enrollment_tailor", args=[world.patient_a.pk, enrollment.pk])
    html = client.get(url).content.decode()
    assert "Module 2: The second module" in html
    assert 'name="step_key" value="first/plan"' in html
    # Module 1 is open already: it can be kept open whatever happens before it; module 2 can be
    # opened early.
    assert "Open module 1 now" not in html and "Keep module 1 open" in html
    assert "Open module 2 now" in html
    response = client.post(
        reverse("patients:staff_step_override", args=[world.patient_a.pk, enrollment.pk]),
        {"step_key": "first/plan", "included": "0"},
    )
    assert response.status_code == 302 and response["Location"].startswith(url)
    assert StepOverride.objects.get(step_key="first/plan").included is False
    response = client.post(
        reverse("patients:staff_module_state", args=[world.patient_a.pk, enrollment.pk]),
        {"module_number": "2", "state": "opened"},
        follow=True,
    )
    assert "Module 2 is saved." in response.content.decode()
    response = client.post(
        reverse("patients:staff_step_override", args=[world.patient_a.pk, enrollment.pk]),
        {"step_key": "first/nope", "included": "0"},
        follow=True,
    )
    assert "not part of the patient" in response.content.decode()
    timeline = client.get(
        reverse("patients:staff_patient_detail", args=[world.patient_a.pk])
    ).content.decode()
    assert "Step skipped for this patient: My plan" in timeline
    assert "Module 2 opened by the therapist" in timeline


def test_the_tailor_page_query_count_is_pinned(world, enrollment, client_for, django_assert_max_num_queries):
    client = client_for(world.therapist.user)
    url = reverse("patients:staff_enrollment_tailor", args=[world.patient_a.pk, enrollment.pk])
    client.get(url)
    with django_assert_max_num_queries(TAILOR_QUERIES):
        assert client.get(url).status_code == 200
