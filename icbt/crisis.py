"""Crisis information: a fixed national block per language that is always shown.

A clinic's own crisis text (its crisis line, its opening hours) is shown *below* this block and can
never replace it: whatever a clinic types, 113 and 112 stay on the page. The block is data in code,
not a translation, because it differs per country and language (the Dutch block names 113
Zelfmoordpreventie; the English one also names it, as the clinics using this work in the
Netherlands). Sources: 113.nl (0800-0113, free, day and night, chat at 113.nl), 112 for emergencies,
the huisartsenpost outside office hours.
"""

from dataclasses import dataclass

from django.utils import translation


@dataclass(frozen=True)
class CrisisLine:
    name: str
    text: str
    phone: str = ""  # as shown
    tel: str = ""  # for the tel: link (digits only)
    chat_url: str = ""
    chat_label: str = ""


NATIONAL = {
    "nl": (
        CrisisLine(
            name="113 Zelfmoordpreventie",
            text="Denk je aan zelfmoord? Praat erover. Bel gratis, dag en nacht, of chat via 113.nl.",
            phone="0800-0113",
            tel="08000113",
            chat_url="https://www.113.nl",
            chat_label="113.nl",
        ),
        CrisisLine(
            name="Spoed of levensgevaar",
            text="Is er direct gevaar voor jou of een ander? Bel 112.",
            phone="112",
            tel="112",
        ),
        CrisisLine(
            name="Je huisarts of de huisartsenpost",
            text="Bel overdag je huisarts. 's Avonds, 's nachts en in het weekend bel je de huisartsenpost.",
        ),
    ),
    "en": (
        CrisisLine(
            name="Emergency",
            text="If you or someone else is in danger right now, call 112 (or your local emergency number).",
            phone="112",
            tel="112",
        ),
        CrisisLine(
            name="Your GP",
            text="Call your GP (family doctor). Outside office hours, call the out-of-hours GP service.",
        ),
        CrisisLine(
            name="113 Suicide Prevention (Netherlands)",
            text="Thinking about suicide? Talk about it. Free, day and night, or chat at 113.nl.",
            phone="0800-0113",
            tel="08000113",
            chat_url="https://www.113.nl",
            chat_label="113.nl",
        ),
    ),
}


def national_block(language: str | None = None) -> tuple[CrisisLine, ...]:
    """The fixed national crisis lines for ``language`` (the active language by default); English
    for any language without its own block. Never empty."""
    code = (language or translation.get_language() or "en").split("-")[0].lower()
    return NATIONAL.get(code, NATIONAL["en"])
