"""The patient's home: the one next thing, progress per module, feedback waiting, diaries due."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from patients.models import DiaryEntry, QuestionnaireResponse, StepProgress
from tests.patients.patient_helpers import enroll, step_of, tiny_version, write_feedback
from tests.work import settle

pytestmark = pytest.mark.django_db

HOME = "/me/"
HOME_MAX_QUERIES = (
    20  # roles 3 (the session comes from the cache), enrollment 1, progress 10, feedback 4, savepoints 2
)


def test_the_home_url_keeps_its_name():
    assert reverse("patients:home") == HOME


def test_without_an_enrollment_the_patient_is_told_the_therapist_will_start_soon(world, client_for):
    response = client_for(world.patient_a.user).get(HOME)
    assert response.status_code == 200
    assert "Your therapist will start your program soon." in response.content.decode()


def test_staff_get_404(world, client_for):
    enroll(world.patient_a)
    for user in (world.therapist.user, world.manager.user, world.outsider.user):
        assert client_for(user).get(HOME).status_code == 404


@pytest.fixture
def started(world, client_for):
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        code="pain_nrs",
        moment="start",
        answers=[4],
        total=4,
    )
    settle()
    return world, version, enrollment, client_for(world.patient_a.user)


def test_a_new_patient_is_asked_to_start(started):
    _world, _version, _enrollment, client = started
    html = client.get(HOME).content.decode()
    assert 'class="button button-big" href="/me/steps/first/intro/"' in html
    assert "Start: Welcome" in html
    assert "0 of 7 steps done" in html
    assert '<progress class="module-progress" max="7" value="0"' in html
    assert "Module 2: The second module" in html and "Not open yet" in html


def test_continue_where_you_left_off_and_progress_per_module(started):
    _world, version, enrollment, client = started
    for slug in ("intro", "mood-start"):
        StepProgress.objects.create(
            enrollment=enrollment, step=step_of(version, slug), completed_at=timezone.now()
        )
    enrollment.current_step = step_of(version, "mood-start")
    enrollment.save()
    html = client.get(HOME).content.decode()
    assert "Continue where you left off: My plan" in html
    assert 'href="/me/steps/first/plan/"' in html
    assert "2 of 7 steps done" in html and "In progress" in html


def test_todays_diary_comes_first_and_shows_as_done_afterwards(started):
    _world, version, enrollment, client = started
    StepProgress.objects.create(enrollment=enrollment, step=step_of(version, "start-diary"))
    html = client.get(HOME).content.decode()
    assert "Keep today's diary" in html and 'href="/me/diaries/mood/write/"' in html
    assert "Not yet" in html
    DiaryEntry.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        diary_type=step_of(version, "start-diary").diary_type,
        entry_date=timezone.localdate(),
        values={"mood": 5},
    )
    settle()
    html = client.get(HOME).content.decode()
    assert "Keep today's diary" not in html and "Done" in html


def test_unread_feedback_is_counted_and_comes_first(started):
    world, _version, enrollment, client = started
    message = write_feedback(enrollment, author=world.therapist.user, module_number=1)
    write_feedback(enrollment, author=world.therapist.user, module_number=1)
    html = client.get(HOME).content.decode()
    assert "Read your feedback" in html and "2 new messages with feedback." in html
    message.read_at = timezone.now()
    message.save(update_fields=["read_at"])
    assert "1 new message with feedback." in client.get(HOME).content.decode()


def _history(enrollment, version, count):
    diary_type = step_of(version, "start-diary").diary_type
    for days in range(count):
        DiaryEntry(
            clinic_id=enrollment.clinic_id,
            enrollment=enrollment,
            diary_type=diary_type,
            entry_date=timezone.localdate() - timedelta(days=days),
            values={"mood": 5},
            text=json.dumps({"note": "x"}),
        ).save()
    settle()


def test_home_query_count_is_pinned_and_does_not_grow(started, django_assert_max_num_queries):
    world, version, enrollment, client = started
    StepProgress.objects.create(enrollment=enrollment, step=step_of(version, "start-diary"))
    write_feedback(enrollment, author=world.therapist.user, module_number=1)
    _history(enrollment, version, 5)
    client.get(HOME)
    with CaptureQueriesContext(connection) as few:
        client.get(HOME)
    DiaryEntry.objects.all().delete()
    _history(enrollment, version, 50)
    for _ in range(10):
        write_feedback(enrollment, author=world.therapist.user, module_number=1)
    with CaptureQueriesContext(connection) as many:
        client.get(HOME)
    assert len(few) == len(many)
    with django_assert_max_num_queries(HOME_MAX_QUERIES):
        client.get(HOME)


def test_feedback_about_a_questionnaire_links_to_that_questionnaires_page(started):
    world, _version, enrollment, client = started
    response = QuestionnaireResponse.objects.get(enrollment=enrollment)
    write_feedback(enrollment, author=world.therapist.user, questionnaire=response)
    html = client.get(HOME).content.decode()
    assert '<a href="/me/questionnaires/start/pain_nrs/">See the feedback next to your work</a>' in html
