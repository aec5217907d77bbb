"""The treatment content: Program -> ProgramVersion -> Module -> Step, and per-clinic additions.

Content is *published* data. ``load_programs`` (``programs.services.program_content_load``) is the
only writer of ProgramVersion, Module, Step and DiaryType: it inserts a complete version inside
one transaction, with ``published_at`` set at insert time, and never updates it afterwards.
There is no update path in code, and on both PostgreSQL and SQLite a trigger (migration 0002)
refuses UPDATE on these tables, so a patient enrolled on a version sees exactly what was
published. Changed files make a new version.

Steps are identified across versions and languages by their *key*
``<program slug>/<module slug>/<step slug>``: clinic media, clinic defaults for optional
steps and (in the patients app) tailoring refer to the key, so they survive a new version.

This app knows nothing about patients.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

LANGUAGE_CHOICES = [("en", "English"), ("nl", "Nederlands")]


class Program(models.Model):
    """A program (Master your Pain, Master your Fatigue). Titles live on its versions, per language."""

    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.slug


class ProgramVersion(models.Model):
    """One published, immutable edition of a program in one language.

    ``number`` counts up per (program, language). ``content_hash`` is the SHA-256 of every file
    the version was loaded from (and of the loader's format version); the loader compares it
    with the newest version to decide whether anything changed. ``structure_hash`` covers only
    the skeleton (modules, steps, kinds, slugs, field names and types): versions of two
    languages with the same structure hash can be swapped step for step.
    """

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="versions")
    language = models.CharField(_("language"), max_length=8, choices=LANGUAGE_CHOICES)
    number = models.PositiveIntegerField(_("version"))
    content_hash = models.CharField(max_length=64)
    structure_hash = models.CharField(max_length=64)
    title = models.CharField(_("title"), max_length=160)
    tagline = models.CharField(_("tagline"), max_length=300, blank=True)
    public_html = models.TextField(blank=True)
    questionnaires_start = models.JSONField(default=list, blank=True)
    questionnaires_end = models.JSONField(default=list, blank=True)
    # Measurement during the program (manifest ``measurements``): {"weekly_check_in": code or "",
    # "after_module": {"3": [codes]}}.
    measurement_schedule = models.JSONField(default=dict, blank=True)
    published_at = models.DateTimeField(_("published"))

    class Meta:
        ordering = ["program__slug", "language", "-number"]
        get_latest_by = "number"
        constraints = [
            models.UniqueConstraint(
                fields=["program", "language", "number"], name="program_version_number_unique"
            ),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="program_version_number_positive"),
            models.CheckConstraint(
                condition=models.Q(language__in=["en", "nl"]), name="program_version_language"
            ),
        ]

    def __str__(self):
        return f"{self.program.slug} {self.language} v{self.number}"


class DiaryType(models.Model):
    """A diary a patient keeps (sleep-wake, activity, ...), defined per version.

    ``fields`` is the list of field definitions from the manifest (name, type, label, ...);
    ``chart_fields`` names the numeric fields drawn on the patient's graph.
    """

    class Frequency(models.TextChoices):
        DAILY = "daily", _("daily")
        WEEKLY = "weekly", _("weekly")

    class Entries(models.TextChoices):
        """How many entries a day holds: one, correctable on the day it was written (a day's
        diary), or one per moment, each kept (a log kept after each exercise)."""

        ONE_PER_DAY = "one_per_day", _("one entry per day")
        PER_MOMENT = "per_moment", _("an entry per moment")

    version = models.ForeignKey(ProgramVersion, on_delete=models.CASCADE, related_name="diary_types")
    slug = models.SlugField(max_length=60)
    title = models.CharField(_("title"), max_length=160)
    description = models.TextField(_("description"), blank=True)
    frequency = models.CharField(_("frequency"), max_length=10, choices=Frequency.choices)
    entries = models.CharField(max_length=12, choices=Entries.choices, default=Entries.ONE_PER_DAY)
    fields = models.JSONField(default=list)
    chart_fields = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["version", "slug"]
        constraints = [models.UniqueConstraint(fields=["version", "slug"], name="diary_type_slug_unique")]

    def __str__(self):
        return f"{self.version} {self.slug}"

    @property
    def per_moment(self) -> bool:
        return self.entries == self.Entries.PER_MOMENT


class Module(models.Model):
    """One of the (six) modules of a version, in order."""

    version = models.ForeignKey(ProgramVersion, on_delete=models.CASCADE, related_name="modules")
    number = models.PositiveSmallIntegerField(_("number"))
    slug = models.SlugField(max_length=60)
    title = models.CharField(_("title"), max_length=160)
    summary = models.TextField(_("summary"), blank=True)
    diary_types = models.ManyToManyField(DiaryType, blank=True, related_name="modules")

    class Meta:
        ordering = ["version", "number"]
        constraints = [
            models.UniqueConstraint(fields=["version", "number"], name="module_number_unique"),
            models.UniqueConstraint(fields=["version", "slug"], name="module_slug_unique"),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="module_number_positive"),
        ]

    def __str__(self):
        return f"{self.version} m{self.number} {self.slug}"


class Step(models.Model):
    """One screen of a module.

    ``body_markdown`` is the page text, the transcript (audio, video), or the explanation above a
    diary form; ``body_html`` is its sanitized rendering, made once at load. For assignments,
    ``example_html`` is the worked example and ``definition`` holds ``{"intro": ..., "fields":
    [...]}``; for audio and video ``definition`` may hold ``{"minutes": n}``.
    ``reading_minutes`` is the estimated reading time of everything written on the step.
    """

    class Kind(models.TextChoices):
        PAGE = "page", _("page")
        VIDEO = "video", _("video")
        AUDIO = "audio", _("audio")
        ASSIGNMENT = "assignment", _("assignment")
        DIARY = "diary", _("diary")
        QUESTIONNAIRE = "questionnaire", _("questionnaire")

    version = models.ForeignKey(ProgramVersion, on_delete=models.CASCADE, related_name="steps")
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(_("position"))
    slug = models.SlugField(max_length=60)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=200)
    optional = models.BooleanField(_("optional"), default=False)
    source_file = models.CharField(max_length=200, blank=True)
    body_markdown = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    example_markdown = models.TextField(blank=True)
    example_html = models.TextField(blank=True)
    word_count = models.PositiveIntegerField(default=0)
    reading_minutes = models.PositiveSmallIntegerField(_("reading time (minutes)"), default=1)
    definition = models.JSONField(default=dict, blank=True)
    diary_type = models.ForeignKey(
        DiaryType, on_delete=models.CASCADE, null=True, blank=True, related_name="steps"
    )
    questionnaire = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["module__number", "position"]
        constraints = [
            models.UniqueConstraint(fields=["module", "position"], name="step_position_unique"),
            models.UniqueConstraint(fields=["module", "slug"], name="step_slug_unique"),
            models.CheckConstraint(condition=models.Q(position__gte=1), name="step_position_positive"),
            models.CheckConstraint(
                condition=models.Q(reading_minutes__gte=1), name="step_reading_minutes_positive"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="diary") | models.Q(diary_type__isnull=False),
                name="step_diary_has_type",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="questionnaire") | ~models.Q(questionnaire=""),
                name="step_questionnaire_has_code",
            ),
        ]

    def __str__(self):
        return self.key

    @property
    def key(self) -> str:
        """``program/module/step``: the same in every version and language."""
        return step_key(self.version.program.slug, self.module.slug, self.slug)

    @property
    def module_key(self) -> str:
        """``module/step``, the key within one program."""
        return f"{self.module.slug}/{self.slug}"

    @property
    def is_media(self) -> bool:
        return self.kind in (self.Kind.AUDIO, self.Kind.VIDEO)

    @property
    def fields(self) -> list:
        return self.definition.get("fields", []) if self.kind == self.Kind.ASSIGNMENT else []


def step_key(program_slug: str, module_slug: str, step_slug: str) -> str:
    return f"{program_slug}/{module_slug}/{step_slug}"


def _media_upload_to(instance, filename):
    folder = f"{instance.step_key.replace('/', '__')}-{instance.language}"
    return f"programs/clinic-{instance.clinic_id}/{folder}/{filename}"


class StepMedia(models.Model):
    """A clinic's recording for an audio or video step, in one language.

    Keyed by step key (not by Step row), so a new content version keeps the recordings. A step
    without a recording shows its transcript (an audio step: the guided player). The recording is
    either one uploaded ``file``, or, when ``file`` is empty, the published ``StepMediaPart`` rows
    recorded in the browser, played one after the other.
    """

    clinic = models.ForeignKey("icbt.Clinic", on_delete=models.CASCADE, related_name="step_media")
    step_key = models.CharField(_("step"), max_length=200, help_text=_("program/module/step"))
    language = models.CharField(_("language"), max_length=8, choices=LANGUAGE_CHOICES)
    file = models.FileField(_("recording"), upload_to=_media_upload_to, blank=True)
    captions = models.FileField(_("captions (WebVTT)"), upload_to=_media_upload_to, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("step recording")
        verbose_name_plural = _("step recordings")
        ordering = ["clinic", "step_key", "language"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "step_key", "language"], name="step_media_unique"),
        ]

    def __str__(self):
        return f"{self.clinic} {self.step_key} ({self.language})"


def _part_upload_to(instance, filename):
    folder = f"{instance.step_key.replace('/', '__')}-{instance.language}"
    return f"programs/clinic-{instance.clinic_id}/{folder}/parts/{filename}"


class StepMediaPart(models.Model):
    """One part of an exercise script (programs/scripts.py), recorded by clinic staff in the
    browser. Drafts (``published`` false) are heard only by the clinic's admins; publishing
    turns a complete set of drafts into the recording patients hear.

    Parts are stored and played in order, not joined: browser recordings (WebM, Ogg, MP4) each
    carry their own headers, and joining them needs a transcoder the server does not have.
    """

    clinic = models.ForeignKey("icbt.Clinic", on_delete=models.CASCADE, related_name="+")
    step_key = models.CharField(_("step"), max_length=200)
    language = models.CharField(_("language"), max_length=8, choices=LANGUAGE_CHOICES)
    position = models.PositiveSmallIntegerField(_("part"))
    published = models.BooleanField(default=False)
    file = models.FileField(_("recording"), upload_to=_part_upload_to)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["clinic", "step_key", "language", "published", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "step_key", "language", "published", "position"],
                name="step_media_part_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(position__gte=1), name="step_media_part_position_positive"
            ),
        ]

    def __str__(self):
        return f"{self.clinic_id} {self.step_key} ({self.language}) part {self.position}"


class ClinicProgramSetting(models.Model):
    """A clinic's defaults for one program: which optional steps are on for new patients.

    ``optional_steps_off`` lists ``module/step`` keys the clinic switched off; an optional step
    that is not listed is on (the content's default). Keys survive new versions.
    """

    clinic = models.ForeignKey("icbt.Clinic", on_delete=models.CASCADE, related_name="program_settings")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="clinic_settings")
    optional_steps_off = models.JSONField(default=list, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "program"], name="clinic_program_setting_unique"),
        ]

    def __str__(self):
        return f"{self.clinic} / {self.program}"


class LicensedInstrument(models.Model):
    """Item texts of a licensed questionnaire (the CIS fatigue subscale), loaded by a clinic under
    its own licence. Format: programs/content/LICENSED.md. Never shipped with the code.

    Without a row for the patient's language, the therapist enters the total score instead.
    """

    clinic = models.ForeignKey("icbt.Clinic", on_delete=models.CASCADE, related_name="licensed_instruments")
    code = models.CharField(_("questionnaire"), max_length=32)
    language = models.CharField(_("language"), max_length=8, choices=LANGUAGE_CHOICES)
    title = models.CharField(_("title"), max_length=200)
    instructions = models.TextField(_("instructions"), blank=True)
    items = models.JSONField(default=list)
    options = models.JSONField(default=list)
    reverse_scored = models.JSONField(default=list)
    severe_threshold = models.PositiveSmallIntegerField(null=True, blank=True)
    licence_note = models.TextField(_("licence"))
    source_sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("licensed questionnaire")
        verbose_name_plural = _("licensed questionnaires")
        ordering = ["clinic", "code", "language"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "code", "language"], name="licensed_instrument_unique"),
        ]

    def __str__(self):
        return f"{self.clinic} {self.code} ({self.language})"


class LicensedUpload(models.Model):
    """A file of licensed questionnaire texts as a clinic admin uploaded it, waiting to be checked
    and loaded by a Celery task (``programs.tasks.licensed_upload_process``).

    Parsing never happens in the web request: a hostile or broken file can hold only a worker,
    and only for the task's time limit. ``data`` is kept until the task is done with it, then
    emptied; ``reason`` says in plain words why a file was refused."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("waiting to be checked")
        LOADED = "loaded", _("loaded")
        REFUSED = "refused", _("refused")

    clinic = models.ForeignKey("icbt.Clinic", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200, blank=True)
    data = models.BinaryField(blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WAITING)
    reason = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    instrument = models.ForeignKey(
        LicensedInstrument, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"licensed upload {self.pk} ({self.status})"


class FeedbackStarter(models.Model):
    """A starter feedback template or snippet shipped with a program, in one language, loaded by
    ``load_programs`` from ``<program>/<language>/feedback.yaml``.

    Therapists never use these rows directly: every clinic gets its own copy (a clinic-wide
    ``messaging.FeedbackTemplate`` that points here), which its admin may edit or delete. Loading
    again updates these rows and adds new starters, never a clinic's copy.
    """

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="feedback_starters")
    language = models.CharField(_("language"), max_length=8, choices=LANGUAGE_CHOICES)
    key = models.SlugField(max_length=60)
    position = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(_("text"), max_length=4000)
    is_snippet = models.BooleanField(_("short snippet"), default=False)

    class Meta:
        ordering = ["program", "language", "position"]
        constraints = [
            models.UniqueConstraint(fields=["program", "language", "key"], name="feedback_starter_unique"),
        ]

    def __str__(self):
        return f"{self.program} {self.language} {self.key}"
