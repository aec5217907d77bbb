"""Patients are asked once, at their first sign-in, how they want to hear about new feedback;
feedback sent while their e-mail was off is announced once they switch it on."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from icbt.models import Notification, NotificationPreference
from messaging import services
from messaging.notifications.digests import digest_round
from messaging.notifications.preferences import preference_update
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

FIRST = reverse("messaging:notifications:first_choice")
LOGIN = reverse("account_login")


def _sign_in(client, user):
    return client.post(LOGIN, {"login": user.email, "password": TEST_PASSWORD})


def test_a_patient_is_asked_once_at_the_first_sign_in(world, client):
    user = world.patient_a.user
    response = _sign_in(client, user)
    assert response["Location"].startswith(FIRST)
    page = client.get(response["Location"])
    html = page.content.decode()
    assert "How do you want to hear about new feedback" in html
    # The suggested answer is the e-mail that says nothing about what is new.
    assert re.search(r'value="email"[^>]*checked', html)
    assert not re.search(r'value="none"[^>]*checked', html)
    assert "never what" in html
    response = client.post(FIRST, {"choice": "email", "next": "/"})
    assert response["Location"] == "/"
    preference = NotificationPreference.objects.get(user=user)
    assert preference.email_enabled is True
    # Not asked again.
    client.logout()
    response = _sign_in(client, user)
    assert not response["Location"].startswith(FIRST)


def test_no_email_is_a_choice_too(world, client):
    _sign_in(client, world.patient_a.user)
    client.post(FIRST, {"choice": "none"})
    assert NotificationPreference.objects.get(user=world.patient_a.user).email_enabled is False
    client.logout()
    assert not _sign_in(client, world.patient_a.user)["Location"].startswith(FIRST)


def test_the_question_keeps_where_the_patient_was_going(world, client):
    response = client.post(
        LOGIN + "?next=/me/messages/", {"login": world.patient_a.user.email, "password": TEST_PASSWORD}
    )
    assert response["Location"].startswith(FIRST)
    page = client.get(response["Location"])
    assert 'value="/me/messages/"' in page.content.decode()
    assert client.post(FIRST, {"choice": "none", "next": "/me/messages/"})["Location"] == "/me/messages/"
    assert client.post(FIRST, {"choice": "none", "next": "https://evil.example/"})["Location"] == "/"


def test_staff_and_decided_patients_are_not_asked(world, client_for):
    therapist = client_for(world.therapist.user)
    assert therapist.get(FIRST)["Location"] == "/"
    NotificationPreference.objects.create(user=world.patient_b.user, email_enabled=False)
    assert client_for(world.patient_b.user).get(FIRST)["Location"] == "/"


def test_a_repeated_answer_does_not_overwrite_the_first(world, client_for):
    client = client_for(world.patient_a.user)
    client.post(FIRST, {"choice": "email"})
    client.post(FIRST, {"choice": "none"})
    assert NotificationPreference.objects.get(user=world.patient_a.user).email_enabled is True


def _feedback(enrollment, world, body="Well done this week."):
    conversation = services.conversation_get_or_create(enrollment=enrollment)
    return services.feedback_send(conversation=conversation, author=world.therapist.user, body=body)


def test_feedback_sent_while_email_was_off_is_announced_after_switching_on(
    world, enrollment, django_capture_on_commit_callbacks
):
    patient = world.patient_a.user
    NotificationPreference.objects.create(user=patient, email_enabled=False)
    _feedback(enrollment, world)
    digest_round(recipient_ids=[patient.pk])
    assert Notification.objects.get(recipient=patient).dropped_reason == "email_off"
    assert [m for m in mail.outbox if patient.email in m.to] == []

    preference_update(
        user=patient, email_enabled=True, frequency="soon", hour=8, weekday=0, urgent_soon=True,
        kinds_on=["feedback_waiting", "message_waiting"],
    )  # fmt: skip
    digest_round(now=timezone.now() + timedelta(minutes=10), recipient_ids=[patient.pk])
    assert len([m for m in mail.outbox if patient.email in m.to]) == 1
    assert Notification.objects.get(recipient=patient).state == Notification.State.SENT


def test_feedback_read_meanwhile_is_not_announced(world, enrollment):
    patient = world.patient_a.user
    NotificationPreference.objects.create(user=patient, email_enabled=False)
    _feedback(enrollment, world)
    digest_round(recipient_ids=[patient.pk])
    conversation = services.conversation_get_or_create(enrollment=enrollment)
    services.conversation_mark_read(conversation=conversation, reader=patient)
    preference_update(
        user=patient, email_enabled=True, frequency="soon", hour=8, weekday=0, urgent_soon=True,
        kinds_on=["feedback_waiting"],
    )  # fmt: skip
    digest_round(now=timezone.now() + timedelta(minutes=10), recipient_ids=[patient.pk])
    assert [m for m in mail.outbox if patient.email in m.to] == []


def test_a_bare_word_as_next_is_a_redirect_not_an_error(world, client_for):
    """A ``next`` that passes the safety check but names no page ("foo") is followed as a
    relative address, not looked up as a view name."""
    therapist = client_for(world.therapist.user)
    response = therapist.get(FIRST, {"next": "foo"})
    assert response.status_code == 302
    assert response["Location"] == "foo"
    patient = client_for(world.patient_a.user)
    response = patient.post(FIRST, {"choice": "none", "next": "foo"})
    assert response.status_code == 302
    assert response["Location"] == "foo"


def test_the_first_choice_promises_the_daily_email_it_saves(clock, world, client):
    """What the question promises is what is stored: one e-mail a day at the stored hour, not an
    e-mail as soon as something new waits."""
    _sign_in(client, world.patient_a.user)
    html = client.get(FIRST).content.decode()
    assert "one short e-mail a day, at 08:00" in html
    assert "Send me one short e-mail a day, at 08:00, when something new is waiting." in html
    response = client.post(FIRST, {"choice": "email", "next": "/"}, follow=True)
    preference = NotificationPreference.objects.get(user=world.patient_a.user)
    assert (preference.email_enabled, preference.frequency, preference.hour) == (True, "daily", 8)
    assert "We will send you one short e-mail a day, at 08:00" in response.content.decode()
