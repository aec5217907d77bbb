"""Exercise scripts with pause markers: the text of an audio exercise, cut into timed parts.

A transcript marks a silence with a line of its own, ``[pause 20s]`` (1 to 300 seconds). The
text between two markers is one part: the guided player shows (and may read aloud) one part,
then keeps the silence, then goes on. The clinic's recording studio asks for one recording per
part. Text after the last marker is a last part without a pause.

A malformed marker (``[pause 20]``, ``[pause 2 min]``, a marker inside a sentence, two markers
with no text between them) is refused with a plain message on its line: a mistyped marker would
otherwise be read aloud, or silently lose its pause.
"""

import re
from collections.abc import Callable

from programs.rendering import plain_text, render_markdown

MAX_PAUSE_SECONDS = 300
_MARKER = re.compile(r"^\[pause (\d{1,3})s\]$")
_LOOKS_LIKE_MARKER = re.compile(r"\[\s*pause\b", re.IGNORECASE)
MARKER_HELP = f"write a pause as a line of its own: [pause 20s] (1 to {MAX_PAUSE_SECONDS} seconds)"


def _pause_of(line: str) -> int | None:
    match = _MARKER.match(line.strip())
    if match and 1 <= int(match.group(1)) <= MAX_PAUSE_SECONDS:
        return int(match.group(1))
    return None


def split_script(text: str, report: Callable[[int, str], None]) -> list[tuple[str, int]]:
    """``(markdown, pause seconds)`` per part, in order; problems go to ``report(line, message)``."""
    parts: list[tuple[str, int]] = []
    current: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not _LOOKS_LIKE_MARKER.search(line):
            current.append(line)
            continue
        pause = _pause_of(line)
        if pause is None:
            report(number, f"malformed pause marker {line.strip()!r}: {MARKER_HELP}")
        elif not "\n".join(current).strip():
            report(number, "a pause marker needs text before it (two pauses in a row, or a pause first)")
        else:
            parts.append(("\n".join(current).strip(), pause))
            current = []
    if "\n".join(current).strip():
        parts.append(("\n".join(current).strip(), 0))
    return parts


def without_markers(text: str) -> str:
    """The transcript as readers see it: the marker lines removed."""
    return "\n".join(line for line in text.splitlines() if _pause_of(line) is None)


def script_segments(text: str, report: Callable[[int, str], None]) -> list[dict]:
    """The parts of an exercise script as stored in ``Step.definition["segments"]``: safe HTML
    to show, plain text to read aloud, and the silence after it in seconds."""
    return [
        {"html": render_markdown(markdown), "text": plain_text(markdown), "pause": pause}
        for markdown, pause in split_script(text, report)
    ]
