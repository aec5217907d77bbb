"""Encryption at rest: EncryptedTextField, the key hierarchy, rotate_keys and the MFA adapter.

The tests use their own model (in a private app registry, so no migration or system check of the
project sees it) with a table created for the test; rotate_keys is pointed at it explicitly.
"""

import io
import os
import secrets
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pyotp
import pytest
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from cryptography.fernet import Fernet
from django.apps.registry import Apps
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, models

from icbt import crypto
from icbt.adapters import MFAAdapter
from icbt.crypto import DecryptionError
from icbt.fields import Ciphertext, EncryptedTextField
from icbt.management.commands.rotate_keys import rotate_keys
from icbt.models import DataKey, User

K1 = os.environ["ICBT_MASTER_KEY"]
K2 = Fernet.generate_key().decode()
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
BASE_DIR = Path(__file__).resolve().parents[2]

test_apps = Apps(installed_apps=[])


@pytest.fixture(autouse=True)
def _master_key(settings):
    """Every test starts from K1 alone, whatever the process was started with."""
    settings.ICBT_MASTER_KEY = K1
    settings.ICBT_OLD_MASTER_KEYS = []


class Note(models.Model):
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic_id = models.BigIntegerField(default=0)
    body = EncryptedTextField(blank=True)
    summary = EncryptedTextField(blank=True, null=True)

    class Meta:
        apps = test_apps
        app_label = "icbt_crypto_tests"
        db_table = "icbt_crypto_tests_note"


@pytest.fixture
def notes(transactional_db):
    crypto.clear_key_cache()
    with connection.schema_editor() as editor:
        editor.create_model(Note)
    yield Note
    with connection.schema_editor() as editor:
        editor.delete_model(Note)
    crypto.clear_key_cache()


def raw(column="body"):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {column} FROM {Note._meta.db_table} ORDER BY id")
        return dict(cursor.fetchall())


def raw_set(pk, column, value):
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Note._meta.db_table} SET {column} = %s WHERE id = %s", [value, pk])


def key_table():
    return sorted(DataKey.objects.values_list("key_id", "scope", "wrapped_key", "master_key_id", "active"))


def fresh(note):
    return Note.objects.get(pk=note.pk)


def rotate(**options):
    out = io.StringIO()
    call_command("rotate_keys", models=[Note], grace_seconds=0, stdout=out, **options)
    return out.getvalue()


def make_notes(count, *, clinic=1):
    return [
        Note.objects.create(clinic_id=clinic, body=f"note {i}: slept badly, pain 7/10") for i in range(count)
    ]


# --- The field ------------------------------------------------------------------------------


def test_raw_sql_shows_no_plaintext(notes):
    note = Note.objects.create(
        clinic_id=3, body="I was afraid to walk to the shop", summary="fear of walking"
    )
    for column, text in (("body", "I was afraid to walk to the shop"), ("summary", "fear of walking")):
        stored = raw(column)[note.pk]
        assert stored.startswith("icbt1:")
        assert text not in stored
        assert "afraid" not in stored and "walk" not in stored
    assert fresh(note).body == "I was afraid to walk to the shop"


def test_same_text_twice_gives_different_ciphertext(notes):
    a = Note.objects.create(body="the same words")
    b = Note.objects.create(body="the same words")
    assert raw()[a.pk] != raw()[b.pk]
    a.body = "other words"
    a.save()
    a.body = "the same words"
    a.save()
    first = raw()[a.pk]
    a.body = "different"
    a.save()
    a.body = "the same words"
    a.save()
    assert raw()[a.pk] != first


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "Ünïcødé — 睡眠 😴 ﬁ\u200b\n\ttabs",
        "x" * 200_000,
        "icbt1:0123456789abcdef:looks-like-a-token",
    ],
)
def test_round_trip(notes, text):
    note = Note.objects.create(body=text, summary=text)
    loaded = fresh(note)
    assert loaded.body == text
    assert loaded.summary == text


def test_empty_and_none_are_stored_as_is(notes):
    note = Note.objects.create(body="", summary=None)
    assert raw("body")[note.pk] == ""
    assert raw("summary")[note.pk] is None
    loaded = fresh(note)
    assert loaded.body == ""
    assert loaded.summary is None


def test_unchanged_text_is_not_reencrypted_on_save(notes):
    note = Note.objects.create(body="first version")
    stored = raw()[note.pk]
    loaded = fresh(note)
    loaded.save()
    assert raw()[note.pk] == stored
    assert loaded.body == "first version"
    loaded.save()
    assert raw()[note.pk] == stored
    loaded.body = "second version"
    loaded.save()
    assert raw()[note.pk] != stored
    assert fresh(note).body == "second version"


def test_bulk_create_encrypts(notes):
    Note.objects.bulk_create([Note(clinic_id=2, body="bulk one"), Note(clinic_id=2, body="bulk two")])
    assert all(token.startswith("icbt1:") and "bulk" not in token for token in raw().values())
    assert sorted(Note.objects.values_list("pk", flat=True)) == sorted(raw())
    assert sorted(n.body for n in Note.objects.all()) == ["bulk one", "bulk two"]


def test_deferred_field_and_values(notes):
    note = Note.objects.create(body="deferred text")
    assert Note.objects.defer("body").get(pk=note.pk).body == "deferred text"
    token = Note.objects.values_list("body", flat=True).get(pk=note.pk)
    assert isinstance(token, Ciphertext)
    assert "deferred" not in token


def test_moved_to_another_row_fails(notes):
    a = Note.objects.create(body="alice's diary")
    b = Note.objects.create(body="bob's diary")
    raw_set(b.pk, "body", raw()[a.pk])
    with pytest.raises(DecryptionError):
        fresh(b).body  # noqa: B018
    with pytest.raises(DecryptionError):
        fresh(b).save()


def test_moved_to_another_field_fails(notes):
    note = Note.objects.create(body="private body", summary="summary")
    raw_set(note.pk, "summary", raw("body")[note.pk])
    with pytest.raises(DecryptionError):
        fresh(note).summary  # noqa: B018


def test_changed_row_uid_fails(notes):
    note = Note.objects.create(body="bound to my uid")
    loaded = fresh(note)
    loaded.uid = uuid.uuid4()
    with pytest.raises(DecryptionError):
        loaded.body  # noqa: B018


def test_tampered_ciphertext_fails(notes):
    note = Note.objects.create(body="do not touch")
    token = raw()[note.pk]
    prefix, key_id, blob = token.split(":")
    flipped = blob[:20] + ("A" if blob[20] != "A" else "B") + blob[21:]
    for bad in (f"{prefix}:{key_id}:{flipped}", f"{prefix}:{key_id}:{blob[:30]}", f"{prefix}:{key_id}:!!!"):
        raw_set(note.pk, "body", bad)
        with pytest.raises(DecryptionError):
            fresh(note).body  # noqa: B018


def test_unknown_key_id_fails(notes):
    note = Note.objects.create(body="lost key")
    _, _, blob = raw()[note.pk].split(":")
    raw_set(note.pk, "body", f"icbt1:{'0' * 16}:{blob}")
    with pytest.raises(DecryptionError, match="Unknown data key"):
        fresh(note).body  # noqa: B018


def test_plaintext_never_reaches_sql(notes):
    note = Note.objects.create(body="secret")
    with pytest.raises(TypeError):
        Note.objects.filter(pk=note.pk).update(body="written around save")
    note.body = "bulk"
    with pytest.raises(TypeError):
        Note.objects.bulk_update([note], ["body"])
    with pytest.raises(TypeError):
        list(Note.objects.filter(body="secret"))
    with pytest.raises(FieldError):
        list(Note.objects.filter(body__icontains="secret"))
    assert fresh(note).body == "secret"


def test_data_key_per_scope_created_lazily_and_cached(notes, django_assert_num_queries):
    assert not DataKey.objects.exists()
    Note.objects.create(clinic_id=1, body="a")
    Note.objects.create(clinic_id=2, body="b")
    Note.objects.create(body="no clinic")
    assert sorted(DataKey.objects.values_list("scope", flat=True)) == [0, 1, 2]
    key_of = dict(DataKey.objects.values_list("scope", "key_id"))
    assert {crypto.token_key_id(t) for t in raw().values()} == set(key_of.values())
    with django_assert_num_queries(1):
        Note.objects.create(clinic_id=1, body="only the insert")
    with django_assert_num_queries(1):
        assert [n.body for n in Note.objects.order_by("id")][:2] == ["a", "b"]


def test_data_keys_are_stored_wrapped(notes):
    Note.objects.create(clinic_id=5, body="x")
    data_key = DataKey.objects.get(scope=5)
    assert data_key.master_key_id == crypto.master_key_id(crypto.parse_master_key(K1))
    assert len(crypto._b64decode(data_key.wrapped_key)) == 12 + 32 + 16


def test_changing_secret_key_leaves_data_readable(notes, settings):
    note = Note.objects.create(clinic_id=1, body="survives a new SECRET_KEY")
    settings.SECRET_KEY = "a-completely-different-secret-key-" + "z" * 30
    crypto.clear_key_cache()
    assert fresh(note).body == "survives a new SECRET_KEY"


def test_bind_field_system_check():
    registry = Apps(installed_apps=[])

    class NoUid(models.Model):
        clinic_id = models.BigIntegerField(default=0)
        text = EncryptedTextField()

        class Meta:
            apps = registry
            app_label = "icbt_crypto_tests"

    class WrongUid(models.Model):
        clinic_id = models.BigIntegerField(default=0)
        uid = models.CharField(max_length=36)
        text = EncryptedTextField()

        class Meta:
            apps = registry
            app_label = "icbt_crypto_tests"

    class LooseUid(models.Model):
        clinic_id = models.BigIntegerField(default=0)
        ref = models.UUIDField(default=uuid.uuid4)
        text = EncryptedTextField(bind_field="ref")

        class Meta:
            apps = registry
            app_label = "icbt_crypto_tests"

    assert [e.id for e in NoUid._meta.get_field("text").check()] == ["icbt.E101"]
    assert [e.id for e in WrongUid._meta.get_field("text").check()] == ["icbt.E102"]
    assert [e.id for e in LooseUid._meta.get_field("text").check()] == ["icbt.W101"]
    assert Note._meta.get_field("body").check() == []
    assert LooseUid._meta.get_field("text").deconstruct()[3]["bind_field"] == "ref"


def test_clinic_system_check_refuses_a_model_without_its_clinic():
    registry = Apps(installed_apps=[])

    class Orphan(models.Model):
        uid = models.UUIDField(default=uuid.uuid4, unique=True)
        text = EncryptedTextField()

        class Meta:
            apps = registry
            app_label = "icbt_crypto_tests"

    errors = Orphan._meta.get_field("text").check()
    assert [e.id for e in errors] == ["icbt.E103"]
    assert "does not store clinic_id" in errors[0].msg


def test_every_installed_encrypted_model_stores_its_clinic():
    from django.apps import apps
    from django.core import checks

    encrypted = [
        m
        for m in apps.get_models()
        if any(isinstance(f, EncryptedTextField) for f in m._meta.concrete_fields)
    ]
    assert len(encrypted) == 16
    assert [e for e in checks.run_checks() if e.id == "icbt.E103"] == []
    for model in encrypted:
        assert model._meta.get_field("clinic").related_model._meta.label == "icbt.Clinic"


# --- Master key configuration ---------------------------------------------------------------


def test_production_without_master_key_refuses_to_start():
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICBT_MASTER_KEY")}
    env.update(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_SETTINGS_MODULE="icbt.settings",
    )
    command = [sys.executable, "-c", "import django; django.setup()"]
    refused = subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0
    assert "ICBT_MASTER_KEY (or ICBT_MASTER_KEY_FILE) is required when DJANGO_DEBUG=false" in refused.stderr
    started = subprocess.run(
        command, cwd=BASE_DIR, env={**env, "ICBT_MASTER_KEY": K2}, capture_output=True, text=True, timeout=120
    )
    assert started.returncode == 0, started.stderr


def test_production_without_master_key_refuses_to_encrypt(settings):
    settings.DEBUG = False
    settings.ICBT_MASTER_KEY = None
    with pytest.raises(ImproperlyConfigured, match="ICBT_MASTER_KEY"):
        crypto.master_keyring()


@pytest.mark.parametrize(
    "bad",
    ["too-short", "x" * 44, "dGVzdC1vbmx5LW1hc3Rlci1rZXktMzItYnl0ZXMhIS!=", "c2hvcnQta2V5LTE2Ynl0ZQ=="],
    ids=["short", "not-base64", "bad-character", "16-bytes"],
)
def test_bad_master_key_format_gives_clear_error(settings, bad):
    settings.ICBT_MASTER_KEY = bad
    with pytest.raises(
        ImproperlyConfigured, match="ICBT_MASTER_KEY must be 32 random bytes in url-safe base64"
    ) as exc:
        crypto.master_keyring()
    assert bad not in str(exc.value)
    assert [e.id for e in crypto.check_master_keys()] == ["icbt.E001"]


def test_bad_old_master_key_format_gives_clear_error(settings):
    settings.ICBT_OLD_MASTER_KEYS = [K2, "nope"]
    with pytest.raises(ImproperlyConfigured, match=r"ICBT_OLD_MASTER_KEYS \(entry 2\)"):
        crypto.master_keyring()


def test_master_key_id_is_sha256_prefix():
    import hashlib

    raw_key = crypto.parse_master_key(K2)
    assert len(raw_key) == 32
    assert crypto.master_key_id(raw_key) == hashlib.sha256(raw_key).hexdigest()[:16]


def test_development_key_file_is_created_once_and_private(settings, tmp_path):
    settings.DEBUG = True
    settings.ICBT_MASTER_KEY = None
    settings.ICBT_DEV_MASTER_KEY_FILE = tmp_path / "dev" / "master.key"
    first = crypto.master_keyring().current.key_id
    assert stat.S_IMODE(os.stat(settings.ICBT_DEV_MASTER_KEY_FILE).st_mode) == 0o600
    crypto.clear_key_cache()
    assert crypto.master_keyring().current.key_id == first
    assert list((tmp_path / "dev").iterdir()) == [settings.ICBT_DEV_MASTER_KEY_FILE]


# --- rotate_keys ----------------------------------------------------------------------------


def test_rotate_master_key_then_drop_the_old_one(notes, settings):
    written = {
        n.pk: n.body for n in make_notes(3, clinic=1) + make_notes(2, clinic=2) + [Note.objects.create()]
    }
    old_keys = key_table()

    settings.ICBT_MASTER_KEY = K2
    with pytest.raises(DecryptionError, match="not configured"):
        fresh(Note.objects.first()).body  # noqa: B018

    settings.ICBT_OLD_MASTER_KEYS = [K1]
    assert {n.pk: n.body for n in Note.objects.all()} == written
    output = rotate()
    assert "icbt_crypto_tests.note: 5/5 rows" in output
    assert "2 new data key(s), 5 row(s) re-encrypted" in output
    k2_id = crypto.master_key_id(crypto.parse_master_key(K2))
    assert set(DataKey.objects.values_list("master_key_id", flat=True)) == {k2_id}
    assert not set(key_table()) & set(old_keys)

    settings.ICBT_OLD_MASTER_KEYS = []
    assert {n.pk: n.body for n in Note.objects.all()} == written


def test_rotate_again_changes_nothing(notes, settings):
    make_notes(4)
    settings.ICBT_MASTER_KEY = K2
    settings.ICBT_OLD_MASTER_KEYS = [K1]
    rotate()
    before_rows, before_keys = raw(), key_table()
    output = rotate()
    assert output.startswith("Nothing to do")
    assert raw() == before_rows
    assert key_table() == before_keys
    assert rotate_keys(models=[Note], grace_seconds=0, write=lambda line: None).changed is False


def test_rotate_with_nothing_encrypted_says_nothing_to_do(notes):
    assert rotate().startswith("Nothing to do")


def test_new_data_keys_reencrypt_everything_and_delete_old_keys(notes):
    written = {n.pk: n.body for n in make_notes(3, clinic=1) + make_notes(2, clinic=4)}
    before_rows, before_keys = raw(), {k[0] for k in key_table()}
    output = rotate(new_data_keys=True)
    assert "2 new data key(s), 5 row(s) re-encrypted" in output
    assert "2 retired data key(s) deleted" in output
    after_keys = {k[0] for k in key_table()}
    assert not before_keys & after_keys
    assert len(after_keys) == 2
    assert all(raw()[pk] != before_rows[pk] for pk in written)
    assert {crypto.token_key_id(t) for t in raw().values()} == after_keys
    crypto.clear_key_cache()
    assert {n.pk: n.body for n in Note.objects.all()} == written


def test_retired_keys_are_kept_during_the_grace_period(notes):
    make_notes(2)
    out = io.StringIO()
    call_command("rotate_keys", "--new-data-keys", models=[Note], stdout=out)
    assert "1 retired data key(s) will be deleted by a run after the grace period" in out.getvalue()
    assert DataKey.objects.filter(active=False).count() == 1
    out = io.StringIO()
    call_command("rotate_keys", models=[Note], stdout=out)
    assert out.getvalue().startswith("Nothing to do")
    assert DataKey.objects.count() == 2
    assert "1 retired data key(s) deleted" in rotate()
    assert DataKey.objects.count() == 1


def test_interrupted_rotation_resumes_after_batch_limit(notes, settings):
    written = {n.pk: n.body for n in make_notes(7)}
    settings.ICBT_MASTER_KEY = K2
    settings.ICBT_OLD_MASTER_KEYS = [K1]
    output = rotate(batch_size=3, max_batches=1)
    assert "icbt_crypto_tests.note: 3/7 rows" in output
    assert "Stopped after the batch limit" in output
    active = DataKey.objects.get(active=True).key_id
    on_new = [pk for pk, token in raw().items() if crypto.token_key_id(token) == active]
    assert len(on_new) == 3
    assert DataKey.objects.filter(active=False).exists()

    report = rotate_keys(models=[Note], batch_size=3, grace_seconds=0, write=lambda line: None)
    assert report.rows == {"icbt_crypto_tests.note": 4}
    assert report.new_data_keys == 0
    assert report.deleted == 1
    settings.ICBT_OLD_MASTER_KEYS = []
    assert {n.pk: n.body for n in Note.objects.all()} == written


def test_interrupted_rotation_resumes_after_a_crash(notes, settings, monkeypatch):
    written = {n.pk: n.body for n in make_notes(5, clinic=2)}
    settings.ICBT_MASTER_KEY = K2
    settings.ICBT_OLD_MASTER_KEYS = [K1]
    real_encrypt = crypto.encrypt
    calls = []

    def crash_in_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) > 2:
            raise RuntimeError("power cut")
        return real_encrypt(*args, **kwargs)

    monkeypatch.setattr(crypto, "encrypt", crash_in_second_batch)
    with pytest.raises(RuntimeError, match="power cut"):
        rotate(batch_size=2)
    monkeypatch.setattr(crypto, "encrypt", real_encrypt)

    active = DataKey.objects.get(active=True).key_id
    assert sum(crypto.token_key_id(t) == active for t in raw().values()) == 2
    assert {n.pk: n.body for n in Note.objects.all()} == written

    output = rotate(batch_size=2)
    assert "icbt_crypto_tests.note: 3/3 rows" in output
    assert "0 new data key(s), 3 row(s) re-encrypted" in output
    settings.ICBT_OLD_MASTER_KEYS = []
    assert {n.pk: n.body for n in Note.objects.all()} == written


def test_rotation_reports_rows_it_cannot_decrypt_and_keeps_their_key(notes):
    a, b = make_notes(2)
    raw_set(b.pk, "body", raw()[a.pk])
    with pytest.raises(CommandError, match="1 value"):
        rotate(new_data_keys=True)
    assert DataKey.objects.filter(active=False).count() == 1
    assert fresh(a).body == a.body


# --- MFA adapter ----------------------------------------------------------------------------


def test_mfa_adapter_is_configured():
    assert isinstance(get_mfa_adapter(), MFAAdapter)


def test_mfa_secret_round_trips_and_is_not_stored_in_clear(db):
    user = User.objects.create_user(email="mfa@example.test", password="a-Long-test-passw0rd")
    TOTP.activate(user, TOTP_SECRET)
    stored = Authenticator.objects.get(user=user).data["secret"]
    assert stored.startswith("icbtmfa1:")
    assert TOTP_SECRET not in stored
    assert get_mfa_adapter().decrypt(stored) == TOTP_SECRET
    authenticator = Authenticator.objects.get(user=user)
    assert TOTP(authenticator).validate_code(pyotp.TOTP(TOTP_SECRET).now())
    adapter = MFAAdapter()
    assert adapter.encrypt("same") != adapter.encrypt("same")


def test_mfa_decrypt_is_strict(db):
    adapter = MFAAdapter()
    token = adapter.encrypt(TOTP_SECRET)
    for bad in (TOTP_SECRET, token[:-6] + "AAAAAA", token.replace("icbtmfa1", "icbt1"), ""):
        with pytest.raises(DecryptionError):
            adapter.decrypt(bad)


def test_mfa_secrets_follow_master_key_rotation(db, settings):
    user = User.objects.create_user(email="mfa-rotate@example.test", password="a-Long-test-passw0rd")
    TOTP.activate(user, TOTP_SECRET)
    old_token = Authenticator.objects.get(user=user).data["secret"]
    settings.ICBT_MASTER_KEY = K2
    with pytest.raises(DecryptionError):
        MFAAdapter().decrypt(old_token)
    settings.ICBT_OLD_MASTER_KEYS = [K1]
    assert MFAAdapter().decrypt(old_token) == TOTP_SECRET
    report = rotate_keys(models=[], write=lambda line: None)
    assert report.authenticators == 1
    settings.ICBT_OLD_MASTER_KEYS = []
    assert MFAAdapter().decrypt(Authenticator.objects.get(user=user).data["secret"]) == TOTP_SECRET


def test_the_development_key_lives_outside_the_data_directory(tmp_path):
    from icbt.env import dev_master_key_file

    var_dir = tmp_path / "var"
    path = dev_master_key_file(var_dir, {"XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": "/nowhere"})
    assert path.parent == tmp_path / "config" / "icbt"
    assert var_dir not in path.parents
    fallback = dev_master_key_file(var_dir, {"HOME": str(tmp_path / "home")})
    assert fallback.parent == tmp_path / "home" / ".config" / "icbt"
    assert dev_master_key_file(tmp_path / "other", {"HOME": str(tmp_path / "home")}) != fallback
    assert not settings_module_default_inside_var()


def settings_module_default_inside_var() -> bool:
    from django.conf import settings

    return settings.VAR_DIR.resolve() in settings.ICBT_DEV_MASTER_KEY_FILE.resolve().parents


def test_a_development_key_left_beside_the_database_is_moved_out(settings, tmp_path):
    settings.DEBUG = True
    settings.ICBT_MASTER_KEY = None
    legacy = tmp_path / "var" / "dev-master.key"
    legacy.parent.mkdir()
    legacy.write_text(K2 + "\n", encoding="ascii")
    settings.ICBT_LEGACY_DEV_MASTER_KEY_FILE = legacy
    settings.ICBT_DEV_MASTER_KEY_FILE = tmp_path / "config" / "icbt" / "dev.key"
    keyring = crypto.master_keyring()
    assert keyring.current.key_id == crypto.master_key_id(crypto.parse_master_key(K2))
    assert not legacy.exists()
    assert stat.S_IMODE(os.stat(settings.ICBT_DEV_MASTER_KEY_FILE).st_mode) == 0o600
