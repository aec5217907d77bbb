from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _


def _user_kept_apart():
    """A reference to a user that survives the user's deletion: no database constraint and no
    cascade, so the audit trail keeps every event."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )


class AuditEventQuerySet(models.QuerySet):
    """Bulk writes are refused here too, so the trail stays append-only on every database (the
    PostgreSQL trigger also covers raw SQL)."""

    def update(self, **kwargs):
        raise PermissionError("Audit events cannot be changed.")

    def delete(self):
        raise PermissionError("Audit events cannot be deleted.")


class AuditEvent(models.Model):
    """One access to patient data (NEN 7513): who, when, which patient, what; never the content.

    Rows are append-only. The model refuses updates and deletes, and on PostgreSQL a trigger
    (migration 0002) refuses UPDATE and DELETE for every client, including raw SQL; the
    application's database role may only INSERT and SELECT (``manage.py db_roles``).
    The database seals every row as it is inserted (``icbt.audit_chain``): ``at`` comes from the
    database clock, and ``chain_seq``, ``prev_hash`` and ``hash`` link the row to the previous
    event of its clinic, so a change anywhere shows in ``manage.py audit_verify``. Whatever the
    client sends for these four fields is overwritten.
    Patient and clinic are stored as plain ids, not foreign keys, so that deleting a record
    can never cascade into the trail.
    """

    class Action(models.TextChoices):
        VIEW = "view", _("viewed")
        CREATE = "create", _("created")
        CHANGE = "change", _("changed")
        DELETE = "delete", _("deleted")
        EXPORT = "export", _("exported")
        PRINT = "print", _("printed")
        SEARCH = "search", _("searched")
        # Marking a patient's work as read: it changes the review state, never what they wrote.
        REVIEW = "review", _("reviewed")
        # Access to the system itself: sign-in and account security (NEN 7513 covers these too).
        LOGIN = "login", _("signed in")
        LOGOUT = "logout", _("signed out")
        LOCKOUT = "lockout", _("sign-in held back")
        PASSWORD_RESET = "pw_reset", _("reset the password")
        PASSWORD_CHANGE = "pw_change", _("changed the password")
        MFA_ADD = "mfa_add", _("added a second factor")
        MFA_REMOVE = "mfa_remove", _("removed a second factor")
        MFA_RESET = "mfa_reset", _("made new recovery codes")
        RECOVERY_CODE = "recovery", _("used a recovery code")
        EMAIL_CHANGE = "email_chg", _("changed the e-mail address")

    class Outcome(models.TextChoices):
        OK = "ok", _("allowed")
        DENIED = "denied", _("refused")

    at = models.DateTimeField(db_default=Now(), db_index=True)
    action = models.CharField(max_length=10, choices=Action.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.OK)
    user = _user_kept_apart()
    user_email = models.CharField(max_length=254, blank=True)
    role = models.CharField(max_length=40, blank=True)
    on_behalf_of = _user_kept_apart()
    # Indexed as the first column of the indexes below.
    clinic_id = models.BigIntegerField(null=True, blank=True)
    patient_id = models.BigIntegerField(null=True, blank=True)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    chain_seq = models.BigIntegerField(null=True, blank=True, db_default=None)
    prev_hash = models.CharField(max_length=64, blank=True, db_default="")
    hash = models.CharField(max_length=64, blank=True, db_default="")

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["clinic_id", "at"]),
            models.Index(fields=["patient_id", "at"]),
            models.Index(fields=["clinic_id", "chain_seq"], name="icbt_audit_chain_idx"),
        ]
        constraints = [
            # Chain 0 is the events without a clinic (NULL); a clinic's id is never 0.
            models.CheckConstraint(
                condition=models.Q(clinic_id__isnull=True) | models.Q(clinic_id__gt=0),
                name="icbt_audit_clinic_id_not_0",
            ),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.user_email} {self.action} {self.object_type}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise PermissionError("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events cannot be deleted.")


class AuditChainHead(models.Model):
    """The number and hash of the last event of one clinic's audit chain (0: no clinic).

    Written only by the database's sealing trigger; the application's role may only read it."""

    chain = models.BigIntegerField(primary_key=True)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, blank=True, default="")

    def __str__(self):
        return f"audit chain {self.chain} at {self.seq}"
