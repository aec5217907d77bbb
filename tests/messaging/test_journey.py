"""The journey: the therapist writes feedback attached to a named diary entry from the
composer using a template; the patient reads it beside that entry and replies."""

import re

from django.urls import reverse
from django.utils import timezone

from messaging import selectors, services
from messaging.models import FeedbackLink, FeedbackTemplate, Message, MessageDraft
from patients.models import DiaryEntry
from tests.messaging.helpers import diary_entry


def test_journey_at_service_level(world, enrollment):
    monday = diary_entry(enrollment, days_ago=3, mood=4, note="Tired after work.")
    tuesday = diary_entry(enrollment, days_ago=2, mood=7, minutes=45)
    template = services.template_create(
        staff=world.therapist,
        title="Diary week",
        body="Dear {first_name}, thank you for your diary. {therapist_name}",
    )
    conversation = services.conversation_get_or_create(enrollment=enrollment)
    assert services.conversation_get_or_create(enrollment=enrollment).pk == conversation.pk

    work = selectors.work_since_last_feedback(enrollment=enrollment)
    assert [e.pk for e in work.diary_entries] == [monday.pk, tuesday.pk]
    text = services.template_render(template=template, patient=world.patient_a, author=world.therapist.user)
    assert text == "Dear Anna, thank you for your diary. Alice Person"

    feedback = services.feedback_send(
        conversation=conversation,
        author=world.therapist.user,
        body=text + " The walk on Tuesday stands out.",
        items=[f"diary:{tuesday.pk}"],
    )

    tuesday.refresh_from_db()
    monday.refresh_from_db()
    enrollment.refresh_from_db()
    assert feedback.is_feedback and feedback.on_behalf_of is None
    assert tuesday.reviewed_at is not None and tuesday.reviewed_by == world.therapist.user
    assert monday.reviewed_at is None
    assert enrollment.last_feedback_at == feedback.created_at
    # Beside the entry: the reverse relation the patient's pages use.
    assert [link.message.body for link in tuesday.feedback_links.all()] == [feedback.body]
    assert not monday.feedback_links.exists()

    # The patient opens the conversation: the feedback is read; they reply.
    assert services.conversation_mark_read(conversation=conversation, reader=world.patient_a.user) == 1
    reply = services.message_send(conversation=conversation, author=world.patient_a.user, body="Thank you!")
    assert not reply.is_feedback
    assert services.conversation_mark_read(conversation=conversation, reader=world.therapist.user) == 1
    assert Message.objects.filter(conversation=conversation, read_at__isnull=True).count() == 0


def test_journey_through_the_pages(world, enrollment, client_for):
    entry = diary_entry(enrollment, days_ago=2, mood=7, minutes=45, note="Walked to the market.")
    therapist = client_for(world.therapist.user)
    patient = client_for(world.patient_a.user)

    # 1. A personal template, with placeholders.
    response = therapist.post(
        reverse("messaging:template_create"),
        {
            "title": "Diary feedback",
            "body": "Hello {first_name}, I read your diary of this week.",
        },
    )
    assert response.status_code == 302
    [template] = [t for t in FeedbackTemplate.objects.all() if t.title == "Diary feedback"]
    assert template.owner == world.therapist

    # 2. From the worklist: the composer with that diary entry preselected, its text beside the editor.
    composer = reverse("messaging:staff_conversation", args=[world.patient_a.pk])
    response = therapist.get(f"{composer}?attach=diary:{entry.pk}")
    assert response.status_code == 200
    page = response.content.decode()
    assert re.search(rf'value="diary:{entry.pk}"[^>]*checked', page)
    assert "Walked to the market." in page
    assert "Mood diary" in page

    # 3. Insert the template (the path without JavaScript): it lands in the draft, filled in.
    response = therapist.post(
        composer, {"body": "", "attach": [f"diary:{entry.pk}"], "template": template.pk, "send": "insert"}
    )
    assert response.status_code == 302
    draft = MessageDraft.objects.get(author=world.therapist.user)
    assert draft.body == "Hello Anna, I read your diary of this week."
    assert draft.attachments == [f"diary:{entry.pk}"]
    page = therapist.get(composer).content.decode()
    assert "Hello Anna, I read your diary of this week.</textarea>" in page
    assert re.search(rf'value="diary:{entry.pk}"[^>]*checked', page)

    # 4. Send it as feedback attached to the entry.
    body = draft.body + "\nWhat made the walk possible?"
    response = therapist.post(composer, {"body": body, "attach": [f"diary:{entry.pk}"], "send": "feedback"})
    assert response.status_code == 302
    feedback = Message.objects.get(is_feedback=True)
    assert FeedbackLink.objects.get(message=feedback).diary_entry_id == entry.pk
    entry = DiaryEntry.objects.get(pk=entry.pk)
    assert entry.reviewed_by == world.therapist.user
    assert not MessageDraft.objects.exists()

    # 5. The patient reads it: in the conversation, naming the entry, and beside the entry itself.
    response = patient.get(reverse("messaging:patient_conversation"))
    page = response.content.decode()
    assert "What made the walk possible?" in page
    assert "Mood diary of" in page
    assert "Alice Person" in page
    assert "Not for emergencies" in page
    feedback.refresh_from_db()
    assert feedback.read_at is not None
    assert entry.feedback_links.get().message.body == body

    # 6. The therapist sees that it was read; the patient replies; the therapist reads the reply.
    assert "Read" in therapist.get(composer).content.decode()
    response = patient.post(reverse("messaging:patient_conversation"), {"body": "The sun helped!"})
    assert response.status_code == 302
    reply = Message.objects.get(author=world.patient_a.user)
    assert reply.read_at is None
    page = therapist.get(composer).content.decode()
    assert "The sun helped!" in page
    reply.refresh_from_db()
    assert reply.read_at is not None and reply.read_at <= timezone.now()
