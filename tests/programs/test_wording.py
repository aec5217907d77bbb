"""One word for the therapist per language, and Dutch without the calques a clinical review found.

The interface (the Dutch catalogue), the program content (pages, examples, manifests, starter
feedback templates) and the questionnaire texts are read as a patient or therapist sees them.
"""

import ast
import re
from pathlib import Path

import pytest

from programs.questionnaires import INSTRUMENTS

ROOT = Path(__file__).resolve().parent.parent.parent
CONTENT = ROOT / "programs" / "content"
PO_PATH = ROOT / "locale" / "nl" / "LC_MESSAGES" / "django.po"

# Dutch: "behandelaar". "therapeut" (and its plural) is another word for the same person; a
# compound such as "fysiotherapeut" (physiotherapist) is someone else and stays allowed.
DUTCH_OTHER_WORD = re.compile(r"\btherapeut(en)?\b", re.IGNORECASE)
# English: "therapist". "General practitioner" (the GP) is someone else.
ENGLISH_OTHER_WORDS = re.compile(
    r"\b(counsell?ors?|clinicians?|care ?givers?|coach(es)?|behandelaars?)\b|\b(?<!general )practitioners?\b",
    re.IGNORECASE,
)

# Literal translations from English that read as wrong or odd Dutch, with what replaced them.
CALQUES = {
    "uit 10": "(op 10)",
    "veel voorkomende": "veelvoorkomende",
    "Plan op tijd, niet op gevoel": "Plan op de klok, niet op hoe je je voelt",
    "Kies een begintijd": "Kies met hoeveel minuten je begint",
    "voelen als veel": "kosten veel moeite",
    "voelen als lui": "aanvoelen alsof je lui bent",
    "kan waar voelen": "kan heel waar aanvoelen",
    "voelen gek": "lijken onbenullig",
    "plant om ze te gebruiken": "plant ze juist in",
    "een moment tegelijk": "per moment",
    "een kolom tegelijk": "kolom voor kolom",
    "niet wat dit programma zegt": "Zo kijkt dit programma er niet naar",
    "Waarom dit telt": "Waarom dit belangrijk is",
    "zin geven om te veranderen": "motiveren om te veranderen",
    "pushen": "onder druk zetten",
    "jezelf op een of andere manier pijn te doen": "jezelf iets aan te doen",
    "jezelf pijn te doen": "jezelf iets aan te doen",
}
ENGLISH_SLIPS = {
    "and very tired for two years": "has been very tired for two years",
    "Choose a start time": "Choose how many minutes you start with",
}
COLON_TIME = re.compile(r"\b\d{1,2}:\d{2}\b")


def _po_msgstrs(path: Path) -> list[str]:
    """Every translation in a .po file, continuation lines joined, comments and msgids left out."""
    texts, current, in_msgstr = [], [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("msgstr"):
            if current:
                texts.append("".join(current))
            current, in_msgstr = [ast.literal_eval(line.split(" ", 1)[1])], True
        elif line.startswith('"') and in_msgstr:
            current.append(ast.literal_eval(line))
        else:
            in_msgstr = False
    if current:
        texts.append("".join(current))
    return [t for t in texts if t]


def _po_msgids(path: Path) -> list[str]:
    texts, current, in_msgid = [], [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(("msgid ", "msgid_plural ")):
            if current:
                texts.append("".join(current))
            current, in_msgid = [ast.literal_eval(line.split(" ", 1)[1])], True
        elif line.startswith('"') and in_msgid:
            current.append(ast.literal_eval(line))
        else:
            in_msgid = False
    if current:
        texts.append("".join(current))
    return [t for t in texts if t]


def _content_texts(language: str) -> dict[str, str]:
    """Every text file of every program in ``language``, by its path under programs/content/."""
    return {
        str(path.relative_to(CONTENT)): path.read_text(encoding="utf-8")
        for path in sorted(CONTENT.glob(f"*/{language}/**/*"))
        if path.is_file() and path.suffix in (".md", ".yaml")
    }


def _questionnaire_texts(language: str) -> dict[str, str]:
    texts = {}
    for code, instrument in INSTRUMENTS.items():
        for item in instrument.items:
            if language in item.text:
                texts[f"{code} item {item.number}"] = item.text[language]
        for option in instrument.options:
            if language in option.text:
                texts[f"{code} option {option.value}"] = option.text[language]
    return texts


def _dutch_sources() -> dict[str, str]:
    sources = {f"django.po msgstr {i}: {text[:40]!r}": text for i, text in enumerate(_po_msgstrs(PO_PATH))}
    sources.update(_content_texts("nl"))
    sources.update(_questionnaire_texts("nl"))
    return sources


def _english_sources() -> dict[str, str]:
    sources = {f"django.po msgid {i}: {text[:40]!r}": text for i, text in enumerate(_po_msgids(PO_PATH))}
    sources.update(_content_texts("en"))
    sources.update(_questionnaire_texts("en"))
    return sources


def test_the_sources_are_read():
    """The checks below look at the real texts: the catalogue, both programs and the
    questionnaires, and each side uses its own word for the therapist."""
    dutch, english = _dutch_sources(), _english_sources()
    assert sum(1 for name in dutch if name.startswith("django.po")) > 500
    for program in ("master-your-fatigue", "master-your-pain"):
        assert any(n.startswith(f"{program}/nl/") and "behandelaar" in text for n, text in dutch.items())
        assert any(n.startswith(f"{program}/en/") and "therapist" in text for n, text in english.items())
    assert any(name.startswith("phq9 item") for name in dutch)
    assert any("behandelaar" in text for name, text in dutch.items() if name.startswith("django.po"))


def test_dutch_says_behandelaar_never_therapeut():
    found = [
        f"{name}: {match.group(0)!r}"
        for name, text in _dutch_sources().items()
        for match in DUTCH_OTHER_WORD.finditer(text)
    ]
    assert not found, "Use 'behandelaar' for the therapist:\n" + "\n".join(found)


def test_english_says_therapist():
    found = [
        f"{name}: {match.group(0)!r}"
        for name, text in _english_sources().items()
        for match in ENGLISH_OTHER_WORDS.finditer(text)
    ]
    assert not found, "Use 'therapist' for the therapist:\n" + "\n".join(found)


@pytest.mark.parametrize("calque", sorted(CALQUES))
def test_dutch_calques_do_not_come_back(calque):
    found = [name for name, text in _dutch_sources().items() if calque.lower() in text.lower()]
    assert not found, f"{calque!r} (write {CALQUES[calque]!r} instead) in: {found}"


@pytest.mark.parametrize("slip", sorted(ENGLISH_SLIPS))
def test_english_slips_do_not_come_back(slip):
    found = [name for name, text in _content_texts("en").items() if slip.lower() in text.lower()]
    assert not found, f"{slip!r} (write {ENGLISH_SLIPS[slip]!r} instead) in: {found}"


def test_dutch_content_writes_times_with_a_point():
    """Dutch writes "23.00 uur", not "23:00"."""
    found = [
        f"{name}: {match.group(0)}"
        for name, text in _content_texts("nl").items()
        for match in COLON_TIME.finditer(text)
    ]
    assert not found, found


DECONDITIONING = {
    "en": re.compile(
        r"body (gets|get|becomes) weaker|makes your body weaker|body gets used to doing less", re.I
    ),
    "nl": re.compile(r"lijf (wordt )?zwakker|lijf went aan minder doen", re.I),
}


@pytest.mark.parametrize("language", ["en", "nl"])
def test_the_fatigue_program_does_not_explain_fatigue_by_a_weaker_body(language):
    """CBT for CFS does not work by restoring physical condition: the model is about what keeps
    fatigue going (rhythm, beliefs, attention, activity pattern, others), and the text says so."""
    texts = {
        name: text
        for name, text in _content_texts(language).items()
        if name.startswith("master-your-fatigue/")
    }
    found = [name for name, text in texts.items() if DECONDITIONING[language].search(text)]
    assert not found, found
    model = texts[f"master-your-fatigue/{language}/m1/03-model.md"]
    assert ("not work by making you fitter" if language == "en" else "niet doordat je fitter wordt") in model
