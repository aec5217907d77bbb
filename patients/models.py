import secrets
import uuid
from datetime import date

from django.conf import settings
from django.core.validators import EmailValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from icbt.fields import EncryptedJSONField, EncryptedTextField
from icbt.models import Clinic, ClinicScoped, StaffMember

# No 0/O, 1/I/L: a case reference is read aloud on the phone.
_CASE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_case_reference() -> str:
    """A neutral reference that identifies a patient in e-mails and exports without a name."""
    return "C-" + "".join(secrets.choice(_CASE_ALPHABET) for _ in range(6))


class Patient(models.Model):
    """A patient's account in one clinic, with the therapist who treats them."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="patient")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    therapist = models.ForeignKey(
        StaffMember,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="patients",
        limit_choices_to={"is_therapist": True},
    )
    case_reference = models.CharField(max_length=12, unique=True, default=new_case_reference)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case_reference"]

    def __str__(self):
        return self.case_reference

    @property
    def display_name(self) -> str:
        return self.user.get_full_name()


# --- Getting in ---------------------------------------------------------------------------------


class IntakeRequest(models.Model):
    """A request for an intake sent from a public program page. Minimal data: how to reach the
    person and an optional message. Name, e-mail address, phone number and message are
    encrypted: with program and clinic they say who is asking for treatment."""

    class Status(models.TextChoices):
        NEW = "new", _("new")
        CONTACTED = "contacted", _("contacted")
        INVITED = "invited", _("intake planned")
        CLOSED = "closed", _("closed")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="intake_requests")
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="intake_requests")
    name = EncryptedTextField(_("name"), max_length=120)
    email = EncryptedTextField(_("e-mail address"), max_length=254, validators=[EmailValidator()])
    phone = EncryptedTextField(_("phone number"), max_length=40, blank=True)
    message = EncryptedTextField(_("message"), blank=True)
    # The language the page was read in: the invitation and the program version follow it.
    language = models.CharField(_("language"), max_length=8, default="en")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    handled_by = models.ForeignKey(
        StaffMember, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"intake request {self.pk}"


class Referral(models.Model):
    """A colleague asks an ICBT therapist of the same clinic to take on one of their patients."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting for an answer")
        ACCEPTED = "accepted", _("accepted")
        DECLINED = "declined", _("declined")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="referrals")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="referrals")
    referred_by = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="referrals_made")
    to_therapist = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="referrals_received")
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    note = EncryptedTextField(_("note"), blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decision_reason = EncryptedTextField(_("reason"), blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(referred_by=models.F("to_therapist")), name="referral_not_to_self"
            ),
        ]

    def __str__(self):
        return f"referral {self.pk}"


class Intake(ClinicScoped):
    """The therapist's record of the face-to-face intake and its decision.

    ``answers`` holds the structured intake (criteria checklist, pain details, comorbidity,
    goals) as encrypted JSON; ``decision`` and ``activity_pattern`` stay in plain columns because
    figures and tailoring are computed from them.
    """

    class Decision(models.TextChoices):
        INDICATED = "indicated", _("indicated for the online program")
        NOT_INDICATED = "not_indicated", _("not indicated")
        OTHER = "other_treatment", _("another treatment")

    class ActivityPattern(models.TextChoices):
        NONE = "", _("not assessed")
        AVOIDANCE = "avoidance", _("pain avoidance")
        PERSISTENCE = "persistence", _("pain persistence")
        RELATIVELY_ACTIVE = "relatively_active", _("relatively active")
        LOW_ACTIVE = "low_active", _("low active")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="intakes")
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    therapist = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="intakes")
    held_on = models.DateField(_("date of the intake"))
    answers = EncryptedTextField(blank=True)
    activity_pattern = models.CharField(
        max_length=20, choices=ActivityPattern.choices, blank=True, default=""
    )
    decision = models.CharField(_("decision"), max_length=20, choices=Decision.choices)
    decision_reason = EncryptedTextField(_("reason"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-held_on", "-pk"]

    def __str__(self):
        return f"intake {self.pk}"


# --- Treatment --------------------------------------------------------------------------------


class Enrollment(models.Model):
    """One patient on one published program version, with their therapist and rhythm.

    The version never changes for an enrollment: content edits make new versions and the
    patient stays on the one they started.
    """

    class Status(models.TextChoices):
        INVITED = "invited", _("invited")
        ACTIVE = "active", _("active")
        PAUSED = "paused", _("paused")
        COMPLETED = "completed", _("completed")
        STOPPED = "stopped", _("stopped")
        STEPPED_UP = "stepped_up", _("stepped up to face-to-face care")

    OPEN_STATUSES = (Status.INVITED, Status.ACTIVE, Status.PAUSED)

    class Cadence(models.TextChoices):
        WEEKLY = "weekly", _("weekly")
        FORTNIGHTLY = "fortnightly", _("every two weeks")

    class Unlock(models.TextChoices):
        SEQUENTIAL = "sequential", _("in order, after the previous module is finished")
        THERAPIST = "therapist", _("when the therapist opens them")
        DATE = "date", _("by date")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="enrollments")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="enrollments")
    version = models.ForeignKey(
        "programs.ProgramVersion", on_delete=models.PROTECT, related_name="enrollments"
    )
    therapist = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="enrollments")
    # The team this treatment belongs to (the dashboard counts it there, and only there): chosen at
    # enrollment, by default the therapist's team when they are in exactly one.
    team = models.ForeignKey(
        "icbt.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="enrollments"
    )
    intake = models.ForeignKey(Intake, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.INVITED, db_index=True)
    status_reason = EncryptedTextField(_("reason"), blank=True)
    feedback_cadence = models.CharField(max_length=12, choices=Cadence.choices, default=Cadence.WEEKLY)
    feedback_weekday = models.PositiveSmallIntegerField(_("feedback day"), default=0)  # Monday = 0
    start_date = models.DateField(_("start date"))
    unlock_mode = models.CharField(max_length=12, choices=Unlock.choices, default=Unlock.SEQUENTIAL)
    # The activity pattern (the intake's, until the therapist confirms one from the first diary
    # weeks): the program's steps for another pattern are hidden. Empty: every step shows.
    activity_route = models.CharField(
        _("activity pattern"), max_length=20, choices=Intake.ActivityPattern.choices, blank=True, default=""
    )
    module_interval_days = models.PositiveSmallIntegerField(default=7)
    inactivity_days = models.PositiveSmallIntegerField(default=7)
    reminders_in_a_row = models.PositiveSmallIntegerField(default=0)
    current_step = models.ForeignKey(
        "programs.Step", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_activity_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_feedback_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(status__in=["invited", "active", "paused"]),
                name="one_open_enrollment_per_patient",
            ),
            models.CheckConstraint(
                condition=models.Q(feedback_weekday__lte=6), name="enrollment_weekday_range"
            ),
            models.CheckConstraint(
                condition=models.Q(inactivity_days__gte=1), name="enrollment_inactivity_positive"
            ),
        ]

    def __str__(self):
        return f"enrollment {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class ModuleState(models.Model):
    """The therapist opened a module early or holds it back (tailoring)."""

    class State(models.TextChoices):
        OPENED = "opened", _("opened")
        HELD = "held", _("held back")

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="module_states")
    module_number = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=8, choices=State.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "module_number"], name="module_state_unique"),
        ]

    def __str__(self):
        return f"module {self.module_number} {self.state}"


class StepOverride(models.Model):
    """A step skipped for this patient, or an optional step added (tailoring). Keyed by
    ``module/step`` so that it reads the same in every language version."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="step_overrides")
    step_key = models.CharField(max_length=130)
    included = models.BooleanField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "step_key"], name="step_override_unique"),
        ]

    def __str__(self):
        return f"{self.step_key} {'on' if self.included else 'off'}"


class StepProgress(models.Model):
    """Where the patient has been: saved on every step, so they resume where they left off."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="progress")
    step = models.ForeignKey("programs.Step", on_delete=models.PROTECT, related_name="+")
    first_seen_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "step"], name="step_progress_unique"),
        ]

    def __str__(self):
        return f"progress {self.pk}"


class ReviewMixin(models.Model):
    """Work a therapist reviews: reviewed with written feedback, or marked as seen without."""

    reviewed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        abstract = True


class AssignmentAnswer(ClinicScoped, ReviewMixin):
    """A patient's answer to an assignment step. ``content`` is the encrypted JSON of every field.

    Drafts are saved as the patient types; ``submitted_at`` is set when they hand it in. A
    later change after submitting makes it a draft again until it is submitted anew, and the
    previous submission stays readable for the therapist in ``submitted_content``.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        SUBMITTED = "submitted", _("submitted")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="answers")
    step = models.ForeignKey("programs.Step", on_delete=models.PROTECT, related_name="+")
    content = EncryptedTextField(blank=True)
    submitted_content = EncryptedTextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    draft_saved_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Filled in at enrollment from the goals the therapist and the patient set at the intake.
    from_intake = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "step"], name="assignment_answer_unique"),
        ]

    def __str__(self):
        return f"answer {self.pk}"


class DiaryEntry(ClinicScoped, ReviewMixin):
    """One day (or week) of a diary, or one moment of a per-moment diary. Numbers, choices and
    times are in ``values``, free text in ``text``; both encrypted JSON (charts decrypt the
    entries of their period, in one query).

    ``per_moment`` copies the diary type's declaration when the entry is written: a day holds one
    entry of a one-per-day diary (the database refuses a second one, so a second tab corrects
    rather than duplicates) and any number of a per-moment diary, each kept."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="diary_entries")
    diary_type = models.ForeignKey("programs.DiaryType", on_delete=models.PROTECT, related_name="+")
    entry_date = models.DateField(_("date"))
    per_moment = models.BooleanField(default=False)
    values = EncryptedJSONField(default=dict, blank=True)
    text = EncryptedTextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-entry_date", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "diary_type", "entry_date"],
                condition=models.Q(per_moment=False),
                name="diary_entry_one_per_day",
            ),
        ]

    def __str__(self):
        return f"diary entry {self.pk}"


class QuestionnaireResponse(ClinicScoped, ReviewMixin):
    """A completed questionnaire: item scores, total, band and flags (such as PHQ-9 item 9).

    When a licensed instrument's texts are not loaded, the therapist enters the total instead
    (``entered_by`` set, ``answers`` empty).

    Item answers, band and flags are encrypted (JSON). What the worklist must filter and sort on
    stays in two derived columns, kept in step with ``flags`` by ``save()``: ``urgent`` (the
    self-harm flag, PHQ-9 item 9 above 0) and ``flagged`` (any flag). The total stays plain: the
    charts and the stepped-care thresholds are computed from it.
    """

    class Moment(models.TextChoices):
        START = "start", _("start")
        MODULE = "module", _("during the program")
        END = "end", _("end")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="questionnaires")
    code = models.CharField(max_length=32)
    moment = models.CharField(max_length=8, choices=Moment.choices)
    step = models.ForeignKey(
        "programs.Step", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answers = EncryptedJSONField(default=list, blank=True)
    total = models.DecimalField(max_digits=6, decimal_places=1)
    band = EncryptedTextField(max_length=40, blank=True)
    flags = EncryptedJSONField(default=list, blank=True)
    urgent = models.BooleanField(default=False, editable=False)
    flagged = models.BooleanField(default=False, editable=False)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    completed_at = models.DateTimeField(default=timezone.now, db_index=True)
    # A weekly check-in: the feedback day it belongs to (a late check-in counts for the day that
    # was due, see patients.measurement).
    due_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["completed_at"]

    def __str__(self):
        return f"{self.code} {self.moment} {self.pk}"

    def save(self, *args, **kwargs):
        flags = self.flags or []
        self.urgent, self.flagged = "self_harm" in flags, bool(flags)
        if kwargs.get("update_fields") is not None and "flags" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "urgent", "flagged"}
        super().save(*args, **kwargs)

    @property
    def is_urgent(self) -> bool:
        return self.flagged


class QuestionnaireDraft(ClinicScoped):
    """The answers a patient gave so far on a questionnaire they have not sent yet, so that they
    can come back to it: one per questionnaire step, or per questionnaire and moment when it has
    no step. Removed when the questionnaire is sent. The answers are encrypted (JSON), like those
    of a sent questionnaire."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="questionnaire_drafts")
    code = models.CharField(max_length=32)
    moment = models.CharField(max_length=8, choices=QuestionnaireResponse.Moment.choices)
    step = models.ForeignKey(
        "programs.Step", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    answers = EncryptedJSONField(default=dict, blank=True)
    saved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "step"],
                condition=models.Q(step__isnull=False),
                name="questionnaire_draft_one_per_step",
            ),
            models.UniqueConstraint(
                fields=["enrollment", "code", "moment"],
                condition=models.Q(step__isnull=True),
                name="questionnaire_draft_one_per_moment",
            ),
        ]

    def __str__(self):
        return f"questionnaire draft {self.pk}"


class TreatmentSession(ClinicScoped):
    """A face-to-face, phone, video or group contact, in the same timeline (blended care)."""

    class Kind(models.TextChoices):
        FACE_TO_FACE = "face_to_face", _("face to face")
        PHONE = "phone", _("phone")
        VIDEO = "video", _("video call")
        GROUP = "group", _("group session")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="sessions")
    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.SET_NULL, null=True, blank=True, related_name="sessions"
    )
    held_on = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=14, choices=Kind.choices)
    minutes = models.PositiveSmallIntegerField(_("minutes"), default=45)
    note = EncryptedTextField(_("short note"), blank=True)
    recorded_by = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-held_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(minutes__gte=1, minutes__lte=600), name="session_minutes_range"
            ),
        ]

    def __str__(self):
        return f"session {self.pk}"


class SteppedCareDecision(ClinicScoped):
    """The end-of-program decision for Master your Fatigue: the advice computed from the end
    scores and the configured thresholds (kept as it was shown), and what therapist and patient
    decided, with the reason."""

    class Decision(models.TextChoices):
        FINISH = "finish", _("finish the program")
        STEP_UP = "step_up", _("step up to face-to-face CBT")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enrollment = models.OneToOneField(Enrollment, on_delete=models.CASCADE, related_name="stepped_care")
    advice = EncryptedJSONField(default=dict)
    decision = models.CharField(max_length=10, choices=Decision.choices)
    reason = EncryptedTextField(_("reason"))
    decided_by = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"stepped-care decision {self.pk}"


class CareShareQuerySet(models.QuerySet):
    def active(self, *, on: date | None = None) -> "CareShareQuerySet":
        """The one cover rule: a share counts through the whole of its ``until`` day (local
        time) and stops at once when it is ended."""
        return self.filter(ended_at__isnull=True, until__gte=on or timezone.localdate())


class CareShare(models.Model):
    """A therapist shares a patient with a colleague of the same team until a date (cover)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="shares")
    colleague = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="shared_patients")
    shared_by = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="+")
    until = models.DateField(_("until"))
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    objects = CareShareQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"share {self.pk}"

    def is_active_on(self, day: date) -> bool:
        """The cover rule of ``CareShareQuerySet.active`` for one share already read."""
        return self.ended_at is None and self.until >= day


class TimelineEvent(ClinicScoped):
    """One line of a patient's timeline: enrollment and status changes, tailoring, sessions.

    ``detail`` holds structured facts only (module numbers, statuses, step keys, scores and
    flags), never free text; it is encrypted JSON all the same, since scores and flags are
    health data. Only ``kind`` and the dates can be queried.
    """

    class Kind(models.TextChoices):
        ENROLLED = "enrolled", _("enrolled")
        STATUS = "status", _("status changed")
        MODULE_OPENED = "module_opened", _("module opened")
        MODULE_HELD = "module_held", _("module held back")
        MODULE_COMPLETED = "module_completed", _("module completed")
        STEP_SKIPPED = "step_skipped", _("step skipped")
        STEP_ADDED = "step_added", _("step added")
        CADENCE = "cadence", _("feedback rhythm changed")
        SESSION = "session", _("session recorded")
        QUESTIONNAIRE = "questionnaire", _("questionnaire completed")
        STEPPED_CARE = "stepped_care", _("stepped-care decision")
        SHARED = "shared", _("shared with a colleague")
        INTAKE = "intake", _("intake recorded")
        REFERRAL = "referral", _("referral")
        THERAPIST = "therapist", _("therapist changed")
        MODULE_DEFAULT = "module_default", _("module back on its normal schedule")
        ROUTE = "route", _("activity pattern confirmed")
        URGENT_CONTACT = "urgent_contact", _("self-harm answer handled")

    class ContactMethod(models.TextChoices):
        """How the patient was contacted after a self-harm answer (``URGENT_CONTACT``), or that
        it was handed over to a colleague."""

        PHONE = "phone", _("by phone")
        VIDEO = "video", _("by video call")
        IN_PERSON = "in_person", _("in person")
        MESSAGE = "message", _("by message")
        HANDOVER = "handover", _("handed over to a colleague")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="timeline")
    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, null=True, blank=True, related_name="timeline"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    detail = EncryptedJSONField(default=dict, blank=True)
    # The recorded session a ``session`` line is about (its note shows under the line): a real
    # key, so that the timeline reads its sessions in the same query.
    session = models.ForeignKey(
        TreatmentSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self):
        return f"{self.kind} {self.pk}"


class EarlyWarningDecision(ClinicScoped):
    """What the therapist decided about an early warning (patients.measurement.early_warning):
    once recorded, the warning no longer shows for this enrollment. The figures and the rule as
    they were shown are kept with it (numbers only, no free text)."""

    class Decision(models.TextChoices):
        CALL = "call", _("call the patient")
        ADAPT = "adapt", _("adapt the plan")
        STEP_UP = "step_up", _("step up early")
        CARRY_ON = "carry_on", _("carry on as planned")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, related_name="early_warning_decisions"
    )
    kind = models.CharField(max_length=16)
    decision = models.CharField(_("decision"), max_length=12, choices=Decision.choices)
    # Scores are health data: encrypted like the stepped-care advice.
    figures = EncryptedJSONField(default=dict, blank=True)
    decided_by = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["decided_at"]

    def __str__(self):
        return f"early warning decision {self.pk}"


class WorkItem(models.Model):
    """One thing that waits for a person at the clinic, kept by the services in the same
    transaction as the event that opens or closes it (``patients.work_items``), so that the
    worklist and its count read a few indexed rows instead of the whole caseload.

    ``key`` names the item (``answer:12``, ``diary:7:2026-W49``, ``feedback:7``): at most one
    open row per key. ``object_id`` points at the row the item is about; the kind says which
    model (``OBJECT_MODELS``). ``due`` is the moment the item shows: now for what waits already,
    a later day for feedback that will be due and a patient who will have gone quiet, so that a
    row stays right as days pass without being written. Feedback is overdue from ``overdue_at``.
    ``detail`` holds what the item's line says besides the patient's name (program titles,
    week numbers, instrument codes): never anything the patient wrote.
    """

    class State(models.TextChoices):
        OPEN = "open", _("open")
        CLOSED = "closed", _("closed")

    KINDS = (
        "message",
        "answer",
        "diary",
        "questionnaire",
        "intake_request",
        "referral",
        "feedback",
        "quiet",
        "early_warning",
    )
    OBJECT_MODELS = {
        "message": "messaging.Conversation",
        "answer": "patients.AssignmentAnswer",
        "diary": "patients.DiaryEntry",
        "questionnaire": "patients.QuestionnaireResponse",
        "intake_request": "patients.IntakeRequest",
        "referral": "patients.Referral",
        "feedback": "patients.Enrollment",
        "quiet": "patients.Enrollment",
        "early_warning": "patients.Enrollment",
    }

    key = models.CharField(max_length=64)
    kind = models.CharField(max_length=16)
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, null=True, blank=True, related_name="work_items"
    )
    owner = models.ForeignKey(StaffMember, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    object_id = models.BigIntegerField()
    ref = models.CharField(max_length=40, blank=True)
    since = models.DateTimeField()
    due = models.DateTimeField()
    overdue_at = models.DateTimeField(null=True, blank=True)
    urgent = models.BooleanField(default=False)
    flagged = models.BooleanField(default=False)
    count = models.PositiveIntegerField(default=1)
    detail = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(state="open"), name="work_item_open_key"
            ),
        ]
        indexes = [
            # The worklist's page: a therapist's own rows in the page's order (urgent first, then
            # by age), read with LIMIT.
            models.Index(
                fields=["owner", "urgent", "since", "id"],
                condition=models.Q(state="open"),
                name="work_item_owner_order",
            ),
            # The worklist's patient filter: the patients whose oldest row waits longest, walking
            # a therapist's own rows by age.
            models.Index(
                fields=["owner", "since", "patient"],
                condition=models.Q(state="open"),
                name="work_item_owner_since",
            ),
            # The worklist's counts of the kinds that show from a day on (``due``), and a page
            # filtered to one kind.
            models.Index(
                fields=["owner", "kind", "due"], condition=models.Q(state="open"), name="work_item_owner_kind"
            ),
            # Covering colleagues: the rows of the patients shared with them.
            models.Index(
                fields=["patient", "due"], condition=models.Q(state="open"), name="work_item_patient_due"
            ),
            # The clinic's intake requests, the manager's figures per enrollment.
            models.Index(
                fields=["clinic", "kind"], condition=models.Q(state="open"), name="work_item_clinic_kind"
            ),
            models.Index(
                fields=["enrollment", "kind"], condition=models.Q(state="open"), name="work_item_enrollment"
            ),
        ]

    def __str__(self):
        return f"work item {self.key} ({self.state})"


class WorkCount(models.Model):
    """How many open work items of one counted kind (``patients.work_items.COUNTED_KINDS``)
    wait for one owner (``key`` ``owner:<staff id>:<kind>``), or for a whole clinic (its new
    intake requests: ``clinic:<clinic id>:intake_request``): the navigation's count and the
    worklist's counts per kind read a few rows here instead of counting a caseload's rows. Kept
    by ``patients.work_items`` in the transaction that opens or closes the items; ``reconcile``
    checks it against the table."""

    key = models.CharField(max_length=32, unique=True)
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    n = models.IntegerField(default=0)

    def __str__(self):
        return f"work count {self.key} = {self.n}"


class DailyFigure(models.Model):
    """One count of the manager's dashboard history for one clinic and one local day: intake
    requests, starts, endings by status, the start cohort per module reached, staff messages,
    sessions and face-to-face intakes (``patients.figures`` names the kinds and keeps the rows in
    the transaction of each event; ``figures.reconcile`` counts them again from the source
    tables). Only counts: no patient, no content.

    ``program_ref``, ``team_ref`` and ``therapist_ref`` are plain ids, 0 for "none" (so that
    the unique key holds without NULLs); ``module`` is the highest module reached (the cohort
    rows), ``sub`` the session kind or ``completed`` (a cohort row of completed treatments)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    kind = models.CharField(max_length=16)
    sub = models.CharField(max_length=16, blank=True, default="")
    program_ref = models.IntegerField(default=0)
    team_ref = models.IntegerField(default=0)
    therapist_ref = models.IntegerField(default=0)
    module = models.SmallIntegerField(default=0)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "kind", "day", "sub", "program_ref", "team_ref", "therapist_ref", "module"],
                name="daily_figure_key",
            ),
        ]

    def __str__(self):
        return f"figure {self.kind} {self.day} = {self.n}"


class WorkTally(models.Model):
    """The open work items of the patients' kinds (messages, answers, diary weeks,
    questionnaires) per treating therapist and team of their treatment (``Enrollment.therapist``,
    ``Enrollment.team``; 0 for no team): the dashboard's waiting work per therapist and team
    without counting the rows. Moved by ``patients.figures`` with the rows
    (``work_items.refresh``) and when a treatment changes therapist; checked by
    ``figures.reconcile``."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    therapist_ref = models.IntegerField()
    team_ref = models.IntegerField(default=0)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "therapist_ref", "team_ref"], name="work_tally_key"),
        ]

    def __str__(self):
        return f"work tally {self.therapist_ref}/{self.team_ref} = {self.n}"
