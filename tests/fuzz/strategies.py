"""Hypothesis strategies for bad input: what people paste, what browsers send, what attackers try."""

from __future__ import annotations

import json

from hypothesis import strategies as st

# Must never reach a page unescaped, wherever it was typed.
MARKER = "<script>alert(1)</script>"
# Longer than every text limit of the application (the longest is 5000 characters).
OVERSIZE = 6000

NASTY = [
    MARKER,
    f'"><{MARKER[1:]}',
    f"'>{MARKER}<'",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "{{ request }}{% debug %}",
    "%s%n%x",
    "'; DROP TABLE patients_patient; --",
    "\x00",
    "a\x00b",
    "\u202eRTL\u202c \u200f\u200e",
    "\ufeffBOM",
    "🙂👍🏽👨‍👩‍👧 café",
    "ﷺ 𝕳𝖊𝖑𝖑𝖔 ٠١٢",
    "Ω≈ç√∫˜µ≤≥÷",
    " ",
    "",
    "\t\r\n",
    "0",
    "-1",
    "1e309",
    "NaN",
    "Infinity",
    "-0",
    "9" * 400,
    "0x1F",
    "１２",
    "1,5",
    "2026-02-30",
    "0000-00-00",
    "99999-12-31",
    "25:61",
    "../../../etc/passwd",
    "x" * OVERSIZE,
    "é" * OVERSIZE,
]

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)
# Repeated, not drawn character by character: Hypothesis is slow at drawing 6000 characters.
_long_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12).map(
    lambda s: (s * (OVERSIZE // len(s) + 1))[: OVERSIZE + 1]
)

values = st.one_of(
    st.sampled_from(NASTY),
    _text,
    _text.map(lambda s: s + MARKER),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    _long_text,
)

# A field sent several times, or not at all (None).
field_values = st.one_of(values, values, values, st.lists(values, min_size=2, max_size=3), st.none())

# Bytes that are not UTF-8, as a browser could percent-encode them (lone surrogates, truncated).
BAD_UTF8 = ["%ED%A0%80", "%FF%FE", "%C3", "%F4%90%80%80", "%00"]


# --- Files -------------------------------------------------------------------------------------

FILE_NAMES = st.one_of(
    st.sampled_from(
        [
            "a.mp3",
            "a.mp4",
            "a.vtt",
            "a.yaml",
            "a.json",
            "noext",
            ".mp3",
            "a.MP3",
            "a.mp3.exe",
            "../../etc/passwd",
            "con.mp3",
            "a b\u202egpj.mp3",
            "🙂.mp3",
            f"{MARKER}.mp3",
            "x" * 300 + ".mp3",
            "a\x00.mp3",
        ]
    ),
    st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/\\"), min_size=1, max_size=40
    ).map(lambda s: s + ".mp3"),
)
CONTENT_TYPES = st.sampled_from(
    [
        "audio/mpeg",
        "video/mp4",
        "text/vtt",
        "text/html",
        "application/x-msdownload",
        "image/svg+xml",
        "application/json",
        "application/x-yaml",
        "",
        "audio/mpeg; charset=utf-8",
        "multipart/form-data",
    ]
)

_yaml_scalar = st.one_of(
    st.text(max_size=30), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False)
)
_yaml_value = st.recursive(
    _yaml_scalar,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
_LICENSED_KEYS = [
    "instrument",
    "language",
    "title",
    "licence",
    "instructions",
    "options",
    "reverse_scored",
    "severe_threshold",
    "items",
]
_document = st.dictionaries(st.sampled_from(_LICENSED_KEYS) | st.text(max_size=8), _yaml_value, max_size=9)


def licensed_file(title: str, item: str) -> bytes:
    """A CIS fatigue text file in the LICENSED.md format, valid apart from what is passed in."""
    options = ", ".join(f"{{value: {v}, label: {json.dumps(item)}}}" for v in range(1, 8))
    items = ", ".join(json.dumps(item) for _ in range(8))
    return (
        f"instrument: cis_fatigue\nlanguage: en\ntitle: {title}\nlicence: Licensed to the clinic\n"
        f"options: [{options}]\nreverse_scored: [2, 5]\nitems: [{items}]\n"
    ).encode()


QUESTIONNAIRE_FILES = st.one_of(
    st.builds(
        licensed_file,
        st.sampled_from(['"CIS\\0"', "CIS", json.dumps(MARKER)]),
        st.sampled_from(["I feel tired", MARKER, "nul\u0000", "🙂 \u202e"]),
    ),
    st.binary(max_size=2000),
    _document.map(lambda d: json.dumps(d).encode()),
    st.sampled_from(
        [
            b"instrument: phq9\nlanguage: en\n",
            b"instrument: [phq9]\nlanguage: en\ntitle: t\nlicence: l\noptions: []\n"
            b"reverse_scored: []\nitems: []\n",
            b"instrument: {a: 1}\nlanguage: [en]\ntitle: [t]\nlicence: 1\noptions: x\n"
            b"reverse_scored: 3\nitems: 4\n",
            b"a: &a [1, 2]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nd: [*c, *c, *c, *c]\n",
            b"a: &a [*a]\n",
            b'{"\\ud800": 1, "instrument": "\\udfff"}',
            b"[" * 5000 + b"]" * 5000,
            b"{" * 5000,
            b"!!python/object/apply:os.system ['true']\n",
            b"\xff\xfe\x00\x00",
            MARKER.encode(),
            b"- " * 3000 + b"x",
        ]
    ),
)
MEDIA_FILES = st.one_of(
    st.binary(max_size=4000),
    st.sampled_from(
        [
            b"ID3\x03\x00\x00\x00" + b"\x00" * 100,
            b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64,
            b"<html>" + MARKER.encode(),
            b"",
        ]
    ),
)
CAPTION_FILES = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=300).map(
        lambda s: ("WEBVTT\n\n00:00.000 --> 00:01.000\n" + s).encode("utf-8", "replace")
    ),
    st.just(f"WEBVTT\n\n00:00.000 --> 00:01.000\n{MARKER}\n".encode()),
)
LOGO_FILES = st.one_of(
    st.binary(max_size=3000),
    st.text(max_size=300).map(
        lambda s: f'<svg xmlns="http://www.w3.org/2000/svg"><title>{s}</title></svg>'.encode(
            "utf-8", "replace"
        )
    ),
    st.sampled_from(
        [
            b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>',
            b'<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
            b"<svg>" + MARKER.encode() + b"</svg>",
            b"",
        ]
    ),
)
UPLOADS = {
    "media": MEDIA_FILES,
    "captions": CAPTION_FILES,
    "questionnaire": QUESTIONNAIRE_FILES,
    "logo": LOGO_FILES,
}
