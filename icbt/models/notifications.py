"""The notification outbox, the record of digest e-mails sent, and each person's e-mail preferences.

These live in the infrastructure layer because events happen in several apps (``patients``
services, ``messaging`` services) that all sit above ``icbt``: any of them can write a pending
row with :func:`icbt.notifications.notify` in its own transaction. Everything that turns rows
into e-mails (the digest rounds, re-checks, rendering, the preferences page) lives in
``messaging``. The preferences sit here, next to the outbox, because they belong to a user
(like ``User.language``) whatever role that user has.

Privacy: a row holds ids, a kind and a link, never text a patient or therapist wrote. Patient
and clinic are plain ids (as in the audit trail), so this layer does not depend on ``patients``.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    """One pending (or handled) item for one person: "a diary entry of case C-7KQ2MD waits".

    Life cycle: ``pending`` -> claimed by a :class:`Digest` (``digest`` set, still pending) ->
    ``sent`` (in the same transaction that marks the digest sent) or ``dropped`` (re-checked at
    send time: already read, already reviewed, patient no longer in treatment, kind switched
    off, e-mail off). Rows are kept after handling so that ``dedupe_key`` keeps working: a
    periodic scanner that runs twice finds the key taken and creates nothing.
    """

    class Kind(models.TextChoices):
        # For therapists
        DIARY_ENTRY = "diary_entry", _("new diary entry")
        ASSIGNMENT_SUBMITTED = "assignment_submitted", _("assignment handed in")
        QUESTIONNAIRE_COMPLETED = "questionnaire_completed", _("questionnaire completed")
        MESSAGE_RECEIVED = "message_received", _("message from a patient")
        FEEDBACK_DUE = "feedback_due", _("feedback due")
        FEEDBACK_OVERDUE = "feedback_overdue", _("feedback overdue")
        PATIENT_INACTIVE = "patient_inactive", _("patient inactive")
        INTAKE_REQUEST = "intake_request", _("intake request")
        REFERRAL = "referral", _("referral")
        # For patients
        FEEDBACK_WAITING = "feedback_waiting", _("feedback from your therapist")
        MESSAGE_WAITING = "message_waiting", _("message from your therapist")
        MODULE_OPENED = "module_opened", _("a new module is open")
        DIARY_DUE = "diary_due", _("diary reminder")
        INACTIVITY_REMINDER = "inactivity_reminder", _("reminder when you have not been online")
        # For managers
        WEEKLY_SUMMARY = "weekly_summary", _("weekly clinic figures")

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        DROPPED = "dropped", _("dropped")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    clinic_id = models.BigIntegerField(null=True, blank=True)
    patient_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    url = models.CharField(max_length=300, blank=True)
    urgent = models.BooleanField(default=False)
    dedupe_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    digest = models.ForeignKey(
        "icbt.Digest", on_delete=models.SET_NULL, null=True, blank=True, related_name="notifications"
    )
    dropped_reason = models.CharField(max_length=40, blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["state", "recipient", "created_at"], name="notification_pending_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="notification_dedupe_unique",
            ),
        ]

    def __str__(self):
        return f"{self.kind} for user {self.recipient_id} ({self.state})"


class Digest(models.Model):
    """One e-mail to one person for one window (``daily:2026-03-02``, ``weekly:2026-03-02``,
    ``soon:2026-03-02T08:35``, ``urgent:...``). The unique constraint on (recipient, window)
    is what makes "one e-mail per person per window" hold between concurrent runs.

    ``lease_token`` / ``lease_until`` mark a digest that a run has claimed and not yet
    finished; ``sent_at`` is set in the same transaction that marks its notifications sent.
    ``message_id`` is fixed when the digest is claimed: if a run dies after the e-mail left
    and before that transaction committed, the run that takes over after the lease expires
    sends the same e-mail again with the same Message-ID (the one documented duplicate).
    """

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digests")
    window_key = models.CharField(max_length=40)
    message_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    lease_token = models.UUIDField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    item_count = models.PositiveIntegerField(default=0)
    tip_number = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "window_key"], name="digest_one_per_window"),
        ]

    def __str__(self):
        return f"digest {self.window_key} for user {self.recipient_id}"


class NotificationPreference(models.Model):
    """How and when one person hears about pending items by e-mail.

    A person without a row has the defaults of :meth:`defaults_for`: e-mail on for staff, off
    for patients (patients opt in), a daily digest at 08:00 in the installation's time zone.
    """

    class Frequency(models.TextChoices):
        DAILY = "daily", _("once a day")
        WEEKLY = "weekly", _("once a week")
        SOON = "soon", _("soon (at most once every few minutes)")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    email_enabled = models.BooleanField(_("send me e-mails"), default=False)
    frequency = models.CharField(
        _("how often"), max_length=8, choices=Frequency.choices, default=Frequency.DAILY
    )
    hour = models.PositiveSmallIntegerField(_("at"), default=8)
    weekday = models.PositiveSmallIntegerField(_("on"), default=0)  # Monday = 0
    urgent_soon = models.BooleanField(_("send urgent items soon, whatever the rhythm"), default=True)
    kinds_off = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    DEFAULT_HOUR = 8

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(hour__lte=23), name="notification_pref_hour_range"),
            models.CheckConstraint(
                condition=models.Q(weekday__lte=6), name="notification_pref_weekday_range"
            ),
        ]

    def __str__(self):
        return f"notification preference of user {self.user_id}"

    @classmethod
    def defaults_for(cls, user, *, is_patient: bool) -> "NotificationPreference":
        """An unsaved preference with the defaults for ``user``."""
        return cls(
            user=user, email_enabled=not is_patient, frequency=cls.Frequency.DAILY, hour=cls.DEFAULT_HOUR
        )

    def wants(self, kind: str) -> bool:
        return kind not in (self.kinds_off or [])
