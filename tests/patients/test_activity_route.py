"""The activity pattern the therapist confirms per patient (pain: avoiding or pushing on; fatigue:
relatively active or low active): the steps written for another pattern are hidden, the change is
audited and on the timeline, and until it is confirmed the patient sees every step."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from patients import services
from patients.models import Enrollment, TimelineEvent
from patients.progress import progress_for
from tests.patients import staff_helpers as sh
from tests.programs.helpers import copy_fixture, load_tiny
from tests.work import settle

pytestmark = pytest.mark.django_db


def _routed_version(root):
    """The tiny program with one step per pattern, as the pain program's module 2 has."""
    for language in ("en", "nl"):
        manifest = root / "tiny-program" / language / "manifest.yaml"
        text = manifest.read_text()
        text = text.replace("        slug: plan\n", "        slug: plan\n        route: avoidance\n")
        text = text.replace("{kind: video, slug: story,", "{kind: video, slug: story, route: persistence,")
        manifest.write_text(text)
    return load_tiny(root)


@pytest.fixture
def enrollment(world, tmp_path):
    item = sh.enroll(world.patient_a, _routed_version(copy_fixture(tmp_path)))
    item.patient = world.patient_a
    return item


def _shown(enrollment):
    enrollment.refresh_from_db()
    return [s.step.slug for s in progress_for(enrollment, with_diaries=False).module("first").steps]


def test_until_a_pattern_is_confirmed_the_patient_sees_every_step(enrollment):
    assert {"plan", "story"} <= set(_shown(enrollment))


def test_confirming_a_pattern_shows_its_steps_and_hides_the_others(world, enrollment):
    services.enrollment_route_confirm(enrollment=enrollment, staff=world.therapist, route="avoidance")
    shown = _shown(enrollment)
    assert "plan" in shown and "story" not in shown
    services.enrollment_route_confirm(enrollment=enrollment, staff=world.therapist, route="persistence")
    shown = _shown(enrollment)
    assert "plan" not in shown and "story" in shown
    # The therapist's own choice for a step still wins over the pattern.
    services.step_override_set(
        enrollment=enrollment, staff=world.therapist, step_key="first/plan", included=True
    )
    assert "plan" in _shown(enrollment)


def test_the_confirmation_is_audited_and_on_the_timeline(world, enrollment):
    services.enrollment_route_confirm(enrollment=enrollment, staff=world.therapist, route="avoidance")
    services.enrollment_route_confirm(enrollment=enrollment, staff=world.therapist, route="avoidance")
    services.enrollment_route_confirm(enrollment=enrollment, staff=world.therapist, route="")
    assert Enrollment.objects.get(pk=enrollment.pk).activity_route == ""
    events = TimelineEvent.objects.filter(kind=TimelineEvent.Kind.ROUTE).order_by("at", "pk")
    assert [e.detail for e in events] == [
        {"before": "", "after": "avoidance"},
        {"before": "avoidance", "after": ""},
    ]
    assert sh.audit_actions(object_type="enrollment", patient=world.patient_a).count("change") == 2


def test_a_pattern_the_program_has_no_steps_for_is_refused(world, enrollment):
    with pytest.raises(ValidationError):
        services.enrollment_route_confirm(enrollment=enrollment, staff=world.therapist, route="low_active")
    assert Enrollment.objects.get(pk=enrollment.pk).activity_route == ""


def test_an_ended_enrollment_cannot_change(world, enrollment):
    Enrollment.objects.filter(pk=enrollment.pk).update(status=Enrollment.Status.COMPLETED)
    settle()
    enrollment.refresh_from_db()
    with pytest.raises(ValidationError):
        services.enrollment_route_confirm(enrollment=enrollment, staff=world.therapist, route="avoidance")


def test_the_tailor_page_confirms_the_pattern(world, enrollment, client_for):
    client = client_for(world.therapist.user)
    url = reverse("patients:staff_enrollment_tailor", args=[world.patient_a.pk, enrollment.pk])
    html = client.get(url).content.decode()
    assert 'id="activity-pattern"' in html and "(for pain avoidance)" in html
    assert 'value="avoidance"' in html and 'value="persistence"' in html and 'value="low_active"' not in html
    post = reverse("patients:staff_enrollment_route", args=[world.patient_a.pk, enrollment.pk])
    response = client.post(post, {"route": "avoidance"}, follow=True)
    assert "the patient now sees the steps that fit this activity pattern" in response.content.decode()
    assert Enrollment.objects.get(pk=enrollment.pk).activity_route == "avoidance"
    response = client.post(post, {"route": "low_active"}, follow=True)
    assert "not part of the patient" in response.content.decode()
    assert client.post(post, {"route": "swimming"}).status_code == 302
    assert Enrollment.objects.get(pk=enrollment.pk).activity_route == "avoidance"
    timeline = client.get(
        reverse("patients:staff_patient_detail", args=[world.patient_a.pk])
    ).content.decode()
    assert "Activity pattern confirmed: pain avoidance" in timeline


def test_a_program_without_patterns_shows_no_pattern_form(world, client_for):
    item = sh.enroll(world.patient_a)
    url = reverse("patients:staff_enrollment_tailor", args=[world.patient_a.pk, item.pk])
    assert 'id="activity-pattern"' not in client_for(world.therapist.user).get(url).content.decode()


def test_the_real_programs_have_a_step_per_pattern():
    from programs import content_loader

    routes = {
        (p.program, p.language): {s.slug: s.definition.get("route") for m in p.modules for s in m.steps}
        for p in content_loader.read_content(content_loader.default_root())
    }
    for language in ("en", "nl"):
        pain = routes[("master-your-pain", language)]
        assert pain["graded-activity-plan"] == "avoidance" and pain["energy-points"] == "persistence"
        fatigue = routes[("master-your-fatigue", language)]
        assert fatigue["evening-out"] == "relatively_active" and fatigue["starting-small"] == "low_active"


def test_the_intakes_pattern_holds_until_the_therapist_confirms_another(world, enrollment, client_for):
    from django.utils import timezone

    from patients.models import Intake

    Enrollment.objects.filter(pk=enrollment.pk).update(status=Enrollment.Status.STOPPED)
    settle()
    intake = Intake.objects.create(
        clinic_id=world.patient_a.clinic_id,
        patient=world.patient_a,
        program=enrollment.version.program,
        therapist=world.therapist,
        held_on=timezone.localdate(),
        activity_pattern=Intake.ActivityPattern.PERSISTENCE,
        decision=Intake.Decision.INDICATED,
    )
    settle()
    again = services.enrollment_create(
        patient=world.patient_a,
        version=enrollment.version,
        therapist=world.therapist,
        enrolled_by=world.therapist,
        start_date=timezone.localdate(),
        intake=intake,
    )
    assert again.activity_route == "persistence"
    assert "plan" not in _shown(again) and "story" in _shown(again)
    timeline = client_for(world.therapist.user).get(
        reverse("patients:staff_patient_detail", args=[world.patient_a.pk])
    )
    assert "Activity pattern from the intake: pain persistence" in timeline.content.decode()
