"""Every write of the programs app.

Content versions are written only by ``program_content_load`` and only by inserting: a published
version is never changed (see programs/models.py). The clinic's own additions (recordings,
defaults for optional steps, licensed questionnaire texts) hold no patient data and are not
audited.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from icbt.audit import Action, audit_record
from programs import content_cache, content_loader, questionnaires, rendering
from programs.models import (
    ClinicProgramSetting,
    DiaryType,
    FeedbackStarter,
    LicensedInstrument,
    LicensedUpload,
    Module,
    Program,
    ProgramVersion,
    Step,
    StepMedia,
    StepMediaPart,
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
        if any(result.status == "loaded" for result in results):
            transaction.on_commit(content_cache.content_changed)
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
        measurement_schedule=parsed.measurement_schedule,
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
            entries=d.entries,
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


# What each extension must hold, by its first bytes ("magic numbers"): a file named .mp3 that
# is an HTML page or a program is refused, whatever the browser said its type was.
_CONTAINER_OF_EXTENSION = {
    ".mp3": "mp3",
    ".aac": "aac",
    ".m4a": "mp4",
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".ogg": "ogg",
    ".oga": "ogg",
    ".ogv": "ogg",
    ".wav": "wav",
    ".webm": "webm",
}
CAPTIONS_MAX_BYTES = 2 * 1024 * 1024


def media_container(head: bytes) -> str | None:
    """The container format that the first bytes of a file show, or None when they show none
    of the audio and video formats we serve."""
    if head.startswith(b"ID3"):
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF:
        if head[1] & 0xF6 == 0xF0:
            return "aac"  # ADTS frame header
        if head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
            return "mp3"  # MPEG audio frame header (layer bits set)
    if head[4:8] == b"ftyp":
        return "mp4"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:64]:
        return "webm"
    return None


def validate_media_file(upload, *, kind: str | None) -> None:
    """Extension, size (``ICBT_RECORDING_MAX_MB``) and content: the first bytes must be the
    format the extension names. ``kind`` None: audio or video."""
    allowed = {
        Step.Kind.VIDEO: VIDEO_EXTENSIONS,
        Step.Kind.AUDIO: AUDIO_EXTENSIONS,
    }.get(kind, AUDIO_EXTENSIONS | VIDEO_EXTENSIONS)
    suffix = Path(upload.name).suffix.lower()
    if suffix not in allowed:
        raise ValidationError(_("Choose a file of type %(types)s.") % {"types": ", ".join(sorted(allowed))})
    limit = settings.ICBT_RECORDING_MAX_MB * 1024 * 1024
    if upload.size > limit:
        raise ValidationError(
            _("This recording is too large (%(size)s). Recordings can be at most %(limit)s.")
            % {"size": filesizeformat(upload.size), "limit": filesizeformat(limit)}
        )
    upload.seek(0)
    head = upload.read(64)
    upload.seek(0)
    if media_container(head) != _CONTAINER_OF_EXTENSION[suffix]:
        raise ValidationError(
            _(
                "This file is not a %(type)s recording: its content does not match its name. "
                "Export it again as %(type)s, or choose the file with the right extension."
            )
            % {"type": suffix.lstrip(".")}
        )


def validate_captions_file(upload) -> None:
    if Path(upload.name).suffix.lower() != ".vtt":
        raise ValidationError(_("Captions must be a WebVTT file (.vtt)."))
    if upload.size > CAPTIONS_MAX_BYTES:
        raise ValidationError(
            _("This captions file is too large. Captions can be at most %(limit)s.")
            % {"limit": filesizeformat(CAPTIONS_MAX_BYTES)}
        )
    head = upload.read(16)
    upload.seek(0)
    if not head.lstrip(b"\xef\xbb\xbf").startswith(b"WEBVTT"):
        raise ValidationError(_("This is not a WebVTT file: it must start with WEBVTT."))


@transaction.atomic
def step_media_upload(*, clinic, step: Step, language: str, file, captions=None, uploaded_by) -> StepMedia:
    """Store (or replace) the clinic's recording for an audio or video step in ``language``.
    The recording belongs to the step key, so it stays when a new content version is loaded.

    Files it replaces are deleted from storage once the transaction commits (never before: a
    rolled-back replacement keeps the old recording playable)."""
    if not step.is_media:
        raise ValidationError(_("Only audio and video steps have recordings."))
    validate_media_file(file, kind=step.kind)
    if captions:
        validate_captions_file(captions)
    media = _media_locked(clinic=clinic, step=step, language=language)
    action = Action.CHANGE if media else Action.CREATE
    if media is None:
        media = StepMedia(clinic=clinic, step_key=step.key, language=language)
    replaced = [media.file.name] + ([media.captions.name] if captions else [])
    media.file = file
    if captions:
        media.captions = captions
    media.uploaded_by = uploaded_by
    media.full_clean()
    media.save()
    step_media_files_forget(media, replaced)
    _parts_discard(_parts_of(clinic=clinic, step=step, language=language).filter(published=True))
    _recording_audit(media, action=action, user=uploaded_by)
    return media


def _recording_audit(media: StepMedia, *, action: str, user) -> None:
    """What patients hear and see is the clinic's responsibility: who published it is kept."""
    audit_record(
        user=user, action=action, clinic_id=media.clinic_id, object_type="step_recording", object_id=media.pk
    )


def step_media_files_forget(media: StepMedia, names) -> None:
    """Delete the files ``names`` that ``media`` no longer uses, once the transaction commits."""
    _files_forget(media.file.storage, names, keep={media.file.name, media.captions.name})


def _files_forget(storage, names, *, keep=frozenset()) -> None:
    for name in names:
        if name and name not in keep:
            transaction.on_commit(partial(_storage_delete, storage, name))


def _parts_discard(parts) -> None:
    """Delete recorded parts, and their files once the transaction commits."""
    parts = list(parts)
    if parts:
        _files_forget(parts[0].file.storage, [p.file.name for p in parts])
        StepMediaPart.objects.filter(pk__in=[p.pk for p in parts]).delete()


def _media_locked(*, clinic, step: Step, language: str) -> StepMedia | None:
    return (
        StepMedia.objects.select_for_update()
        .filter(clinic=clinic, step_key=step.key, language=language)
        .first()
    )


def _parts_of(*, clinic, step: Step, language: str):
    return StepMediaPart.objects.select_for_update().filter(
        clinic=clinic, step_key=step.key, language=language
    )


def script_part_count(step: Step) -> int:
    """How many parts the clinic records for ``step``: one per part of its script."""
    return max(1, len(step.definition.get("segments") or []))


@transaction.atomic
def step_media_part_record(
    *, clinic, step: Step, language: str, position: int, file, recorded_by
) -> StepMediaPart:
    """Store (or replace) the clinic's draft recording of part ``position`` of ``step``'s script.
    Patients hear nothing of it until the drafts are published."""
    if not step.is_media:
        raise ValidationError(_("Only audio and video steps have recordings."))
    if not 1 <= position <= script_part_count(step):
        raise ValidationError(_("This exercise has no part %(number)s.") % {"number": position})
    validate_media_file(file, kind=step.kind)
    part = (
        _parts_of(clinic=clinic, step=step, language=language)
        .filter(published=False, position=position)
        .first()
    )
    if part is None:
        part = StepMediaPart(clinic=clinic, step_key=step.key, language=language, position=position)
    replaced = part.file.name
    part.file = file
    part.recorded_by = recorded_by
    part.full_clean()
    part.save()
    _files_forget(part.file.storage, [replaced], keep={part.file.name})
    return part


@transaction.atomic
def step_media_parts_publish(*, clinic, step: Step, language: str, published_by) -> StepMedia:
    """Make the recorded parts the recording patients hear for ``step`` in ``language``.

    Every part of the script needs a recording: a new draft, or the part published before (so
    re-recording one part and publishing again keeps the others). An uploaded whole file is
    replaced. Writes an audit event: what patients hear is the clinic's responsibility."""
    if not step.is_media:
        raise ValidationError(_("Only audio and video steps have recordings."))
    count = script_part_count(step)
    parts = list(_parts_of(clinic=clinic, step=step, language=language))
    drafts = {p.position: p for p in parts if not p.published and p.position <= count}
    published = {p.position: p for p in parts if p.published and p.position <= count}
    missing = [n for n in range(1, count + 1) if n not in drafts and n not in published]
    if missing or not drafts:
        raise ValidationError(
            _("Record every part before you publish. Still to record: part %(parts)s.")
            % {"parts": ", ".join(str(n) for n in missing)}
            if missing
            else _("There is no new recording to publish.")
        )
    _parts_discard(p for p in parts if p.position > count or (p.published and p.position in drafts))
    StepMediaPart.objects.filter(pk__in=[p.pk for p in drafts.values()]).update(published=True)
    media = _media_locked(clinic=clinic, step=step, language=language)
    action = Action.CHANGE if media else Action.CREATE
    media = media or StepMedia(clinic=clinic, step_key=step.key, language=language)
    replaced = [media.file.name, media.captions.name]
    media.file, media.captions, media.uploaded_by = "", "", published_by
    media.full_clean()
    media.save()
    step_media_files_forget(media, replaced)
    _recording_audit(media, action=action, user=published_by)
    return media


def _storage_delete(storage, name: str) -> None:
    storage.delete(name)


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
    doc = _licensed_document(data)
    _licensed_check_keys(doc)
    instrument = _licensed_instrument_of(doc)
    reverse, reverse_errors = _licensed_reverse(doc, instrument)
    errors = [
        *_licensed_text_errors(doc),
        *_licensed_items_errors(doc, instrument),
        *_licensed_options_errors(doc, instrument),
        *reverse_errors,
        *_licensed_threshold_errors(doc, instrument),
    ]
    if errors:
        raise ValidationError(errors)
    return _licensed_store(doc, instrument, reverse, clinic=clinic, data=data, uploaded_by=uploaded_by)


_LICENSED_REQUIRED = {"instrument", "language", "title", "licence", "options", "reverse_scored", "items"}
_LICENSED_KEYS = _LICENSED_REQUIRED | {"instructions", "severe_threshold"}


def _licensed_document(data: bytes) -> content_loader.LineDict:
    """The uploaded file read as a mapping of text, or a ValidationError saying why it is not one."""
    if len(data) > settings.ICBT_LICENSED_UPLOAD_MAX_BYTES:
        raise ValidationError(licensed_too_large_message())
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
    return doc


def _licensed_check_keys(doc) -> None:
    errors = [
        _licensed_error(doc.line_of(key), _("unknown key '%(key)s'") % {"key": key})
        for key in doc
        if key not in _LICENSED_KEYS
    ]
    errors += [
        _licensed_error(doc.line, _("'%(key)s' is missing") % {"key": key})
        for key in sorted(_LICENSED_REQUIRED - set(doc))
    ]
    if errors:
        raise ValidationError(errors)


def _licensed_instrument_of(doc):
    """The licensed questionnaire the file is for, after checking its language."""
    code = doc["instrument"]
    instrument = questionnaires.INSTRUMENTS.get(code) if isinstance(code, str) else None
    if instrument is None or (instrument.texts_shipped and not instrument.licensed_texts_allowed):
        raise _licensed_error(
            doc.line_of("instrument"),
            _("'%(code)s' is not a licensed questionnaire this application knows") % {"code": code},
        )
    if doc["language"] not in ("en", "nl"):
        raise _licensed_error(doc.line_of("language"), _("language must be en or nl"))
    return instrument


def _licensed_text_errors(doc) -> list[ValidationError]:
    errors = [
        _licensed_error(doc.line_of(key), _("'%(key)s' must be text") % {"key": key})
        for key in ("title", "licence")
        if not isinstance(doc[key], str) or not doc[key].strip()
    ]
    if "instructions" in doc and not isinstance(doc["instructions"], str):
        errors.append(_licensed_error(doc.line_of("instructions"), _("'instructions' must be text")))
    return errors


def _licensed_items_errors(doc, instrument) -> list[ValidationError]:
    items = doc["items"]
    if (
        isinstance(items, list)
        and len(items) == instrument.item_count
        and all(isinstance(i, str) and i.strip() for i in items)
    ):
        return []
    message = _("'items' must list exactly %(n)s texts") % {"n": instrument.item_count}
    return [_licensed_error(doc.line_of("items"), message)]


def _licensed_options_errors(doc, instrument) -> list[ValidationError]:
    options = doc["options"]
    expected_values = [o.value for o in instrument.options]
    if (
        isinstance(options, list)
        and [o.get("value") if isinstance(o, dict) else None for o in options] == expected_values
        and all(isinstance(o.get("label"), str) for o in options)
    ):
        return []
    message = _("'options' must list the values %(values)s in order, each with a label") % {
        "values": ", ".join(str(v) for v in expected_values)
    }
    return [_licensed_error(doc.line_of("options"), message)]


def _licensed_reverse(doc, instrument) -> tuple[list[int], list[ValidationError]]:
    try:
        reverse = questionnaires.validate_reverse_positions(
            doc["reverse_scored"], item_count=instrument.item_count
        )
    except ValidationError as exc:
        return [], [_licensed_error(doc.line_of("reverse_scored"), exc.messages[0])]
    return reverse, []


def _licensed_threshold_errors(doc, instrument) -> list[ValidationError]:
    threshold = doc.get("severe_threshold")
    if threshold is None or (
        not isinstance(threshold, bool)
        and isinstance(threshold, int)
        and instrument.min_total < threshold <= instrument.max_total
    ):
        return []
    message = _("'severe_threshold' must be a whole number from %(low)s to %(high)s") % {
        "low": int(instrument.min_total) + 1,
        "high": int(instrument.max_total),
    }
    return [_licensed_error(doc.line_of("severe_threshold"), message)]


def _licensed_store(doc, instrument, reverse, *, clinic, data: bytes, uploaded_by) -> LicensedInstrument:
    record, _created = LicensedInstrument.objects.select_for_update().get_or_create(
        clinic=clinic,
        code=doc["instrument"],
        language=doc["language"],
        defaults={"title": doc["title"], "licence_note": doc["licence"], "source_sha256": ""},
    )
    record.title = doc["title"].strip()
    record.instructions = (doc.get("instructions") or "").strip()
    record.items = [i.strip() for i in doc["items"]]
    record.options = [{"value": o["value"], "label": o["label"].strip()} for o in doc["options"]]
    record.reverse_scored = reverse
    record.severe_threshold = doc.get("severe_threshold")
    record.licence_note = doc["licence"].strip()
    record.source_sha256 = hashlib.sha256(data).hexdigest()
    record.uploaded_by = uploaded_by
    # A translation of an instrument we also ship (the Dutch RAND-36) reverses no items.
    record.full_clean(exclude=["reverse_scored"] if instrument.texts_shipped else None)
    record.save()
    return record


def licensed_too_large_message() -> str:
    return _("This file is too large for a questionnaire (at most %(size)s).") % {
        "size": filesizeformat(settings.ICBT_LICENSED_UPLOAD_MAX_BYTES)
    }


LICENSED_UPLOAD_TASK = "programs.tasks.licensed_upload_process"


def licensed_upload_create(*, clinic, name: str, data: bytes, uploaded_by) -> LicensedUpload:
    """Keep an uploaded file of licensed texts and queue its check (after commit). Nothing is
    parsed here: the web request only stores the bytes."""
    if len(data) > settings.ICBT_LICENSED_UPLOAD_MAX_BYTES:
        raise ValidationError(licensed_too_large_message())
    upload = LicensedUpload(clinic=clinic, name=name[:200], data=data, uploaded_by=uploaded_by)
    upload.full_clean()
    upload.save()

    def queue():
        from icbt.celery import task_named

        task_named(LICENSED_UPLOAD_TASK).delay(upload.pk)

    transaction.on_commit(queue)
    return upload


def licensed_upload_claim(*, upload_id: int) -> LicensedUpload | None:
    """Count one attempt at checking the upload, committed before parsing starts. An upload that
    a killed worker left waiting is refused on the next attempt instead of being parsed again
    (acks-late would otherwise redeliver it to worker after worker). None: nothing to do."""
    with transaction.atomic():
        upload = (
            LicensedUpload.objects.select_for_update()
            .filter(pk=upload_id, status=LicensedUpload.Status.WAITING)
            .first()
        )
        if upload is None:
            return None
        upload.attempts += 1
        upload.save(update_fields=["attempts"])
    if upload.attempts > 1:
        licensed_upload_refuse(upload_id=upload_id, reason=licensed_timeout_reason)
        return None
    return upload


def licensed_timeout_reason() -> str:
    return _(
        "Checking this file took too long, so it was not loaded. Check that it follows the format "
        "in LICENSED.md and has no anchors or aliases (& and *)."
    )


def _finish(upload_id: int, **changes) -> None:
    with transaction.atomic():
        upload = (
            LicensedUpload.objects.select_for_update()
            .filter(pk=upload_id, status=LicensedUpload.Status.WAITING)
            .first()
        )
        if upload is None:
            return
        for name, value in changes.items():
            setattr(upload, name, value)
        upload.data = b""
        upload.finished_at = timezone.now()
        upload.save(update_fields=[*changes, "data", "finished_at"])


def licensed_upload_refuse(*, upload_id: int, reason: Callable[[], str]) -> None:
    """Mark a waiting upload refused; ``reason`` is called in the uploader's language."""
    upload = LicensedUpload.objects.filter(pk=upload_id).select_related("uploaded_by").first()
    if upload is None:
        return
    with translation.override(_language_of(upload.uploaded_by)):
        text = reason()
    _finish(upload_id, status=LicensedUpload.Status.REFUSED, reason=text)


def _language_of(user) -> str:
    language = getattr(user, "language", "") or settings.LANGUAGE_CODE
    return language if language in ("en", "nl") else settings.LANGUAGE_CODE


def licensed_upload_process(*, upload_id: int) -> LicensedUpload | None:
    """Check and load one waiting upload: loaded (with its questionnaire) or refused with the
    problems in plain words, in the uploader's language. Safe to run twice: an upload that is no
    longer waiting is left alone."""
    upload = licensed_upload_claim(upload_id=upload_id)
    if upload is None:
        return None
    with translation.override(_language_of(upload.uploaded_by)):
        try:
            with transaction.atomic():
                record = licensed_instrument_load(
                    clinic=upload.clinic, data=bytes(upload.data), uploaded_by=upload.uploaded_by
                )
        except ValidationError as exc:
            _finish(upload_id, status=LicensedUpload.Status.REFUSED, reason="\n".join(exc.messages))
        else:
            _finish(upload_id, status=LicensedUpload.Status.LOADED, instrument=record)
    return LicensedUpload.objects.get(pk=upload_id)
