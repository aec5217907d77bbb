"""The sign-in and account-security pages (allauth's views) in the house style and our own plain
words: none of allauth's default wording shows through, each form has one primary button, and a
way out ("Cancel") is never styled as the primary action."""

import re

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.urls import reverse

from tests.factories import TEST_PASSWORD, make_staff

pytestmark = pytest.mark.django_db

ALLAUTH_WORDING = [
    "Two-Factor Authentication",
    "Confirm Access",
    "Reset My Password",
    "Activate Authenticator App",
    "Deactivate Authenticator App",
    "Recovery Codes",
    "Please reauthenticate",
    "Authenticator secret",
    "Code:",
    "Sign In",
    "Cancel",
]


def _assert_our_voice(html):
    main = html[html.index('<main id="main"') : html.index("</main>")]
    for words in ALLAUTH_WORDING:
        assert words not in main, words
    for form in re.findall(r"<form\b.*?</form>", main, flags=re.DOTALL):
        assert len(re.findall(r'class="button"', form)) <= 1, form


@pytest.fixture
def newbie(world):
    return make_staff(world.clinic, "newbie@alpha.test", therapist=True, totp=False, first_name="Nina")


def test_signed_out_pages(client):
    for url in (
        reverse("account_login"),
        reverse("account_reset_password"),
        reverse("account_reset_password_done"),
        reverse("account_reset_password_from_key", kwargs={"uidb36": "x", "key": "set-password"}),
    ):
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        _assert_our_voice(response.content.decode())


def test_the_code_step_of_sign_in_offers_no_primary_cancel(world, client):
    response = client.post(
        reverse("account_login"),
        {"login": world.therapist.user.email, "password": TEST_PASSWORD},
        follow=True,
    )
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("mfa_authenticate")
    _assert_our_voice(html)
    assert "Enter your code" in html
    assert '<button type="submit" form="logout-from-stage" class="link-button">' in html


def test_a_new_staff_member_is_not_asked_for_the_password_straight_after_signing_in(newbie, client):
    """Signed in with the password a moment ago, they set up their app without typing it again."""
    response = client.post(
        reverse("account_login"), {"login": newbie.user.email, "password": TEST_PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("mfa_activate_totp")
    assert response.status_code == 200 and "Set up sign-in with your phone" in response.content.decode()
    for name in ("mfa_activate_totp", "mfa_index"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        _assert_our_voice(response.content.decode())


def test_the_pages_of_someone_with_the_app(world, client):
    user = world.therapist.user
    RecoveryCodes.activate(user)
    client.post(reverse("account_login"), {"login": user.email, "password": TEST_PASSWORD})
    from tests.icbt.test_mfa import current_code

    client.post(reverse("mfa_authenticate"), {"code": current_code()})
    # Signed in with password and code a moment ago: no page asks for them again.
    for name in (
        "mfa_index",
        "mfa_deactivate_totp",
        "mfa_view_recovery_codes",
        "mfa_generate_recovery_codes",
        "account_change_password",
    ):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        _assert_our_voice(response.content.decode())


def test_asked_again_for_the_password_it_is_in_our_words(world, client):
    client.force_login(world.patient_a.user)
    response = client.get(reverse("account_reauthenticate"))
    assert response.status_code == 200
    html = response.content.decode()
    _assert_our_voice(html)
    assert "Confirm it is you" in html
