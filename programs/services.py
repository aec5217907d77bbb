"""Every write of the programs app.

Content versions are written only by ``program_content_load`` and only by inserting: a published
version is never changed (see programs/models.py). The clinic's own additions (recordings,
defaults for optional steps, licensed questionnaire texts) hold no patient data and are not
audited.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from programs import content_loader, questionnaires, rendering
from programs.models import (
    ClinicProgramSetting,
    DiaryType,
    FeedbackStarter,
    LicensedInstrument,
    Module,
    Program,
    ProgramVersion,
    Step,
    StepMedia,
)


@dataclass(frozen=True)
class LoadResult:
    program: str
    language: str
    status: str  # "loaded" | "unchanged"
    number: int
    steps: int = 0


def program_content_load(
    *, root: Path | None = None, progress: Callable[[str], None] | None = None
) -> list[LoadResult]:
    """Validate every program and language under ``root`` (default programs/content/) and load
    what changed, all in one transaction.

    Guarantees: if any file has a problem, ``ContentErrors`` is raised and nothing is written.
    Content whose hash equals the newest version of its program and language writes nothing, so
    running twice is safe. Changed content becomes a new version with the next number; earlier
    versions stay as they are for the patients enrolled on them. Two loads at the same time are
    serialised by a row lock on the program; the loser sees the winner's version and adds
    nothing if its content is the same.
    """
    progress = progress or (lambda message: None)
    parsed_languages = content_loader.read_content(root, progress)
    results = []
    with transaction.atomic():
        for parsed in parsed_languages:
            results.append(_language_load(parsed, progress))
    return results


def _language_load(parsed: content_loader.ParsedLanguage, progress) -> LoadResult:
    Program.objects.get_or_create(slug=parsed.program)
    program = Program.objects.select_for_update().get(slug=parsed.program)
    _feedback_starters_load(program, parsed, progress)
    latest = (
        ProgramVersion.objects.filter(program=program, language=parsed.language).order_by("-number").first()
    )
    if latest is not None and latest.content_hash == parsed.content_hash:
        progress(f"{parsed.program}/{parsed.language}: unchanged (version {latest.number})")
        return LoadResult(parsed.program, parsed.language, "unchanged", latest.number)
    version = ProgramVersion(
        program=program,
        language=parsed.language,
        number=(latest.number + 1) if latest else 1,
        content_hash=parsed.content_hash,
        structure_hash=parsed.structure_hash,
        title=parsed.title,
        tagline=parsed.tagline,
        public_html=rendering.render_markdown(parsed.public_markdown),
        questionnaires_start=parsed.questionnaires_start,
        questionnaires_end=parsed.questionnaires_end,
        published_at=timezone.now(),
    )
    version.full_clean(validate_unique=False, validate_constraints=False)
    version.save(force_insert=True)

    diaries = {}
    for d in parsed.diaries:
        diary = DiaryType(
            version=version,
            slug=d.slug,
            title=d.title,
            description=d.description,
            frequency=d.frequency,
            fields=d.fields,
            chart_fields=d.chart,
        )
        diary.full_clean(exclude=["version"], validate_unique=False, validate_constraints=False)
        diaries[d.slug] = diary
    DiaryType.objects.bulk_create(diaries.values())

    steps = []
    for m in parsed.modules:
        module = Module(version=version, number=m.number, slug=m.slug, title=m.title, summary=m.summary)
        module.full_clean(exclude=["version"], validate_unique=False, validate_constraints=False)
        module.save(force_insert=True)
        module.diary_types.set([diaries[slug] for slug in m.diaries])
        for position, s in enumerate(m.steps, start=1):
            steps.append(_step_build(version, module, position, s, diaries))
    Step.objects.bulk_create(steps)
    progress(
        f"{parsed.program}/{parsed.language}: loaded version {version.number} "
        f"({len(parsed.modules)} modules, {len(steps)} steps)"
    )
    return LoadResult(parsed.program, parsed.language, "loaded", version.number, len(steps))


def _feedback_starters_load(program: Program, parsed: content_loader.ParsedLanguage, progress) -> None:
    """Make the starter feedback templates of ``program`` in ``parsed.language`` what the files say:
    changed texts are updated, new ones added, removed ones deleted. Only rows that differ are
    written, so loading twice writes nothing. Clinics' copies are separate rows and stay as the
    clinic left them."""
    existing = {s.key: s for s in FeedbackStarter.objects.filter(program=program, language=parsed.language)}
    changed = 0
    for position, f in enumerate(parsed.feedback, start=1):
        wanted = {"title": f.title, "body": f.body, "is_snippet": f.is_snippet, "position": position}
        starter = existing.pop(f.key, None)
        if starter is None:
            starter = FeedbackStarter(program=program, language=parsed.language, key=f.key, **wanted)
            starter.full_clean(validate_constraints=False)
            starter.save(force_insert=True)
            changed += 1
        elif any(getattr(starter, name) != value for name, value in wanted.items()):
            for name, value in wanted.items():
                setattr(starter, name, value)
            starter.full_clean(validate_constraints=False)
            starter.save(update_fields=list(wanted))
            changed += 1
    if existing:
        FeedbackStarter.objects.filter(pk__in=[s.pk for s in existing.values()]).delete()
        changed += len(existing)
    if changed:
        progress(f"{parsed.program}/{parsed.language}: {changed} starter feedback template(s) updated")


def _step_build(version, module, position, s: content_loader.ParsedStep, diaries) -> Step:
    words = (
        rendering.word_count(s.body_markdown)
        + rendering.word_count(s.example_markdown)
        + len(str(s.definition.get("intro", "")).split())
    )
    step = Step(
        version=version,
        module=module,
        position=position,
        slug=s.slug,
        kind=s.kind,
        title=s.title,
        optional=s.optional,
        source_file=s.source_file,
        body_markdown=s.body_markdown,
        body_html=rendering.render_markdown(s.body_markdown),
        example_markdown=s.example_markdown,
        example_html=rendering.render_markdown(s.example_markdown) if s.example_markdown else "",
        word_count=words,
        reading_minutes=rendering.reading_minutes(words),
        definition=s.definition,
        diary_type=diaries.get(s.diary) if s.diary else None,
        questionnaire=s.questionnaire,
    )
    step.full_clean(
        exclude=["version", "module", "diary_type"], validate_unique=False, validate_constraints=False
    )
    return step


# --- Clinic settings -----------------------------------------------------------------------


@transaction.atomic
def clinic_program_setting_update(
    *, clinic, program: Program, optional_steps_on: set[str], known_optional: set[str], updated_by
) -> ClinicProgramSetting:
    """Store which optional steps (``module/step`` keys) are on by default for new patients of
    ``clinic``. Keys of optional steps that are not in ``optional_steps_on`` are switched off;
    keys of earlier versions that this form did not show are kept as they were."""
    setting, _created = ClinicProgramSetting.objects.select_for_update().get_or_create(
        clinic=clinic, program=program
    )
    unknown = set(optional_steps_on) - known_optional
    if unknown:
        raise ValidationError(_("Unknown steps: %(steps)s") % {"steps": ", ".join(sorted(unknown))})
    kept = [key for key in setting.optional_steps_off if key not in known_optional]
    setting.optional_steps_off = sorted(set(kept) | (known_optional - set(optional_steps_on)))
    setting.updated_by = updated_by
    setting.full_clean()
    setting.save(update_fields=["optional_steps_off", "updated_by", "updated_at"])
    return setting


# --- Clinic recordings ---------------------------------------------------------------------

AUDIO_EXTENSIONS = {".mp3", ".m4a", ".ogg", ".oga", ".wav", ".webm", ".aac"}
VIDEO_EXTENSIONS = {".mp4", ".webm", ".ogv", ".m4v"}


def validate_media_file(upload, *, kind: str) -> None:
    allowed = VIDEO_EXTENSIONS if kind == Step.Kind.VIDEO else AUDIO_EXTENSIONS
    suffix = Path(upload.name).suffix.lower()
    if suffix not in allowed:
        raise ValidationError(_("Choose a file of type %(types)s.") % {"types": ", ".join(sorted(allowed))})


def validate_captions_file(upload) -> None:
    if Path(upload.name).suffix.lower() != ".vtt":
        raise ValidationError(_("Captions must be a WebVTT file (.vtt)."))
    head = upload.read(16)
    upload.seek(0)
    if not head.lstrip(b"\xef\xbb\xbf").startswith(b"WEBVTT"):
        raise ValidationError(_("This is not a WebVTT file: it must start with WEBVTT."))


@transaction.atomic
def step_media_upload(*, clinic, step: Step, language: str, file, captions=None, uploaded_by) -> StepMedia:
    """Store (or replace) the clinic's recording for an audio or video step in ``language``.
    The recording belongs to the step key, so it stays when a new content version is loaded."""
    if not step.is_media:
        raise ValidationError(_("Only audio and video steps have recordings."))
    validate_media_file(file, kind=step.kind)
    if captions:
        validate_captions_file(captions)
    media = (
        StepMedia.objects.select_for_update()
        .filter(clinic=clinic, step_key=step.key, language=language)
        .first()
    )
    if media is None:
        media = StepMedia(clinic=clinic, step_key=step.key, language=language)
    media.file = file
    if captions:
        media.captions = captions
    media.uploaded_by = uploaded_by
    media.full_clean()
    media.save()
    return media


# --- Licensed questionnaires ---------------------------------------------------------------


def _licensed_error(line: int, message: str) -> ValidationError:
    return ValidationError(
        _("Line %(line)s: %(message)s") % {"line": line, "message": message} if line else message
    )


def _holds_non_text(value) -> bool:
    """NUL or a lone surrogate anywhere (YAML's "\\0" and "\\ud800" escapes make them): neither
    can be stored in PostgreSQL text nor sent in a UTF-8 page, not even quoted in an error."""
    if isinstance(value, str):
        return "\x00" in value or any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return any(_holds_non_text(k) or _holds_non_text(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_non_text(v) for v in value)
    return False


@transaction.atomic
def licensed_instrument_load(*, clinic, data: bytes, uploaded_by) -> LicensedInstrument:
    """Load item texts of a licensed questionnaire for ``clinic`` from a YAML or JSON file in the
    format of programs/content/LICENSED.md, replacing earlier texts for the same questionnaire and
    language. Scores already recorded keep their values: they were stored with their answers."""
    try:
        text = data.decode("utf-8-sig")
        doc = content_loader.load_yaml_with_lines(text)
    except UnicodeDecodeError:
        raise ValidationError(_("The file must be UTF-8 text.")) from None
    except content_loader.YamlProblem as exc:
        raise _licensed_error(exc.line, exc.message) from None
    if not isinstance(doc, content_loader.LineDict):
        raise ValidationError(_("The file must hold a mapping (key: value)."))
    if _holds_non_text(doc):
        raise ValidationError(_("The file holds characters that are not text (such as NUL)."))
    allowed = {
        "instrument",
        "language",
        "title",
        "licence",
        "instructions",
        "options",
        "reverse_scored",
        "severe_threshold",
        "items",
    }
    errors = []
    for key in doc:
        if key not in allowed:
            errors.append(_licensed_error(doc.line_of(key), _("unknown key '%(key)s'") % {"key": key}))
    for key in sorted(
        {"instrument", "language", "title", "licence", "options", "reverse_scored", "items"} - set(doc)
    ):
        errors.append(_licensed_error(doc.line, _("'%(key)s' is missing") % {"key": key}))
    if errors:
        raise ValidationError(errors)
    code = doc["instrument"]
    instrument = questionnaires.INSTRUMENTS.get(code) if isinstance(code, str) else None
    if instrument is None or (instrument.texts_shipped and not instrument.licensed_texts_allowed):
        raise _licensed_error(
            doc.line_of("instrument"),
            _("'%(code)s' is not a licensed questionnaire this application knows") % {"code": code},
        )
    language = doc["language"]
    if language not in ("en", "nl"):
        raise _licensed_error(doc.line_of("language"), _("language must be en or nl"))
    for key in ("title", "licence"):
        if not isinstance(doc[key], str) or not doc[key].strip():
            errors.append(_licensed_error(doc.line_of(key), _("'%(key)s' must be text") % {"key": key}))
    if "instructions" in doc and not isinstance(doc["instructions"], str):
        errors.append(_licensed_error(doc.line_of("instructions"), _("'instructions' must be text")))
    items = doc["items"]
    if (
        not isinstance(items, list)
        or len(items) != instrument.item_count
        or any(not isinstance(i, str) or not i.strip() for i in items)
    ):
        errors.append(
            _licensed_error(
                doc.line_of("items"),
                _("'items' must list exactly %(n)s texts") % {"n": instrument.item_count},
            )
        )
    options = doc["options"]
    expected_values = [o.value for o in instrument.options]
    if (
        not isinstance(options, list)
        or [o.get("value") if isinstance(o, dict) else None for o in options] != expected_values
        or any(not isinstance(o.get("label"), str) for o in options)
    ):
        errors.append(
            _licensed_error(
                doc.line_of("options"),
                _("'options' must list the values %(values)s in order, each with a label")
                % {"values": ", ".join(str(v) for v in expected_values)},
            )
        )
    try:
        reverse = questionnaires.validate_reverse_positions(
            doc["reverse_scored"], item_count=instrument.item_count
        )
    except ValidationError as exc:
        errors.append(_licensed_error(doc.line_of("reverse_scored"), exc.messages[0]))
        reverse = []
    threshold = doc.get("severe_threshold")
    if threshold is not None and (
        isinstance(threshold, bool)
        or not isinstance(threshold, int)
        or not instrument.min_total < threshold <= instrument.max_total
    ):
        errors.append(
            _licensed_error(
                doc.line_of("severe_threshold"),
                _("'severe_threshold' must be a whole number from %(low)s to %(high)s")
                % {"low": int(instrument.min_total) + 1, "high": int(instrument.max_total)},
            )
        )
    if errors:
        raise ValidationError(errors)
    record, _created = LicensedInstrument.objects.select_for_update().get_or_create(
        clinic=clinic,
        code=code,
        language=language,
        defaults={"title": doc["title"], "licence_note": doc["licence"], "source_sha256": ""},
    )
    record.title = doc["title"].strip()
    record.instructions = (doc.get("instructions") or "").strip()
    record.items = [i.strip() for i in items]
    record.options = [{"value": o["value"], "label": o["label"].strip()} for o in options]
    record.reverse_scored = reverse
    record.severe_threshold = threshold
    record.licence_note = doc["licence"].strip()
    record.source_sha256 = hashlib.sha256(data).hexdigest()
    record.uploaded_by = uploaded_by
    # A translation of an instrument we also ship (the Dutch RAND-36) reverses no items.
    record.full_clean(exclude=["reverse_scored"] if instrument.texts_shipped else None)
    record.save()
    return record
