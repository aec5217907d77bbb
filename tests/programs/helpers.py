"""Test helpers for the programs app: the tiny fixture program and a clinic recording."""

import shutil
from pathlib import Path

from django.core.files.base import ContentFile

from programs import services
from programs.models import ProgramVersion, Step, StepMedia, StepMediaPart

FIXTURE_CONTENT = Path(__file__).parent / "fixtures" / "content"


def copy_fixture(target: Path) -> Path:
    """A writable copy of the fixture content under ``target``; returns the content root."""
    root = target / "content"
    shutil.copytree(FIXTURE_CONTENT, root)
    return root


def load_tiny(root: Path | None = None) -> ProgramVersion:
    """Load the tiny fixture program (both languages); returns its English version."""
    services.program_content_load(root=root or FIXTURE_CONTENT)
    return (
        ProgramVersion.objects.get(program__slug="tiny-program", language="en", number=1)
        if root is None
        else ProgramVersion.objects.filter(program__slug="tiny-program", language="en")
        .order_by("-number")
        .first()
    )


def tiny_step(slug: str, language: str = "en") -> Step:
    return Step.objects.select_related("module", "version__program").get(
        version__program__slug="tiny-program", version__language=language, slug=slug
    )


def add_recording(
    clinic, step: Step, *, payload: bytes = b"0123456789" * 10, captions: bool = False
) -> StepMedia:
    media = StepMedia(clinic=clinic, step_key=step.key, language=step.version.language)
    media.file.save("breathing.mp3", ContentFile(payload), save=False)
    if captions:
        media.captions.save(
            "story.vtt", ContentFile(b"WEBVTT\n\n00:00.000 --> 00:01.000\nHello\n"), save=False
        )
    media.save()
    return media


OGG_HEAD = b"OggS\x00\x02" + b"\x00" * 40


def add_part(clinic, step: Step, position: int = 1, *, published: bool = False) -> StepMediaPart:
    """A recorded part of ``step`` (a draft unless ``published``)."""
    part = StepMediaPart(
        clinic=clinic,
        step_key=step.key,
        language=step.version.language,
        position=position,
        published=published,
    )
    part.file.save(f"part-{position}.ogg", ContentFile(OGG_HEAD), save=False)
    part.save()
    return part
