"""Encryption at rest: the master key, per-clinic data keys (envelope encryption) and tokens.

Layers, from the outside in:

* The **master key** (``ICBT_MASTER_KEY``, 32 random bytes in url-safe base64) lives only in the
  environment or a secret file, never in the database and never derived from ``SECRET_KEY``:
  rotating the Django secret (sessions, password-reset links) must not touch clinical data.
  Two sub-keys are derived from it with HKDF, one to wrap data keys and one for allauth's MFA
  secrets, so no key serves two purposes. Its id is the first 16 hex digits of its SHA-256.
* **Data keys**: one active random AES-256 key per scope (a clinic id, 0 for data of no clinic),
  stored in :class:`~icbt.models.keys.DataKey` only wrapped (AES-GCM) by the master key. A leaked
  database dump without the master key reveals nothing; deleting a data key shreds every value
  encrypted with it (a backup restored later brings its own wrapped keys, readable as long as its
  master key is kept in ``ICBT_OLD_MASTER_KEYS``).
* **Tokens**: ``icbt1:<key id>:<url-safe base64 of nonce + ciphertext + tag>``, AES-256-GCM with a
  random 96-bit nonce. The caller's associated data (row and field, see ``icbt.fields``) is
  authenticated but not stored, so a token copied to another row or field fails to decrypt.

Every failure to authenticate or to find a key raises :class:`DecryptionError`; no function here
ever hands back ciphertext in place of text. Error messages carry key ids, never plaintext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import IntegrityError, router, transaction
from django.dispatch import receiver

TOKEN_PREFIX = "icbt1"
MFA_TOKEN_PREFIX = "icbtmfa1"
KEY_ID_LENGTH = 16
NONCE_BYTES = 12
_TAG_BYTES = 16
_MFA_ASSOCIATED_DATA = b"allauth.mfa"
_GENERATE_HINT = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
_KEY_SETTINGS = {
    "ICBT_MASTER_KEY",
    "ICBT_OLD_MASTER_KEYS",
    "ICBT_DEV_MASTER_KEY_FILE",
    "ICBT_LEGACY_DEV_MASTER_KEY_FILE",
    "DEBUG",
}


class DecryptionError(Exception):
    """A token could not be decrypted: tampered, moved to another row or field, or its key is gone.

    Raised instead of returning anything, so ciphertext can never be shown as if it were text.
    """


# --- Master keys --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MasterKey:
    key_id: str
    wrapping: AESGCM = field(repr=False)
    mfa: AESGCM = field(repr=False)


@dataclass(frozen=True)
class MasterKeyring:
    """The current master key (used for everything new) and every key still accepted for reading."""

    current: MasterKey
    by_id: dict[str, MasterKey]


def parse_master_key(value: str | None, *, name: str = "ICBT_MASTER_KEY") -> bytes:
    """Return the 32 raw key bytes of ``value`` or raise ImproperlyConfigured saying what is wrong.

    The message never contains the value itself (it may be a real key with a typo).
    """
    text = value.strip() if isinstance(value, str) else ""
    try:
        raw = base64.b64decode(text.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raw = b""
    if len(text) != 44 or len(raw) != 32:
        raise ImproperlyConfigured(
            f"{name} must be 32 random bytes in url-safe base64 (44 characters, the format of "
            f"Fernet.generate_key()); the value given has {len(text)} characters and is not such a key. "
            f"Create one with: {_GENERATE_HINT}"
        )
    return raw


def master_key_id(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:KEY_ID_LENGTH]


def _derive(raw: bytes, purpose: bytes) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"icbt " + purpose)
    return AESGCM(hkdf.derive(raw))


def _master_key(raw: bytes) -> MasterKey:
    return MasterKey(
        key_id=master_key_id(raw),
        wrapping=_derive(raw, b"data-key wrapping v1"),
        mfa=_derive(raw, b"allauth.mfa v1"),
    )


def _old_master_key_values() -> list[str]:
    configured = getattr(settings, "ICBT_OLD_MASTER_KEYS", None) or []
    if isinstance(configured, str):
        configured = configured.split(",")
    return [item.strip() for item in configured if item and item.strip()]


def _dev_master_key(path: Path) -> str:
    """Read the development master key from ``path``, creating it (mode 0600) if missing.

    Two processes starting at once (runserver's reloader, a Celery worker) must end up with the
    same key: the new key is written to a private temporary file and hard-linked into place,
    which fails if another process won the race, and then everybody reads the winner's file.
    """
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(base64.urlsafe_b64encode(os.urandom(32)).decode("ascii") + "\n")
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_text(encoding="ascii").strip()


def _configured_master_key() -> tuple[str, str]:
    value = getattr(settings, "ICBT_MASTER_KEY", None)
    if value:
        return value, "ICBT_MASTER_KEY"
    if not settings.DEBUG:
        raise ImproperlyConfigured(
            "ICBT_MASTER_KEY (or ICBT_MASTER_KEY_FILE) is required when DJANGO_DEBUG=false."
        )
    path = Path(settings.ICBT_DEV_MASTER_KEY_FILE)
    _move_legacy_dev_key(path)
    return _dev_master_key(path), f"the development master key file {path}"


def _move_legacy_dev_key(path: Path) -> None:
    """Older versions kept the development key beside the database (var/dev-master.key): move
    it to ``path`` once, so existing development data stays readable."""
    legacy = getattr(settings, "ICBT_LEGACY_DEV_MASTER_KEY_FILE", None)
    if legacy is None or path.exists() or not Path(legacy).exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        key = Path(legacy).read_text(encoding="ascii")
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except (FileNotFoundError, FileExistsError):
        return  # another process is moving it
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key)
    Path(legacy).unlink(missing_ok=True)


def master_keyring() -> MasterKeyring:
    """The master keys from settings, parsed once per configuration and cached in-process."""
    configuration = (
        getattr(settings, "ICBT_MASTER_KEY", None),
        tuple(_old_master_key_values()),
        settings.DEBUG,
        str(getattr(settings, "ICBT_DEV_MASTER_KEY_FILE", "")),
    )
    cached = _cache.keyring
    if cached is not None and cached[0] == configuration:
        return cached[1]
    value, source = _configured_master_key()
    current = _master_key(parse_master_key(value, name=source))
    by_id = {current.key_id: current}
    for position, old in enumerate(_old_master_key_values(), start=1):
        key = _master_key(parse_master_key(old, name=f"ICBT_OLD_MASTER_KEYS (entry {position})"))
        by_id.setdefault(key.key_id, key)
    keyring = MasterKeyring(current=current, by_id=by_id)
    _cache.keyring = (configuration, keyring)
    return keyring


# --- In-process key cache -------------------------------------------------------------------


@dataclass
class _KeyCache:
    keyring: tuple[tuple, MasterKeyring] | None = None
    data_keys: dict[str, AESGCM] = field(default_factory=dict)
    active: dict[int, tuple[str, AESGCM, float]] = field(default_factory=dict)
    uncommitted: set[str] = field(default_factory=set)


_cache = _KeyCache()


def clear_key_cache() -> None:
    """Forget every cached master key, unwrapped data key and active-key choice in this process.

    Long-running processes only need this in tests or after changing settings in-process; the
    active-key choice also expires by itself (``ICBT_ACTIVE_KEY_CACHE_SECONDS``) so that web
    workers switch to a key created by ``rotate_keys`` in another process.
    """
    _cache.keyring = None
    _cache.data_keys.clear()
    _cache.active.clear()
    _cache.uncommitted.clear()


@receiver(setting_changed)
def _clear_on_setting_change(*, setting, **kwargs):
    if setting in _KEY_SETTINGS:
        clear_key_cache()


def active_key_cache_seconds() -> float:
    """How long a process may keep encrypting with a data key after another process retired it."""
    return float(getattr(settings, "ICBT_ACTIVE_KEY_CACHE_SECONDS", 300))


def retired_key_grace_seconds() -> float:
    """How long a retired data key is kept before ``rotate_keys`` may delete it.

    It must exceed the active-key cache time plus the longest transaction (Celery's hard limit is
    300 s): until then another process may still commit a row encrypted with the retired key.
    """
    return float(getattr(settings, "ICBT_RETIRED_KEY_GRACE_SECONDS", active_key_cache_seconds() + 900))


# --- Data keys ------------------------------------------------------------------------------


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise DecryptionError("The ciphertext is not valid base64.") from exc


def _wrapping_associated_data(key_id: str, scope: int) -> bytes:
    return f"icbt.datakey:{key_id}:{scope}".encode()


def _wrap(raw: bytes, *, key_id: str, scope: int, master: MasterKey) -> str:
    nonce = os.urandom(NONCE_BYTES)
    return _b64encode(nonce + master.wrapping.encrypt(nonce, raw, _wrapping_associated_data(key_id, scope)))


def _unwrap(data_key) -> bytes:
    master = master_keyring().by_id.get(data_key.master_key_id)
    if master is None:
        raise DecryptionError(
            f"Data key {data_key.key_id} is wrapped by master key {data_key.master_key_id}, which is not "
            "configured (add it to ICBT_OLD_MASTER_KEYS until manage.py rotate_keys has run)."
        )
    blob = _b64decode(data_key.wrapped_key)
    try:
        return master.wrapping.decrypt(
            blob[:NONCE_BYTES], blob[NONCE_BYTES:], _wrapping_associated_data(data_key.key_id, data_key.scope)
        )
    except InvalidTag as exc:
        raise DecryptionError(
            f"Data key {data_key.key_id} failed authentication (tampered wrapping)."
        ) from exc


def _aead_for(data_key) -> AESGCM:
    aead = _cache.data_keys.get(data_key.key_id)
    if aead is None:
        aead = AESGCM(_unwrap(data_key))
        _cache.data_keys[data_key.key_id] = aead
    return aead


def _data_key_create(scope: int, using: str):
    """Create the active data key of ``scope``; if another process just did, return that one.

    The partial unique index "one active key per scope" decides the race: the loser's insert
    fails inside its own savepoint and it reads the winner's key instead.
    """
    from icbt.models.keys import DataKey

    raw = AESGCM.generate_key(bit_length=256)
    key_id = secrets.token_hex(KEY_ID_LENGTH // 2)
    master = master_keyring().current
    try:
        with transaction.atomic(using=using):
            data_key = DataKey.objects.using(using).create(
                key_id=key_id,
                scope=scope,
                wrapped_key=_wrap(raw, key_id=key_id, scope=scope, master=master),
                master_key_id=master.key_id,
                active=True,
            )
    except IntegrityError:
        return DataKey.objects.using(using).get(scope=scope, active=True)
    _cache.data_keys[key_id] = AESGCM(raw)
    _cache.uncommitted.add(key_id)
    transaction.on_commit(partial(_cache.uncommitted.discard, key_id), using=using)
    return data_key


def _active_key(scope: int) -> tuple[str, AESGCM]:
    """The active data key of ``scope``, created on first use.

    Cached per process for ``ICBT_ACTIVE_KEY_CACHE_SECONDS``, so after the first load encryption
    costs no query. A key created by a transaction that has not committed yet is cached only on
    commit: if that transaction rolls back, nothing may go on encrypting under a key id that no
    longer exists in the database.
    """
    hit = _cache.active.get(scope)
    if hit is not None and hit[2] > time.monotonic():
        return hit[0], hit[1]
    from icbt.models.keys import DataKey

    using = router.db_for_write(DataKey)
    data_key = DataKey.objects.using(using).filter(scope=scope, active=True).first()
    if data_key is None:
        data_key = _data_key_create(scope, using)
    aead = _aead_for(data_key)
    entry = (data_key.key_id, aead, time.monotonic() + active_key_cache_seconds())
    remember = partial(_cache.active.__setitem__, scope, entry)
    if data_key.key_id in _cache.uncommitted:
        transaction.on_commit(remember, using=using)
    else:
        remember()
    return data_key.key_id, aead


def _key_for_id(key_id: str) -> AESGCM:
    aead = _cache.data_keys.get(key_id)
    if aead is not None:
        return aead
    from icbt.models.keys import DataKey

    data_key = DataKey.objects.filter(key_id=key_id).first()
    if data_key is None:
        raise DecryptionError(f"Unknown data key {key_id}.")
    return _aead_for(data_key)


def active_key_id(scope: int) -> str:
    """The id of the data key new values of ``scope`` are encrypted with (created if missing)."""
    return _active_key(scope)[0]


def data_key_replace(scope: int, *, unless_master_key_id: str | None = None) -> bool:
    """Retire the active data key of ``scope`` and make a new one under the current master key.

    With ``unless_master_key_id``, nothing happens if the active key (re-read under a row lock,
    so two concurrent rotations do not both replace it) is already wrapped by that master key.
    Returns whether a new key was made. The retired key stays until no row uses it.
    """
    from icbt.models.keys import DataKey

    using = router.db_for_write(DataKey)
    with transaction.atomic(using=using):
        current = DataKey.objects.using(using).select_for_update().filter(scope=scope, active=True).first()
        if current is not None:
            if unless_master_key_id is not None and current.master_key_id == unless_master_key_id:
                return False
            current.active = False
            current.save(update_fields=["active"])
        _data_key_create(scope, using)
    _cache.active.pop(scope, None)
    return True


def data_key_rewrap(data_key) -> bool:
    """Re-wrap ``data_key`` under the current master key; the data key itself does not change.

    Returns False if it already was wrapped by the current master key (checked under a row lock).
    """
    from icbt.models.keys import DataKey

    current = master_keyring().current
    using = router.db_for_write(DataKey)
    with transaction.atomic(using=using):
        locked = DataKey.objects.using(using).select_for_update().filter(pk=data_key.pk).first()
        if locked is None or locked.master_key_id == current.key_id:
            return False
        raw = _unwrap(locked)
        locked.wrapped_key = _wrap(raw, key_id=locked.key_id, scope=locked.scope, master=current)
        locked.master_key_id = current.key_id
        locked.save(update_fields=["wrapped_key", "master_key_id"])
    return True


# --- Tokens ---------------------------------------------------------------------------------


def encrypt(plaintext: str, *, scope: int, associated_data: str) -> str:
    """Encrypt ``plaintext`` under the active data key of ``scope``, bound to ``associated_data``.

    A fresh random nonce per call: the same text twice gives unrelated tokens, so equal messages
    cannot be recognised in the database.
    """
    key_id, aead = _active_key(scope)
    nonce = os.urandom(NONCE_BYTES)
    sealed = aead.encrypt(nonce, plaintext.encode("utf-8"), associated_data.encode("utf-8"))
    return f"{TOKEN_PREFIX}:{key_id}:{_b64encode(nonce + sealed)}"


def token_key_id(token: str) -> str | None:
    """The data key id a token names, or None if ``token`` is not an icbt token."""
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(parts[1]) != KEY_ID_LENGTH:
        return None
    return parts[1]


def decrypt(token: str, *, associated_data: str) -> str:
    """Return the text sealed in ``token`` or raise DecryptionError.

    Raises when the token is malformed, names an unknown key, was tampered with, or was made for
    different associated data (another row or field).
    """
    key_id = token_key_id(token) if isinstance(token, str) else None
    if key_id is None:
        raise DecryptionError("Not an icbt ciphertext.")
    blob = _b64decode(token.split(":", 2)[2])
    if len(blob) < NONCE_BYTES + _TAG_BYTES:
        raise DecryptionError("The ciphertext is truncated.")
    aead = _key_for_id(key_id)
    try:
        plaintext = aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated_data.encode("utf-8"))
    except InvalidTag as exc:
        raise DecryptionError(
            f"Ciphertext under data key {key_id} failed authentication: tampered with, or moved from "
            "another row or field."
        ) from exc
    return plaintext.decode("utf-8")


# --- allauth MFA secrets --------------------------------------------------------------------


def mfa_encrypt(text: str) -> str:
    """Seal an allauth MFA secret (TOTP key, recovery-code seed) under the current master key.

    The token names the master key id, so ``rotate_keys`` can find secrets left under an old one.
    """
    master = master_keyring().current
    nonce = os.urandom(NONCE_BYTES)
    sealed = master.mfa.encrypt(nonce, text.encode("utf-8"), _MFA_ASSOCIATED_DATA)
    return f"{MFA_TOKEN_PREFIX}:{master.key_id}:{_b64encode(nonce + sealed)}"


def _mfa_master_id(token: object) -> str | None:
    if not isinstance(token, str):
        return None
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != MFA_TOKEN_PREFIX or len(parts[1]) != KEY_ID_LENGTH:
        return None
    return parts[1]


def mfa_decrypt(token: str) -> str:
    """Open a token from :func:`mfa_encrypt`, under the current or any old master key.

    Strict: anything else (a plaintext secret, a truncated or tampered token) raises
    DecryptionError, so a secret written around the adapter is refused rather than trusted.
    """
    master_id = _mfa_master_id(token)
    if master_id is None:
        raise DecryptionError("Not an icbt MFA ciphertext.")
    master = master_keyring().by_id.get(master_id)
    if master is None:
        raise DecryptionError(
            f"MFA secret sealed under master key {master_id}, which is not configured (ICBT_OLD_MASTER_KEYS)."
        )
    blob = _b64decode(token.split(":", 2)[2])
    try:
        plaintext = master.mfa.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _MFA_ASSOCIATED_DATA)
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError("MFA secret failed authentication.") from exc
    return plaintext.decode("utf-8")


def mfa_needs_reencryption(token: object) -> bool:
    """True for an MFA token sealed under a master key other than the current one."""
    master_id = _mfa_master_id(token)
    return master_id is not None and master_id != master_keyring().current.key_id


# --- System check ---------------------------------------------------------------------------


@checks.register(checks.Tags.security)
def check_master_keys(app_configs=None, **kwargs):
    """Report a malformed master key at start-up (runserver, migrate, check) instead of at first use."""
    errors = []
    candidates = []
    if getattr(settings, "ICBT_MASTER_KEY", None):
        candidates.append(("ICBT_MASTER_KEY", settings.ICBT_MASTER_KEY))
    candidates += [
        (f"ICBT_OLD_MASTER_KEYS (entry {position})", value)
        for position, value in enumerate(_old_master_key_values(), start=1)
    ]
    for name, value in candidates:
        try:
            parse_master_key(value, name=name)
        except ImproperlyConfigured as exc:
            errors.append(checks.Error(str(exc), id="icbt.E001"))
    return errors
