from urllib.parse import urlencode

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from django import forms
from django.http import HttpResponseRedirect
from django.urls import reverse

from icbt import crypto, signin
from icbt.audit import Action, Outcome
from icbt.models import NotificationPreference
from icbt.roles import roles_of


class AccountAdapter(DefaultAccountAdapter):
    """No public sign-up: clinic admins invite staff and therapists invite patients.

    Failed passwords are throttled by ``icbt.signin`` (per account, per client address, with
    back-off, never against the person's usual network) instead of allauth's per-address
    lock-out that anyone could trigger for everyone."""

    def is_open_for_signup(self, request):
        return False

    def pre_authenticate(self, request, **credentials):
        email = credentials.get("email") or credentials.get("username") or ""
        seconds, brake = signin.check(request, email)
        if seconds:
            signin.record(
                user=signin.account_for(email),
                request=request,
                action=Action.LOCKOUT,
                object_type=brake,
                outcome=Outcome.DENIED,
            )
            raise forms.ValidationError(signin.wait_message(seconds), code="too_many_login_attempts")

    def authentication_failed(self, request, **credentials):
        signin.record_failure(request, credentials.get("email") or credentials.get("username") or "")

    def post_login(self, request, user, **kwargs):
        """After every sign-in: a patient who never said how they want to hear about new
        feedback is asked once, then goes on to where they were going."""
        response = super().post_login(request, user, **kwargs)
        if (
            isinstance(response, HttpResponseRedirect)
            and roles_of(user).patient is not None
            and not NotificationPreference.objects.filter(user=user).exists()
        ):
            query = urlencode({"next": response.url})
            question = HttpResponseRedirect(f"{reverse('messaging:notifications:first_choice')}?{query}")
            question.cookies = response.cookies  # set by the sign-in's receivers (icbt.signin)
            return question
        return response


class MFAAdapter(DefaultMFAAdapter):
    """Stores allauth's TOTP secrets and recovery-code seeds encrypted, never in the clear.

    They are sealed with AES-GCM under a key derived from ICBT_MASTER_KEY (associated data
    "allauth.mfa"), so a database dump alone cannot mint second-factor codes. Values sealed under a
    master key listed in ICBT_OLD_MASTER_KEYS stay readable until ``manage.py rotate_keys``
    re-seals them. Decryption is strict: a plaintext or tampered secret raises DecryptionError
    rather than being used.
    """

    def encrypt(self, text: str) -> str:
        return crypto.mfa_encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.mfa_decrypt(encrypted_text)
