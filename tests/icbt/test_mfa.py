"""Staff must have a second factor before they reach anything but the account pages.

The sign-in tests drive allauth's real two-step flow (password, then TOTP code). allauth accepts a
TOTP code once per user per 30-second step, and every refused code counts towards the user's
limit of five wrong codes in five minutes (ACCOUNT_RATE_LIMITS["login_failed"]); every test gets a
fresh cache (tests/conftest.py), so each test may use the current code once.
"""

import time

import pyotp
import pytest
from allauth.mfa.models import Authenticator
from django.urls import reverse

from tests.factories import TEST_PASSWORD, TEST_TOTP_SECRET, give_totp, make_staff, make_user

ACTIVATE = reverse("mfa_activate_totp")
AUTHENTICATE = reverse("mfa_authenticate")
LOGIN = reverse("account_login")


def current_code(secret: str = TEST_TOTP_SECRET) -> str:
    """The code of the current 30-second step. allauth accepts only the current step
    (MFA_TOTP_TOLERANCE = 0): a code computed in a step's last second is not sent, the test
    waits for the next step instead of racing the clock."""
    totp = pyotp.TOTP(secret)
    remaining = totp.interval - time.time() % totp.interval
    if remaining < 2:
        time.sleep(remaining + 0.1)
    return totp.now()


def wrong_code(secret: str = TEST_TOTP_SECRET) -> str:
    return f"{(int(pyotp.TOTP(secret).now()) + 1) % 1_000_000:06d}"


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")


@pytest.fixture
def staff_without_totp(world):
    return make_staff(
        world.clinic,
        "newbie@alpha.test",
        therapist=True,
        manager=True,
        admin=True,
        totp=False,
        first_name="Nina",
    )


# --- enforcement ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url_name",
    [
        "patients:staff_patient_list",
        "patients:staff_patient_invite",
        "therapists:staff_list",
        "therapists:clinic_overview",
        "therapists:audit_search",
        "admin:index",
        "personal_settings",
        "home",
    ],
)
def test_staff_without_totp_is_sent_to_totp_activation(url_name, staff_without_totp, client):
    client.force_login(staff_without_totp.user)
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert response["Location"] == ACTIVATE


def test_staff_without_totp_cannot_open_a_patient_record(world, client):
    member = make_staff(world.clinic, "newbie@alpha.test", therapist=True, totp=False)
    world.patient_a.therapist = member
    world.patient_a.save(update_fields=["therapist"])
    client.force_login(member.user)
    response = client.get(reverse("patients:staff_patient_detail", args=[world.patient_a.pk]))
    assert response.status_code == 302
    assert response["Location"] == ACTIVATE


def test_staff_without_totp_may_use_the_account_pages(staff_without_totp, client):
    """The activation page itself is not redirected to itself (no redirect loop)."""
    client.force_login(staff_without_totp.user)
    for url in (ACTIVATE, reverse("mfa_index"), reverse("healthz")):
        response = client.get(url)
        assert response.get("Location") != ACTIVATE, url


def test_staff_with_totp_is_not_redirected(world, client):
    client.force_login(world.therapist.user)
    assert client.get(reverse("patients:staff_patient_list")).status_code == 200


def test_patient_without_totp_is_not_redirected(world, client):
    assert not Authenticator.objects.filter(user=world.patient_a.user).exists()
    client.force_login(world.patient_a.user)
    assert client.get(reverse("patients:home")).status_code == 200
    assert client.get(reverse("personal_settings")).status_code == 200


def test_platform_operator_without_totp_cannot_reach_admin(db, client):
    operator = make_user("ops@platform.test", is_staff=True, is_superuser=True)
    client.force_login(operator)
    for url in (reverse("admin:index"), reverse("admin:auth_group_changelist")):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == ACTIVATE


def test_platform_operator_with_totp_reaches_admin(db, client):
    operator = give_totp(make_user("ops@platform.test", is_staff=True, is_superuser=True))
    client.force_login(operator)
    assert client.get(reverse("admin:index")).status_code == 200


def test_admin_login_is_allauths_login(db, client):
    """Django's own admin login form (password only) is never shown."""
    response = client.get(reverse("admin:login"))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN + "?next=")
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login")) or response["Location"].startswith(LOGIN)


def test_admin_login_post_does_not_sign_in(db, client):
    operator = give_totp(make_user("ops@platform.test", is_staff=True, is_superuser=True))
    response = client.post(reverse("admin:login"), {"username": operator.email, "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert signed_in_user_id(client) is None


def test_clinic_staff_without_platform_role_cannot_use_admin(world, client):
    client.force_login(world.admin.user)
    assert client.get(reverse("admin:index")).status_code in (302, 403)
    assert signed_in_user_id(client) == str(world.admin.user.pk)
    assert client.get(reverse("admin:login")).status_code == 403


# --- the real sign-in flow --------------------------------------------------------------------


def test_password_step_leads_to_the_totp_step(world, client):
    response = client.post(LOGIN, {"login": world.therapist.user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == AUTHENTICATE
    # Not signed in yet: the patient list still sends to sign-in.
    assert signed_in_user_id(client) is None
    response = client.get(reverse("patients:staff_patient_list"))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_wrong_password_does_not_reach_the_totp_step(world, client):
    response = client.post(LOGIN, {"login": world.therapist.user.email, "password": "not-the-password"})
    assert response.status_code == 200
    assert signed_in_user_id(client) is None
    assert client.get(AUTHENTICATE).status_code == 302


def test_wrong_totp_code_is_refused(world, client):
    client.post(LOGIN, {"login": world.therapist.user.email, "password": TEST_PASSWORD})
    response = client.post(AUTHENTICATE, {"code": wrong_code()})
    assert response.status_code == 200
    assert response.context["form"].errors["code"]
    assert signed_in_user_id(client) is None
    assert client.get(reverse("patients:staff_patient_list")).status_code == 302


def test_correct_totp_code_signs_in_and_reaches_the_worklist(world, client):
    client.post(LOGIN, {"login": world.therapist.user.email, "password": TEST_PASSWORD})
    # A wrong code first does not spoil the attempt.
    assert client.post(AUTHENTICATE, {"code": wrong_code()}).status_code == 200
    response = client.post(AUTHENTICATE, {"code": current_code()})
    assert response.status_code == 302
    assert signed_in_user_id(client) == str(world.therapist.user.pk)
    response = client.get(response["Location"], follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("therapists:worklist")


def test_the_totp_check_rides_on_the_user_query_and_is_never_stale(world, client):
    """No authenticator query of its own on a page; deactivating the authenticator sends the
    next page to the set-up again."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.post(LOGIN, {"login": world.therapist.user.email, "password": TEST_PASSWORD})
    assert client.post(AUTHENTICATE, {"code": current_code()}).status_code == 302
    page = reverse("patients:staff_patient_list")
    assert client.get(page).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(page).status_code == 200
    own = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('SELECT 1 AS "a" FROM "mfa_')]
    assert not own

    deactivate = reverse("mfa_deactivate_totp")
    # Once the sign-in is older than ACCOUNT_REAUTHENTICATION_TIMEOUT, allauth asks for the
    # password again, then carries out the deactivation it held back.
    session = client.session
    session["account_authentication_methods"] = [
        {**record, "at": record["at"] - 3600} for record in session["account_authentication_methods"]
    ]
    session.save()
    reauthenticate = client.post(deactivate)["Location"]
    assert reauthenticate.startswith(reverse("account_reauthenticate"))
    assert client.post(reauthenticate, {"password": TEST_PASSWORD}).status_code == 302
    assert not Authenticator.objects.filter(user=world.therapist.user, type=Authenticator.Type.TOTP).exists()
    response = client.get(page)
    assert response.status_code == 302
    assert response["Location"] == ACTIVATE


def test_a_totp_code_works_only_once(world, client_for):
    code = current_code()
    first, second = client_for(None), client_for(None)
    first.post(LOGIN, {"login": world.manager.user.email, "password": TEST_PASSWORD})
    second.post(LOGIN, {"login": world.manager.user.email, "password": TEST_PASSWORD})
    assert first.post(AUTHENTICATE, {"code": code}).status_code == 302
    assert second.post(AUTHENTICATE, {"code": code}).status_code == 200
    assert signed_in_user_id(second) is None


def test_patient_signs_in_with_password_only(world, client):
    response = client.post(LOGIN, {"login": world.patient_a.user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] != AUTHENTICATE
    assert signed_in_user_id(client) == str(world.patient_a.user.pk)


# --- activation and recovery codes ------------------------------------------------------------


def test_staff_activates_totp_and_gets_recovery_codes(staff_without_totp, client):
    user = staff_without_totp.user
    client.post(LOGIN, {"login": user.email, "password": TEST_PASSWORD})
    # Signed in with the password (there is no second factor yet) and sent to set one up.
    assert signed_in_user_id(client) == str(user.pk)
    response = client.get(reverse("patients:staff_patient_list"))
    assert response["Location"] == ACTIVATE
    # The password typed a moment ago counts: no second request for it before the set-up.
    response = client.get(ACTIVATE)
    assert response.status_code == 200
    secret = client.session["mfa.totp.secret"]
    assert secret in response.content.decode()  # shown for typing into an app without a camera
    assert len(secret) >= 32  # 160 bits, base32

    response = client.post(ACTIVATE, {"code": wrong_code(secret)})
    assert response.status_code == 200
    assert response.context["form"].errors["code"]
    assert not Authenticator.objects.filter(user=user).exists()

    response = client.post(ACTIVATE, {"code": current_code(secret)})
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    recovery = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    codes = recovery.wrap().get_unused_codes()
    assert len(codes) == 10
    page = client.get(reverse("mfa_view_recovery_codes"))
    assert page.status_code == 200
    assert codes[0] in page.content.decode()
    # Now the staff pages open.
    assert client.get(reverse("patients:staff_patient_list")).status_code == 200


def test_a_recovery_code_signs_in_once(staff_without_totp, client_for):
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    user = give_totp(staff_without_totp.user)
    code = RecoveryCodes.activate(user).get_unused_codes()[0]
    first = client_for(None)
    first.post(LOGIN, {"login": user.email, "password": TEST_PASSWORD})
    assert first.post(AUTHENTICATE, {"code": code}).status_code == 302
    assert signed_in_user_id(first) == str(user.pk)
    second = client_for(None)
    second.post(LOGIN, {"login": user.email, "password": TEST_PASSWORD})
    assert second.post(AUTHENTICATE, {"code": code}).status_code == 200
    assert signed_in_user_id(second) is None


def test_second_factor_guesses_are_limited_per_user(world, client_for):
    """Five wrong codes within five minutes hold back the sixth, even the right one, also from
    another browser; the password step stays with icbt's own throttle."""
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    user = world.therapist.user
    recovery_code = RecoveryCodes.activate(user).get_unused_codes()[0]
    guesser = client_for(None)
    guesser.post(LOGIN, {"login": user.email, "password": TEST_PASSWORD})
    for _ in range(5):
        response = guesser.post(AUTHENTICATE, {"code": wrong_code()})
        assert response.status_code == 200
        assert response.context["form"].errors["code"]
    response = guesser.post(AUTHENTICATE, {"code": current_code()})
    assert response.status_code == 200
    assert response.context["form"].errors["code"]
    assert signed_in_user_id(guesser) is None

    other = client_for(None)
    response = other.post(LOGIN, {"login": user.email, "password": TEST_PASSWORD})
    assert response["Location"] == AUTHENTICATE
    assert other.post(AUTHENTICATE, {"code": recovery_code}).status_code == 200
    assert signed_in_user_id(other) is None
