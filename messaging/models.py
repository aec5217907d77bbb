"""Encrypted conversations, feedback attached to the work it is about, templates, internal
notes, and the pending notifications that the digests batch into e-mails."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from icbt.fields import EncryptedTextField
from icbt.models import Clinic, ClinicScoped, StaffMember
from patients.models import (
    AssignmentAnswer,
    DiaryEntry,
    Enrollment,
    Patient,
    QuestionnaireResponse,
)


class Conversation(models.Model):
    """The one conversation of an enrollment, between the patient and their therapist (and a
    colleague covering for the therapist)."""

    enrollment = models.OneToOneField(Enrollment, on_delete=models.CASCADE, related_name="conversation")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"conversation {self.pk}"


class Message(ClinicScoped):
    """A message in a conversation. The body is encrypted; a feedback message links to the items
    it is about through FeedbackLink."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    body = EncryptedTextField()
    is_feedback = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"message {self.pk}"


class FeedbackLink(models.Model):
    """What a feedback message is about: exactly one of an answer, a diary entry, a
    questionnaire result or a module."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="links")
    answer = models.ForeignKey(
        AssignmentAnswer, on_delete=models.CASCADE, null=True, blank=True, related_name="feedback_links"
    )
    diary_entry = models.ForeignKey(
        DiaryEntry, on_delete=models.CASCADE, null=True, blank=True, related_name="feedback_links"
    )
    questionnaire = models.ForeignKey(
        QuestionnaireResponse, on_delete=models.CASCADE, null=True, blank=True, related_name="feedback_links"
    )
    module_number = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(
                        answer__isnull=False,
                        diary_entry__isnull=True,
                        questionnaire__isnull=True,
                        module_number__isnull=True,
                    )
                    | models.Q(
                        answer__isnull=True,
                        diary_entry__isnull=False,
                        questionnaire__isnull=True,
                        module_number__isnull=True,
                    )
                    | models.Q(
                        answer__isnull=True,
                        diary_entry__isnull=True,
                        questionnaire__isnull=False,
                        module_number__isnull=True,
                    )
                    | models.Q(
                        answer__isnull=True,
                        diary_entry__isnull=True,
                        questionnaire__isnull=True,
                        module_number__isnull=False,
                    )
                ),
                name="feedback_link_exactly_one_target",
            )
        ]

    def __str__(self):
        return f"feedback link {self.pk}"


class MessageDraft(ClinicScoped):
    """A message being written, saved automatically as the author types."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="drafts")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    body = EncryptedTextField(blank=True)
    attachments = models.JSONField(default=list, blank=True)
    saved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "author"], name="one_draft_per_author"),
        ]

    def __str__(self):
        return f"draft {self.pk}"


class FeedbackTemplate(models.Model):
    """A reusable text: clinic-wide (owner empty, kept by the clinic admin) or personal.

    Placeholders: ``{first_name}`` (the patient's first name), ``{therapist_name}``. Title and
    text are encrypted (a template may describe a patient's situation); lists sort in Python.
    """

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="feedback_templates")
    owner = models.ForeignKey(
        StaffMember, on_delete=models.CASCADE, null=True, blank=True, related_name="feedback_templates"
    )
    title = EncryptedTextField(_("title"), max_length=120)
    body = EncryptedTextField(_("text"), max_length=4000)
    is_snippet = models.BooleanField(_("short snippet"), default=False)
    created_at = models.DateTimeField(default=timezone.now)
    # The clinic's own copy of a starter shipped with a program (clinic-wide, owner empty). It is
    # offered only for patients of that program and language. A deleted copy stays as a hidden
    # row, so that loading the programs again does not bring it back. ``starter_title`` and
    # ``starter_body`` hold the starter's text as it was copied: while the copy still says exactly
    # that (nobody edited it), a changed starter replaces it; an edited copy is never touched.
    starter = models.ForeignKey(
        "programs.FeedbackStarter", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The starter's texts are program content, not the clinic's: they stay plain. Whether the copy
    # still says exactly that is kept in ``edited`` (its own title and body are encrypted and
    # cannot be compared by the database); ``save()`` keeps it in step.
    starter_title = models.CharField(max_length=120, blank=True)
    starter_body = models.TextField(blank=True)
    edited = models.BooleanField(default=False, editable=False)
    hidden = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_snippet", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "starter"],
                condition=models.Q(starter__isnull=False),
                name="feedback_template_one_copy_per_starter",
            ),
        ]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        self.edited = self.starter_id is not None and (
            self.title != self.starter_title or self.body != self.starter_body
        )
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"title", "body", "starter_title", "starter_body"} & set(
            update_fields
        ):
            kwargs["update_fields"] = {*update_fields, "edited"}
        super().save(*args, **kwargs)


class StaffNote(ClinicScoped):
    """An internal note about a patient, visible only to staff who treat the patient."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="staff_notes")
    author = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="+")
    body = EncryptedTextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"staff note {self.pk}"
