"""Sign-in: where each role lands, the record of sign-in and security events, the throttle on
wrong passwords, the TOTP set-up page, and the person's own list of recent sign-ins."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from icbt.models import AuditEvent, SignIn
from tests.factories import TEST_PASSWORD, make_staff
from tests.icbt.test_mfa import current_code, wrong_code

LOGIN = reverse("account_login")
AUTHENTICATE = reverse("mfa_authenticate")
HOME = "203.0.113.10"
ATTACKER = "198.51.100.66"
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


def _login(client, email, password, address=HOME, **extra):
    return client.post(LOGIN, {"login": email, "password": password}, REMOTE_ADDR=address, **extra)


def _signed_in(client):
    return client.session.get("_auth_user_id")


def _events(**filters):
    return list(AuditEvent.objects.filter(**filters).order_by("at", "id"))


# --- Where each role lands (the start page after sign-in) -----------------------------------------


@pytest.mark.parametrize(
    ("roles", "landing"),
    [
        ({"therapist": True}, "therapists:worklist"),
        ({"therapist": True, "manager": True, "admin": True}, "therapists:worklist"),
        ({"manager": True}, "therapists:dashboard"),
        ({"manager": True, "admin": True}, "therapists:dashboard"),
        ({"admin": True}, "therapists:staff_list"),
    ],
)
def test_staff_land_where_their_work_is(roles, landing, world, client):
    member = make_staff(world.clinic, "someone@alpha.test", **roles)
    _login(client, member.user.email, TEST_PASSWORD)
    response = client.post(AUTHENTICATE, {"code": current_code()}, REMOTE_ADDR=HOME)
    assert response.status_code == 302
    assert client.get(response["Location"])["Location"] == reverse(landing)


# --- The audit trail of sign-in and security events ----------------------------------------------


def test_a_sign_in_is_recorded_with_address_and_browser(world, client):
    _login(client, world.patient_a.user.email, TEST_PASSWORD, HTTP_USER_AGENT=FIREFOX_WINDOWS)
    assert _signed_in(client) == str(world.patient_a.user.pk)
    [event] = _events(action=AuditEvent.Action.LOGIN)
    assert (event.user, event.outcome, event.client_ip) == (world.patient_a.user, "ok", HOME)
    assert event.clinic_id == world.clinic.pk
    sign_in = SignIn.objects.get(user=world.patient_a.user)
    assert (sign_in.client_ip, sign_in.user_agent) == (HOME, FIREFOX_WINDOWS)


def test_a_wrong_password_is_recorded_without_the_password(world, client):
    _login(client, world.patient_a.user.email, "Wrong-password-123")
    assert _signed_in(client) is None
    [event] = _events(action=AuditEvent.Action.LOGIN)
    assert (event.user, event.outcome, event.object_type) == (world.patient_a.user, "denied", "password")
    stored = " ".join(str(value) for value in AuditEvent.objects.values_list())
    assert "Wrong-password-123" not in stored


def test_an_unknown_address_is_recorded_and_creates_no_account(world, client):
    users = get_user_model().objects.count()
    _login(client, "nobody@nowhere.test", "Some-password-1")
    [event] = _events(action=AuditEvent.Action.LOGIN)
    assert (event.user, event.outcome, event.user_email, event.client_ip) == (None, "denied", "", HOME)
    assert get_user_model().objects.count() == users
    assert "nobody@nowhere.test" not in " ".join(str(v) for v in AuditEvent.objects.values_list())


def test_a_wrong_totp_code_and_the_sign_in_after_it_are_recorded(world, client):
    _login(client, world.therapist.user.email, TEST_PASSWORD)
    client.post(AUTHENTICATE, {"code": wrong_code()}, REMOTE_ADDR=HOME)
    client.post(AUTHENTICATE, {"code": current_code()}, REMOTE_ADDR=HOME)
    events = [(e.action, e.outcome, e.object_type) for e in _events(user=world.therapist.user)]
    assert events == [("login", "denied", "totp"), ("login", "ok", "session")]


def test_sign_out_password_change_and_second_factor_changes_are_recorded(world, client):
    user = world.patient_a.user
    _login(client, user.email, TEST_PASSWORD)
    response = client.post(
        reverse("account_change_password"),
        {
            "oldpassword": TEST_PASSWORD,
            "password1": "A-new-long-passw0rd",
            "password2": "A-new-long-passw0rd",
        },
    )
    assert response.status_code == 302
    client.post(reverse("account_logout"))
    actions = [e.action for e in _events(user=user)]
    assert actions == ["login", "pw_change", "logout"]


def test_password_reset_is_recorded(world, client, django_capture_on_commit_callbacks):
    import re

    from django.core import mail

    user = world.patient_a.user
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": user.email})
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", mail.outbox[-1].body).group(1)
    form_url = client.get(link)["Location"]
    response = client.post(form_url, {"password1": "A-new-long-passw0rd", "password2": "A-new-long-passw0rd"})
    assert response.status_code == 302
    assert [e.action for e in _events(user=user)] == ["pw_reset"]


def test_totp_added_and_removed_and_recovery_code_use_are_recorded(world, client, settings):
    from allauth.mfa.models import Authenticator
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    from icbt import signin

    # The signal receivers, called as allauth calls them (the pages themselves are covered by
    # test_mfa; here the recording).
    user = world.therapist.user
    totp = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    codes = RecoveryCodes.activate(user).instance
    signin.on_authenticator_added(Authenticator, request=None, user=user, authenticator=totp)
    signin.on_authenticator_used(Authenticator, request=None, user=user, authenticator=totp)
    signin.on_authenticator_used(Authenticator, request=None, user=user, authenticator=codes)
    signin.on_authenticator_removed(Authenticator, request=None, user=user, authenticator=totp)
    assert [(e.action, e.object_type) for e in _events(user=user)] == [
        ("mfa_add", "totp"),
        ("recovery", "recovery_codes"),
        ("mfa_remove", "totp"),
    ]


# --- Throttling wrong passwords --------------------------------------------------------------------


def _known_from(user, address):
    SignIn.objects.create(user=user, client_ip=address, at=timezone.now() - timedelta(days=3))


def test_an_attack_from_elsewhere_does_not_lock_out_the_owner_at_home(world, client_for):
    user = world.patient_a.user
    _known_from(user, HOME)
    attacker = client_for(None)
    for _ in range(12):
        _login(attacker, user.email, "Guess-password-1", ATTACKER)
    # The attacker is held back, with the time to wait, also with the right password.
    response = _login(attacker, user.email, TEST_PASSWORD, ATTACKER)
    assert _signed_in(attacker) is None
    assert "Too many sign-in attempts" in response.content.decode()
    assert "please wait 1 minute and try again" in response.content.decode()
    assert _events(action=AuditEvent.Action.LOCKOUT, user=user)
    # The owner, from the usual network, signs in.
    owner = client_for(None)
    _login(owner, user.email, TEST_PASSWORD, HOME)
    assert _signed_in(owner) == str(user.pk)


class _Clock:
    """The throttle's clock (``icbt.signin._now``), fixed and moved by hand."""

    def __init__(self):
        self.at = timezone.now().timestamp()

    def __call__(self):
        return self.at

    def shift(self, seconds):
        self.at += seconds


@pytest.fixture
def throttle_clock(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr("icbt.signin._now", clock)
    return clock


def test_an_unknown_address_waits_and_gets_in_after_the_wait(world, client_for, throttle_clock):
    user = world.patient_a.user
    attacker, traveller = client_for(None), client_for(None)
    for _ in range(5):
        _login(attacker, user.email, "Guess-password-1", ATTACKER)
    response = _login(traveller, user.email, TEST_PASSWORD, "192.0.2.77")
    assert _signed_in(traveller) is None
    assert "wait 1 minute and" in response.content.decode()
    throttle_clock.shift(61)
    _login(traveller, user.email, TEST_PASSWORD, "192.0.2.77")
    assert _signed_in(traveller) == str(user.pk)


def test_the_wait_doubles_with_every_further_failure(world, client_for, throttle_clock):
    user = world.patient_a.user
    attacker = client_for(None)
    for _ in range(5):
        _login(attacker, user.email, "Guess-password-1", ATTACKER)
    throttle_clock.shift(61)
    _login(attacker, user.email, "Guess-password-2", ATTACKER)  # the sixth failure: 2 minutes
    assert "wait 2 minutes" in _login(attacker, user.email, TEST_PASSWORD, ATTACKER).content.decode()
    throttle_clock.shift(121)
    _login(attacker, user.email, "Guess-password-3", ATTACKER)  # the seventh: 4 minutes
    assert "wait 4 minutes" in _login(attacker, user.email, TEST_PASSWORD, ATTACKER).content.decode()
    assert _signed_in(attacker) is None


def test_a_browser_the_owner_signed_in_with_gets_in_from_a_new_network(world, client_for):
    """A phone changes its network address; the browser it signed in with is still recognised."""
    user = world.patient_a.user
    phone = client_for(None)
    _login(phone, user.email, TEST_PASSWORD, "192.0.2.10")
    assert _signed_in(phone) == str(user.pk)
    assert "icbt_known" in phone.cookies and user.email not in phone.cookies["icbt_known"].value
    phone.post(reverse("account_logout"))
    attacker = client_for(None)
    for _ in range(8):
        _login(attacker, user.email, "Guess-password-1", ATTACKER)
    _login(phone, user.email, TEST_PASSWORD, "192.0.2.99")
    assert _signed_in(phone) == str(user.pk)
    # Another browser, from an address the owner never used, waits.
    stranger = client_for(None)
    response = _login(stranger, user.email, TEST_PASSWORD, "192.0.2.123")
    assert "Too many sign-in attempts" in response.content.decode()


def test_sign_ins_older_than_the_window_are_removed(world, client_for, settings):
    settings.ICBT_SIGNIN_KNOWN_ADDRESS_DAYS = 90
    user = world.patient_a.user
    old = SignIn.objects.create(user=user, client_ip=HOME, at=timezone.now() - timedelta(days=91))
    recent = SignIn.objects.create(user=user, client_ip=HOME, at=timezone.now() - timedelta(days=89))
    _login(client_for(None), user.email, TEST_PASSWORD)
    assert not SignIn.objects.filter(pk=old.pk).exists()
    assert SignIn.objects.filter(pk=recent.pk).exists()


def test_the_wait_never_exceeds_the_maximum(world, client_for, throttle_clock, settings):
    settings.ICBT_SIGNIN_LOCK_MAX_MINUTES = 3
    user = world.patient_a.user
    attacker = client_for(None)
    for _ in range(12):
        _login(attacker, user.email, "Guess-password-1", ATTACKER)
        throttle_clock.shift(60 * 60)
    _login(attacker, user.email, "Guess-password-1", ATTACKER)
    assert "wait 3 minutes" in _login(attacker, user.email, TEST_PASSWORD, ATTACKER).content.decode()


def test_one_address_trying_many_accounts_is_held_back(world, client_for, settings):
    settings.ICBT_SIGNIN_FAILURES_PER_ADDRESS = 6
    sprayer = client_for(None)
    for n in range(6):
        _login(sprayer, f"person{n}@alpha.test", "Guess-password-1", ATTACKER)
    response = _login(sprayer, world.patient_b.user.email, TEST_PASSWORD, ATTACKER)
    assert _signed_in(sprayer) is None
    assert "Too many sign-in attempts" in response.content.decode()
    # Others, elsewhere, are not affected.
    other = client_for(None)
    _login(other, world.patient_b.user.email, TEST_PASSWORD, "192.0.2.5")
    assert _signed_in(other) == str(world.patient_b.user.pk)


def test_one_ipv6_network_walking_through_its_addresses_is_held_back(world, client_for, settings):
    """Every home or phone gets a whole /64: its addresses count as one for the address brake."""
    settings.ICBT_SIGNIN_FAILURES_PER_ADDRESS = 6
    sprayer = client_for(None)
    for n in range(6):
        _login(sprayer, f"person{n}@alpha.test", "Guess-password-1", f"2001:db8:1:2::{n + 1:x}")
    response = _login(sprayer, world.patient_b.user.email, TEST_PASSWORD, "2001:db8:1:2::99")
    assert _signed_in(sprayer) is None
    assert "Too many sign-in attempts" in response.content.decode()
    # Another network is not affected.
    other = client_for(None)
    _login(other, world.patient_b.user.email, TEST_PASSWORD, "2001:db8:9:9::1")
    assert _signed_in(other) == str(world.patient_b.user.pk)


def test_the_usual_network_has_its_own_brake(world, client_for):
    user = world.patient_a.user
    _known_from(user, HOME)
    guesser = client_for(None)
    for _ in range(10):
        _login(guesser, user.email, "Guess-password-1", HOME)
    assert "Too many sign-in attempts" in _login(guesser, user.email, TEST_PASSWORD, HOME).content.decode()
    assert _signed_in(guesser) is None


def test_an_unknown_address_gets_the_same_answer_as_a_real_one(world, client_for):
    attacker = client_for(None)
    for _ in range(5):
        _login(attacker, "nobody@nowhere.test", "Guess-password-1", ATTACKER)
    assert (
        "Too many sign-in attempts"
        in _login(attacker, "nobody@nowhere.test", "x-y-z-1-2-3-4", ATTACKER).content.decode()
    )


# --- TOTP set-up keeps its secret across reloads -------------------------------------------------


def test_reloading_the_totp_set_up_page_keeps_the_secret(world, client, django_capture_on_commit_callbacks):
    import pyotp

    member = make_staff(world.clinic, "newbie@alpha.test", therapist=True, totp=False)
    client.force_login(member.user)
    activate = reverse("mfa_activate_totp")
    response = client.get(activate)
    if response.status_code == 302:  # allauth asks for the password first
        client.post(response["Location"], {"password": TEST_PASSWORD})
    first = client.get(activate)
    secret = first.context["form"].secret
    # Scanned; then the page is reloaded (or opened again from another tab).
    second = client.get(activate)
    assert second.context["form"].secret == secret
    assert secret in second.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(activate, {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302
    # Once set up, the pending secret is gone from the session; the trail has the new factor.
    assert "mfa.totp.secret" not in client.session
    assert [e.object_type for e in _events(user=member.user, action="mfa_add")] == ["totp", "recovery_codes"]


# --- Recent sign-ins ------------------------------------------------------------------------------


def test_a_person_sees_their_own_recent_sign_ins(world, client_for, settings):
    user = world.patient_a.user
    SignIn.objects.create(
        user=user,
        client_ip=HOME,
        user_agent=FIREFOX_WINDOWS,
        at=datetime(2026, 12, 1, 7, 5, tzinfo=UTC),
    )
    SignIn.objects.create(
        user=world.patient_b.user, client_ip="192.0.2.200", user_agent="", at=timezone.now()
    )
    client = client_for(user)
    page = client.get(reverse("sign_in_history"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Firefox on Windows" in html
    assert HOME in html
    assert "08:05" in html or "8:05" in html  # 07:05 UTC shown in local time (Europe/Amsterdam)
    assert "192.0.2.200" not in html
    assert reverse("sign_in_history") in client.get(reverse("personal_settings")).content.decode()


@pytest.mark.parametrize(
    ("agent", "words"),
    [
        (FIREFOX_WINDOWS, "Firefox on Windows"),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            "Safari on iPhone",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0 Safari/537.36 Edg/120.0",
            "Edge on Windows",
        ),
        ("", "an unknown browser or app"),
    ],
)
def test_device_in_words(agent, words):
    from icbt.signin import device_in_words

    assert device_in_words(agent) == words


def test_security_events_are_logged_without_addresses_or_passwords(world, client, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="icbt.security"):
        _login(client, world.patient_a.user.email, "Wrong-password-123")
    lines = [r.getMessage() for r in caplog.records if r.name == "icbt.security"]
    assert lines == [
        f"security event=login kind=password outcome=denied user={world.patient_a.user.pk} address={HOME}"
    ]
    assert world.patient_a.user.email not in lines[0] and "Wrong-password" not in lines[0]
