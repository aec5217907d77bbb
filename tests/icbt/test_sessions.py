"""Staff sessions end after an idle time; deactivating a user ends their sessions."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.urls import reverse

from icbt.middleware import StaffIdleTimeoutMiddleware
from icbt.services import user_deactivate, user_sessions_end

LAST_SEEN = StaffIdleTimeoutMiddleware.SESSION_KEY
LOGIN = reverse("account_login")


def _set_last_seen(client, seconds_ago):
    session = client.session
    session[LAST_SEEN] = int(time.time()) - seconds_ago
    session.save()


def _user_id(client):
    return client.session.get("_auth_user_id")


@pytest.fixture
def idle_minutes(settings):
    settings.ICBT_STAFF_IDLE_MINUTES = 30
    return 30


def test_the_first_request_records_activity(world, client, idle_minutes):
    client.force_login(world.therapist.user)
    assert LAST_SEEN not in client.session
    client.get(reverse("patients:staff_patient_list"))
    assert abs(client.session[LAST_SEEN] - time.time()) < 5


def test_idle_staff_session_is_signed_out(world, client, idle_minutes):
    client.force_login(world.therapist.user)
    url = reverse("patients:staff_patient_list")
    assert client.get(url).status_code == 200
    _set_last_seen(client, idle_minutes * 60 + 5)

    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert "next=" in response["Location"]
    assert _user_id(client) is None
    # The sign-in page tells why.
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "signed out after a period without activity" in page.content.decode()
    # And the session stays ended.
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_after_an_idle_sign_out_the_sign_in_returns_to_the_same_page(world, client, idle_minutes):
    client.force_login(world.admin.user)
    url = reverse("therapists:audit_search") + "?user_email=a&action=view"
    client.get(url)
    _set_last_seen(client, idle_minutes * 60 + 5)
    response = client.get(url)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == LOGIN
    assert parse_qs(location.query) == {"next": [url]}


def test_idle_timeout_follows_the_setting(world, client, settings):
    settings.ICBT_STAFF_IDLE_MINUTES = 5
    client.force_login(world.manager.user)
    client.get(reverse("therapists:clinic_overview"))
    _set_last_seen(client, 6 * 60)
    assert client.get(reverse("therapists:clinic_overview")).status_code == 302
    assert _user_id(client) is None


def test_active_staff_session_continues(world, client, idle_minutes):
    client.force_login(world.therapist.user)
    url = reverse("patients:staff_patient_list")
    client.get(url)
    _set_last_seen(client, idle_minutes * 60 - 60)
    assert client.get(url).status_code == 200
    assert _user_id(client) == str(world.therapist.user.pk)
    # The request counted as activity: the clock starts again.
    assert abs(client.session[LAST_SEEN] - time.time()) < 5


def test_patients_are_not_subject_to_the_staff_idle_timeout(world, client, idle_minutes):
    client.force_login(world.patient_a.user)
    _set_last_seen(client, 24 * 60 * 60)
    assert client.get(reverse("patients:home")).status_code == 200
    assert _user_id(client) == str(world.patient_a.user.pk)


def test_deactivating_a_user_ends_their_sessions(world, client_for):
    therapist_phone, therapist_desk = client_for(world.therapist.user), client_for(world.therapist.user)
    colleague = client_for(world.therapist2.user)
    url = reverse("patients:staff_patient_list")
    assert therapist_phone.get(url).status_code == 200

    user_deactivate(user=world.therapist.user)

    for client in (therapist_phone, therapist_desk):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN)
    assert not any(
        s.get_decoded().get("_auth_user_id") == str(world.therapist.user.pk) for s in Session.objects.all()
    )
    # Other people's sessions are untouched.
    assert colleague.get(url).status_code == 200


def test_deactivated_user_cannot_sign_in_again(world, client):
    from tests.factories import TEST_PASSWORD

    user_deactivate(user=world.patient_a.user)
    client.post(LOGIN, {"login": world.patient_a.user.email, "password": TEST_PASSWORD})
    assert _user_id(client) is None
    assert client.get(reverse("patients:home")).status_code == 302


@pytest.mark.parametrize("persona", ["therapist", "patient_a"])
def test_setting_is_active_false_directly_stops_access_at_the_next_request(persona, world, client):
    """Also when an account is switched off without the service (a database edit, the admin),
    the next request is anonymous: the authentication backend refuses inactive users."""
    user = world.persona(persona)
    client.force_login(user)
    url = reverse("patients:staff_patient_list" if persona == "therapist" else "patients:home")
    assert client.get(url).status_code == 200

    get_user_model().objects.filter(pk=user.pk).update(is_active=False)

    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_user_sessions_end_counts_only_that_users_sessions(world, client_for):
    client_for(world.patient_a.user).get(reverse("patients:home"))
    client_for(world.patient_a.user).get(reverse("patients:home"))
    client_for(world.patient_b.user).get(reverse("patients:home"))
    assert user_sessions_end(user=world.patient_a.user) == 2
    assert user_sessions_end(user=world.patient_a.user) == 0
    assert Session.objects.count() == 1


def test_sessions_from_before_the_backend_move_stay_signed_in(world, client):
    """Migration 0004 rewrites the old backend paths inside live sessions."""
    import importlib

    from django.apps import apps as django_apps

    migration = importlib.import_module("icbt.migrations.0004_session_backends")
    client.force_login(world.therapist.user, backend="django.contrib.auth.backends.ModelBackend")
    page = reverse("patients:staff_patient_list")
    assert client.get(page).status_code == 302  # the old path is no longer configured
    client.force_login(world.therapist.user, backend="django.contrib.auth.backends.ModelBackend")
    migration.rename_backends(django_apps, None)
    assert client.get(page).status_code == 200
    assert client.session["_auth_user_backend"] == "icbt.backends.ModelBackend"
