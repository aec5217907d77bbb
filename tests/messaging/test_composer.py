"""The composer: the work since the last feedback, the rhythm, templates with placeholders,
and marking an item as reviewed without writing."""

import re
from datetime import date, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from icbt.models import AuditEvent
from messaging import services
from messaging.models import FeedbackTemplate, MessageDraft
from patients import rhythm
from patients.models import Enrollment
from tests.messaging.helpers import diary_entry, enroll, questionnaire, submitted_answer


def composer(world):
    return reverse("messaging:staff_conversation", args=[world.patient_a.pk])


# --- What the patient did --------------------------------------------------------------------------


def test_work_since_last_feedback_beside_the_editor(world, enrollment, client_for):
    old = diary_entry(enrollment, days_ago=10, note="Old news")
    new = diary_entry(enrollment, days_ago=1, mood=3, note="A hard day.")
    answer = submitted_answer(enrollment, word="steady", story="I rested before cooking.")
    result = questionnaire(enrollment, total=14)
    conversation = services.conversation_get_or_create(enrollment=enrollment)
    services.feedback_send(
        conversation=conversation, author=world.therapist.user, body="Thanks", items=[f"diary:{old.pk}"]
    )
    # Work after the feedback, and work never reviewed, is shown; the answered entry is not.
    new.text = '{"note": "A hard day, but I walked."}'
    new.updated_at = timezone.now()
    new.save()

    page = client_for(world.therapist.user).get(composer(world)).content.decode()
    assert "A hard day, but I walked." in page
    assert "Old news" not in page
    assert "I rested before cooking." in page and "steady" in page
    assert "Pattern A" in page  # a choice shown by its label
    assert "14.0" in page and "PHQ-9" in page
    assert f'value="answer:{answer.pk}"' in page and f'value="questionnaire:{result.pk}"' in page
    assert 'value="module:1"' in page
    assert '<svg class="chart"' in page  # the patient's own diary graph (patients.charts)


def test_attach_parameter_preselects_an_older_item(world, enrollment, client_for):
    entry = diary_entry(enrollment, days_ago=20)
    services.item_mark_reviewed(
        enrollment=enrollment, item=f"diary:{entry.pk}", reviewed_by=world.therapist.user
    )
    therapist = client_for(world.therapist.user)
    assert f'value="diary:{entry.pk}"' not in therapist.get(composer(world)).content.decode()
    page = therapist.get(f"{composer(world)}?attach=diary:{entry.pk}").content.decode()
    assert re.search(rf'value="diary:{entry.pk}"[^>]*checked', page)
    # An item of someone else is not offered, whatever the link says.
    other = diary_entry(enroll(world.patient_b))
    page = therapist.get(f"{composer(world)}?attach=diary:{other.pk}").content.decode()
    assert f'value="diary:{other.pk}"' not in page


@pytest.mark.parametrize(
    ("cadence", "weekday", "start", "last", "due"),
    [
        ("weekly", 0, date(2026, 3, 2), None, date(2026, 3, 9)),  # start on a Monday: the next Monday
        ("weekly", 0, date(2026, 3, 4), None, date(2026, 3, 9)),  # start on a Wednesday
        ("weekly", 3, date(2026, 3, 2), datetime(2026, 3, 5, 10), date(2026, 3, 12)),
        ("weekly", 0, date(2026, 3, 2), datetime(2026, 3, 12, 10), date(2026, 3, 16)),  # late feedback
        ("fortnightly", 0, date(2026, 3, 2), None, date(2026, 3, 16)),
        ("fortnightly", 0, date(2026, 3, 2), datetime(2026, 3, 16, 10), date(2026, 3, 30)),
        ("fortnightly", 4, date(2026, 3, 2), datetime(2026, 3, 12, 10), date(2026, 3, 27)),
    ],
)
def test_feedback_due_day(cadence, weekday, start, last, due):
    enrollment = Enrollment(
        feedback_cadence=cadence,
        feedback_weekday=weekday,
        start_date=start,
        last_feedback_at=timezone.make_aware(last) if last else None,
    )
    assert rhythm.feedback_due_on(enrollment) == due
    assert due.weekday() == weekday


@pytest.mark.every_weekday
def test_rhythm_shows_when_feedback_is_due_and_overdue(world, client_for):
    enroll(world.patient_a, start_days_ago=30)
    page = client_for(world.therapist.user).get(composer(world)).content.decode()
    assert "Next feedback due" in page and "overdue" in page
    assert "none yet" in page


# --- Templates and placeholders ----------------------------------------------------------------------


def test_placeholders_are_filled_in_plainly(world):
    body = "Hi {first_name}! {therapist_name} here. {first_name}, {unknown} {first_name.x}"
    template = FeedbackTemplate(clinic=world.clinic, title="t", body=body)
    text = services.template_render(template=template, patient=world.patient_a, author=world.therapist2.user)
    assert text == "Hi Anna! Tom Person here. Anna, {unknown} {first_name.x}"


def test_placeholders_typed_by_hand_are_filled_in_when_staff_send(clock, world):
    enrollment = enroll(world.patient_a)
    conversation = services.conversation_get_or_create(enrollment=enrollment)
    body = "Dear {first_name}, well done. {therapist_name}"
    feedback = services.feedback_send(conversation=conversation, author=world.therapist.user, body=body)
    assert feedback.body == f"Dear Anna, well done. {world.therapist.user.get_full_name()}"
    therapist = world.therapist.user
    reply = services.message_send(conversation=conversation, author=therapist, body="Hi {first_name}")
    assert reply.body == "Hi Anna"
    # What a patient writes is theirs, braces and all.
    own = services.message_send(conversation=conversation, author=world.patient_a.user, body="{first_name}?")
    assert own.body == "{first_name}?"


def test_unknown_placeholders_are_refused(world):
    with pytest.raises(ValidationError, match="Unknown placeholder {diagnosis}"):
        services.template_create(
            staff=world.therapist, title="Bad", body="Dear {first_name}, your {diagnosis}"
        )
    with pytest.raises(ValidationError, match="first_name.__class__"):
        services.template_create(staff=world.therapist, title="Bad", body="{first_name.__class__}")


def test_clinic_templates_are_kept_by_the_clinic_admin(world):
    with pytest.raises(PermissionDenied):
        services.template_create(staff=world.therapist, title="All", body="x", clinic_wide=True)
    with pytest.raises(PermissionDenied):
        services.template_create(staff=world.admin, title="Mine", body="x", clinic_wide=False)
    clinic_wide = services.template_create(staff=world.admin, title="All", body="x", clinic_wide=True)
    assert clinic_wide.owner is None
    with pytest.raises(PermissionDenied):
        services.template_update(template=clinic_wide, staff=world.therapist, title="Mine now", body="y")


def test_composer_offers_clinic_and_own_templates_filled_in(world, enrollment, client_for):
    services.template_create(
        staff=world.admin, title="Clinic welcome", body="Welcome {first_name}.", clinic_wide=True
    )
    services.template_create(
        staff=world.therapist, title="My snippet", body="Warm regards, {therapist_name}", is_snippet=True
    )
    services.template_create(staff=world.therapist2, title="Tom's own", body="Not for Alice")
    services.template_create(staff=world.outsider, title="Other clinic", body="Not for Alice either")
    page = client_for(world.therapist.user).get(composer(world)).content.decode()
    assert "Clinic welcome" in page and "Welcome Anna." in page
    assert "My snippet" in page and "Warm regards, Alice Person" in page
    assert "Tom&#x27;s own" not in page and "Not for Alice" not in page
    assert "Other clinic" not in page
    assert "Writing tips" in page and "one suggestion at a time" in page.lower()


def test_insert_without_a_template_chosen_keeps_the_text(world, enrollment, client_for):
    services.template_create(staff=world.therapist, title="Close", body="Take care, {first_name}.")
    response = client_for(world.therapist.user).post(
        composer(world), {"body": "My words", "send": "insert", "template": ""}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Choose a template to insert." in page
    assert "My words</textarea>" in page


def test_an_unknown_button_says_so_and_keeps_the_text(world, enrollment, client_for):
    """A ``send`` value the page never offers (a tampered or broken form) came back without a
    word: the error sat on a field the page does not show."""
    response = client_for(world.therapist.user).post(composer(world), {"body": "My words", "send": "bogus"})
    assert response.status_code == 200
    page = response.content.decode()
    assert '<div class="error-summary" role="alert"><p>We could not tell which button you pressed.' in page
    assert "My words</textarea>" in page
    assert not world.patient_a.enrollments.get().conversation.messages.exists()


def test_insert_appends_to_what_was_typed(world, enrollment, client_for):
    template = services.template_create(staff=world.therapist, title="Close", body="Take care, {first_name}.")
    client_for(world.therapist.user).post(
        composer(world), {"body": "Good week.", "send": "insert", "template": template.pk}
    )
    assert MessageDraft.objects.get().body == "Good week.\n\nTake care, Anna."


# --- Mark as reviewed ------------------------------------------------------------------------------


def test_mark_reviewed_without_writing_keeps_the_draft(clock, world, enrollment, client_for):
    entry = diary_entry(enrollment)
    therapist = client_for(world.therapist.user)
    response = therapist.post(
        reverse("messaging:item_review", args=[world.patient_a.pk]),
        {"item": f"diary:{entry.pk}", "body": "Half-written feedback", "attach": []},
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.reviewed_at is not None and entry.reviewed_by == world.therapist.user
    assert MessageDraft.objects.get(author=world.therapist.user).body == "Half-written feedback"
    event = AuditEvent.objects.filter(object_type="diary_entry", object_id=str(entry.pk)).get()
    assert event.action == AuditEvent.Action.REVIEW and event.user == world.therapist.user
    page = therapist.get(composer(world)).content.decode()
    assert "Marked as reviewed." in page
    assert "Half-written feedback</textarea>" in page

    # Again: the first review stays.
    first = entry.reviewed_at
    services.item_mark_reviewed(
        enrollment=enrollment, item=f"diary:{entry.pk}", reviewed_by=world.therapist.user
    )
    entry.refresh_from_db()
    assert entry.reviewed_at == first


def test_mark_reviewed_answers_and_questionnaires_but_not_modules_or_strangers(world, enrollment):
    answer = submitted_answer(enrollment)
    result = questionnaire(enrollment)
    for item in (f"answer:{answer.pk}", f"questionnaire:{result.pk}"):
        services.item_mark_reviewed(enrollment=enrollment, item=item, reviewed_by=world.therapist.user)
    answer.refresh_from_db()
    result.refresh_from_db()
    assert answer.reviewed_at and result.reviewed_at
    with pytest.raises(ValidationError, match="Only assignments"):
        services.item_mark_reviewed(enrollment=enrollment, item="module:1", reviewed_by=world.therapist.user)
    other = diary_entry(enroll(world.patient_b))
    with pytest.raises(ValidationError, match="no longer there"):
        services.item_mark_reviewed(
            enrollment=enrollment, item=f"diary:{other.pk}", reviewed_by=world.therapist.user
        )
    with pytest.raises(PermissionDenied):
        services.item_mark_reviewed(
            enrollment=enrollment, item=f"answer:{answer.pk}", reviewed_by=world.therapist2.user
        )


@pytest.mark.every_weekday
def test_feedback_marks_every_attached_item_and_moves_the_due_day(world, enrollment, clock):
    entries = [diary_entry(enrollment, days_ago=d) for d in (1, 2, 3)]
    answer = submitted_answer(enrollment)
    due_before = rhythm.feedback_due_on(enrollment)
    conversation = services.conversation_get_or_create(enrollment=enrollment)
    message = services.feedback_send(
        conversation=conversation,
        author=world.therapist.user,
        body="About your week",
        items=[
            f"diary:{entries[0].pk}",
            f"diary:{entries[1].pk}",
            f"answer:{answer.pk}",
            "module:1",
            f"diary:{entries[0].pk}",
        ],
    )
    assert message.links.count() == 4
    assert {link.module_number for link in message.links.all()} == {None, 1}
    for entry in entries[:2]:
        entry.refresh_from_db()
        assert entry.reviewed_by == world.therapist.user
    entries[2].refresh_from_db()
    assert entries[2].reviewed_at is None
    enrollment.refresh_from_db()
    # Feedback given today counts for this week's slot: the feedback weekday nearest to today
    # (at most three days away); the next one is due a week after that slot, so 4 to 10 days
    # ahead, on the feedback weekday (8 to 10 days when today is three days before the slot).
    today = clock.today()
    offsets = [
        d for d in range(-3, 4) if (today + timedelta(days=d)).weekday() == enrollment.feedback_weekday
    ]
    assert len(offsets) == 1
    expected = today + timedelta(days=offsets[0] + 7)
    due_after = rhythm.feedback_due_on(enrollment)
    assert due_after == expected
    assert due_after > due_before and due_after.weekday() == enrollment.feedback_weekday
