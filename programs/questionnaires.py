"""Outcome questionnaires: definitions, item texts where the licence allows, and scoring.

Definitions live in code, not in content files: their scoring rules are clinical decisions that
must be reviewed and tested, not edited with the text. Item texts are stored per language
(``{"en": ..., "nl": ...}``); a language without texts falls back to English and says so
(``Presentation.translated``).

Licences (see also programs/content/LICENSED.md):
- PHQ-9 and GAD-7: free to reproduce, translate, display and distribute (credit below). The
  Dutch texts are our own rendering, to be replaced by the official Dutch version (the note
  shown under the questionnaire says so).
- RAND-36 physical functioning: RAND's terms: RAND is credited and every change we made is
  marked. We call it RAND-36, never SF-36 (a trademark of others). Only RAND's English items
  are shipped: the Dutch RAND-36 (Van der Zee & Sanderman, UMCG/SHARE) is not ours to
  distribute, so a clinic that has the Dutch texts loads them as a licensed file
  (``licensed_texts_allowed``); without that a Dutch patient sees the English items with a notice.
- Single-item 0-10 ratings of pain and fatigue: our own wording, in both languages.
- CIS fatigue severity subscale: copyrighted. Only the scoring is here; a clinic loads the item
  texts under its own licence (``LicensedInstrument``), and without them the therapist enters
  the total (``questionnaire_score_entered``).

Every scorer refuses incomplete or out-of-range answers with a ``ValidationError``: a score is
never computed from a partly filled questionnaire.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from programs.thresholds import default_threshold

PHQ9 = "phq9"
GAD7 = "gad7"
RAND36_PF = "rand36_pf"
PAIN_NRS = "pain_nrs"
FATIGUE_NRS = "fatigue_nrs"
CIS_FATIGUE = "cis_fatigue"
CHECK_IN_FATIGUE = "checkin_fatigue"
CHECK_IN_PAIN = "checkin_pain"
CHECK_IN_CODES = (CHECK_IN_FATIGUE, CHECK_IN_PAIN)
# Positions in a check-in's answers: the symptom (0-10), PHQ-9 items 1 and 2 (the PHQ-2, 0-3
# each) and PHQ-9 item 9 (0-3), the safety question.
CHECK_IN_SYMPTOM, CHECK_IN_PHQ_1, CHECK_IN_PHQ_2, CHECK_IN_ITEM_9 = 1, 2, 3, 4
PHQ2_POSITIVE = 3  # a PHQ-2 total of 3 or more suggests depression


@dataclass(frozen=True)
class Option:
    value: int
    text: Mapping[str, str]

    def label(self, language: str) -> str:
        return self.text.get(language) or self.text.get("en", str(self.value))


@dataclass(frozen=True)
class Item:
    number: int
    text: Mapping[str, str]

    def label(self, language: str) -> str:
        return self.text.get(language) or self.text.get("en", "")


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    code: str
    label: object  # lazy translation


@dataclass(frozen=True)
class Flag:
    code: str
    label: object


@dataclass(frozen=True)
class Score:
    """A scored questionnaire. ``total`` is an int, or a float for averaged scales.
    ``entered`` is True when a therapist typed the total instead of the patient answering items."""

    code: str
    total: float
    min_total: float
    max_total: float
    higher_is_better: bool
    band: str = ""
    band_label: object = ""
    flags: tuple[Flag, ...] = ()
    item_scores: Mapping[int, float] = field(default_factory=dict)
    entered: bool = False

    @property
    def flag_codes(self) -> set[str]:
        return {f.code for f in self.flags}


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    short_name: object
    instructions: Mapping[str, str]
    items: tuple[Item, ...]
    options: tuple[Option, ...]
    licence_note: str
    texts_shipped: bool = True
    # A clinic may load texts for a language we do not ship (``LicensedInstrument``).
    licensed_texts_allowed: bool = False
    # Per language: the name shown above the questionnaire and the licence note under it
    # (falling back to ``name`` and ``licence_note``).
    titles: Mapping[str, str] = field(default_factory=dict)
    licence_notes: Mapping[str, str] = field(default_factory=dict)
    higher_is_better: bool = False
    min_total: float = 0
    max_total: float = 0
    bands: tuple[Band, ...] = ()
    # Option values allowed per item; None means the values of ``options``.
    allowed_values: frozenset | None = None
    # Per language: the period the items ask about, as a sentence shown under the title (step
    # titles in the program content name the same period, which the content tests check).
    periods: Mapping[str, str] = field(default_factory=dict)

    @property
    def item_count(self) -> int:
        return len(self.items)

    def band_for(self, total: float) -> Band | None:
        for band in self.bands:
            if band.low <= total <= band.high:
                return band
        return None

    def check_answers(self, answers: Mapping, *, allowed=None) -> dict[int, int]:
        """Normalise ``{item number: value}`` (keys may be ints or digit strings) and refuse
        missing, unknown and out-of-range answers."""
        allowed = (
            allowed
            if allowed is not None
            else (self.allowed_values or frozenset(o.value for o in self.options))
        )
        normalised: dict[int, int] = {}
        errors = []
        invalid: set[int] = set()
        for key, value in answers.items():
            try:
                number = int(key)
            except (TypeError, ValueError):
                errors.append(_("Unknown item %(item)s.") % {"item": key})
                continue
            if not 1 <= number <= self.item_count:
                errors.append(_("Unknown item %(item)s.") % {"item": key})
                continue
            if value is None or value == "":
                continue
            integer = _as_int(value)
            if integer is None:
                invalid.add(number)
                errors.append(_("Item %(item)s: not a valid answer.") % {"item": number})
                continue
            if integer not in allowed:
                invalid.add(number)
                errors.append(
                    _("Item %(item)s: %(value)s is out of range.") % {"item": number, "value": value}
                )
                continue
            normalised[number] = integer
        missing = [n for n in range(1, self.item_count + 1) if n not in normalised and n not in invalid]
        if missing:
            errors.append(
                _("Please answer every question. Missing: %(items)s.")
                % {"items": ", ".join(str(n) for n in missing)}
            )
        if errors:
            raise ValidationError(errors)
        return normalised

    def score(self, answers: Mapping, **options) -> Score:
        return SCORERS[self.code](
            self, self.check_answers(answers, allowed=options.pop("allowed", None)), **options
        )


def _as_int(value) -> int | None:
    """An int from an int or a string of digits; None for anything else (bools, floats with a
    fraction, text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


_FREQUENCY_OPTIONS = (
    Option(0, {"en": "Not at all", "nl": "Helemaal niet"}),
    Option(1, {"en": "Several days", "nl": "Een aantal dagen"}),
    Option(2, {"en": "More than half the days", "nl": "Meer dan de helft van de dagen"}),
    Option(3, {"en": "Nearly every day", "nl": "Bijna elke dag"}),
)

_PFIZER_NOTE = (
    "Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues, with an "
    "educational grant from Pfizer Inc. No permission required to reproduce, translate, display or "
    "distribute."
)

# Shown under the Dutch PHQ-9 and GAD-7 until the official Dutch version replaces our rendering.
_PFIZER_NOTE_NL = (
    "Ontwikkeld door dr. Robert L. Spitzer, dr. Janet B.W. Williams, dr. Kurt Kroenke en collega's, "
    "met een onderwijsbeurs van Pfizer Inc. Vrij te vermenigvuldigen, vertalen, tonen en verspreiden "
    "zonder toestemming. Nederlandse tekst: een eigen vertaling van het icbt-project, nog te "
    "vervangen door de officiële Nederlandse versie (our rendering, to be replaced by the official "
    "Dutch version)."
)
_FREQUENCY_INSTRUCTIONS_NL = "Hoe vaak heb je in de afgelopen 2 weken last gehad van de volgende problemen?"

PHQ9_INSTRUMENT = Instrument(
    periods={
        "en": "These questions are about the past two weeks.",
        "nl": "Deze vragen gaan over de afgelopen twee weken.",
    },
    code=PHQ9,
    name="PHQ-9",
    short_name=_("Mood (PHQ-9)"),
    instructions={
        "en": "Over the last 2 weeks, how often have you been bothered by any of the following problems?",
        "nl": _FREQUENCY_INSTRUCTIONS_NL,
    },
    items=tuple(
        Item(n, {"en": en, "nl": nl})
        for n, (en, nl) in enumerate(
            [
                (
                    "Little interest or pleasure in doing things",
                    "Weinig interesse in of plezier aan dingen doen",
                ),
                ("Feeling down, depressed, or hopeless", "Je somber, depressief of hopeloos voelen"),
                (
                    "Trouble falling or staying asleep, or sleeping too much",
                    "Moeite met inslapen of doorslapen, of juist te veel slapen",
                ),
                ("Feeling tired or having little energy", "Je moe voelen of weinig energie hebben"),
                ("Poor appetite or overeating", "Weinig eetlust of juist te veel eten"),
                (
                    "Feeling bad about yourself — or that you are a failure or have let yourself or your "
                    "family down",
                    "Je slecht voelen over jezelf — of het gevoel hebben dat je een mislukking bent, of dat "
                    "je jezelf of je familie hebt teleurgesteld",
                ),
                (
                    "Trouble concentrating on things, such as reading the newspaper or watching television",
                    "Moeite om je te concentreren, bijvoorbeeld bij het lezen van de krant of bij "
                    "televisiekijken",
                ),
                (
                    "Moving or speaking so slowly that other people could have noticed? Or the opposite — "
                    "being so fidgety or restless that you have been moving around a lot more than usual",
                    "Zo langzaam bewegen of praten dat anderen het gemerkt kunnen hebben? Of juist het "
                    "omgekeerde — zo onrustig of rusteloos zijn dat je veel meer hebt bewogen dan normaal",
                ),
                (
                    "Thoughts that you would be better off dead or of hurting yourself in some way",
                    "Gedachten dat je beter dood zou kunnen zijn, of gedachten om jezelf op een of andere "
                    "manier iets aan te doen",
                ),
            ],
            start=1,
        )
    ),
    options=_FREQUENCY_OPTIONS,
    licence_note="PHQ-9. " + _PFIZER_NOTE,
    licence_notes={"nl": "PHQ-9. " + _PFIZER_NOTE_NL},
    min_total=0,
    max_total=27,
    bands=(
        Band(0, 4, "minimal", _("minimal")),
        Band(5, 9, "mild", _("mild")),
        Band(10, 14, "moderate", _("moderate")),
        Band(15, 19, "moderately_severe", _("moderately severe")),
        Band(20, 27, "severe", _("severe")),
    ),
)

GAD7_INSTRUMENT = Instrument(
    periods={
        "en": "These questions are about the past two weeks.",
        "nl": "Deze vragen gaan over de afgelopen twee weken.",
    },
    code=GAD7,
    name="GAD-7",
    short_name=_("Worry and anxiety (GAD-7)"),
    instructions={
        "en": "Over the last 2 weeks, how often have you been bothered by the following problems?",
        "nl": _FREQUENCY_INSTRUCTIONS_NL,
    },
    items=tuple(
        Item(n, {"en": en, "nl": nl})
        for n, (en, nl) in enumerate(
            [
                ("Feeling nervous, anxious, or on edge", "Je nerveus, angstig of gespannen voelen"),
                (
                    "Not being able to stop or control worrying",
                    "Niet kunnen stoppen met piekeren, of het piekeren niet in de hand hebben",
                ),
                ("Worrying too much about different things", "Je te veel zorgen maken over allerlei dingen"),
                ("Trouble relaxing", "Moeite om te ontspannen"),
                (
                    "Being so restless that it is hard to sit still",
                    "Zo onrustig zijn dat stilzitten moeilijk is",
                ),
                ("Becoming easily annoyed or irritable", "Snel geërgerd of prikkelbaar zijn"),
                (
                    "Feeling afraid, as if something awful might happen",
                    "Je bang voelen, alsof er iets vreselijks zou kunnen gebeuren",
                ),
            ],
            start=1,
        )
    ),
    options=_FREQUENCY_OPTIONS,
    licence_note="GAD-7. " + _PFIZER_NOTE,
    licence_notes={"nl": "GAD-7. " + _PFIZER_NOTE_NL},
    min_total=0,
    max_total=21,
    bands=(
        Band(0, 4, "minimal", _("minimal")),
        Band(5, 9, "mild", _("mild")),
        Band(10, 14, "moderate", _("moderate")),
        Band(15, 21, "severe", _("severe")),
    ),
)

RAND36_CREDIT = (
    "Items 3-12 (physical functioning) of the RAND 36-Item Health Survey 1.0, developed at RAND as part of "
    "the Medical Outcomes Study, used under RAND's terms of use. RAND does not endorse this application. "
    "Changes made by the icbt project, not by RAND: only the ten physical-functioning items are asked, "
    "one per question on a screen, and they are scored on their own (0-100). The item wording is RAND's, "
    "unchanged; any later change to it is marked [changed by icbt]."
)

RAND36_PF_INSTRUMENT = Instrument(
    periods={
        "en": "These questions are about what your health lets you do these days.",
        "nl": "Deze vragen gaan over wat je gezondheid je op dit moment laat doen.",
    },
    code=RAND36_PF,
    name="RAND-36 physical functioning",
    short_name=_("Physical functioning (RAND-36)"),
    instructions={
        "en": "The following items are about activities you might do during a typical day. "
        "Does your health now limit you in these activities? If so, how much?"
    },
    items=tuple(
        Item(n, {"en": text})
        for n, text in enumerate(
            [
                "Vigorous activities, such as running, lifting heavy objects, participating in "
                "strenuous sports",
                "Moderate activities, such as moving a table, pushing a vacuum cleaner, bowling, or "
                "playing golf",
                "Lifting or carrying groceries",
                "Climbing several flights of stairs",
                "Climbing one flight of stairs",
                "Bending, kneeling, or stooping",
                "Walking more than a mile",
                "Walking several blocks",
                "Walking one block",
                "Bathing or dressing yourself",
            ],
            start=1,
        )
    ),
    options=(
        Option(1, {"en": "Yes, limited a lot"}),
        Option(2, {"en": "Yes, limited a little"}),
        Option(3, {"en": "No, not limited at all"}),
    ),
    licence_note=RAND36_CREDIT,
    licensed_texts_allowed=True,
    titles={"nl": "RAND-36 lichamelijk functioneren"},
    higher_is_better=True,
    min_total=0,
    max_total=100,
)

_NRS_OPTIONS = tuple(Option(v, {"en": str(v)}) for v in range(11))

PAIN_NRS_INSTRUMENT = Instrument(
    periods={"en": "This question is about the past week.", "nl": "Deze vraag gaat over de afgelopen week."},
    code=PAIN_NRS,
    name="Pain intensity (0-10)",
    short_name=_("Pain (0-10)"),
    titles={"nl": "Pijn (0-10)"},
    instructions={"en": "Choose the number that fits best.", "nl": "Kies het getal dat het best past."},
    items=(
        Item(
            1,
            {
                "en": "How much pain have you had on average in the past week? "
                "0 is no pain, 10 is the worst pain you can imagine.",
                "nl": "Hoeveel pijn had je de afgelopen week gemiddeld? "
                "0 is geen pijn, 10 is de ergste pijn die je je kunt voorstellen.",
            },
        ),
    ),
    options=_NRS_OPTIONS,
    licence_note="Single-item numeric rating scale, wording by the icbt project.",
    licence_notes={"nl": "Eén vraag met een schaal van 0 tot 10, in eigen woorden van het icbt-project."},
    min_total=0,
    max_total=10,
)

FATIGUE_NRS_INSTRUMENT = Instrument(
    periods={"en": "This question is about the past week.", "nl": "Deze vraag gaat over de afgelopen week."},
    code=FATIGUE_NRS,
    name="Fatigue (0-10)",
    short_name=_("Fatigue (0-10)"),
    titles={"nl": "Vermoeidheid (0-10)"},
    instructions={"en": "Choose the number that fits best.", "nl": "Kies het getal dat het best past."},
    items=(
        Item(
            1,
            {
                "en": "How tired have you been on average in the past week? "
                "0 is not tired at all, 10 is as tired as you can imagine.",
                "nl": "Hoe moe was je de afgelopen week gemiddeld? "
                "0 is helemaal niet moe, 10 is zo moe als je je maar kunt voorstellen.",
            },
        ),
    ),
    options=_NRS_OPTIONS,
    licence_note="Single-item numeric rating scale, wording by the icbt project.",
    licence_notes={"nl": "Eén vraag met een schaal van 0 tot 10, in eigen woorden van het icbt-project."},
    min_total=0,
    max_total=10,
)

# The published severe-fatigue threshold; a clinic's licensed file or the installation's setting
# may differ (programs.thresholds holds the rule).
CIS_DEFAULT_SEVERE_THRESHOLD = 35

CIS_FATIGUE_INSTRUMENT = Instrument(
    periods={
        "en": "These questions are about the past two weeks.",
        "nl": "Deze vragen gaan over de afgelopen twee weken.",
    },
    code=CIS_FATIGUE,
    name="CIS fatigue severity",
    short_name=_("Fatigue severity (CIS)"),
    titles={"nl": "CIS ernst van de vermoeidheid"},
    instructions={},
    items=tuple(Item(n, {}) for n in range(1, 9)),
    options=tuple(Option(v, {"en": str(v)}) for v in range(1, 8)),
    licence_note=(
        "Checklist Individual Strength (CIS), fatigue severity subscale: copyrighted by its authors. "
        "The item texts are not shipped; a clinic loads them under its own licence "
        "(programs/content/LICENSED.md)."
    ),
    texts_shipped=False,
    min_total=8,
    max_total=56,
    bands=(
        Band(8, 34, "not_severe", _("not severe")),
        Band(35, 56, "severe", _("severe fatigue")),
    ),
)


def _check_in(code: str, name: str, short_name, symptom: Item) -> Instrument:
    """A weekly check-in of under a minute: the program's symptom (0-10, past week), the PHQ-2
    (PHQ-9 items 1 and 2) and PHQ-9 item 9 on its own as the safety question. The PHQ items keep
    their wording and answer options (free to reproduce, translate and display)."""
    phq = {item.number: item for item in PHQ9_INSTRUMENT.items}
    return Instrument(
        code=code,
        name=name,
        short_name=short_name,
        instructions={
            "en": "Four short questions: one about your week, two about your mood and one about how "
            "safe you feel. It takes less than a minute.",
            "nl": "Vier korte vragen: een over je week, twee over je stemming en een over hoe veilig "
            "je je voelt. Het duurt minder dan een minuut.",
        },
        items=(
            Item(CHECK_IN_SYMPTOM, symptom.text),
            Item(CHECK_IN_PHQ_1, phq[1].text),
            Item(CHECK_IN_PHQ_2, phq[2].text),
            Item(CHECK_IN_ITEM_9, phq[9].text),
        ),
        options=PHQ9_INSTRUMENT.options,
        allowed_values=frozenset(range(11)),
        licence_note="Symptom scale: wording by the icbt project. PHQ items: Pfizer, free to use.",
        licence_notes={
            "nl": "Klachtenschaal: eigen woorden van het icbt-project. PHQ-vragen: Pfizer, vrij te gebruiken."
        },
        titles={"nl": "Wekelijkse check-in"},
        min_total=0,
        max_total=10,
        periods={
            "en": "The first question is about the past week; the mood questions, as always, about the "
            "past two weeks.",
            "nl": "De eerste vraag gaat over de afgelopen week; de vragen over je stemming, zoals altijd, "
            "over de afgelopen twee weken.",
        },
    )


CHECK_IN_FATIGUE_INSTRUMENT = _check_in(
    CHECK_IN_FATIGUE, "Weekly check-in (fatigue)", _("Weekly check-in"), FATIGUE_NRS_INSTRUMENT.items[0]
)
CHECK_IN_PAIN_INSTRUMENT = _check_in(
    CHECK_IN_PAIN, "Weekly check-in (pain)", _("Weekly check-in"), PAIN_NRS_INSTRUMENT.items[0]
)

INSTRUMENTS: dict[str, Instrument] = {
    i.code: i
    for i in (
        PHQ9_INSTRUMENT,
        GAD7_INSTRUMENT,
        RAND36_PF_INSTRUMENT,
        PAIN_NRS_INSTRUMENT,
        FATIGUE_NRS_INSTRUMENT,
        CIS_FATIGUE_INSTRUMENT,
        CHECK_IN_FATIGUE_INSTRUMENT,
        CHECK_IN_PAIN_INSTRUMENT,
    )
}
# The 0-10 symptom scale each check-in shares with a start/end questionnaire (its baseline).
CHECK_IN_SYMPTOM_SCALE = {CHECK_IN_FATIGUE: FATIGUE_NRS, CHECK_IN_PAIN: PAIN_NRS}


def band_label(code: str, band: str) -> str:
    """The readable name of the band ``band`` of questionnaire ``code`` (the code itself when
    it is not one of the instrument's bands)."""
    instrument = INSTRUMENTS.get(code)
    bands = instrument.bands if instrument is not None else ()
    return next((str(b.label) for b in bands if b.code == band), band or "")


def get_instrument(code: str) -> Instrument:
    try:
        return INSTRUMENTS[code]
    except KeyError:
        raise ValidationError(_("Unknown questionnaire %(code)s.") % {"code": code}) from None


# --- Scorers ------------------------------------------------------------------------------


def _score_sum_with_bands(instrument: Instrument, answers: dict[int, int]) -> Score:
    total = sum(answers.values())
    band = instrument.band_for(total)
    return Score(
        code=instrument.code,
        total=total,
        min_total=instrument.min_total,
        max_total=instrument.max_total,
        higher_is_better=instrument.higher_is_better,
        band=band.code if band else "",
        band_label=band.label if band else "",
        flags=_flags(instrument.code, total, answers),
        item_scores=dict(answers),
    )


def _flags(code: str, total: float, answers: Mapping[int, int] | None) -> tuple[Flag, ...]:
    flags = []
    if code == PHQ9 and answers is not None and answers.get(9, 0) > 0:
        flags.append(
            Flag(
                "self_harm",
                _(
                    "Item 9 (thoughts of being better off dead or of self-harm) was "
                    "answered above 0: contact the patient soon."
                ),
            )
        )
    if code == PHQ9 and total >= 10:
        flags.append(Flag("possible_depression", _("A total of 10 or more suggests depression.")))
    if code == GAD7 and total >= 10:
        flags.append(
            Flag("possible_anxiety_disorder", _("A total of 10 or more suggests an anxiety disorder."))
        )
    return tuple(flags)


RAND36_PF_ITEM_SCORES = {1: 0.0, 2: 50.0, 3: 100.0}


def _score_rand36_pf(instrument: Instrument, answers: dict[int, int]) -> Score:
    """Each item: 'limited a lot' 0, 'limited a little' 50, 'not limited' 100; the scale is their
    average, 0-100, higher is better."""
    item_scores = {n: RAND36_PF_ITEM_SCORES[v] for n, v in answers.items()}
    total = float(
        Decimal(sum(item_scores.values()) / len(item_scores)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    )
    return Score(
        code=instrument.code,
        total=total,
        min_total=0,
        max_total=100,
        higher_is_better=True,
        item_scores=item_scores,
    )


def _score_nrs(instrument: Instrument, answers: dict[int, int]) -> Score:
    return Score(
        code=instrument.code,
        total=answers[1],
        min_total=0,
        max_total=10,
        higher_is_better=False,
        item_scores=dict(answers),
    )


def _score_cis(
    instrument: Instrument,
    answers: dict[int, int],
    *,
    reverse_scored=None,
    severe_threshold: int | None = None,
) -> Score:
    """Each item 1-7; items at the positions in ``reverse_scored`` count as 8 - answer. The total
    (8-56) is severe fatigue at or above the threshold (default 35; 40 is used in some research).

    The reversed positions come from the clinic's licensed file: they depend on how its form
    numbers the answer boxes (see LICENSED.md), so there is deliberately no default here.
    """
    if reverse_scored is None:
        raise ValidationError(
            _("The reversed items of this questionnaire are not known: load the licensed file.")
        )
    reverse = set(validate_reverse_positions(reverse_scored, item_count=instrument.item_count))
    item_scores = {n: (8 - v if n in reverse else v) for n, v in answers.items()}
    total = sum(item_scores.values())
    return _cis_score(total, severe_threshold, item_scores=item_scores)


def _cis_score(total: int, severe_threshold: int | None, *, item_scores=None, entered=False) -> Score:
    threshold = severe_threshold or default_threshold(CIS_FATIGUE).value
    severe = total >= threshold
    return Score(
        code=CIS_FATIGUE,
        total=total,
        min_total=8,
        max_total=56,
        higher_is_better=False,
        band="severe" if severe else "not_severe",
        band_label=_("severe fatigue") if severe else _("not severe"),
        flags=(
            Flag(
                "severe_fatigue",
                _("Severe fatigue (%(total)s, threshold %(threshold)s).")
                % {"total": total, "threshold": threshold},
            ),
        )
        if severe
        else (),
        item_scores=item_scores or {},
        entered=entered,
    )


def validate_reverse_positions(positions, *, item_count: int = 8) -> list[int]:
    if (
        not isinstance(positions, list | tuple)
        or any(isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= item_count for p in positions)
        or len(set(positions)) != len(positions)
    ):
        raise ValidationError(
            _("reverse_scored must be a list of different item positions from 1 to %(n)s.")
            % {"n": item_count}
        )
    return list(positions)


def _score_check_in(instrument: Instrument, answers: dict[int, int]) -> Score:
    """The total is the symptom score (0-10); the PHQ-2 is read from the answers (``phq2``);
    item 9 above 0 raises the same self-harm flag as in the PHQ-9, so it takes the urgent path."""
    highest = {CHECK_IN_SYMPTOM: 10, CHECK_IN_PHQ_1: 3, CHECK_IN_PHQ_2: 3, CHECK_IN_ITEM_9: 3}
    clean = dict(answers)  # complete and 0-10 already (check_answers)
    for number, high in highest.items():
        if clean[number] > high:
            raise ValidationError(
                _("Item %(item)s: %(value)s is out of range.") % {"item": number, "value": clean[number]}
            )
    flags = ()
    if clean[CHECK_IN_ITEM_9] > 0:
        flags = (
            Flag(
                "self_harm",
                _(
                    "The safety question (thoughts of being better off dead or of self-harm) was "
                    "answered above 0: contact the patient soon."
                ),
            ),
        )
    return Score(
        code=instrument.code,
        total=clean[CHECK_IN_SYMPTOM],
        min_total=0,
        max_total=10,
        higher_is_better=False,
        flags=flags,
        item_scores=clean,
    )


def phq2(answers) -> int | None:
    """The PHQ-2 total (0-6) of a check-in's stored answers, None when they are not there."""
    if not answers or len(answers) < CHECK_IN_PHQ_2:
        return None
    return int(answers[CHECK_IN_PHQ_1 - 1]) + int(answers[CHECK_IN_PHQ_2 - 1])


SCORERS = {
    CHECK_IN_FATIGUE: _score_check_in,
    CHECK_IN_PAIN: _score_check_in,
    PHQ9: _score_sum_with_bands,
    GAD7: _score_sum_with_bands,
    RAND36_PF: _score_rand36_pf,
    PAIN_NRS: _score_nrs,
    FATIGUE_NRS: _score_nrs,
    CIS_FATIGUE: _score_cis,
}


def safety_item(code: str) -> int | None:
    """The item that asks about thoughts of self-harm (PHQ-9 item 9, the check-in's safety
    question), or None for an instrument without one."""
    if code == PHQ9:
        return 9
    if code in CHECK_IN_CODES:
        return CHECK_IN_ITEM_9
    return None


def posted_safety_answer(code: str, data: Mapping) -> bool:
    """Whether a posted form (``q<n>`` fields) answers the safety item above 0, whether or not the
    rest of the form is valid or the answer could be kept: the crisis lines are then shown."""
    item = safety_item(code)
    if item is None:
        return False
    try:
        return int(str(data.get(f"q{item}", "")).strip()) > 0
    except ValueError:
        return False


def questionnaire_score(code: str, answers: Mapping, **options) -> Score:
    """Score item answers ``{item number: value}``. For ``cis_fatigue`` pass ``reverse_scored``
    (and optionally ``severe_threshold``) from the clinic's licensed instrument."""
    return get_instrument(code).score(answers, **options)


def questionnaire_score_entered(*, code: str, total, severe_threshold: int | None = None) -> Score:
    """Validate and interpret a total a therapist entered (when no item texts are available, or
    from a paper form). Refuses a value outside the instrument's range or one that its items
    cannot produce (RAND-36 physical functioning moves in steps of 5). Item-level flags, such as
    PHQ-9 item 9, cannot be known from a total: the therapist must check the paper form."""
    instrument = get_instrument(code)
    if isinstance(total, bool):
        raise ValidationError(_("Enter a whole number."))
    try:
        value = Decimal(str(total).strip())
    except Exception:  # noqa: BLE001 - any unparseable value is the same error
        raise ValidationError(_("Enter a number.")) from None
    if not value.is_finite():
        raise ValidationError(_("Enter a number."))
    if not instrument.min_total <= value <= instrument.max_total:
        raise ValidationError(
            _("The total must be between %(min)s and %(max)s.")
            % {"min": _fmt(instrument.min_total), "max": _fmt(instrument.max_total)}
        )
    if code == RAND36_PF:
        if value % 5 != 0:
            raise ValidationError(_("This score moves in steps of 5 (0, 5, 10, ... 100)."))
        return Score(
            code=code, total=float(value), min_total=0, max_total=100, higher_is_better=True, entered=True
        )
    if value != value.to_integral_value():
        raise ValidationError(_("Enter a whole number."))
    whole = int(value)
    if code == CIS_FATIGUE:
        return _cis_score(whole, severe_threshold, entered=True)
    band = instrument.band_for(whole)
    return Score(
        code=code,
        total=whole,
        min_total=instrument.min_total,
        max_total=instrument.max_total,
        higher_is_better=instrument.higher_is_better,
        band=band.code if band else "",
        band_label=band.label if band else "",
        flags=_flags(code, whole, None),
        entered=True,
    )


def _fmt(number) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


# --- Change on a 0-10 rating (IMMPACT) -----------------------------------------------------

MODERATE_CHANGE_PERCENT = 30
SUBSTANTIAL_CHANGE_PERCENT = 50


@dataclass(frozen=True)
class Change:
    category: str  # substantial_improvement | moderate_improvement | no_important_change | worse
    label: object
    percent: float | None  # reduction in percent of the baseline (negative: an increase)


def classify_change(baseline, follow_up, *, higher_is_worse: bool = True) -> Change:
    """Classify the change on a 0-10 rating between two measurements (IMMPACT: 30% less is a
    moderately important, 50% less a substantially important improvement). An increase of 30%
    or more counts as worse. A baseline of 0 has no percentage: any rise is worse."""
    for value in (baseline, follow_up):
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal) or not 0 <= value <= 10:
            raise ValidationError(_("A rating must be a number from 0 to 10."))
    if not higher_is_worse:
        baseline, follow_up = 10 - baseline, 10 - follow_up
    if baseline == 0:
        if follow_up > 0:
            return Change("worse", _("worse"), None)
        return Change("no_important_change", _("no important change"), None)
    percent = float((Decimal(str(baseline)) - Decimal(str(follow_up))) / Decimal(str(baseline)) * 100)
    if percent >= SUBSTANTIAL_CHANGE_PERCENT:
        return Change("substantial_improvement", _("substantially better"), percent)
    if percent >= MODERATE_CHANGE_PERCENT:
        return Change("moderate_improvement", _("moderately better"), percent)
    if percent <= -MODERATE_CHANGE_PERCENT:
        return Change("worse", _("worse"), percent)
    return Change("no_important_change", _("no important change"), percent)


# --- Presentation: what a form shows, in one language --------------------------------------


@dataclass(frozen=True)
class Presentation:
    """Everything needed to show a questionnaire in one language. ``available`` is False for a
    licensed instrument without loaded texts (the therapist enters the score); ``translated`` is
    False when English texts stand in for the requested language."""

    instrument: Instrument
    language: str
    available: bool
    translated: bool
    title: str
    instructions: str
    items: tuple[tuple[int, str], ...]
    options: tuple[tuple[int, str], ...]
    licence_note: str
    scoring_options: Mapping = field(default_factory=dict)
    period: str = ""


def questionnaire_presentation(code: str, language: str, *, licensed=None) -> Presentation:
    """Texts for ``code`` in ``language``. ``licensed`` is the clinic's ``LicensedInstrument``
    for licensed instruments (see ``selectors.licensed_instrument_for``)."""
    instrument = get_instrument(code)
    if not instrument.texts_shipped:
        if licensed is None:
            return Presentation(
                instrument,
                language,
                False,
                False,
                instrument.titles.get(language) or instrument.name,
                "",
                (),
                (),
                instrument.licence_note,
            )
        return Presentation(
            instrument,
            language,
            True,
            licensed.language == language,
            licensed.title,
            licensed.instructions,
            tuple((n, text) for n, text in enumerate(licensed.items, start=1)),
            tuple((o["value"], o["label"]) for o in licensed.options),
            licensed.licence_note,
            {"reverse_scored": list(licensed.reverse_scored), "severe_threshold": licensed.severe_threshold},
            instrument.periods.get(language) or instrument.periods.get("en", ""),
        )
    translated = all(language in item.text for item in instrument.items)
    title = instrument.titles.get(language) or instrument.name
    if (
        not translated
        and instrument.licensed_texts_allowed
        and licensed is not None
        and licensed.language == language
    ):
        # Texts the clinic loaded for a language we do not ship (the Dutch RAND-36). Scoring
        # stays ours: no scoring options come from the file.
        return Presentation(
            instrument,
            language,
            True,
            True,
            licensed.title or title,
            licensed.instructions,
            tuple((n, text) for n, text in enumerate(licensed.items, start=1)),
            tuple((o["value"], o["label"]) for o in licensed.options),
            licensed.licence_note,
        )
    lang = language if translated else "en"
    return Presentation(
        instrument,
        language,
        True,
        translated,
        title,
        instrument.instructions.get(lang, ""),
        tuple((item.number, item.label(lang)) for item in instrument.items),
        tuple((o.value, o.label(lang)) for o in instrument.options),
        instrument.licence_notes.get(lang) or instrument.licence_note,
        period=instrument.periods.get(lang) or instrument.periods.get("en", ""),
    )
