"""Markdown to safe HTML, plain text and reading time.

Rendering uses the ``Markdown`` package; its output always goes through the ``nh3`` sanitizer
with a short allow-list, so neither a content file nor anything else that reaches
``render_markdown`` can put scripts, event handlers, styles, frames or ``javascript:`` links
on a page (CSP forbids inline scripts as a second line of defence). Links may point only to
relative URLs, ``https``, and ``mailto``/``tel``.
"""

import math
from html.parser import HTMLParser

import markdown
import nh3

WORDS_PER_MINUTE = 180

ALLOWED_TAGS = {
    "p",
    "br",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "b",
    "i",
    "blockquote",
    "a",
    "code",
    "pre",
    "hr",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "abbr",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "th": {"scope"}, "td": set()}
ALLOWED_URL_SCHEMES = {"https", "mailto", "tel"}

BLOCK_TAGS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "blockquote", "pre", "dt", "dd"}


def render_markdown(text: str) -> str:
    """Markdown -> sanitized HTML. Raw HTML in the source is escaped by the sanitizer's allow-list:
    unknown tags are removed with their dangerous content (script, style)."""
    html = markdown.markdown(text or "", extensions=["sane_lists", "tables"], output_format="html")
    return sanitize_html(html)


def sanitize_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._current: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in BLOCK_TAGS or tag == "br":
            self._flush()

    def handle_endtag(self, tag):
        if tag in BLOCK_TAGS:
            self._flush()

    def handle_data(self, data):
        self._current.append(data)

    def _flush(self):
        text = " ".join("".join(self._current).split())
        if text:
            self.blocks.append(text)
        self._current = []

    def close(self):
        super().close()
        self._flush()


def plain_text(markdown_text: str) -> str:
    """The words a reader sees, one block per line. A heading or list item without closing
    punctuation gets a full stop, so that readability formulas count it as its own sentence
    (as a reader does) instead of merging it into the next one."""
    parser = _TextExtractor()
    parser.feed(render_markdown(markdown_text))
    parser.close()
    lines = []
    for block in parser.blocks:
        if block[-1] not in ".!?:;":
            block += "."
        lines.append(block)
    return "\n".join(lines)


def word_count(markdown_text: str) -> int:
    return len(plain_text(markdown_text).split())


def reading_minutes(words: int) -> int:
    """Estimated reading time at 180 words a minute, rounded up, at least one minute."""
    return max(1, math.ceil(words / WORDS_PER_MINUTE))
