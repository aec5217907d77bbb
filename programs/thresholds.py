"""The thresholds that interpret outcome scores, from one place.

The CIS fatigue band shown with a score ("severe fatigue") and the stepped-care advice must never
disagree, so both read their number here:

1. the clinic's licensed CIS file (``severe_threshold``, LICENSED.md), in the program's language,
   else in any language the clinic loaded;
2. else this installation's setting (``ICBT_STEPUP_CIS_THRESHOLD`` / ``ICBT_STEPUP_RAND_PF_THRESHOLD``);
3. which defaults to the published values: CIS fatigue severity >= 35 is severe fatigue
   (Worm-Smeitink et al. 2019; 40 is used in some research), RAND-36 physical functioning <= 70
   counts as impaired in the Dutch stepped-care studies (a common operationalisation; keep it a
   setting, see CLINICAL-NOTES.md).

Each threshold says where its number came from, so the advice page can show it.
"""

from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext_lazy as _

CIS_FATIGUE = "cis_fatigue"
RAND36_PF = "rand36_pf"

PUBLISHED = {CIS_FATIGUE: 35, RAND36_PF: 70}
SETTING_NAMES = {CIS_FATIGUE: "ICBT_STEPUP_CIS_THRESHOLD", RAND36_PF: "ICBT_STEPUP_RAND_PF_THRESHOLD"}

LICENSED = "licensed"
SETTING = "setting"
PUBLISHED_SOURCE = "published"


@dataclass(frozen=True)
class Threshold:
    code: str
    value: int
    source: str  # licensed | setting | published
    language: str = ""

    @property
    def source_label(self) -> str:
        if self.source == LICENSED:
            return str(_("from your clinic's licensed questionnaire file (%(language)s)")) % {
                "language": self.language
            }
        if self.source == SETTING:
            return str(_("from this installation's setting %(name)s")) % {"name": SETTING_NAMES[self.code]}
        return str(_("the published value"))

    def as_dict(self) -> dict:
        return {"value": self.value, "source": self.source, "language": self.language}


def default_threshold(code: str) -> Threshold:
    """The installation's setting, or the published value when the setting is not changed."""
    value = int(getattr(settings, SETTING_NAMES[code], PUBLISHED[code]))
    return Threshold(code, value, PUBLISHED_SOURCE if value == PUBLISHED[code] else SETTING)


def threshold_from_licensed(code: str, licensed_rows, *, language: str) -> Threshold:
    """The threshold for ``code`` given the clinic's licensed rows of that instrument (any
    iterable of ``LicensedInstrument``): the row in ``language`` first, then any row with a
    threshold; else the default."""
    rows = [r for r in licensed_rows if r.code == code and r.severe_threshold]
    rows.sort(key=lambda r: (r.language != language, r.language))
    if rows:
        return Threshold(code, int(rows[0].severe_threshold), LICENSED, rows[0].language)
    return default_threshold(code)


def threshold_for(*, clinic_id: int | None, code: str, language: str) -> Threshold:
    """The threshold the clinic uses for ``code``. One query (none without a clinic)."""
    if clinic_id is None or code != CIS_FATIGUE:
        return default_threshold(code)
    from programs.models import LicensedInstrument

    rows = LicensedInstrument.objects.filter(clinic_id=clinic_id, code=code).only(
        "code", "language", "severe_threshold"
    )
    return threshold_from_licensed(code, rows, language=language)
