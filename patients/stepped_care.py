"""The stepped-care advice of Master your Fatigue: decision support, not a decision.

Master your Fatigue is the first step of stepped care. A patient who is still severely fatigued or
impaired at the end is advised face-to-face CBT. The rule (the thresholds are configurable because
they are a common operationalisation, not an established truth; see CLINICAL-NOTES.md):

    advise a step up when the end CIS fatigue score >= the CIS threshold (default 35)
    OR the end RAND-36 physical functioning score <= the PF threshold (default 70; lower scores
    show more impairment)

The thresholds come from ``programs.thresholds``, the same place the CIS band shown with a score
reads (the clinic's licensed file, else the installation's setting, else the published value),
and the advice names the number it used and where it came from.

The same rule on the mid-treatment measurement (after module 3) gives an early signal: "likely to
need face-to-face CBT", a reason for an early conversation, not a decision.

With one score missing the advice is still "step up" when the other meets its threshold;
otherwise it is "incomplete" until both are known. The therapist and the patient decide, and the
decision is recorded with a reason (``patients.services.stepped_care_decide``), together with the
advice exactly as it was shown.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from programs.questionnaires import CIS_FATIGUE, RAND36_PF
from programs.thresholds import Threshold, default_threshold, threshold_for, threshold_from_licensed

# Programs that end with a stepped-care decision (by program slug).
STEPPED_CARE_PROGRAMS = frozenset({"master-your-fatigue"})

DEFAULT_CIS_THRESHOLD = 35
DEFAULT_RAND_PF_THRESHOLD = 70

OUTCOME_CODES = (CIS_FATIGUE, RAND36_PF)

STEP_UP = "step_up"
FINISH = "finish"
INCOMPLETE = "incomplete"

ADVICE_LABELS = {
    STEP_UP: _("Advice: step up to face-to-face CBT"),
    FINISH: _("Advice: finish the program"),
    INCOMPLETE: _("No advice yet: the end scores are not complete"),
}
MID_LABELS = {
    STEP_UP: _("Likely to need face-to-face CBT: plan an early conversation"),
    FINISH: _("On track: no sign yet that face-to-face CBT will be needed"),
    INCOMPLETE: _("No early signal: the mid-treatment scores are not complete"),
}


def applies_to(program_slug: str) -> bool:
    return program_slug in STEPPED_CARE_PROGRAMS


def thresholds() -> tuple[int, int]:
    """(CIS threshold, RAND-36 physical functioning threshold) without a clinic: the
    installation's settings, defaulting to the published values."""
    return default_threshold(CIS_FATIGUE).value, default_threshold(RAND36_PF).value


@dataclass(frozen=True)
class Advice:
    cis_total: float | None
    pf_total: float | None
    cis_threshold: int
    pf_threshold: int
    cis_from: Threshold | None = None
    pf_from: Threshold | None = None
    moment: str = "end"

    @property
    def cis_source(self) -> str:
        return self.cis_from.source_label if self.cis_from else ""

    @property
    def pf_source(self) -> str:
        return self.pf_from.source_label if self.pf_from else ""

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
        return (MID_LABELS if self.moment == "module" else ADVICE_LABELS)[self.code]

    @property
    def rule(self) -> str:
        if self.moment == "module":
            return _(
                "Face-to-face CBT is likely to be needed when the CIS fatigue score at the "
                "mid-treatment measurement is %(cis)s or higher, or the RAND-36 physical functioning "
                "score then is %(pf)s or lower: the end-of-program rule, applied early, as a reason "
                "for an early conversation."
            ) % {"cis": self.cis_threshold, "pf": self.pf_threshold}
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
            "cis_threshold_source": self.cis_from.source if self.cis_from else "",
            "pf_threshold_source": self.pf_from.source if self.pf_from else "",
        }


def advice_for(
    *,
    cis_total,
    pf_total,
    cis_threshold: int | Threshold | None = None,
    pf_threshold: int | Threshold | None = None,
    moment: str = "end",
) -> Advice:
    cis = _threshold(CIS_FATIGUE, cis_threshold)
    pf = _threshold(RAND36_PF, pf_threshold)
    return Advice(
        cis_total=_number(cis_total),
        pf_total=_number(pf_total),
        cis_threshold=cis.value,
        pf_threshold=pf.value,
        cis_from=cis,
        pf_from=pf,
        moment=moment,
    )


def _threshold(code: str, given) -> Threshold:
    if isinstance(given, Threshold):
        return given
    if given is None:
        return default_threshold(code)
    return Threshold(code, int(given), "setting")


def advice_from_responses(responses, *, cis_threshold=None, pf_threshold=None, moment: str = "end") -> Advice:
    """The advice from an enrollment's questionnaire responses: the newest score of each at
    ``moment`` (``end``, or ``module`` for the mid-treatment measurement)."""
    newest: dict[str, object] = {}
    for response in sorted(responses, key=lambda r: (r.completed_at, r.pk)):
        if response.moment == moment and response.code in (CIS_FATIGUE, RAND36_PF):
            newest[response.code] = response.total
    return advice_for(
        cis_total=newest.get(CIS_FATIGUE),
        pf_total=newest.get(RAND36_PF),
        cis_threshold=cis_threshold,
        pf_threshold=pf_threshold,
        moment=moment,
    )


def enrollment_thresholds(enrollment, *, licensed=None) -> tuple[Threshold, Threshold]:
    """The CIS and RAND-36 physical functioning thresholds for ``enrollment``'s clinic and program
    language: the numbers its CIS bands were scored with. One query, none when the clinic's
    licensed rows are given (``licensed``: e.g. ``Progress.licensed_thresholds``)."""
    language = enrollment.version.language
    if licensed is not None:
        return (
            threshold_from_licensed(CIS_FATIGUE, licensed, language=language),
            default_threshold(RAND36_PF),
        )
    return (
        threshold_for(clinic_id=enrollment.clinic_id, code=CIS_FATIGUE, language=language),
        threshold_for(clinic_id=enrollment.clinic_id, code=RAND36_PF, language=language),
    )


def advice_for_enrollment(enrollment, responses, *, moment: str = "end", licensed=None) -> Advice:
    """The advice for ``enrollment`` at ``moment`` with its clinic's thresholds (from
    ``licensed`` when given, see ``enrollment_thresholds``)."""
    cis, pf = enrollment_thresholds(enrollment, licensed=licensed)
    return advice_from_responses(responses, cis_threshold=cis, pf_threshold=pf, moment=moment)


def _number(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return float(value)
    return float(value)
