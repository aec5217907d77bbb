"""manage.py rotate_keys: move every encrypted value onto the current master key and data keys.

Typical use after putting a new key in ICBT_MASTER_KEY and the previous one in
ICBT_OLD_MASTER_KEYS: run ``rotate_keys`` until it says there is nothing left to do, then remove
the old key. ``--new-data-keys`` also replaces the data keys of every clinic (after a suspected
data-key leak).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connections, router, transaction
from django.db.models import CharField, Model, Q
from django.db.models.functions import Substr
from django.utils import timezone

from icbt import crypto
from icbt.crypto import DecryptionError
from icbt.fields import Ciphertext, EncryptedTextField


@dataclass
class RotationReport:
    new_data_keys: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    authenticators: int = 0
    rewrapped: int = 0
    deleted: int = 0
    retired_waiting: int = 0
    failures: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def changed(self) -> bool:
        return bool(
            self.new_data_keys
            or sum(self.rows.values())
            or self.authenticators
            or self.rewrapped
            or self.deleted
        )


def encrypted_models(candidates: Iterable[type[Model]] | None = None):
    """(model, its own EncryptedTextFields) for every concrete model that stores encrypted text.

    Inherited fields are listed under the parent that owns the column, so each value is visited
    once. Models whose table does not exist (not migrated yet) hold no values and are left out.
    """
    found = []
    tables = {}
    for model in apps.get_models() if candidates is None else candidates:
        opts = model._meta
        if opts.proxy or opts.abstract:
            continue
        own = [f for f in opts.local_concrete_fields if isinstance(f, EncryptedTextField)]
        if not own:
            continue
        using = router.db_for_write(model)
        if using not in tables:
            tables[using] = set(connections[using].introspection.table_names())
        if opts.db_table in tables[using]:
            found.append((model, own))
    return found


def _token_prefix(key_id: str) -> str:
    return f"{crypto.TOKEN_PREFIX}:{key_id}:"


def _stale_rows(model, fields, active_key_ids: list[str]):
    """Rows holding at least one token under a data key that is active for no scope.

    Derived from the data alone, so an interrupted run simply finds what is still left.
    """
    queryset = model._base_manager.all()
    stale = Q()
    start = len(crypto.TOKEN_PREFIX) + 2
    for f in fields:
        alias = f"_icbt_key_{f.attname}"
        queryset = queryset.alias(
            **{alias: Substr(f.attname, start, crypto.KEY_ID_LENGTH, output_field=CharField())}
        )
        stale |= Q(**{f"{f.attname}__startswith": f"{crypto.TOKEN_PREFIX}:"}) & ~Q(
            **{f"{alias}__in": active_key_ids}
        )
    return queryset.filter(stale)


def _reencrypt_row(row, fields, failures: list[str]) -> dict[str, Ciphertext]:
    updates = {}
    scope = None
    for f in fields:
        token = row.__dict__.get(f.attname)
        if not isinstance(token, Ciphertext):
            continue
        if scope is None:
            scope = f.scope_for(row)
        if crypto.token_key_id(token) == crypto.active_key_id(scope):
            continue
        associated_data = f.associated_data(row)
        try:
            plaintext = crypto.decrypt(token, associated_data=associated_data)
        except DecryptionError as exc:
            failures.append(f"{row._meta.label} pk={row.pk} field={f.name}: {exc}")
            continue
        updates[f.attname] = Ciphertext(
            crypto.encrypt(plaintext, scope=scope, associated_data=associated_data)
        )
    return updates


class _Budget:
    def __init__(self, max_batches: int | None):
        self.left = max_batches

    def take(self) -> bool:
        if self.left is None:
            return True
        if self.left <= 0:
            return False
        self.left -= 1
        return True


def _lock(queryset):
    features = connections[queryset.db].features
    if features.has_select_for_update_of:
        return queryset.select_for_update(of=("self",))
    return queryset.select_for_update()


def _reencrypt_model(model, fields, *, active_key_ids, batch_size, budget, report, write) -> None:
    """Re-encrypt the stale rows of one model, one committed transaction per batch.

    Each batch locks its rows (SELECT ... FOR UPDATE where the database has it) and writes only
    the encrypted columns, so a concurrent save of other columns is neither lost nor overwritten.
    Rows are walked in primary-key order; a row that cannot be decrypted is reported and skipped.
    """
    label = model._meta.label_lower
    stale = _stale_rows(model, fields, active_key_ids)
    total = stale.count()
    if not total:
        return
    write(f"{label}: {total} row(s) to re-encrypt")
    done = changed = 0
    last_pk = None
    using = router.db_for_write(model)
    while True:
        remaining = stale if last_pk is None else stale.filter(pk__gt=last_pk)
        if not budget.take():
            report.interrupted = remaining.exists()
            break
        with transaction.atomic(using=using):
            rows = list(_lock(remaining.using(using)).order_by("pk")[:batch_size])
            for row in rows:
                updates = _reencrypt_row(row, fields, report.failures)
                if updates:
                    model._base_manager.using(using).filter(pk=row.pk).update(**updates)
                    changed += 1
        if rows:
            last_pk = rows[-1].pk
            done += len(rows)
            write(f"{label}: {done}/{total} rows")
        if len(rows) < batch_size:
            break
    if changed:
        report.rows[label] = changed


def _reencrypt_authenticators(*, batch_size, budget, report) -> None:
    """Re-seal allauth MFA secrets still sealed under an old master key."""
    if not apps.is_installed("allauth.mfa"):
        return
    from allauth.mfa.models import Authenticator

    using = router.db_for_write(Authenticator)
    last_pk = None
    while True:
        remaining = Authenticator._base_manager.using(using).order_by("pk")
        if last_pk is not None:
            remaining = remaining.filter(pk__gt=last_pk)
        if not budget.take():
            report.interrupted = remaining.exists()
            return
        with transaction.atomic(using=using):
            rows = list(_lock(remaining)[:batch_size])
            for authenticator in rows:
                data, changed = _reseal_mfa_data(authenticator, report.failures)
                if changed:
                    Authenticator._base_manager.using(using).filter(pk=authenticator.pk).update(data=data)
                    report.authenticators += 1
        if rows:
            last_pk = rows[-1].pk
        if len(rows) < batch_size:
            return


def _reseal_mfa_data(authenticator, failures: list[str]):
    data = dict(authenticator.data or {})
    changed = False

    def reseal(value):
        nonlocal changed
        if not crypto.mfa_needs_reencryption(value):
            return value
        try:
            fresh = crypto.mfa_encrypt(crypto.mfa_decrypt(value))
        except DecryptionError as exc:
            failures.append(f"allauth authenticator pk={authenticator.pk}: {exc}")
            return value
        changed = True
        return fresh

    for name in ("secret", "seed"):
        if name in data:
            data[name] = reseal(data[name])
    if isinstance(data.get("migrated_codes"), list):
        data["migrated_codes"] = [reseal(code) for code in data["migrated_codes"]]
    return data, changed


def _referenced(key_id: str, everything) -> bool:
    prefix = _token_prefix(key_id)
    for model, fields in everything:
        condition = Q()
        for f in fields:
            condition |= Q(**{f"{f.attname}__startswith": prefix})
        if model._base_manager.filter(condition).exists():
            return True
    return False


def _retire_data_keys(everything, *, grace_seconds: float, report: RotationReport) -> None:
    """Delete retired data keys no row uses any more, then re-wrap what is left under the current master.

    A retired key is deleted only once its scope's newer key is older than the grace period:
    until then another process may still be encrypting with the retired key from its cache, and
    deleting it would make that row unreadable forever. The reference check looks at every
    encrypted model, not only the ones being re-encrypted.
    """
    from icbt.models.keys import DataKey

    using = router.db_for_write(DataKey)
    newest = {}
    for scope, created_at in (
        DataKey.objects.using(using).order_by("scope", "created_at").values_list("scope", "created_at")
    ):
        newest[scope] = created_at
    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    for data_key in DataKey.objects.using(using).filter(active=False).order_by("pk"):
        if newest[data_key.scope] > cutoff:
            report.retired_waiting += 1
            continue
        if _referenced(data_key.key_id, everything):
            continue
        with transaction.atomic(using=using):
            locked = (
                DataKey.objects.using(using).select_for_update().filter(pk=data_key.pk, active=False).first()
            )
            if locked is not None and not _referenced(locked.key_id, everything):
                locked.delete()
                crypto.clear_key_cache()
                report.deleted += 1
    current = crypto.master_keyring().current.key_id
    for data_key in DataKey.objects.using(using).exclude(master_key_id=current).order_by("pk"):
        try:
            if crypto.data_key_rewrap(data_key):
                report.rewrapped += 1
        except DecryptionError as exc:
            report.failures.append(str(exc))


def rotate_keys(
    *,
    models: Iterable[type[Model]] | None = None,
    batch_size: int = 500,
    new_data_keys: bool = False,
    max_batches: int | None = None,
    grace_seconds: float | None = None,
    write: Callable[[str], object] = print,
) -> RotationReport:
    """Bring every encrypted value onto the current master key and the active data keys.

    1. Every scope whose active data key is wrapped by an old master key (every scope, with
       ``new_data_keys``) gets a new active data key.
    2. Rows of ``models`` (default: every installed model with an EncryptedTextField) whose tokens
       use a retired data key are re-encrypted in batches of ``batch_size``, each committed on its
       own; allauth MFA secrets sealed under an old master key are re-sealed. ``max_batches``
       stops early (to spread work over maintenance windows); running again resumes, because what
       is left is read from the data, not from a record of progress.
    3. Retired data keys nothing refers to are deleted (after ``grace_seconds``, see
       :func:`icbt.crypto.retired_key_grace_seconds`), and the remaining keys re-wrapped under
       the current master key.

    Idempotent: when everything is current it changes nothing and says so.
    """
    from icbt.models.keys import DataKey

    report = RotationReport()
    keyring = crypto.master_keyring()
    grace = crypto.retired_key_grace_seconds() if grace_seconds is None else grace_seconds
    budget = _Budget(max_batches)

    for data_key in DataKey.objects.filter(active=True).order_by("scope"):
        unless = None if new_data_keys else keyring.current.key_id
        if crypto.data_key_replace(data_key.scope, unless_master_key_id=unless):
            report.new_data_keys += 1
    if report.new_data_keys:
        write(f"New data keys under master key {keyring.current.key_id}: {report.new_data_keys} scope(s)")

    crypto.clear_key_cache()
    active_key_ids = list(DataKey.objects.filter(active=True).values_list("key_id", flat=True))
    targets = encrypted_models(models)
    for model, fields in targets:
        _reencrypt_model(
            model,
            fields,
            active_key_ids=active_key_ids,
            batch_size=batch_size,
            budget=budget,
            report=report,
            write=write,
        )
        if report.interrupted:
            break
    if not report.interrupted:
        _reencrypt_authenticators(batch_size=batch_size, budget=budget, report=report)

    if report.interrupted:
        write("Stopped after the batch limit; run rotate_keys again to continue where it stopped.")
    else:
        everything = encrypted_models(list(apps.get_models()) + [model for model, _ in targets])
        _retire_data_keys(everything, grace_seconds=grace, report=report)
        _summarise(report, keyring.current.key_id, write)
    return report


def _summarise(report: RotationReport, master_id: str, write) -> None:
    waiting = (
        f" {report.retired_waiting} retired data key(s) will be deleted by a run after the grace period."
        if report.retired_waiting
        else ""
    )
    if not report.changed and not report.failures:
        write(
            "Nothing to do: every value is encrypted under the active data keys and "
            f"master key {master_id}.{waiting}"
        )
        return
    rows = sum(report.rows.values())
    write(
        f"Done: {report.new_data_keys} new data key(s), "
        f"{rows} row(s) re-encrypted in {len(report.rows)} model(s), "
        f"{report.authenticators} MFA authenticator(s) re-sealed, {report.rewrapped} data key(s) re-wrapped, "
        f"{report.deleted} retired data key(s) deleted.{waiting}"
    )


class Command(BaseCommand):
    help = (
        "Re-encrypt data under the current master key and active data keys, in resumable batches. "
        "Run it again until it reports nothing to do before removing an old master key."
    )
    stealth_options = ("models", "grace_seconds")

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")
        parser.add_argument(
            "--new-data-keys",
            action="store_true",
            help="Give every scope a new data key and re-encrypt everything. To resume an interrupted "
            "run, run again without this flag.",
        )
        parser.add_argument(
            "--max-batches",
            type=int,
            default=None,
            help="Stop after this many batches; a later run continues.",
        )

    def handle(
        self, *args, batch_size, new_data_keys, max_batches, models=None, grace_seconds=None, **options
    ):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if max_batches is not None and max_batches < 1:
            raise CommandError("--max-batches must be at least 1.")
        report = rotate_keys(
            models=models,
            batch_size=batch_size,
            new_data_keys=new_data_keys,
            max_batches=max_batches,
            grace_seconds=grace_seconds,
            write=self.stdout.write,
        )
        if report.failures:
            for failure in report.failures:
                self.stderr.write(failure)
            raise CommandError(
                f"{len(report.failures)} value(s) could not be decrypted; their keys were kept."
            )
