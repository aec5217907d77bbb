"""EncryptedTextField: free text that is plaintext in Python and AES-GCM ciphertext in the database.

Usage::

    class Message(models.Model):
        uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
        body = EncryptedTextField(bind_field="uid")

        def encryption_scope(self) -> int:
            return self.clinic_id  # data key per clinic; without this method, scope 0

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

from django.core import checks
from django.core.exceptions import FieldDoesNotExist
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
        return [*super().check(**kwargs), *self._check_bind_field()]

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
        """The data-key scope of ``instance``: ``encryption_scope()`` (its clinic id) if defined, else 0."""
        method = getattr(instance, "encryption_scope", None)
        return int(method()) if callable(method) else 0

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
