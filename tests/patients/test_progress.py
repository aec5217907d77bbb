"""The rules of what is open and what is next (patients/progress.py), on the tiny fixture program:
module 1 'first' (intro, mood-start [phq9], plan [assignment], start-diary [mood diary],
breathing [audio], story [optional video], fatigue-start [cis_fatigue]) and module 2 'second'
(summary). Start questionnaires: phq9 (asked by a step) and pain_nrs (no step)."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from patients import progress as rules
from patients.models import (
    DiaryEntry,
    Enrollment,
    ModuleState,
    QuestionnaireResponse,
    StepOverride,
    StepProgress,
)
from programs.models import ClinicProgramSetting
from tests.patients.patient_helpers import enroll, step_of, tiny_version, write_feedback
from tests.work import settle

pytestmark = pytest.mark.django_db


def _complete_module(enrollment, slug="first"):
    for step in enrollment.version.steps.filter(module__slug=slug):
        StepProgress.objects.update_or_create(
            enrollment=enrollment, step=step, defaults={"completed_at": timezone.now()}
        )


def _states(enrollment, **kw):
    progress = rules.progress_for(enrollment, **kw)
    return {m.module.slug: m.state for m in progress.modules}, progress


def _answer_start_questionnaire(enrollment):
    QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        code="pain_nrs",
        moment="start",
        answers=[3],
        total=3,
    )
    settle()


# --- Unlock modes -----------------------------------------------------------------------------


def test_sequential_opens_the_next_module_when_the_previous_is_complete(world):
    enrollment = enroll(world.patient_a, unlock_mode=Enrollment.Unlock.SEQUENTIAL)
    states, progress = _states(enrollment)
    assert states == {"first": rules.OPEN, "second": rules.LOCKED}
    assert not progress.module("first").is_complete
    _complete_module(enrollment)
    states, progress = _states(enrollment)
    assert states == {"first": rules.OPEN, "second": rules.OPEN}
    assert progress.module("first").is_complete
    assert progress.module("first").percent == 100


def test_therapist_mode_opens_only_module_one_until_the_therapist_opens_more(world):
    enrollment = enroll(world.patient_a, unlock_mode=Enrollment.Unlock.THERAPIST)
    _complete_module(enrollment)
    assert _states(enrollment)[0] == {"first": rules.OPEN, "second": rules.LOCKED}
    ModuleState.objects.create(enrollment=enrollment, module_number=2, state=ModuleState.State.OPENED)
    assert _states(enrollment)[0]["second"] == rules.OPEN


def test_date_mode_opens_modules_on_their_date(world):
    today = timezone.localdate()
    enrollment = enroll(
        world.patient_a, unlock_mode=Enrollment.Unlock.DATE, start_date=today, module_interval_days=7
    )
    states, progress = _states(enrollment, today=today)
    assert states == {"first": rules.OPEN, "second": rules.LOCKED}
    assert progress.module("second").opens_on == today + timedelta(days=7)
    assert _states(enrollment, today=today + timedelta(days=6))[0]["second"] == rules.LOCKED
    assert _states(enrollment, today=today + timedelta(days=7))[0]["second"] == rules.OPEN


def test_held_wins_over_every_mode_and_opened_over_the_mode(world):
    enrollment = enroll(world.patient_a, unlock_mode=Enrollment.Unlock.SEQUENTIAL)
    _complete_module(enrollment)
    ModuleState.objects.create(enrollment=enrollment, module_number=2, state=ModuleState.State.HELD)
    assert _states(enrollment)[0]["second"] == rules.HELD
    ModuleState.objects.create(enrollment=enrollment, module_number=1, state=ModuleState.State.HELD)
    assert _states(enrollment)[0]["first"] == rules.HELD
    ModuleState.objects.filter(enrollment=enrollment, module_number=2).update(state=ModuleState.State.OPENED)
    assert _states(enrollment)[0]["second"] == rules.OPEN


def test_module_state_rule_table():
    assert rules.module_state(base_open=True, override=ModuleState.State.HELD) == rules.HELD
    assert rules.module_state(base_open=False, override=ModuleState.State.OPENED) == rules.OPEN
    assert rules.module_state(base_open=True, override=None) == rules.OPEN
    assert rules.module_state(base_open=False, override=None) == rules.LOCKED


# --- Steps shown ---------------------------------------------------------------------------------


def _shown(enrollment, module="first"):
    return [s.step.slug for s in rules.progress_for(enrollment).module(module).steps]


def test_skipped_steps_are_not_shown_and_do_not_block_the_module(world):
    enrollment = enroll(world.patient_a)
    assert "plan" in _shown(enrollment)
    StepOverride.objects.create(enrollment=enrollment, step_key="first/plan", included=False)
    assert "plan" not in _shown(enrollment)
    for step in enrollment.version.steps.filter(module__slug="first").exclude(slug="plan"):
        StepProgress.objects.create(enrollment=enrollment, step=step, completed_at=timezone.now())
    progress = rules.progress_for(enrollment)
    assert progress.module("first").is_complete
    assert progress.module("second").is_open
    assert progress.find("first", "plan") is None


def test_optional_steps_follow_the_clinic_default_and_the_therapist_can_add_them_back(world):
    enrollment = enroll(world.patient_a)
    assert "story" in _shown(enrollment)  # optional, on by default
    ClinicProgramSetting.objects.create(
        clinic=world.clinic, program=enrollment.version.program, optional_steps_off=["first/story"]
    )
    assert "story" not in _shown(enrollment)
    StepOverride.objects.create(enrollment=enrollment, step_key="first/story", included=True)
    assert "story" in _shown(enrollment)


def test_another_clinics_setting_does_not_apply(world):
    enrollment = enroll(world.patient_a)
    ClinicProgramSetting.objects.create(
        clinic=world.other_clinic, program=enrollment.version.program, optional_steps_off=["first/story"]
    )
    assert "story" in _shown(enrollment)


# --- Where to go on, and the one next thing -------------------------------------------------------


def test_resume_goes_to_the_current_step_then_forward_then_back_to_what_was_left(world):
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    progress = rules.progress_for(enrollment)
    assert progress.resume_step().step.slug == "intro"
    enrollment.current_step = step_of(version, "plan")
    enrollment.save()
    assert rules.progress_for(enrollment).resume_step().step.slug == "plan"
    StepProgress.objects.create(
        enrollment=enrollment, step=step_of(version, "plan"), completed_at=timezone.now()
    )
    assert rules.progress_for(enrollment).resume_step().step.slug == "start-diary"
    for slug in ("start-diary", "breathing", "story", "fatigue-start"):
        StepProgress.objects.create(
            enrollment=enrollment, step=step_of(version, slug), completed_at=timezone.now()
        )
    # Nothing after the current place: back to the steps left undone earlier.
    assert rules.progress_for(enrollment).resume_step().step.slug == "intro"


def test_next_action_order(world):
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    # A start questionnaire without a step of its own comes first.
    action = rules.next_action(rules.progress_for(enrollment))
    assert (action.kind, action.code, action.moment) == ("questionnaire", "pain_nrs", "start")
    _answer_start_questionnaire(enrollment)
    action = rules.next_action(rules.progress_for(enrollment))
    assert action.kind == "start" and action.step.step.slug == "intro"
    # Once the diary step was visited, today's diary is due and comes before the program.
    StepProgress.objects.create(enrollment=enrollment, step=step_of(version, "start-diary"))
    enrollment.current_step = step_of(version, "start-diary")
    enrollment.save()
    action = rules.next_action(rules.progress_for(enrollment))
    assert action.kind == "diary" and action.diary_type.slug == "mood"
    DiaryEntry.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        diary_type=action.diary_type,
        entry_date=timezone.localdate(),
        values={"mood": 5},
    )
    settle()
    action = rules.next_action(rules.progress_for(enrollment))
    assert action.kind == "continue" and action.step.step.slug == "start-diary"
    # New feedback comes first of all.
    write_feedback(enrollment, author=world.therapist.user, module_number=1)
    assert rules.next_action(rules.progress_for(enrollment), unread_feedback=1).kind == "feedback"


def test_next_action_wait_finished_and_closed(world):
    enrollment = enroll(world.patient_a, unlock_mode=Enrollment.Unlock.THERAPIST)
    _answer_start_questionnaire(enrollment)
    _complete_module(enrollment)
    DiaryEntry.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        diary_type=step_of(enrollment.version, "start-diary").diary_type,
        entry_date=timezone.localdate(),
        values={"mood": 5},
    )
    settle()
    assert rules.next_action(rules.progress_for(enrollment)).kind == "wait"
    ModuleState.objects.create(enrollment=enrollment, module_number=2, state=ModuleState.State.OPENED)
    _complete_module(enrollment, "second")
    # phq9 is the end questionnaire, asked by no step of the last module: it is due now.
    action = rules.next_action(rules.progress_for(enrollment))
    assert (action.kind, action.code, action.moment) == ("questionnaire", "phq9", "end")
    QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        code="phq9",
        moment="end",
        answers=[0] * 9,
        total=0,
    )
    settle()
    assert rules.next_action(rules.progress_for(enrollment)).kind == "finished"
    enrollment.status = Enrollment.Status.COMPLETED
    assert rules.next_action(rules.progress_for(enrollment)).kind == "closed"


# --- Diaries due today -------------------------------------------------------------------------------


@pytest.mark.every_weekday
def test_a_diary_is_due_once_started_and_not_after_todays_entry(world):
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    assert rules.progress_for(enrollment).diaries_today() == []
    StepProgress.objects.create(enrollment=enrollment, step=step_of(version, "start-diary"))
    [due] = rules.progress_for(enrollment).diaries_today()
    assert due.due and due.last_entry is None
    yesterday = timezone.localdate() - timedelta(days=1)
    DiaryEntry.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        diary_type=due.diary_type,
        entry_date=yesterday,
        values={},
    )
    settle()
    [due] = rules.progress_for(enrollment).diaries_today()
    assert due.due and due.last_entry == yesterday
    DiaryEntry.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        diary_type=due.diary_type,
        entry_date=timezone.localdate(),
        values={},
    )
    settle()
    [due] = rules.progress_for(enrollment).diaries_today()
    assert not due.due


@pytest.mark.every_weekday
def test_weekly_diaries_are_due_after_seven_days(world):
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    diary_type = step_of(version, "start-diary").diary_type
    today = timezone.localdate()
    DiaryEntry.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        diary_type=diary_type,
        entry_date=today - timedelta(days=3),
        values={},
    )
    settle()
    diary_type.frequency = "weekly"  # in memory only: published content is never updated
    progress = rules.progress_for(enrollment)
    for module in progress.modules:
        for d in module.module.diary_types.all():
            d.frequency = "weekly"
    assert not progress.diaries_today()[0].due
    progress.today = today + timedelta(days=4)
    assert progress.diaries_today()[0].due


def test_progress_queries_do_not_grow_with_history(clock, world, django_assert_num_queries):
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    diary_type = step_of(version, "start-diary").diary_type
    for days in range(40):
        DiaryEntry.objects.create(
            clinic_id=enrollment.clinic_id,
            enrollment=enrollment,
            diary_type=diary_type,
            entry_date=timezone.localdate() - timedelta(days=days),
            values={"mood": 4},
        )
    settle()
    for step in version.steps.all():
        StepProgress.objects.create(enrollment=enrollment, step=step)
    enrollment = Enrollment.objects.select_related("version__program").get(pk=enrollment.pk)
    with django_assert_num_queries(6):
        progress = rules.progress_for(enrollment)
        rules.next_action(progress)
        progress.diaries_today()
    # The program's steps come from the process's copy of the version's content after that.
    with django_assert_num_queries(5):
        progress = rules.progress_for(enrollment)
        rules.next_action(progress)
        progress.diaries_today()


# --- Module starts ---------------------------------------------------------------------------------


def test_module_starts_from_progress_are_the_selectors_without_a_query(
    clock, world, django_assert_num_queries
):
    """The day each module was first opened, from the rows progress already read: the earliest
    first view of any of its steps, a step switched off for the patient included, in local
    days (a view at 23:30 is that day, not the next in UTC)."""
    from patients import selectors

    enrollment = enroll(world.patient_a)
    today = timezone.localdate()
    midnight = timezone.make_aware(datetime.combine(today - timedelta(days=9), time.min))
    moments = {
        "intro": midnight + timedelta(hours=23, minutes=30),
        "plan": midnight + timedelta(days=1, hours=8),
        "summary": midnight + timedelta(days=5, hours=0, minutes=10),
    }
    for slug, moment in moments.items():
        StepProgress.objects.create(
            enrollment=enrollment, step=step_of(enrollment.version, slug), first_seen_at=moment
        )
    StepOverride.objects.create(enrollment=enrollment, step_key="first/intro", included=False)
    progress = rules.progress_for(enrollment, with_diaries=False, with_diary_types=False)
    with django_assert_num_queries(0):
        starts = progress.module_starts()
    assert starts == selectors.module_starts(enrollment=enrollment)
    assert starts == {1: today - timedelta(days=9), 2: today - timedelta(days=4)}
    assert rules.progress_for(enroll(world.patient_b), with_diaries=False).module_starts() == {}
