"""The stepped-care advice at the end of Master your Fatigue: decision support, not a decision.

Master your Fatigue is the first step of stepped care. A patient who is still severely fatigued or
impaired at the end is advised face-to-face CBT. The rule (the thresholds are configurable because
they are a common operationalisation, not an established truth; see CLINICAL-NOTES.md):

    advise a step up when the end CIS fatigue score >= ICBT_STEPUP_CIS_THRESHOLD (default 35)
    OR the end RAND-36 physical functioning score <= ICBT_STEPUP_RAND_PF_THRESHOLD (default 70;
    lower scores show more impairment)

With one score missing the advice is still "step up" when the other meets its threshold;
otherwise it is "incomplete" until both are known. The therapist and the patient decide, and the
decision is recorded with a reason (``patients.services.stepped_care_decide``), together with the
advice exactly as it was shown.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from programs.questionnaires import CIS_FATIGUE, RAND36_PF

# Programs that end with a stepped-care decision (by program slug).
STEPPED_CARE_PROGRAMS = frozenset({"master-your-fatigue"})

DEFAULT_CIS_THRESHOLD = 35
DEFAULT_RAND_PF_THRESHOLD = 70

STEP_UP = "step_up"
FINISH = "finish"
INCOMPLETE = "incomplete"

ADVICE_LABELS = {
    STEP_UP: _("Advice: step up to face-to-face CBT"),
    FINISH: _("Advice: finish the program"),
    INCOMPLETE: _("No advice yet: the end scores are not complete"),
}


def applies_to(program_slug: str) -> bool:
    return program_slug in STEPPED_CARE_PROGRAMS


def thresholds() -> tuple[int, int]:
    """(CIS threshold, RAND-36 physical functioning threshold) from settings, with defaults."""
    return (
        int(getattr(settings, "ICBT_STEPUP_CIS_THRESHOLD", DEFAULT_CIS_THRESHOLD)),
        int(getattr(settings, "ICBT_STEPUP_RAND_PF_THRESHOLD", DEFAULT_RAND_PF_THRESHOLD)),
    )


@dataclass(frozen=True)
class Advice:
    cis_total: float | None
    pf_total: float | None
    cis_threshold: int
    pf_threshold: int

    @property
    def cis_severe(self) -> bool | None:
        return None if self.cis_total is None else self.cis_total >= self.cis_threshold

    @property
    def pf_impaired(self) -> bool | None:
        return None if self.pf_total is None else self.pf_total <= self.pf_threshold

    @property
    def code(self) -> str:
        if self.cis_severe or self.pf_impaired:
            return STEP_UP
        if self.cis_severe is False and self.pf_impaired is False:
            return FINISH
        return INCOMPLETE

    @property
    def label(self):
        return ADVICE_LABELS[self.code]

    @property
    def rule(self) -> str:
        return _(
            "Step up is advised when the CIS fatigue score at the end is %(cis)s or higher, or the "
            "RAND-36 physical functioning score at the end is %(pf)s or lower (lower scores show more "
            "impairment). Otherwise the advice is to finish."
        ) % {"cis": self.cis_threshold, "pf": self.pf_threshold}

    def as_dict(self) -> dict:
        """The advice as stored with the decision: scores, thresholds and the outcome."""
        return {
            "advice": self.code,
            "cis_total": self.cis_total,
            "pf_total": self.pf_total,
            "cis_threshold": self.cis_threshold,
            "pf_threshold": self.pf_threshold,
            "cis_severe": self.cis_severe,
            "pf_impaired": self.pf_impaired,
        }


def advice_for(
    *, cis_total, pf_total, cis_threshold: int | None = None, pf_threshold: int | None = None
) -> Advice:
    default_cis, default_pf = thresholds()
    return Advice(
        cis_total=_number(cis_total),
        pf_total=_number(pf_total),
        cis_threshold=default_cis if cis_threshold is None else cis_threshold,
        pf_threshold=default_pf if pf_threshold is None else pf_threshold,
    )


def advice_from_responses(responses) -> Advice:
    """The advice from an enrollment's questionnaire responses: the newest end score of each."""
    newest: dict[str, object] = {}
    for response in sorted(responses, key=lambda r: (r.completed_at, r.pk)):
        if response.moment == "end" and response.code in (CIS_FATIGUE, RAND36_PF):
            newest[response.code] = response.total
    return advice_for(cis_total=newest.get(CIS_FATIGUE), pf_total=newest.get(RAND36_PF))


def _number(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return float(value)
    return float(value)
