"""Markdown rendering and sanitizing, plain text and reading time."""

import pytest

from programs.rendering import plain_text, reading_minutes, render_markdown, word_count


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "Hello <script>alert(1)</script> there",
        "<img src=x onerror=alert(1)>",
        '<a href="#" onclick="steal()">click</a>',
        "<iframe src='https://evil.example'></iframe>",
        "<style>body{display:none}</style>",
    ],
)
def test_scripts_and_handlers_are_stripped(source):
    html = render_markdown(source)
    lowered = html.lower()
    assert "<script" not in lowered and "onerror" not in lowered and "onclick" not in lowered
    assert "<iframe" not in lowered and "<style" not in lowered and "alert(1)" not in lowered.replace("&", "")
    assert "<img" not in lowered


@pytest.mark.parametrize(
    "link",
    [
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD4=)",
        "[click](vbscript:msgbox(1))",
    ],
)
def test_dangerous_link_schemes_are_stripped(link):
    html = render_markdown(link).lower()
    assert "javascript:" not in html and "data:" not in html and "vbscript:" not in html
    assert "click" in html


def test_ordinary_markdown_survives():
    html = render_markdown("## Title\n\nSome **bold** and *soft* text.\n\n- one\n- two\n\n[Home](/home/)")
    assert "<h2>Title</h2>" in html and "<strong>bold</strong>" in html and "<em>soft</em>" in html
    assert "<li>one</li>" in html
    assert '<a href="/home/"' in html and 'rel="noopener noreferrer"' in html


def test_plain_text_ends_headings_and_items_as_sentences():
    text = plain_text("## What you do\n\n- read a page\n- rest\n\nThat is all.")
    assert text.splitlines() == ["What you do.", "read a page.", "rest.", "That is all."]


def test_word_count_and_reading_time():
    assert word_count("## Two words\n\nthree more words") == 5
    assert reading_minutes(0) == 1
    assert reading_minutes(180) == 1
    assert reading_minutes(181) == 2
    assert reading_minutes(400) == 3
