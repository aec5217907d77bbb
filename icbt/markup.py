"""Text written into HTML from Python, escaped exactly as a template's ``{{ value }}`` escapes it.

Pages that write many short strings themselves (the worklist's lines, long selects) call
``html_text`` instead of the template engine: the same five characters, the same entities as
``django.utils.html.escape`` (``html.escape``), and a safe string (``__html__``) as it is.
"""

from html import escape


def html_text(value) -> str:
    """``value`` as the template's ``{{ value }}`` writes it. Most strings of a page hold none of
    the five characters: those are looked through, not rewritten."""
    if type(value) is str:  # not a SafeString, not a lazy translation
        if "&" in value or "<" in value or ">" in value or '"' in value or "'" in value:
            return escape(value)
        return value
    if hasattr(value, "__html__"):
        return value.__html__()
    return html_text(str(value))
