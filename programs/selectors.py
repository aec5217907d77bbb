"""Reads of program content. Content is the same for every clinic; the clinic's additions
(recordings, defaults, licensed texts) are read for the viewer's own clinic only."""

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.db.models.fields.json import KT
from django.http import Http404
from django.utils.translation import get_language

from icbt.roles import roles_of
from programs.models import (
    ClinicProgramSetting,
    LicensedInstrument,
    LicensedUpload,
    Module,
    Program,
    ProgramVersion,
    Step,
    StepMedia,
    StepMediaPart,
)


def latest_versions(*, language: str | None = None) -> QuerySet[ProgramVersion]:
    """The newest version of every program per language (or in ``language`` only). One query:
    the versions that no newer version of the same program and language follows."""
    newer = ProgramVersion.objects.filter(
        program_id=OuterRef("program_id"), language=OuterRef("language"), number__gt=OuterRef("number")
    )
    versions = ProgramVersion.objects.exclude(Exists(newer))
    if language:
        versions = versions.filter(language=language)
    return versions.select_related("program").order_by("program__slug", "language")


def program_list(*, fetched_by) -> list[dict]:
    """Every program with its newest version per language, for staff:
    ``[{"program": Program, "versions": [ProgramVersion, ...]}]``, the version in the viewer's
    language first (its title names the program). One query."""
    if roles_of(fetched_by).staff is None:
        return []
    programs: dict[str, dict] = {}
    for version in latest_versions():
        entry = programs.setdefault(version.program.slug, {"program": version.program, "versions": []})
        entry["versions"].append(version)
    language = (get_language() or "en").split("-")[0]
    for entry in programs.values():
        entry["versions"].sort(key=lambda version: version.language != language)
    return list(programs.values())


def version_get(*, pk: int) -> ProgramVersion:
    try:
        return ProgramVersion.objects.select_related("program").get(pk=pk)
    except ProgramVersion.DoesNotExist:
        raise Http404 from None


def latest_version_get(*, program_slug: str, language: str) -> ProgramVersion:
    version = (
        ProgramVersion.objects.select_related("program")
        .filter(program__slug=program_slug, language=language)
        .order_by("-number")
        .first()
    )
    if version is None:
        raise Http404
    return version


# The fields of a step that lists of steps need (not its content).
STEP_LIST_FIELDS = (
    "id",
    "module_id",
    "version_id",
    "position",
    "slug",
    "kind",
    "title",
    "optional",
    "reading_minutes",
    "questionnaire",
)


# The activity pattern a step is written for (``route`` in the manifest), read by the database so
# that step lists need not load every step's definition.
STEP_ROUTE = KT("definition__route")


def step_route(step: Step) -> str:
    """The activity pattern ``step`` is written for, or "": from the ``route`` annotation of the
    step lists above when present, else from its definition."""
    if "route" in step.__dict__:
        return step.__dict__["route"] or ""
    return (step.definition or {}).get("route") or ""


def version_outline(*, version: ProgramVersion) -> list[Module]:
    """Modules of ``version`` with their steps (and diary types) loaded: two queries."""
    steps = (
        Step.objects.select_related("diary_type")
        .only(*STEP_LIST_FIELDS, "diary_type__title", "diary_type__slug")
        .annotate(route=STEP_ROUTE)
        .order_by("position")
    )
    return list(version.modules.prefetch_related(Prefetch("steps", queryset=steps)).order_by("number"))


@dataclass(frozen=True)
class StepPlace:
    """Where a step sits: 'module x of n, step y of m', and the steps before and after it
    (across module boundaries)."""

    step: Step
    module: Module
    module_count: int
    step_number: int
    step_count: int
    previous: Step | None
    next: Step | None


def step_place(*, version: ProgramVersion, module_slug: str, step_slug: str) -> StepPlace:
    """The step and its neighbours; 404 if the version has no such step. Two queries."""
    steps = list(
        Step.objects.filter(version=version)
        .select_related("module", "diary_type")
        .order_by("module__number", "position")
    )
    index = next(
        (i for i, s in enumerate(steps) if s.module.slug == module_slug and s.slug == step_slug), None
    )
    if index is None:
        raise Http404
    step = steps[index]
    step.version = version
    in_module = [s for s in steps if s.module_id == step.module_id]
    module_count = len({s.module_id for s in steps})
    return StepPlace(
        step=step,
        module=step.module,
        module_count=module_count,
        step_number=in_module.index(step) + 1,
        step_count=len(in_module),
        previous=steps[index - 1] if index > 0 else None,
        next=steps[index + 1] if index + 1 < len(steps) else None,
    )


def step_media_for(*, clinic_id: int | None, step: Step, language: str) -> StepMedia | None:
    if clinic_id is None or not step.is_media:
        return None
    return StepMedia.objects.filter(clinic_id=clinic_id, step_key=step.key, language=language).first()


def step_media_get_for_user(*, user, pk: int) -> StepMedia:
    """A recording, for staff and patients of the clinic that uploaded it; 404 for everyone else
    (recordings are the clinic's, and their existence is not shown to other clinics)."""
    clinic_id = roles_of(user).clinic_id
    media = StepMedia.objects.filter(pk=pk, clinic_id=clinic_id).first() if clinic_id is not None else None
    if media is None:
        raise Http404
    return media


def step_media_parts(*, media: StepMedia | None) -> list[StepMediaPart]:
    """The published parts of a recording made in the browser, in playing order; none for an
    uploaded whole file."""
    if media is None or media.file:
        return []
    return list(
        StepMediaPart.objects.filter(
            clinic_id=media.clinic_id, step_key=media.step_key, language=media.language, published=True
        ).order_by("position")
    )


def studio_parts(*, clinic_id: int, step: Step) -> dict[int, dict[str, StepMediaPart]]:
    """Per part number, the clinic's ``draft`` and ``published`` recording of ``step``."""
    parts: dict[int, dict[str, StepMediaPart]] = {}
    for part in StepMediaPart.objects.filter(
        clinic_id=clinic_id, step_key=step.key, language=step.version.language
    ):
        parts.setdefault(part.position, {})["published" if part.published else "draft"] = part
    return parts


def step_media_part_get_for_user(*, user, pk: int) -> StepMediaPart:
    """A recorded part: published ones for the staff and patients of its clinic, drafts for
    that clinic's admins only; 404 for everyone else."""
    roles = roles_of(user)
    part = StepMediaPart.objects.filter(pk=pk, clinic_id=roles.clinic_id).first() if roles.clinic_id else None
    may_hear_drafts = roles.staff is not None and "clinic_admin" in roles.staff.roles
    if part is None or not (part.published or may_hear_drafts):
        raise Http404
    return part


def clinic_step_media(*, clinic_id: int) -> dict[tuple[str, str], StepMedia]:
    return {(m.step_key, m.language): m for m in StepMedia.objects.filter(clinic_id=clinic_id)}


def clinic_program_setting(*, clinic_id: int | None, program: Program) -> ClinicProgramSetting | None:
    if clinic_id is None:
        return None
    return ClinicProgramSetting.objects.filter(clinic_id=clinic_id, program=program).first()


def optional_step_is_on(step: Step, setting: ClinicProgramSetting | None) -> bool:
    """Whether a step is on by default for a clinic's new patients. Required steps are always on."""
    if not step.optional:
        return True
    return setting is None or step.module_key not in setting.optional_steps_off


def licensed_instrument_for(*, clinic_id: int | None, code: str, language: str) -> LicensedInstrument | None:
    """The clinic's licensed texts for ``code`` in ``language``, else in English, else None."""
    if clinic_id is None:
        return None
    rows = {r.language: r for r in LicensedInstrument.objects.filter(clinic_id=clinic_id, code=code)}
    return rows.get(language) or rows.get("en")


def licensed_instrument_list(*, fetched_by) -> QuerySet[LicensedInstrument]:
    clinic_id = roles_of(fetched_by).clinic_id
    if roles_of(fetched_by).staff is None:
        return LicensedInstrument.objects.none()
    return LicensedInstrument.objects.filter(clinic_id=clinic_id).select_related("uploaded_by")


def licensed_upload_list(*, fetched_by, limit: int = 10) -> list[LicensedUpload]:
    """The viewer's clinic's most recent uploads of licensed texts, with their status. One query."""
    if roles_of(fetched_by).staff is None:
        return []
    return list(
        LicensedUpload.objects.filter(clinic_id=roles_of(fetched_by).clinic_id)
        .defer("data")
        .select_related("uploaded_by")[:limit]
    )


def media_steps(*, versions) -> list[Step]:
    """The audio and video steps of ``versions``, in program order. One query."""
    return list(
        Step.objects.filter(version__in=versions, kind__in=[Step.Kind.AUDIO, Step.Kind.VIDEO])
        .select_related("version__program", "module")
        .order_by("version__program__slug", "version__language", "module__number", "position")
    )


def media_step_get(*, pk: int) -> Step:
    step = (
        Step.objects.select_related("version__program", "module")
        .filter(pk=pk, kind__in=[Step.Kind.AUDIO, Step.Kind.VIDEO])
        .first()
    )
    if step is None:
        raise Http404
    return step
