"""Waiting work has one definition (messaging.pending): the worklist, its navigation count,
the manager's dashboard and the manager's weekly figures e-mail count the same things."""

import json
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from messaging import pending
from messaging.models import Conversation, Message
from messaging.notifications.digests import clinic_figures
from patients.models import DiaryEntry, Enrollment, QuestionnaireResponse
from programs.models import DiaryType
from tests.messaging.helpers import enroll, questionnaire, submitted_answer
from tests.patients.staff_helpers import intake_request, referral
from tests.work import settle
from therapists.dashboard import clinic_dashboard
from therapists.worklist import pending_count, worklist

# One ISO week (week 49 of 2026), whatever day the suite runs on.
WEEK_49 = [date(2026, 11, 30), date(2026, 12, 1), date(2026, 12, 2)]


def _diary_week(enrollment):
    diary_type = DiaryType.objects.get(version=enrollment.version, slug="mood")
    for day in WEEK_49:
        DiaryEntry(
            clinic_id=enrollment.clinic_id,
            enrollment=enrollment,
            diary_type=diary_type,
            entry_date=day,
            values={"mood": 5, "bedtime": "22:30", "walked": True, "minutes": 20, "kind": "free"},
            text=json.dumps({"note": ""}),
        ).save()


def _patient_message(enrollment, author):
    conversation, _ = Conversation.objects.get_or_create(enrollment=enrollment)
    for minutes in (90, 30):  # two messages in one conversation: one item
        message = Message(
            clinic_id=conversation.enrollment.clinic_id,
            conversation=conversation,
            author=author,
            body="A question",
            created_at=timezone.now() - timedelta(minutes=minutes),
        )
        message.save()


@pytest.fixture
def busy(world):
    """patient_a: a diary week of three entries, an assignment, two unanswered messages, a
    questionnaire the patient filled in and a score the therapist typed in; an intake request
    for the clinic; a referral to therapist2."""
    enrollment = enroll(world.patient_a, start_days_ago=3, weekday=0)
    _diary_week(enrollment)
    submitted_answer(enrollment)
    _patient_message(enrollment, world.patient_a.user)
    questionnaire(enrollment)
    QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        code="phq9",
        moment="end",
        total=4,
        band="minimal",
        entered_by=world.therapist.user,
    )
    intake_request(world.clinic)
    referral(world)
    return enrollment


def test_waiting_work_counts_weeks_conversations_and_only_patients_questionnaires(world, busy):
    work = pending.waiting_work(enrollments=Enrollment.objects.filter(pk=busy.pk), clinic_id=world.clinic.pk)
    assert (work.message, work.answer, work.diary, work.questionnaire) == (1, 1, 1, 1)
    assert (work.intake_request, work.referral) == (1, 1)
    assert work.patient_work == 4 and work.total == 6


@pytest.mark.every_weekday
def test_the_manager_email_agrees_with_the_dashboard(world, busy):
    now = timezone.now()
    figures = {str(label): n for label, n in clinic_figures(world.clinic.pk, now - timedelta(days=7), now)}
    dashboard = clinic_dashboard(fetched_by=world.manager.user)
    assert figures["Work waiting for feedback"] == dashboard.totals["pending"] == 4
    assert figures["Intake requests waiting"] == 1
    assert figures["Referrals waiting for an answer"] == 1


@pytest.mark.every_weekday
def test_the_worklist_and_its_navigation_count_agree(world, busy, client_for):
    # Feedback long overdue: a reminder on the worklist, not waiting work.
    busy.start_date = timezone.localdate() - timedelta(days=40)
    busy.save(update_fields=["start_date"])
    settle()
    result = worklist(fetched_by=world.therapist.user)
    assert {item.kind for item in result.items} >= {"feedback_overdue", "diary", "message"}
    # diary week, answer, conversation, questionnaire and the intake request (the referral is
    # for therapist2)
    assert result.waiting == pending_count(fetched_by=world.therapist.user) == 5
    assert result.reminders == result.total - result.waiting >= 1
    client = client_for(world.therapist.user)
    for url in (reverse("therapists:worklist"), reverse("personal_settings")):
        assert 'Worklist <span class="nav-badge">5<' in client.get(url).content.decode()
    html = client.get(reverse("therapists:worklist")).content.decode()
    assert "5 items wait for you." in html
    assert "Feedback overdue overdue" not in " ".join(strip_tags(html).split())


def test_the_manager_figures_cost_seven_queries(world, busy, django_assert_num_queries):
    """Six counts of the week and one for everything that waits (it took eleven before waiting
    work had one definition)."""
    now = timezone.now()
    with django_assert_num_queries(7):
        clinic_figures(world.clinic.pk, now - timedelta(days=7), now)


def test_an_ended_treatment_keeps_its_message_and_urgent_questionnaire_everywhere(world, client_for):
    """Ending a treatment handles neither the patient's message nor a self-harm answer: the
    worklist, its count, the dashboard and the manager's figures all still count those two,
    and nothing else of that treatment."""
    enrollment = enroll(world.patient_a, start_days_ago=20)
    submitted_answer(enrollment)
    _diary_week(enrollment)
    _patient_message(enrollment, world.patient_a.user)
    questionnaire(enrollment, total=3)  # not urgent: drops off at the end
    QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        code="phq9",
        moment="end",
        total=12,
        band="moderate",
        flags=["self_harm"],
    )
    Enrollment.objects.filter(pk=enrollment.pk).update(
        status=Enrollment.Status.STOPPED, ended_at=timezone.now()
    )
    settle()

    result = worklist(fetched_by=world.therapist.user)
    assert sorted(i.kind for i in result.items) == ["message", "questionnaire"]
    assert next(i for i in result.items if i.kind == "questionnaire").urgent
    assert result.waiting == pending_count(fetched_by=world.therapist.user) == 2
    assert clinic_dashboard(fetched_by=world.manager.user).totals["pending"] == 2
    now = timezone.now()
    figures = {str(label): n for label, n in clinic_figures(world.clinic.pk, now - timedelta(days=7), now)}
    assert figures["Work waiting for feedback"] == 2
