"""EncryptedTextField: free text that is plaintext in Python and AES-GCM ciphertext in the database.

Usage::

    class Message(models.Model):
        uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
        clinic = models.ForeignKey("icbt.Clinic", on_delete=models.PROTECT)  # its data key
        body = EncryptedTextField(bind_field="uid")

A system check (icbt.E103) requires every model with an encrypted field to store ``clinic_id``
on the row itself (usually through :class:`icbt.models.ClinicScoped`): the data key is chosen
from it, so encrypting never loads a parent object. An empty ``clinic_id`` means scope 0.

What it guarantees, and what it does not:

* The database only ever holds tokens from :func:`icbt.crypto.encrypt`, bound to
  ``"<app_label>.<model_name>.<field name>:<row uid>"``. Copying a token to another row or field
  makes it unreadable (:class:`~icbt.crypto.DecryptionError`), never readable in the wrong place.
* ``""`` and ``None`` are stored as they are: whether a field is empty is visible in the database,
  and so is the approximate length of the text (AES-GCM does not pad).
* Values are written only through ``Model.save()`` and ``bulk_create()`` (where ``pre_save``
  encrypts). ``update()``, ``bulk_update()``, ``loaddata`` and ``exact``/``in`` lookups with text
  refuse plaintext loudly (TypeError) instead of storing or searching it; text searches such as
  ``icontains`` are not available (FieldError). ``values()`` returns tokens, and ordering by the
  field orders by ciphertext. ``dumpdata`` reads the attribute, so it exports plaintext.
* Decryption is lazy: loading rows costs nothing until the attribute is read, and the plaintext
  is then cached on the instance. Saving an instance whose text was not changed writes the same
  token back (after checking it still belongs to this row), so unrelated saves do not re-encrypt.
"""

from __future__ import annotations

import json
import uuid

from django.core import checks
from django.core.exceptions import FieldDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.query_utils import DeferredAttribute

from icbt import crypto

_CIPHERTEXT_LOOKUPS = {"exact", "in", "isnull", "startswith"}


class Ciphertext(str):
    """A token exactly as stored in the database (not text to show); only these may be written."""

    __slots__ = ()


class EncryptedTextDescriptor(DeferredAttribute):
    """Holds the token loaded from the database and decrypts it on first read.

    Decryption needs the row's uid, which ``from_db_value`` does not see; by the time the
    attribute is read the whole instance is built.
    """

    def __get__(self, instance, cls=None):
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if isinstance(value, Ciphertext):
            value = self.field.open(instance, value)
        return value

    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = value


class EncryptedTextField(models.TextField):
    descriptor_class = EncryptedTextDescriptor
    description = "Text encrypted at rest (AES-256-GCM, bound to its row and field)"

    def __init__(self, *args, bind_field: str = "uid", **kwargs):
        self.bind_field = bind_field
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.bind_field != "uid":
            kwargs["bind_field"] = self.bind_field
        return name, path, args, kwargs

    def check(self, **kwargs):
        return [*super().check(**kwargs), *self._check_bind_field(), *self._check_clinic()]

    def _check_clinic(self):
        opts = self.model._meta
        if any(f.attname == "clinic_id" for f in opts.concrete_fields):
            return []
        return [
            checks.Error(
                f"{opts.label}.{self.name} is encrypted with its clinic's data key, but {opts.label} "
                "does not store clinic_id on the row.",
                hint="Inherit from icbt.models.ClinicScoped; the service that creates a row sets its clinic.",
                obj=self,
                id="icbt.E103",
            )
        ]

    def _check_bind_field(self):
        opts = self.model._meta
        try:
            bound = opts.get_field(self.bind_field)
        except FieldDoesNotExist:
            return [
                checks.Error(
                    f"{opts.label}.{self.name} binds its ciphertext to the row through '{self.bind_field}', "
                    f"but {opts.label} has no field of that name.",
                    hint="Add uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False).",
                    obj=self,
                    id="icbt.E101",
                )
            ]
        if not isinstance(bound, models.UUIDField):
            return [
                checks.Error(
                    f"{opts.label}.{self.name}: bind_field '{self.bind_field}' must be a UUIDField.",
                    obj=self,
                    id="icbt.E102",
                )
            ]
        if not (bound.unique or bound.primary_key):
            return [
                checks.Warning(
                    f"{opts.label}.{self.bind_field} is not unique: rows sharing a uid could swap ciphertext "
                    "unnoticed.",
                    hint="Make it unique=True.",
                    obj=self,
                    id="icbt.W101",
                )
            ]
        return []

    # --- Binding -----------------------------------------------------------------------------

    def associated_data(self, instance) -> str:
        """The context a token is bound to: app, model, field and the row's uid."""
        opts = self.model._meta
        uid = getattr(instance, self.bind_field)
        if uid is None:
            raise ValueError(
                f"{opts.label}.{self.name} cannot be encrypted or decrypted without {self.bind_field}."
            )
        uid = opts.get_field(self.bind_field).to_python(uid)
        return f"{opts.app_label}.{opts.model_name}.{self.name}:{uid}"

    def scope_for(self, instance) -> int:
        """The data-key scope of ``instance``: the clinic id stored on the row (0 if empty)."""
        return int(instance.clinic_id or 0)

    def _sealed_name(self) -> str:
        return f"_{self.attname}_sealed"

    def open(self, instance, token: Ciphertext) -> str:
        """Decrypt ``token`` for ``instance``, cache the plaintext on it and return it."""
        associated_data = self.associated_data(instance)
        plaintext = crypto.decrypt(str(token), associated_data=associated_data)
        instance.__dict__[self.attname] = plaintext
        instance.__dict__[self._sealed_name()] = (plaintext, associated_data, str(token))
        return plaintext

    # --- Database round trip -----------------------------------------------------------------

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return Ciphertext(value)

    def pre_save(self, model_instance, add):
        """Return the token to store: the loaded one if the text is unchanged, else a new one."""
        if self.attname not in model_instance.__dict__:
            getattr(model_instance, self.attname)
        value = model_instance.__dict__[self.attname]
        if value is None or value == "":
            return value
        if isinstance(value, Ciphertext):
            self.open(model_instance, value)
            return value
        associated_data = self.associated_data(model_instance)
        sealed = model_instance.__dict__.get(self._sealed_name())
        if sealed is not None and sealed[1] == associated_data and sealed[0] == value:
            return Ciphertext(sealed[2])
        if not isinstance(value, str):
            value = str(value)
        token = crypto.encrypt(value, scope=self.scope_for(model_instance), associated_data=associated_data)
        model_instance.__dict__[self._sealed_name()] = (value, associated_data, token)
        return Ciphertext(token)

    def get_lookup(self, lookup_name):
        """Only lookups that mean something on ciphertext; a text search would silently match noise."""
        if lookup_name not in _CIPHERTEXT_LOOKUPS:
            return None
        return super().get_lookup(lookup_name)

    def get_prep_value(self, value):
        """Let only tokens (and emptiness) reach SQL, so plaintext is never stored or searched."""
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        if not isinstance(value, Ciphertext):
            raise TypeError(
                f"{self.model._meta.label}.{self.name} is encrypted: write it with Model.save(), not "
                "update()/bulk_update()/raw saves, and do not filter on its text."
            )
        return str(value)


def decode_json_text(text: str | None, *, empty=None):
    """The value of an encrypted text column that holds JSON text (answers, diary texts, intake
    answers). Empty text gives ``empty``. Text that is not JSON is given back as it is, as a
    string: never dropped and never an error, so whoever shows it shows what the patient wrote."""
    if not text:
        return empty
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


class EncryptedJSONField(EncryptedTextField):
    """A JSON value (dict, list, number, string) encrypted as its JSON text, with the same
    guarantees as :class:`EncryptedTextField`: in Python the attribute is the decoded value, in
    the database a token bound to row and field. Nothing inside can be queried or aggregated by
    the database: keep what must be filtered on as a small derived column beside it.

    The JSON text is written with sorted keys, so an unchanged value writes the same token back.
    An empty column (rows from before encryption had none) reads as the field's default.
    """

    description = "JSON encrypted at rest (AES-256-GCM, bound to its row and field)"

    def _decode(self, text):
        if text is None or text == "":
            return self.get_default()
        return json.loads(text)

    def open(self, instance, token: Ciphertext):
        text = super().open(instance, token)
        value = self._decode(text)
        instance.__dict__[self.attname] = value
        return value

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return self.get_default()
        return Ciphertext(value)

    def pre_save(self, model_instance, add):
        if self.attname not in model_instance.__dict__:
            getattr(model_instance, self.attname)
        value = model_instance.__dict__[self.attname]
        if isinstance(value, Ciphertext):
            self.open(model_instance, value)
            return value
        text = json.dumps(value, sort_keys=True, cls=DjangoJSONEncoder, ensure_ascii=False)
        associated_data = self.associated_data(model_instance)
        sealed = model_instance.__dict__.get(self._sealed_name())
        if sealed is not None and sealed[1] == associated_data and sealed[0] == text:
            return Ciphertext(sealed[2])
        token = crypto.encrypt(text, scope=self.scope_for(model_instance), associated_data=associated_data)
        model_instance.__dict__[self._sealed_name()] = (text, associated_data, token)
        return Ciphertext(token)

    def to_python(self, value):
        """``full_clean()`` keeps the structure (a text field would turn it into its repr)."""
        return value

    def value_to_string(self, obj):
        return json.dumps(self.value_from_object(obj), cls=DjangoJSONEncoder)

    def formfield(self, **kwargs):
        return None


def encrypt_existing_rows(
    apps, schema_editor, *, model: str, fields: dict[str, str], scope: str | None = None
) -> None:
    """Data migration helper: encrypt the plaintext left in columns that just became encrypted.

    ``model`` is ``"app_label.ModelName"``; ``fields`` maps each field name to ``"text"`` (the
    column holds the text itself) or ``"json"`` (it holds JSON text, re-written with sorted keys
    as :class:`EncryptedJSONField` writes it); ``scope`` is the lookup of the row's clinic id
    (e.g. ``"enrollment__clinic_id"``), else data-key scope 0. Values that already are tokens are
    left alone, so it is safe to run twice. Written with raw UPDATEs in primary-key order, in
    batches, inside the migration's transaction.
    """
    Model = apps.get_model(*model.split("."))
    opts = Model._meta
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    table = quote(opts.db_table)
    columns = {name: opts.get_field(name).column for name in fields}
    select = ", ".join(["id", "uid", *(quote(c) for c in columns.values())])
    scopes = {}
    if scope:
        scopes = dict(Model._default_manager.using(connection.alias).values_list("pk", scope))
    prefix = f"{crypto.TOKEN_PREFIX}:"
    with connection.cursor() as reader:
        reader.execute(f"SELECT {select} FROM {table} ORDER BY id")  # noqa: S608 (names from the model)
        rows = reader.fetchall()
    with connection.cursor() as writer:
        for pk, uid, *values in rows:
            changes = {}
            for (name, kind), value in zip(fields.items(), values, strict=True):
                if value is None or value == "" or (isinstance(value, str) and value.startswith(prefix)):
                    continue
                if kind == "json":
                    parsed = json.loads(value) if isinstance(value, str) else value
                    value = json.dumps(parsed, sort_keys=True, cls=DjangoJSONEncoder, ensure_ascii=False)
                associated_data = f"{opts.app_label}.{opts.model_name}.{name}:{uuid.UUID(str(uid))}"
                changes[columns[name]] = crypto.encrypt(
                    str(value), scope=int(scopes.get(pk) or 0), associated_data=associated_data
                )
            if changes:
                assignments = ", ".join(f"{quote(column)} = %s" for column in changes)
                writer.execute(
                    f"UPDATE {table} SET {assignments} WHERE id = %s",  # noqa: S608 (names from the model)
                    [*changes.values(), pk],
                )
