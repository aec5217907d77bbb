from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter

from icbt import crypto


class AccountAdapter(DefaultAccountAdapter):
    """No public sign-up: clinic admins invite staff and therapists invite patients."""

    def is_open_for_signup(self, request):
        return False


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
