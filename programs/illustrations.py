"""Drawings for the patient stories. A story step without the clinic's video is shown as an
illustrated text: these drawings (static/img/stories/, original line drawings) with the story,
each with a text alternative that says what it shows."""

from django.utils.translation import gettext_lazy as _

STORY_DRAWINGS = {
    "master-your-fatigue/getting-started/patient-story": [
        (
            "img/stories/marieke-couch.svg",
            _("A woman lies on a couch in the afternoon. The clock shows two."),
        ),
        (
            "img/stories/marieke-choir.svg",
            _("The same woman sings with a small choir. Music notes float up."),
        ),
    ],
    "master-your-fatigue/increasing-activity/building-up-story": [
        (
            "img/stories/joost-walk.svg",
            _("A man walks outside. A small timer beside him shows four minutes."),
        ),
        (
            "img/stories/joost-steps.svg",
            _("Small steps go up like a stair, week by week, from 4 to 40 minutes."),
        ),
    ],
}


def for_step(step) -> list[tuple[str, str]]:
    """``(static path, alt text)`` of the drawings for a video step; none for other steps."""
    if step.kind != step.Kind.VIDEO:
        return []
    return STORY_DRAWINGS.get(step.key, [])
