"""What a step page needs, for the preview here and for real patients in the patients app.

``step_page_context`` builds the template context of templates/programs/step.html from a
``selectors.StepPlace``: the form for the step kind (bound to POST data, or to saved answers),
the clinic's recording, the questionnaire texts, and the links to the steps before and after.
It reads; it never writes.
"""

from collections.abc import Callable

from programs import illustrations, questionnaires, selectors
from programs.forms import AssignmentForm, DiaryEntryForm, QuestionnaireForm
from programs.models import Step


def step_form(
    step: Step,
    *,
    data=None,
    answers: dict | None = None,
    clinic_id: int | None = None,
    language: str | None = None,
):
    """The form for ``step`` (None for page, audio and video steps, and for a licensed
    questionnaire whose texts the clinic has not loaded)."""
    if step.kind == Step.Kind.ASSIGNMENT:
        return AssignmentForm(data, step=step, answers=answers)
    if step.kind == Step.Kind.DIARY:
        return DiaryEntryForm(data, diary_type=step.diary_type, answers=answers)
    if step.kind == Step.Kind.QUESTIONNAIRE:
        presentation = questionnaire_presentation_for(step, clinic_id=clinic_id, language=language)
        if presentation.available:
            return QuestionnaireForm(data, presentation=presentation, answers=answers)
    return None


def questionnaire_presentation_for(step: Step, *, clinic_id: int | None, language: str | None = None):
    language = language or step.version.language
    licensed = None
    instrument = questionnaires.get_instrument(step.questionnaire)
    if not instrument.texts_shipped or instrument.licensed_texts_allowed:
        licensed = selectors.licensed_instrument_for(
            clinic_id=clinic_id, code=step.questionnaire, language=language
        )
    return questionnaires.questionnaire_presentation(step.questionnaire, language, licensed=licensed)


def step_page_context(
    place: selectors.StepPlace,
    *,
    url_for: Callable[[Step], str],
    clinic_id: int | None,
    data=None,
    answers: dict | None = None,
    form=None,
    preview: bool = False,
    form_action: str = "",
) -> dict:
    """Context for templates/programs/step.html. ``url_for(step)`` gives the URL of a step (the
    preview and the patient journey link to different places). Pass ``form`` to use a form you
    built yourself; otherwise one is made from ``data``/``answers``."""
    step = place.step
    language = step.version.language
    if form is None:
        form = step_form(step, data=data, answers=answers, clinic_id=clinic_id, language=language)
    media = selectors.step_media_for(clinic_id=clinic_id, step=step, language=language)
    parts = selectors.step_media_parts(media=media)
    presentation = None
    if step.kind == Step.Kind.QUESTIONNAIRE:
        presentation = (
            form.presentation
            if form is not None
            else questionnaire_presentation_for(step, clinic_id=clinic_id, language=language)
        )
    return {
        "step": step,
        "place": place,
        "form": form,
        "media": media,
        "media_parts": parts,
        "segments": guided_segments(step, parts),
        "illustrations": illustrations.for_step(step),
        "questionnaire": presentation,
        "previous_url": url_for(place.previous) if place.previous else "",
        "next_url": url_for(place.next) if place.next else "",
        "preview": preview,
        "form_action": form_action,
        "content_language": language,
    }


def studio_rows(step: Step, recorded: dict) -> list[dict]:
    """One row per part of ``step``'s script for the recording page: its number, its text and
    pause, and the clinic's ``draft`` and ``published`` recording of it (either may be None)."""
    segments = step.definition.get("segments") or [{"html": step.body_html, "text": "", "pause": 0}]
    return [
        {
            "number": number,
            "segment": segment,
            **{k: recorded.get(number, {}).get(k) for k in ("draft", "published")},
        }
        for number, segment in enumerate(segments, start=1)
    ]


def guided_segments(step: Step, parts) -> list[dict]:
    """The parts of an audio step's script for the guided player, each with the clinic's
    published recording of it (``part``, None while the step has no part-by-part recording)."""
    if step.kind != Step.Kind.AUDIO:
        return []
    by_number = {part.position: part for part in parts}
    return [
        {**segment, "part": by_number.get(n)}
        for n, segment in enumerate(step.definition.get("segments") or [], 1)
    ]
