"""The conversation pages: read receipts, drafts that save themselves, bad input that keeps what
was typed, a closed message box, and a query count that does not grow with the thread."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from messaging import services
from messaging.models import Conversation, Message, MessageDraft
from messaging.services import MESSAGE_MAX_LENGTH
from patients.models import Enrollment
from tests.messaging.helpers import diary_entry, enroll, submitted_answer
from tests.work import settle

JSON = {"HTTP_ACCEPT": "application/json"}


def staff_url(world, patient=None):
    return reverse("messaging:staff_conversation", args=[(patient or world.patient_a).pk])


# --- Conversation ------------------------------------------------------------------------------


def test_one_conversation_per_enrollment_created_on_first_use(world, enrollment, client_for):
    assert not Conversation.objects.exists()
    client_for(world.patient_a.user).get(reverse("messaging:patient_conversation"))
    client_for(world.therapist.user).get(staff_url(world))
    assert Conversation.objects.filter(enrollment=enrollment).count() == 1


def test_patient_without_a_program_sees_a_notice_and_the_crisis_instructions(world, client_for):
    world.clinic.crisis_instructions = "Call 112, or the crisis line on 0800-1234."
    world.clinic.save()
    page = client_for(world.patient_b.user).get(reverse("messaging:patient_conversation")).content.decode()
    assert "once your program has started" in page
    assert 'Call <a href="tel:112" class="crisis-phone">112</a>, or the crisis line on' in page
    assert '<a href="tel:08001234" class="crisis-phone">0800-1234</a>.' in page
    assert not Conversation.objects.exists()


def test_the_message_box_says_it_is_not_for_emergencies(world, enrollment, client_for):
    world.clinic.crisis_instructions = "Call 112."
    world.clinic.save()
    page = client_for(world.patient_a.user).get(reverse("messaging:patient_conversation")).content.decode()
    assert "Not for emergencies" in page
    assert 'Call <a href="tel:112" class="crisis-phone">112</a>.' in page
    assert "113 Suicide Prevention" in page


def test_read_receipts_are_set_when_the_other_side_opens_the_conversation(world, enrollment, client_for):
    conversation = services.conversation_get_or_create(enrollment=enrollment)
    to_patient = services.message_send(
        conversation=conversation, author=world.therapist.user, body="How are you?"
    )
    therapist, patient = client_for(world.therapist.user), client_for(world.patient_a.user)

    # The author opening their own conversation reads nothing.
    assert "Not read yet" in therapist.get(staff_url(world)).content.decode()
    to_patient.refresh_from_db()
    assert to_patient.read_at is None

    # A colleague who is refused does not mark anything as read either.
    assert client_for(world.therapist2.user).get(staff_url(world)).status_code == 403
    to_patient.refresh_from_db()
    assert to_patient.read_at is None

    page = patient.get(reverse("messaging:patient_conversation")).content.decode()
    assert "New" in page
    to_patient.refresh_from_db()
    assert to_patient.read_at is not None
    assert "Read" in therapist.get(staff_url(world)).content.decode()

    reply = services.message_send(
        conversation=conversation, author=world.patient_a.user, body="Better, thanks."
    )
    patient.get(reverse("messaging:patient_conversation"))
    reply.refresh_from_db()
    assert reply.read_at is None  # the patient's own message is read by the therapist, not by them
    therapist.get(staff_url(world))
    reply.refresh_from_db()
    assert reply.read_at is not None


# --- Drafts --------------------------------------------------------------------------------------


def test_patient_draft_autosaves_as_json_and_comes_back(world, enrollment, client_for):
    patient = client_for(world.patient_a.user)
    url = reverse("messaging:patient_draft")
    response = patient.post(url, {"body": "I wanted to say"}, **JSON)
    assert response.status_code == 200
    payload = response.json()
    assert payload["saved"] is True and payload["saved_at"]
    draft = MessageDraft.objects.get(author=world.patient_a.user)
    assert draft.body == "I wanted to say"
    assert draft.attachments == []

    # Saved again: the same row, the new text, exactly as typed.
    patient.post(url, {"body": "I wanted to say  thank you "}, **JSON)
    assert MessageDraft.objects.get().body == "I wanted to say  thank you "
    page = patient.get(reverse("messaging:patient_conversation")).content.decode()
    assert "I wanted to say  thank you </textarea>" in page
    assert "Draft saved" in page

    # Emptied: the draft goes.
    assert patient.post(url, {"body": "  "}, **JSON).json() == {"saved": True, "saved_at": None}
    assert not MessageDraft.objects.exists()


def test_draft_without_script_redirects_and_a_sent_message_clears_it(world, enrollment, client_for):
    patient = client_for(world.patient_a.user)
    response = patient.post(reverse("messaging:patient_draft"), {"body": "Later"})
    assert response.status_code == 302
    assert response["Location"] == reverse("messaging:patient_conversation")
    assert MessageDraft.objects.count() == 1
    patient.post(reverse("messaging:patient_conversation"), {"body": "Later"})
    assert not MessageDraft.objects.exists()


def test_too_long_draft_is_refused_and_the_last_one_kept(world, enrollment, client_for):
    patient = client_for(world.patient_a.user)
    url = reverse("messaging:patient_draft")
    patient.post(url, {"body": "short"}, **JSON)
    response = patient.post(url, {"body": "x" * (MESSAGE_MAX_LENGTH + 1)}, **JSON)
    assert response.status_code == 400
    assert response.json()["saved"] is False
    assert str(MESSAGE_MAX_LENGTH + 1) in response.json()["error"]
    assert MessageDraft.objects.get().body == "short"
    # Without script the page comes back with the text and the message.
    response = patient.post(url, {"body": "y" * (MESSAGE_MAX_LENGTH + 1)})
    assert response.status_code == 200
    assert "y" * (MESSAGE_MAX_LENGTH + 1) in response.content.decode()


def test_staff_draft_keeps_text_and_chosen_items(world, enrollment, client_for):
    entry = diary_entry(enrollment)
    therapist = client_for(world.therapist.user)
    url = reverse("messaging:staff_draft", args=[world.patient_a.pk])
    response = therapist.post(
        url, {"body": "Dear Anna,", "attach": [f"diary:{entry.pk}", "nonsense", "module:1"]}, **JSON
    )
    assert response.status_code == 200
    draft = MessageDraft.objects.get(author=world.therapist.user)
    assert draft.attachments == [f"diary:{entry.pk}", "module:1"]
    page = therapist.get(staff_url(world)).content.decode()
    assert "Dear Anna,</textarea>" in page
    assert f'value="diary:{entry.pk}" id="attach-diary{entry.pk}" checked' in page


def test_draft_endpoints_only_take_post(world, enrollment, client_for):
    assert client_for(world.patient_a.user).get(reverse("messaging:patient_draft")).status_code == 405
    url = reverse("messaging:staff_draft", args=[world.patient_a.pk])
    assert client_for(world.therapist.user).get(url).status_code == 405


# --- Bad input keeps what was typed ----------------------------------------------------------------


def test_empty_message_is_refused_with_a_message(world, enrollment, client_for):
    response = client_for(world.patient_a.user).post(
        reverse("messaging:patient_conversation"), {"body": "  \n "}
    )
    assert response.status_code == 200
    assert "Write a message before sending." in response.content.decode()
    assert not Message.objects.exists()


def test_too_long_message_is_refused_and_the_text_kept(world, enrollment, client_for):
    text = "word " * (MESSAGE_MAX_LENGTH // 5) + "end"
    response = client_for(world.patient_a.user).post(
        reverse("messaging:patient_conversation"), {"body": text}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert f"This text has {len(text.strip())} characters; the most is {MESSAGE_MAX_LENGTH}." in page
    assert text in page
    assert not Message.objects.exists()


@pytest.mark.parametrize("body", ["", "  \n ", "word " * (MESSAGE_MAX_LENGTH // 5) + "end"])
def test_a_message_not_sent_gets_a_summary_at_the_top_linked_to_the_kept_text(
    clock, body, world, enrollment, client_for
):
    """On a phone the field's own error is far below the crisis box: a summary right under the
    heading, focused by messaging.js (as the diary form's is), links to the text, which is kept."""
    world.clinic.crisis_instructions = "Call 112."
    world.clinic.save()
    page = (
        client_for(world.patient_a.user)
        .post(reverse("messaging:patient_conversation"), {"body": body})
        .content.decode()
    )
    summary = re.search(
        r'<div class="error-summary" role="alert" tabindex="-1" data-error-summary>(.*?)</div>', page, re.S
    )
    assert summary, "no error summary"
    assert page.index("<h1>") < summary.start() < page.index("crisis-notice") < page.index('id="composer"')
    assert re.search(r'<li><a href="#id_body">[^<]+</a></li>', summary.group(1))
    assert 'aria-invalid="true"' in page and 'id="id_body"' in page
    if body.strip():
        assert f"{body}</textarea>" in page
    assert "js/messaging.js" in page
    assert not Message.objects.exists()


def test_messaging_script_moves_focus_to_the_error_summary():
    from pathlib import Path

    from django.conf import settings

    script = (Path(settings.BASE_DIR) / "static" / "js" / "messaging.js").read_text()
    assert 'document.querySelector("[data-error-summary]")' in script and "summary.focus()" in script


def test_staff_bad_input_keeps_text_and_items(world, enrollment, client_for):
    entry = diary_entry(enrollment)
    therapist = client_for(world.therapist.user)
    response = therapist.post(
        staff_url(world), {"body": "", "attach": [f"diary:{entry.pk}"], "send": "feedback"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Write a message before sending." in page
    assert f'value="diary:{entry.pk}" id="attach-diary{entry.pk}" checked' in page

    text = "z" * (MESSAGE_MAX_LENGTH + 10)
    response = therapist.post(
        staff_url(world), {"body": text, "attach": [f"diary:{entry.pk}"], "send": "feedback"}
    )
    page = response.content.decode()
    assert text in page and "the most is" in page
    assert not Message.objects.exists()
    entry.refresh_from_db()
    assert entry.reviewed_at is None


def test_the_patient_follows_what_feedback_is_about_to_the_item(world, enrollment, client_for):
    entry = diary_entry(enrollment)
    answer = submitted_answer(enrollment)
    conversation = services.conversation_get_or_create(enrollment=enrollment)
    services.feedback_send(
        conversation=conversation,
        author=world.therapist.user,
        body="Well done.",
        items=[f"diary:{entry.pk}", f"answer:{answer.pk}", "module:1"],
    )
    page = client_for(world.patient_a.user).get(reverse("messaging:patient_conversation")).content.decode()
    step = answer.step
    for url in (
        reverse("patients:diary_entry", args=[entry.uid]),
        reverse("patients:step", args=[step.module.slug, step.slug]),
        reverse("patients:module", args=[step.module.slug]),
    ):
        assert f'<a href="{url}">' in page, url
        assert client_for(world.patient_a.user).get(url).status_code == 200, url
    # Staff see the same lines as text: the items are beside the composer.
    staff_page = client_for(world.therapist.user).get(staff_url(world)).content.decode()
    assert f'<a href="{reverse("patients:diary_entry", args=[entry.uid])}">' not in staff_page


def test_feedback_about_an_item_of_another_patient_is_refused(world, enrollment, client_for):
    other = diary_entry(enroll(world.patient_b))
    response = client_for(world.therapist.user).post(
        staff_url(world), {"body": "Nice", "attach": [f"diary:{other.pk}"], "send": "feedback"}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Message.objects.exists()
    with pytest.raises(Exception, match="no longer there"):
        services.feedback_send(
            conversation=services.conversation_get_or_create(enrollment=enrollment),
            author=world.therapist.user,
            body="Nice",
            items=[f"diary:{other.pk}"],
        )


def test_plain_message_from_the_therapist_is_not_feedback(world, enrollment, client_for):
    response = client_for(world.therapist.user).post(
        staff_url(world), {"body": "See you Thursday.", "send": "message"}
    )
    assert response.status_code == 302
    message = Message.objects.get()
    assert not message.is_feedback
    enrollment.refresh_from_db()
    assert enrollment.last_feedback_at is None


def test_closed_treatment_can_be_read_but_not_written(world, client_for):
    enrollment = enroll(world.patient_a, status=Enrollment.Status.COMPLETED)
    conversation = services.conversation_get_or_create(enrollment=enrollment)
    Message.objects.create(
        clinic_id=conversation.enrollment.clinic_id,
        conversation=conversation,
        author=world.therapist.user,
        body="Good luck!",
    )
    settle()
    patient = client_for(world.patient_a.user)
    page = patient.get(reverse("messaging:patient_conversation")).content.decode()
    assert "Good luck!" in page
    assert "no longer send messages" in page
    response = patient.post(reverse("messaging:patient_conversation"), {"body": "One more thing"})
    assert "message box is closed" in response.content.decode()
    assert "One more thing</textarea>" in response.content.decode()
    assert Message.objects.count() == 1
    assert patient.post(reverse("messaging:patient_draft"), {"body": "x"}).status_code == 404


# --- Query counts ------------------------------------------------------------------------------------


def _thread(world, patient, count):
    enrollment = enroll(patient)
    conversation = services.conversation_get_or_create(enrollment=enrollment)
    entries = [diary_entry(enrollment, days_ago=d) for d in range(1, 4)]
    submitted_answer(enrollment)
    for i in range(count):
        if i % 3 == 0:
            services.feedback_send(
                conversation=conversation,
                author=world.therapist.user,
                body=f"Feedback {i}",
                items=[f"diary:{entries[i % 3].pk}", "module:1"],
            )
        else:
            author = world.patient_a.user if patient == world.patient_a else world.patient_b.user
            services.message_send(conversation=conversation, author=author, body=f"Message {i}")
    return enrollment


# Staff: user, roles (2), MFA check, the worklist count in the navigation, patient (+ audit
# insert), enrollment, conversation, draft, work (3 kinds), diary graph (2), templates, modules,
# messages, links, read receipts, covering colleagues, and the savepoints of the request transaction.
STAFF_PAGE_QUERIES = 23
PATIENT_PAGE_QUERIES = 13


def test_conversation_pages_have_a_pinned_query_count(world, client_for, django_assert_max_num_queries):
    _thread(world, world.patient_a, 5)
    _thread(world, world.patient_b, 40)
    therapist = client_for(world.therapist.user)
    therapist.get(staff_url(world))  # warm the session and the data-key cache

    counts = {}
    for patient in (world.patient_a, world.patient_b):
        with django_assert_max_num_queries(STAFF_PAGE_QUERIES):
            with CaptureQueriesContext(connection) as queries:
                response = therapist.get(staff_url(world, patient))
        assert response.status_code == 200
        counts[patient.pk] = len(queries)
    assert counts[world.patient_a.pk] == counts[world.patient_b.pk], counts

    patient_counts = []
    for patient in (world.patient_a, world.patient_b):
        client = client_for(patient.user)
        client.get(reverse("messaging:patient_conversation"))
        with django_assert_max_num_queries(PATIENT_PAGE_QUERIES):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(reverse("messaging:patient_conversation"))
        assert response.status_code == 200
        patient_counts.append(len(queries))
    assert patient_counts[0] == patient_counts[1], patient_counts
