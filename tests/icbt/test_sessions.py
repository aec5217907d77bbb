"""Staff sessions end after an idle time; deactivating a user ends their sessions."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.urls import reverse

from icbt.middleware import IdleTimeoutMiddleware
from icbt.services import user_deactivate, user_sessions_end

LAST_SEEN = IdleTimeoutMiddleware.SESSION_KEY
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
    url = reverse("therapists:audit_search") + "?staff_member=a&action=view"
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


def test_patients_have_their_own_idle_timeout(world, client, idle_minutes, settings):
    settings.ICBT_PATIENT_IDLE_MINUTES = 60
    client.force_login(world.patient_a.user)
    client.get(reverse("patients:home"))
    # Past the staff limit, within the patients' one: still signed in.
    _set_last_seen(client, 45 * 60)
    assert client.get(reverse("patients:home")).status_code == 200
    assert _user_id(client) == str(world.patient_a.user.pk)
    _set_last_seen(client, 61 * 60)
    response = client.get(reverse("patients:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert _user_id(client) is None


def test_the_idle_sign_out_is_an_ordinary_sign_out(world, client, settings):
    """The idle sign-out sends Django's user_logged_out (what sign-out clean-up hooks onto) and
    is recorded in the audit trail like any sign-out."""
    from django.contrib.auth.signals import user_logged_out

    from icbt.models import AuditEvent

    settings.ICBT_PATIENT_IDLE_MINUTES = 60
    seen = []

    def receiver(sender, request, user, **kwargs):
        seen.append((user.pk, getattr(request, "icbt_idle_signed_out", False)))

    user_logged_out.connect(receiver)
    try:
        client.force_login(world.patient_a.user)
        client.get(reverse("patients:home"))
        _set_last_seen(client, 61 * 60)
        client.get(reverse("patients:home"))
    finally:
        user_logged_out.disconnect(receiver)
    assert seen == [(world.patient_a.user.pk, True)]
    assert AuditEvent.objects.filter(user=world.patient_a.user, action="logout").count() == 1


def test_patient_pages_carry_the_idle_warning_and_staff_pages_do_not(world, client_for, settings):
    settings.ICBT_PATIENT_IDLE_MINUTES = 45
    html = client_for(world.patient_a.user).get(reverse("patients:home")).content.decode()
    assert 'id="idle-warning"' in html
    assert 'data-idle-seconds="2700"' in html
    assert 'data-warn-seconds="120"' in html
    assert "Stay signed in" in html
    assert "js/idle.js" in html
    # The sign-out clears this device's storage (shared devices): the warning says so instead of
    # promising that unsent text is kept.
    assert "text that is not saved is removed from this device" in html
    assert "What you typed on this device is kept" not in html
    staff_html = client_for(world.therapist.user).get(reverse("patients:staff_patient_list")).content.decode()
    assert 'id="idle-warning"' not in staff_html


def test_stay_signed_in_counts_as_activity(world, client, settings):
    settings.ICBT_PATIENT_IDLE_MINUTES = 60
    client.force_login(world.patient_a.user)
    client.get(reverse("patients:home"))
    _set_last_seen(client, 58 * 60)
    response = client.post(reverse("session_keep_alive"), HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert response.status_code == 204
    assert abs(client.session[LAST_SEEN] - time.time()) < 5
    # Without the script: back to the page.
    response = client.post(reverse("session_keep_alive"), {"next": "/me/"})
    assert response.status_code == 302 and response["Location"] == "/me/"
    response = client.post(reverse("session_keep_alive"), {"next": "https://evil.example/"})
    assert response["Location"] == "/"


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


def test_stay_signed_in_with_a_bare_word_as_next_is_a_redirect(world, client):
    client.force_login(world.patient_a.user)
    response = client.post(reverse("session_keep_alive"), {"next": "foo"})
    assert response.status_code == 302
    assert response["Location"] == "foo"
