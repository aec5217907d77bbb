"""Module and step pages: progress saved on every step, resume, next/back, what is not shown."""

import pytest
from django.urls import reverse

from patients.models import Enrollment, ModuleState, StepOverride, StepProgress, TimelineEvent
from tests.patients.patient_helpers import enroll, step_of, tiny_version
from tests.programs.helpers import add_recording

pytestmark = pytest.mark.django_db


def _url(module, step):
    return reverse("patients:step", args=[module, step])


@pytest.fixture
def setup(world, client_for):
    version = tiny_version()
    enrollment = enroll(world.patient_a, version, status=Enrollment.Status.INVITED)
    return world, version, enrollment, client_for(world.patient_a.user)


def test_visiting_a_step_saves_progress_and_the_place_to_resume(setup):
    world, version, enrollment, client = setup
    response = client.get(_url("first", "intro"))
    assert response.status_code == 200
    enrollment.refresh_from_db()
    assert enrollment.current_step == step_of(version, "intro")
    assert enrollment.last_activity_at is not None
    # The first step starts an invited enrollment.
    assert enrollment.status == Enrollment.Status.ACTIVE and enrollment.started_at is not None
    assert TimelineEvent.objects.filter(enrollment=enrollment, kind=TimelineEvent.Kind.STATUS).count() == 1
    row = StepProgress.objects.get(enrollment=enrollment, step=step_of(version, "intro"))
    assert row.completed_at is None  # seen, not yet done: the patient resumes here


def test_the_step_page_shows_where_am_i_and_the_reading_tools(setup):
    _world, _version, _enrollment, client = setup
    html = client.get(_url("first", "plan")).content.decode()
    assert "Module 1 of 2: The first module" in html
    assert "Step 3 of 7" in html
    assert "Reading time: about 1 minute" in html
    assert (
        'data-read-aloud="step-text"' in html and " hidden>" in html
    )  # shown by programs.js where supported
    assert 'data-font-scale="1.4"' in html
    assert 'href="/me/steps/first/mood-start/"' in html  # back


def test_next_on_a_page_marks_it_done_and_goes_on_and_home_resumes(setup):
    _world, version, enrollment, client = setup
    client.get(_url("first", "intro"))
    response = client.post(reverse("patients:step_done", args=["first", "intro"]))
    assert response.status_code == 302 and response["Location"] == _url("first", "mood-start")
    assert StepProgress.objects.get(enrollment=enrollment, step=step_of(version, "intro")).completed_at
    client.get(_url("first", "plan"))
    home = client.get(reverse("patients:home")).content.decode()
    assert "Or go on with the program: My plan" in home or "Continue where you left off: My plan" in home
    module = client.get(reverse("patients:module", args=["first"])).content.decode()
    assert "1 of 7 steps done" in module
    assert "Continue: My plan" in module or "Continue: Your mood" in module


def test_completing_a_module_is_put_on_the_timeline_once(setup):
    _world, version, enrollment, client = setup
    for step in version.steps.filter(module__slug="first").exclude(slug="breathing"):
        StepProgress.objects.create(enrollment=enrollment, step=step, completed_at=step.version.published_at)
    client.post(reverse("patients:step_done", args=["first", "breathing"]))
    client.post(reverse("patients:step_done", args=["first", "breathing"]))
    completed = TimelineEvent.objects.filter(enrollment=enrollment, kind=TimelineEvent.Kind.MODULE_COMPLETED)
    assert [event.detail["module"] for event in completed] == [1]  # detail is encrypted: read, not queried
    # The next module opened (sequential): the last 'Next' went on to it.
    response = client.post(reverse("patients:step_done", args=["first", "fatigue-start"]))
    assert response["Location"] == _url("second", "summary")


def test_a_locked_or_held_module_shows_not_open_yet(setup):
    _world, _version, enrollment, client = setup
    for url in (_url("second", "summary"), reverse("patients:module", args=["second"])):
        response = client.get(url)
        assert response.status_code == 403
        assert "This module is not open yet" in response.content.decode()
        assert "It opens when you have finished the module before it" in response.content.decode()
    ModuleState.objects.create(enrollment=enrollment, module_number=2, state=ModuleState.State.HELD)
    response = client.get(_url("second", "summary"))
    assert response.status_code == 403 and "Your therapist opens it" in response.content.decode()
    assert client.post(reverse("patients:step_done", args=["second", "summary"])).status_code == 403
    assert not StepProgress.objects.filter(enrollment=enrollment, step__slug="summary").exists()


def test_skipped_steps_are_gone_and_neighbours_skip_them(setup):
    _world, _version, enrollment, client = setup
    StepOverride.objects.create(enrollment=enrollment, step_key="first/plan", included=False)
    assert client.get(_url("first", "plan")).status_code == 404
    html = client.get(_url("first", "start-diary")).content.decode()
    assert 'href="/me/steps/first/mood-start/"' in html  # back skips the plan
    assert "Step 3 of 6" in html
    assert client.get(_url("first", "no-such-step")).status_code == 404


def test_audio_with_the_clinics_recording_and_a_transcript(setup):
    world, version, _enrollment, client = setup
    media = add_recording(world.clinic, step_of(version, "breathing"))
    html = client.get(_url("first", "breathing")).content.decode()
    assert f"/programs/media/{media.pk}/file/" in html or f"{media.pk}/file" in html
    assert "Read the text of this exercise" in html
    # Another clinic's recording is never shown.
    other = add_recording(world.other_clinic, step_of(version, "story"), captions=True)
    html = client.get(_url("first", "story")).content.decode()
    assert f"{other.pk}/file" not in html and "Sam tells a short story" in html


def test_video_with_captions(setup):
    world, version, _enrollment, client = setup
    media = add_recording(world.clinic, step_of(version, "story"), captions=True)
    html = client.get(_url("first", "story")).content.decode()
    assert "<track" in html and f"{media.pk}/captions" in html


def test_a_closed_enrollment_can_be_read_but_writes_nothing(setup):
    _world, version, enrollment, client = setup
    enrollment.status = Enrollment.Status.COMPLETED
    enrollment.save()
    assert client.get(_url("first", "intro")).status_code == 200
    assert not StepProgress.objects.filter(enrollment=enrollment).exists()
    client.post(reverse("patients:step_done", args=["first", "intro"]))
    assert not StepProgress.objects.filter(enrollment=enrollment).exists()
    response = client.post(_url("first", "plan"), {"word": "late", "action": "draft"})
    assert response.status_code == 302
    assert not enrollment.answers.exists()
    draft = client.post(reverse("patients:assignment_draft", args=["first", "plan"]), {"word": "late"})
    assert draft.status_code == 409 and draft.json()["status"] == "refused"


def test_staff_and_patients_without_an_enrollment_get_404(setup, client_for):
    world, _version, _enrollment, _client = setup
    for user in (world.therapist.user, world.patient_b.user, world.manager.user):
        assert client_for(user).get(_url("first", "intro")).status_code == 404
        assert client_for(user).get(reverse("patients:module", args=["first"])).status_code == 404
