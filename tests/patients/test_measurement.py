"""Measurement through treatment: the weekly check-in (due on the feedback day, late = the due one,
no backlog, paused asks nothing, a safety answer is never lost and takes the urgent path), the
schedule after a module, and the graphs."""

import re
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from icbt.models import Notification
from patients import measurement, services
from patients.models import Enrollment, QuestionnaireResponse
from tests.patients import staff_helpers as sh
from tests.work import settle

# The check-in rules depend on the weekday of the feedback day: every test runs on all seven.
pytestmark = [pytest.mark.django_db, pytest.mark.every_weekday]

CALM = {1: 6, 2: 1, 3: 1, 4: 0}
RISK = {1: 6, 2: 1, 3: 1, 4: 2}


def _form(answers):
    return {f"q{n}": str(v) for n, v in answers.items()}


@pytest.fixture
def enrollment(world):
    """Started ten days ago with today as the feedback day: today's check-in is due (on any
    weekday the suite runs)."""
    today = timezone.localdate()
    item = sh.enroll(
        world.patient_a,
        sh.measured_version(),
        start_date=today - timedelta(days=10),
        feedback_weekday=today.weekday(),
    )
    item.patient = world.patient_a
    return item


# --- The rule, on fixed dates (every weekday as the feedback day) ----------------------------------


@pytest.mark.parametrize("weekday", range(7))
def test_the_check_in_is_due_on_the_feedback_day_and_a_late_one_counts_for_it(world, weekday):
    start = date(2026, 11, 2)  # a Monday
    enrollment = sh.enroll(world.patient_a, sh.measured_version(), start_date=start, feedback_weekday=weekday)
    first = measurement.first_due_day(enrollment)
    assert first.weekday() == weekday and 4 <= (first - start).days <= 10
    assert measurement.due_day(enrollment, first - timedelta(days=1)) is None  # nothing before the first
    assert measurement.due_day(enrollment, first) == first
    # Three days late: still the same feedback day; a week later the next one, not a backlog.
    assert measurement.due_day(enrollment, first + timedelta(days=3)) == first
    assert measurement.due_day(enrollment, first + timedelta(days=20)) == first + timedelta(days=14)
    assert measurement.check_in_asked(enrollment, first + timedelta(days=3), {first}) is None
    assert measurement.check_in_asked(enrollment, first + timedelta(days=7), {first}) == first + timedelta(
        days=7
    )


@pytest.mark.parametrize("feedback_weekday", range(7))
def test_the_first_check_in_is_due_on_the_first_feedback_day(world, feedback_weekday):
    """Started today (each weekday of the week): the first check-in comes with the first
    feedback, never a week before it."""
    from patients.rhythm import feedback_due_on

    today = timezone.localdate()
    enrollment = sh.enroll(
        world.patient_a, sh.measured_version(), start_date=today, feedback_weekday=feedback_weekday
    )
    first_feedback = feedback_due_on(enrollment)
    assert measurement.first_due_day(enrollment) == first_feedback
    assert measurement.due_day(enrollment, first_feedback - timedelta(days=1)) is None
    assert measurement.due_day(enrollment, first_feedback) == first_feedback


def test_a_paused_enrollment_is_asked_nothing(world):
    enrollment = sh.enroll(
        world.patient_a, sh.measured_version(), start_date=date(2026, 11, 2), status=Enrollment.Status.PAUSED
    )
    assert measurement.check_in_asked(enrollment, date(2026, 12, 1), set()) is None


def test_a_program_without_a_check_in_asks_none(world):
    enrollment = sh.enroll(world.patient_a, sh.pain_version(), start_date=date(2026, 11, 2))
    assert measurement.check_in_asked(enrollment, date(2026, 12, 1), set()) is None


# --- The patient's pages ----------------------------------------------------------------------------


def test_the_home_page_offers_the_check_in_as_the_next_step_when_due(enrollment, client_for):
    html = client_for(enrollment.patient.user).get(reverse("patients:home")).content.decode()
    assert "Time for your weekly check-in" in html
    assert f'href="{reverse("patients:check_in")}"' in html


def test_paused_the_home_page_does_not_ask(enrollment, client_for):
    Enrollment.objects.filter(pk=enrollment.pk).update(status=Enrollment.Status.PAUSED)
    settle()
    html = client_for(enrollment.patient.user).get(reverse("patients:home")).content.decode()
    assert "Time for your weekly check-in" not in html
    page = client_for(enrollment.patient.user).get(reverse("patients:check_in")).content.decode()
    assert "there is no check-in for now" in page and 'name="q1"' not in page


def test_a_check_in_is_stored_for_the_due_day_and_shown_as_weeks(enrollment, client_for):
    client = client_for(enrollment.patient.user)
    page = client.get(reverse("patients:check_in")).content.decode()
    assert 'name="q1"' in page and 'name="q4"' in page and "the past week" in page
    response = client.post(reverse("patients:check_in"), _form(CALM))
    assert response.status_code == 302
    stored = QuestionnaireResponse.objects.get(enrollment=enrollment)
    assert stored.code == "checkin_pain" and stored.due_on == timezone.localdate()
    assert stored.answers == [6, 1, 1, 0] and stored.flags == [] and float(stored.total) == 6
    page = client.get(response["Location"]).content.decode()
    assert "Thank you" in page and "Thank you for your honest answer" not in page
    assert "you rated your pain 6 out of 10" in page and "Your mood score was 2 out of 6" in page
    assert '<svg class="chart"' in page
    # Done for this week: the home page moves on, the page does not ask again.
    assert "Time for your weekly check-in" not in client.get(reverse("patients:home")).content.decode()
    assert 'name="q1"' not in client.get(reverse("patients:check_in")).content.decode()


DONE_LINE = "You have done your check-in for this week"


def test_before_the_first_feedback_day_the_page_says_when_the_first_check_in_comes(clock, world, client_for):
    """Never done and not yet due: no "you have done it", the day of the first one instead."""
    today = timezone.localdate()
    enrollment = sh.enroll(
        world.patient_a, sh.measured_version(), start_date=today, feedback_weekday=today.weekday()
    )
    page = client_for(world.patient_a.user).get(reverse("patients:check_in")).content.decode()
    first = measurement.first_due_day(enrollment)
    assert DONE_LINE not in page and 'name="q1"' not in page
    assert f"Your first check-in is on {first:%A} {first.day} {first:%B}" in page


def test_a_due_check_in_is_asked_and_not_called_done(clock, enrollment, client_for):
    page = client_for(enrollment.patient.user).get(reverse("patients:check_in")).content.decode()
    assert 'name="q1"' in page and DONE_LINE not in page and "Your first check-in is on" not in page


def test_after_this_weeks_check_in_the_page_says_done_and_names_the_next_day(clock, enrollment, client_for):
    services.check_in_submit(enrollment=enrollment, answers=CALM)
    page = client_for(enrollment.patient.user).get(reverse("patients:check_in")).content.decode()
    following = timezone.localdate() + timedelta(days=7)
    assert f"{DONE_LINE}. The next one is on {following:%A} {following.day} {following:%B}." in page
    assert 'name="q1"' not in page and "Your first check-in is on" not in page


def test_after_the_end_the_page_says_there_are_no_more_check_ins(clock, enrollment, client_for):
    Enrollment.objects.filter(pk=enrollment.pk).update(status=Enrollment.Status.COMPLETED)
    settle()
    page = client_for(enrollment.patient.user).get(reverse("patients:check_in")).content.decode()
    assert "no more check-ins" in page and DONE_LINE not in page and 'name="q1"' not in page


def test_bad_input_keeps_the_answers_and_says_what_is_missing(enrollment, client_for):
    client = client_for(enrollment.patient.user)
    page = client.post(reverse("patients:check_in"), {"q1": "7", "q2": "9"}).content.decode()
    assert "Please answer every question" in page
    assert re.search(r'<input type="radio" name="q1" value="7"[^>]*checked', page)
    assert not QuestionnaireResponse.objects.exists()


def test_a_risk_answer_in_the_check_in_takes_the_urgent_path(enrollment, client_for, world):
    client = client_for(enrollment.patient.user)
    response = client.post(reverse("patients:check_in"), _form(RISK))
    page = client.get(response["Location"]).content.decode()
    assert 'class="crisis" role="alert"' in page and 'href="tel:112"' in page
    stored = QuestionnaireResponse.objects.get(enrollment=enrollment)
    assert stored.flags == ["self_harm"]
    assert Notification.objects.filter(recipient=world.therapist.user, urgent=True).exists()
    worklist = client_for(world.therapist.user).get(reverse("therapists:worklist")).content.decode()
    assert "urgent" in worklist.lower()


def test_answering_twice_never_loses_an_urgent_answer(enrollment, world):
    first = services.check_in_submit(enrollment=enrollment, answers=CALM)
    again = services.check_in_submit(enrollment=enrollment, answers=CALM)  # a double click
    assert again.pk == first.pk
    second = services.check_in_submit(enrollment=enrollment, answers=RISK)  # a second tab
    assert second.pk != first.pk and second.flags == ["self_harm"] and second.due_on == first.due_on
    assert Notification.objects.filter(recipient=world.therapist.user, urgent=True).exists()
    # The other way round: the urgent answer stays when a calm one follows.
    assert sum("self_harm" in r.flags for r in QuestionnaireResponse.objects.all()) == 1
    services.check_in_submit(enrollment=enrollment, answers=CALM)
    assert QuestionnaireResponse.objects.filter(enrollment=enrollment).count() == 3


def test_the_same_safety_answer_after_it_was_reviewed_is_raised_again(enrollment, world, clock):
    first = services.check_in_submit(enrollment=enrollment, answers=RISK)
    QuestionnaireResponse.objects.filter(pk=first.pk).update(
        reviewed_at=clock.now(), reviewed_by=world.therapist.user
    )
    settle()
    Notification.objects.all().delete()
    again = services.check_in_submit(enrollment=enrollment, answers=RISK)
    assert again.pk != first.pk and again.urgent and again.reviewed_at is None
    assert Notification.objects.filter(recipient=world.therapist.user, urgent=True).exists()


def test_the_same_answer_sent_again_later_is_a_new_answer_not_a_double_click(enrollment, clock):
    first = services.check_in_submit(enrollment=enrollment, answers=CALM)
    clock.advance(minutes=30)
    later = services.check_in_submit(enrollment=enrollment, answers=CALM)
    assert later.pk != first.pk


def test_an_answer_sent_after_a_pause_is_kept(enrollment):
    Enrollment.objects.filter(pk=enrollment.pk).update(status=Enrollment.Status.PAUSED)
    settle()
    enrollment.refresh_from_db()
    response = services.check_in_submit(enrollment=enrollment, answers=RISK)
    assert response.flags == ["self_harm"]


def test_no_check_in_before_the_first_feedback_day(world):
    today = timezone.localdate()
    enrollment = sh.enroll(
        world.patient_a, sh.measured_version(), start_date=today, feedback_weekday=today.weekday()
    )
    with pytest.raises(ValidationError):
        services.check_in_submit(enrollment=enrollment, answers=CALM)


def test_a_program_without_a_check_in_has_no_check_in_page(world, client_for):
    sh.enroll(world.patient_a, sh.pain_version())
    assert client_for(world.patient_a.user).get(reverse("patients:check_in")).status_code == 404


def test_weeks_without_a_check_in_are_gaps_not_zero(world):
    from patients import charts_measurement

    start = date(2026, 11, 2)
    enrollment = sh.enroll(world.patient_a, sh.measured_version(), start_date=start, feedback_weekday=0)
    for day, symptom in ((date(2026, 11, 9), 7), (date(2026, 11, 23), 5)):
        services.check_in_submit(enrollment=enrollment, answers={**CALM, 1: symptom}, today=day)
    weeks = measurement.weekly_values(enrollment, QuestionnaireResponse.objects.filter(enrollment=enrollment))
    assert [(w.number, w.symptom) for w in weeks] == [(2, 7.0), (4, 5.0)]
    weekly = charts_measurement.patient_weekly(enrollment, QuestionnaireResponse.objects.all())
    assert weekly["chart"].series[0].values == [7.0, None, 5.0]


def test_questionnaires_after_module_3_are_due_once_module_3_is_complete(world):
    from types import SimpleNamespace

    from patients.progress import OPEN, ModuleProgress, Progress, StepState

    version = sh.measured_version(after_module={"3": ["phq9", "gad7"]})
    enrollment = sh.enroll(world.patient_a, version)

    def module(number, done):
        item = SimpleNamespace(number=number, slug=f"m{number}", pk=number)
        step = SimpleNamespace(kind="page", slug="page", questionnaire="", pk=100 + number)
        return ModuleProgress(item, OPEN, [StepState(step, item, seen=True, done=done)])

    progress = Progress(enrollment, date(2026, 12, 1), [module(1, True), module(2, True), module(3, False)])
    assert not [d for d in progress.questionnaires_due() if d[0] == "module"]
    progress.modules[2] = module(3, True)
    assert [d for d in progress.questionnaires_due() if d[0] == "module"] == [
        ("module", "phq9"),
        ("module", "gad7"),
    ]
    progress.answered_codes.add(("phq9", "module"))
    assert [d for d in progress.questionnaires_due() if d[0] == "module"] == [("module", "gad7")]
    enrollment.status = Enrollment.Status.PAUSED
    assert not [d for d in progress.questionnaires_due() if d[0] == "module"]


def test_both_programs_declare_their_schedule_in_the_manifest():
    from programs import content_loader

    parsed = {(p.program, p.language): p for p in content_loader.read_content()}
    for language in ("en", "nl"):
        fatigue = parsed[("master-your-fatigue", language)].measurement_schedule
        pain = parsed[("master-your-pain", language)].measurement_schedule
        assert fatigue == {
            "weekly_check_in": "checkin_fatigue",
            "after_module": {"3": ["phq9", "cis_fatigue", "rand36_pf"]},
        }
        assert pain == {"weekly_check_in": "checkin_pain", "after_module": {"3": ["phq9", "gad7"]}}
        assert "phq9" in parsed[("master-your-fatigue", language)].questionnaires_start
        assert {"phq9", "gad7"} <= set(parsed[("master-your-pain", language)].questionnaires_end)


# --- The therapist's chart: patient page, composer, treatment summary ------------------------------


def _weeks_of_check_ins(enrollment, symptoms):
    """Check-ins on consecutive feedback days from the first one on."""
    first = measurement.first_due_day(enrollment)
    for i, symptom in enumerate(symptoms):
        services.check_in_submit(
            enrollment=enrollment, answers={**CALM, 1: symptom}, today=first + timedelta(days=7 * i)
        )


def test_the_therapist_sees_every_score_on_one_chart_with_module_starts(enrollment, world, client_for):
    from patients.models import StepProgress
    from programs.models import Module, Step

    _weeks_of_check_ins(enrollment, [7])
    services.questionnaire_submit(
        enrollment=enrollment, code="phq9", moment="start", answers={n: 1 for n in range(1, 10)}
    )
    # The patient opens a step of the enrollment's own version (the bare measured version gets a
    # module with one step for it).
    module = Module.objects.create(version=enrollment.version, number=1, slug="first", title="First")
    step = Step.objects.create(
        version=enrollment.version,
        module=module,
        position=1,
        slug="intro",
        kind=Step.Kind.PAGE,
        title="Intro",
    )
    StepProgress.objects.create(enrollment=enrollment, step=step, first_seen_at=timezone.now())
    client = client_for(world.therapist.user)
    detail = client.get(
        reverse("patients:staff_patient_detail", kwargs={"pk": world.patient_a.pk})
    ).content.decode()
    assert "data-scores-chart" in detail
    assert "Pain, weekly (0-10)" in detail and "PHQ-2, weekly (0-6)" in detail and "Mood (PHQ-9)" in detail
    assert f">M{step.module.number}</text>" in detail  # the module start is marked
    composer = client.get(reverse("messaging:staff_conversation", kwargs={"pk": world.patient_a.pk})).content
    assert b"data-scores-chart" in composer and b"Pain, weekly (0-10)" in composer


def test_the_treatment_summary_holds_the_weekly_chart(enrollment, world):
    from patients import reports

    _weeks_of_check_ins(enrollment, [7, 6])
    context = reports.treatment_summary(patient=world.patient_a)
    chart = context["scores_chart"]
    assert chart is not None and chart.columns[0] == "Pain, weekly (0-10)"
    assert [row[1][0] for row in chart.rows] == ["7", "6"]
    assert all(row["code"] != "checkin_pain" for row in context["scores"])


def test_the_treatment_summary_pdf_shows_scores_by_week(enrollment, world, client_for):
    from tests.patients.test_reports import pdf_text

    _weeks_of_check_ins(enrollment, [7, 6])
    Enrollment.objects.filter(pk=enrollment.pk).update(started_at=timezone.now() - timedelta(days=10))
    settle()
    response = client_for(world.therapist.user).get(
        reverse("patients:staff_treatment_summary", kwargs={"pk": world.patient_a.pk})
    )
    text = pdf_text(response.content)
    assert "Scores by week" in text and "Pain, weekly (0-10)" in text


def test_my_scores_shows_the_weekly_check_ins_in_plain_words(enrollment, client_for):
    _weeks_of_check_ins(enrollment, [8])
    page = client_for(enrollment.patient.user).get(reverse("patients:questionnaires")).content.decode()
    assert "Your weekly check-ins" in page and "you rated your pain 8 out of 10" in page


@pytest.mark.parametrize("ended", [Enrollment.Status.COMPLETED, Enrollment.Status.STOPPED])
def test_a_safety_check_in_sent_after_the_end_is_kept_and_urgent(enrollment, client_for, world, ended):
    client = client_for(enrollment.patient.user)
    client.get(reverse("patients:check_in"))  # the page opened before the end ...
    Enrollment.objects.filter(pk=enrollment.pk).update(status=ended)
    settle()
    response = client.post(reverse("patients:check_in"), _form(RISK))  # ... and sent after it
    assert response.status_code == 302
    stored = QuestionnaireResponse.objects.get(enrollment=enrollment)
    assert stored.flags == ["self_harm"]
    assert Notification.objects.filter(recipient=world.therapist.user, urgent=True).exists()
    page = client.get(response["Location"]).content.decode()
    assert 'class="crisis" role="alert"' in page and 'href="tel:112"' in page


def test_a_calm_check_in_after_the_end_is_refused_and_a_safety_answer_still_shows_help(
    enrollment, client_for
):
    client = client_for(enrollment.patient.user)
    Enrollment.objects.filter(pk=enrollment.pk).update(status=Enrollment.Status.COMPLETED)
    settle()
    page = client.post(reverse("patients:check_in"), _form(CALM)).content.decode()
    assert "Your program has ended" in page and 'class="crisis"' not in page
    assert not QuestionnaireResponse.objects.exists()
    # Incomplete, so it cannot be kept, but the safety question was answered above 0: the crisis lines.
    page = client.post(reverse("patients:check_in"), {"q1": "6", "q4": "1"}).content.decode()
    assert "Please answer every question" in page
    assert 'class="crisis" role="alert"' in page and 'href="tel:112"' in page
    assert not QuestionnaireResponse.objects.exists()
