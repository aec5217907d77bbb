"""A diary step is done once the diary has an entry written on or after the step was opened,
whichever page it was written from: the module completes and the next one opens."""

from datetime import timedelta

import pytest
from django.utils import timezone

from patients.models import StepProgress, TimelineEvent
from patients.progress import next_action, progress_for
from tests.patients.patient_helpers import enroll, step_of, tiny_version

pytestmark = [pytest.mark.django_db, pytest.mark.every_weekday]

ENTRY = {"mood": "6", "bedtime": "22:30", "walked": "yes", "minutes": "25", "kind": "free"}


@pytest.fixture
def setup(world, client_for):
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    return version, enrollment, client_for(world.patient_a.user)


def _all_but_the_diary_done(enrollment, version):
    now = timezone.now() - timedelta(hours=1)
    for slug in ("intro", "mood-start", "plan", "breathing", "story", "fatigue-start"):
        StepProgress.objects.create(
            enrollment=enrollment, step=step_of(version, slug), first_seen_at=now, completed_at=now
        )


def test_a_diary_kept_from_my_diaries_completes_the_opened_step_and_the_module(setup):
    version, enrollment, client = setup
    _all_but_the_diary_done(enrollment, version)
    assert client.get("/me/steps/first/start-diary/").status_code == 200  # the step is opened
    progress = progress_for(enrollment)
    assert not progress.modules[0].is_complete and not progress.modules[1].is_open
    response = client.post(
        "/me/diaries/mood/write/", dict(ENTRY, entry_date=timezone.localdate().isoformat())
    )
    assert response.status_code == 302
    row = StepProgress.objects.get(enrollment=enrollment, step=step_of(version, "start-diary"))
    assert row.completed_at is not None
    progress = progress_for(enrollment)
    assert progress.modules[0].is_complete and progress.modules[1].is_open
    assert TimelineEvent.objects.filter(
        enrollment=enrollment, kind=TimelineEvent.Kind.MODULE_COMPLETED
    ).exists()
    action = next_action(progress)
    assert action.step is None or action.step.step.slug != "start-diary"


def test_todays_entry_written_before_the_step_was_opened_counts_when_it_is_opened(setup):
    version, enrollment, client = setup
    client.post("/me/diaries/mood/write/", dict(ENTRY, entry_date=timezone.localdate().isoformat()))
    assert not StepProgress.objects.filter(enrollment=enrollment).exists()
    client.get("/me/steps/first/start-diary/")
    row = StepProgress.objects.get(enrollment=enrollment, step=step_of(version, "start-diary"))
    assert row.completed_at is not None


def test_an_entry_of_an_earlier_day_written_before_the_step_was_opened_does_not_count(setup):
    version, enrollment, client = setup
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    client.post("/me/diaries/mood/write/", dict(ENTRY, entry_date=yesterday))
    client.get("/me/steps/first/start-diary/")
    row = StepProgress.objects.get(enrollment=enrollment, step=step_of(version, "start-diary"))
    assert row.completed_at is None


def test_a_missed_day_filled_in_after_the_step_was_opened_counts(setup):
    version, enrollment, client = setup
    client.get("/me/steps/first/start-diary/")
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    client.post("/me/diaries/mood/write/", dict(ENTRY, entry_date=yesterday))
    row = StepProgress.objects.get(enrollment=enrollment, step=step_of(version, "start-diary"))
    assert row.completed_at is not None


def test_the_migration_completes_steps_kept_from_my_diaries_before(setup):
    from importlib import import_module

    from django.apps import apps

    from patients import services

    version, enrollment, _client = setup
    step = step_of(version, "start-diary")
    opened = StepProgress.objects.create(
        enrollment=enrollment, step=step, first_seen_at=timezone.now() - timedelta(days=2)
    )
    mood = step.diary_type
    entry = services.diary_entry_save(
        enrollment=enrollment, diary_type=mood, entry_date=timezone.localdate(), answers={"mood": 5}
    )
    StepProgress.objects.filter(pk=opened.pk).update(completed_at=None)  # as before the fix
    import_module("patients.migrations.0006_diary_steps_done_from_any_page").diary_steps_done(apps, None)
    opened.refresh_from_db()
    assert opened.completed_at == entry.created_at
