"""The e-mail settings page, reached from the personal settings page; defaults per role."""

import re

import pytest
from django.urls import reverse

from icbt.models import Notification, NotificationPreference
from messaging.notifications.preferences import kinds_for_user, preference_for_user

pytestmark = pytest.mark.django_db

URL = "/settings/notifications/"
Kind = Notification.Kind


def test_the_url_and_the_link_from_personal_settings(world, client_for):
    assert reverse("messaging:notifications:preferences") == URL
    page = client_for(world.patient_a.user).get(reverse("personal_settings"))
    assert f'href="{URL}"' in page.content.decode()


def test_defaults_by_role(world):
    assert preference_for_user(world.therapist.user).email_enabled is True
    assert preference_for_user(world.patient_a.user).email_enabled is False
    assert preference_for_user(world.patient_a.user).frequency == "daily"
    assert preference_for_user(world.patient_a.user).hour == 8


def test_kinds_per_role(world):
    assert Kind.DIARY_ENTRY in kinds_for_user(world.therapist.user)
    assert Kind.WEEKLY_SUMMARY not in kinds_for_user(world.therapist.user)
    assert kinds_for_user(world.manager.user) == [Kind.WEEKLY_SUMMARY]
    assert Kind.WEEKLY_SUMMARY in kinds_for_user(world.outsider.user)  # therapist and manager
    assert Kind.MESSAGE_WAITING in kinds_for_user(world.patient_a.user)
    assert Kind.DIARY_ENTRY not in kinds_for_user(world.patient_a.user)


@pytest.mark.every_weekday
def test_patient_opts_in_to_a_weekly_email(world, client_for):
    client = client_for(world.patient_a.user)
    page = client.get(URL).content.decode()
    assert "E-mail is off until you switch it on here." in page
    assert 'name="urgent_soon"' not in page  # patients have no urgent items
    kinds = [Kind.MESSAGE_WAITING, Kind.FEEDBACK_WAITING]
    response = client.post(
        URL, {"email_enabled": "on", "frequency": "weekly", "hour": "19", "weekday": "6", "kinds": kinds}
    )
    assert response.status_code == 302 and response["Location"] == URL
    preference = NotificationPreference.objects.get(user=world.patient_a.user)
    assert (preference.email_enabled, preference.frequency, preference.hour, preference.weekday) == (
        True,
        "weekly",
        19,
        6,
    )
    assert set(preference.kinds_off) == {Kind.MODULE_OPENED, Kind.DIARY_DUE, Kind.INACTIVITY_REMINDER}
    page = client.get(URL).content.decode()
    assert 'value="message_waiting"' in page and "checked" in page


def test_therapist_chooses_soon_and_switches_a_kind_off(world, client_for):
    client = client_for(world.therapist.user)
    page = client.get(URL).content.decode()
    assert 'name="urgent_soon"' in page and 'value="diary_entry"' in page
    on = [k for k in kinds_for_user(world.therapist.user) if k != Kind.PATIENT_INACTIVE]
    client.post(URL, {"email_enabled": "on", "frequency": "soon", "hour": "8", "weekday": "0", "kinds": on})
    preference = NotificationPreference.objects.get(user=world.therapist.user)
    assert preference.frequency == "soon" and preference.urgent_soon is False
    assert preference.kinds_off == [Kind.PATIENT_INACTIVE]


def test_bad_input_keeps_the_form_and_saves_nothing(world, client_for):
    client = client_for(world.therapist.user)
    response = client.post(
        URL,
        {
            "email_enabled": "on",
            "frequency": "hourly",
            "hour": "25",
            "weekday": "9",
            "kinds": ["weekly_summary_fake"],
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "field-error" in page
    assert not NotificationPreference.objects.exists()


def test_someone_elses_kinds_are_ignored(world):
    from messaging.notifications.preferences import preference_update

    preference = preference_update(
        user=world.manager.user,
        email_enabled=True,
        frequency="daily",
        hour=8,
        weekday=0,
        urgent_soon=True,
        kinds_on=[Kind.DIARY_ENTRY],
    )
    assert preference.kinds_off == [Kind.WEEKLY_SUMMARY]


def test_signed_out_is_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_patient_with_email_on_is_not_told_it_is_off(clock, world, client_for):
    client = client_for(world.patient_a.user)
    assert "E-mail is off until you switch it on here." in client.get(URL).content.decode()
    client.post(URL, {"email_enabled": "on", "frequency": "daily", "hour": "8", "weekday": "0"})
    assert NotificationPreference.objects.get(user=world.patient_a.user).email_enabled is True
    page = client.get(URL).content.decode()
    assert re.search(r'name="email_enabled"[^>]*checked', page)
    assert "E-mail is off until you switch it on here." not in page
