"""What an intake records per program, and the summary shown to the therapist as decision support.

The intake is structured per program (see ../shared/CLINICAL-NOTES.md):

* **Master your Fatigue**: the revised CDC 1994 criteria for chronic fatigue syndrome as a
  checklist (five main criteria, at least four of eight symptoms, no exclusion), and comorbidity.
* **Master your Pain**: duration (chronic is more than three months), locations, intensity 0-10
  (now, average, worst), interference with daily life, sleep and mood, medication, comorbidity and
  the activity pattern (avoidance or persistence).
* Both (and any other program): the patient's personal treatment goals (required for pain) and
  the decision with its reason.

The summary is *decision support*: it counts what was ticked and says whether the criteria as
recorded are met. The decision stays the therapist's. Codes are stored (never the labels), so a
recorded intake reads the same in every language.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

FATIGUE = "fatigue"
PAIN = "pain"
GENERAL = "general"

# Which intake form a program uses, by program slug. Other programs get the general form.
INTAKE_KIND_BY_PROGRAM = {
    "master-your-fatigue": FATIGUE,
    "master-your-pain": PAIN,
}

MAX_GOALS = 5

CDC_MAIN_CRITERIA = [
    (
        "duration_6_months",
        _("Fatigue for at least six months, persistent or relapsing, clinically evaluated and unexplained"),
    ),
    ("new_onset", _("New or definite onset (not lifelong)")),
    ("not_exertion", _("Not the result of ongoing exertion")),
    ("not_relieved_by_rest", _("Not substantially relieved by rest")),
    (
        "activity_reduction",
        _("Substantial reduction in earlier occupational, educational, social or personal activities"),
    ),
]

CDC_SYMPTOMS = [
    ("memory_concentration", _("Impaired short-term memory or concentration")),
    ("sore_throat", _("Sore throat")),
    ("lymph_nodes", _("Tender lymph nodes in the neck or armpit")),
    ("muscle_pain", _("Muscle pain")),
    ("joint_pain", _("Pain in several joints without swelling or redness")),
    ("headaches", _("Headaches of a new type, pattern or severity")),
    ("unrefreshing_sleep", _("Unrefreshing sleep")),
    ("post_exertional_malaise", _("Malaise after exertion lasting more than 24 hours")),
]
CDC_SYMPTOMS_NEEDED = 4

CDC_EXCLUSIONS = [
    (
        "medical_condition",
        _(
            "An active medical condition that may explain the fatigue (for example untreated "
            "hypothyroidism, sleep apnoea, narcolepsy, side effects of medication)"
        ),
    ),
    (
        "unresolved_condition",
        _(
            "An earlier diagnosed condition whose resolution is not documented "
            "(for example treated cancer, unresolved hepatitis B or C)"
        ),
    ),
    ("severe_depression", _("Major depression with psychotic or melancholic features")),
    ("bipolar", _("Bipolar disorder")),
    ("psychotic", _("Schizophrenia or another psychotic or delusional disorder")),
    ("dementia", _("Dementia")),
    ("eating_disorder", _("Anorexia nervosa or bulimia nervosa")),
    (
        "substance_abuse",
        _("Alcohol or other substance abuse (within two years before the onset or at any time after)"),
    ),
    ("severe_obesity", _("Severe obesity (BMI 45 or more)")),
]

PAIN_LOCATIONS = [
    ("head", _("head or face")),
    ("neck", _("neck")),
    ("shoulders", _("shoulders or arms")),
    ("upper_back", _("upper back")),
    ("lower_back", _("lower back")),
    ("chest_abdomen", _("chest or abdomen")),
    ("pelvis", _("pelvis or hips")),
    ("legs", _("legs or knees")),
    ("feet", _("feet")),
    ("widespread", _("widespread, all over the body")),
]
CHRONIC_PAIN_MONTHS = 3  # ICD-11: chronic pain lasts or recurs for more than three months


def intake_kind(program_slug: str) -> str:
    return INTAKE_KIND_BY_PROGRAM.get(program_slug, GENERAL)


@dataclass(frozen=True)
class FatigueSummary:
    main_met: int
    main_total: int
    symptom_count: int
    symptoms_needed: int
    exclusion_codes: tuple[str, ...]

    @property
    def symptom_total(self) -> int:
        return len(CDC_SYMPTOMS)

    @property
    def symptoms_met(self) -> bool:
        return self.symptom_count >= self.symptoms_needed

    @property
    def criteria_met(self) -> bool:
        return self.main_met == self.main_total and self.symptoms_met and not self.exclusion_codes

    @property
    def exclusion_labels(self) -> list:
        labels = dict(CDC_EXCLUSIONS)
        return [labels[c] for c in self.exclusion_codes if c in labels]

    def as_dict(self) -> dict:
        return {
            "kind": FATIGUE,
            "main_met": self.main_met,
            "main_total": self.main_total,
            "symptom_count": self.symptom_count,
            "symptoms_needed": self.symptoms_needed,
            "exclusions": list(self.exclusion_codes),
            "criteria_met": self.criteria_met,
        }


@dataclass(frozen=True)
class PainSummary:
    duration_months: int | None
    intensity_now: int | None
    intensity_average: int | None
    intensity_worst: int | None
    goal_count: int

    @property
    def chronic(self) -> bool:
        return self.duration_months is not None and self.duration_months > CHRONIC_PAIN_MONTHS

    def as_dict(self) -> dict:
        return {
            "kind": PAIN,
            "duration_months": self.duration_months,
            "chronic": self.chronic,
            "intensity_now": self.intensity_now,
            "intensity_average": self.intensity_average,
            "intensity_worst": self.intensity_worst,
            "goal_count": self.goal_count,
        }


@dataclass(frozen=True)
class GeneralSummary:
    goal_count: int

    def as_dict(self) -> dict:
        return {"kind": GENERAL, "goal_count": self.goal_count}


def intake_summary(kind: str, answers: dict):
    """The decision-support summary of ``answers`` (an intake's structured answers). Works on
    partial answers too (a form that is not complete yet): what is missing counts as not met."""
    goals = [g for g in answers.get("goals", []) if g]
    if kind == FATIGUE:
        criteria = answers.get("criteria", {})
        known_symptoms = {code for code, _label in CDC_SYMPTOMS}
        known_exclusions = [code for code, _label in CDC_EXCLUSIONS]
        exclusions = set(answers.get("exclusions", []))
        return FatigueSummary(
            main_met=sum(1 for code, _label in CDC_MAIN_CRITERIA if criteria.get(code)),
            main_total=len(CDC_MAIN_CRITERIA),
            symptom_count=len(known_symptoms & set(answers.get("symptoms", []))),
            symptoms_needed=CDC_SYMPTOMS_NEEDED,
            exclusion_codes=tuple(c for c in known_exclusions if c in exclusions),
        )
    if kind == PAIN:
        return PainSummary(
            duration_months=answers.get("duration_months"),
            intensity_now=answers.get("intensity_now"),
            intensity_average=answers.get("intensity_average"),
            intensity_worst=answers.get("intensity_worst"),
            goal_count=len(goals),
        )
    return GeneralSummary(goal_count=len(goals))


def labels_for(choices, codes) -> list:
    """The labels of ``codes`` in ``choices`` order (unknown codes are left out)."""
    wanted = set(codes or [])
    return [label for code, label in choices if code in wanted]


def readable_lines(kind: str, answers: dict) -> list[tuple[str, str]]:
    """An intake's answers as ``(label, text)`` lines in plain words (the patient's own copy of
    their data shows these rather than the stored codes)."""
    yes, no, none = str(_("yes")), str(_("no")), str(_("none"))
    result: list[tuple[str, str]] = []
    if kind == FATIGUE:
        criteria = answers.get("criteria", {})
        result += [(str(label), yes if criteria.get(code) else no) for code, label in CDC_MAIN_CRITERIA]
        for title, choices, key in (
            (_("Symptoms present"), CDC_SYMPTOMS, "symptoms"),
            (_("Exclusions present"), CDC_EXCLUSIONS, "exclusions"),
        ):
            result.append(
                (str(title), ", ".join(str(x) for x in labels_for(choices, answers.get(key))) or none)
            )
    elif kind == PAIN:
        months = answers.get("duration_months")
        duration = str(_("%(months)s months") % {"months": months}) if months is not None else "—"
        locations = [str(x) for x in labels_for(PAIN_LOCATIONS, answers.get("locations"))]
        if answers.get("locations_other"):
            locations.append(str(answers["locations_other"]))

        def scores(*keys):
            return " / ".join("—" if answers.get(k) is None else str(answers[k]) for k in keys)

        result += [
            (str(_("Duration")), duration),
            (str(_("Locations")), ", ".join(locations) or "—"),
            (
                str(_("Intensity now / average / worst")),
                scores("intensity_now", "intensity_average", "intensity_worst"),
            ),
            (
                str(_("Interference: daily life / sleep / mood")),
                scores("interference_daily", "interference_sleep", "interference_mood"),
            ),
            (str(_("Medication")), str(answers.get("medication") or "—")),
        ]
    result.append((str(_("Comorbidity")), str(answers.get("comorbidity") or "—")))
    goals = [g for g in answers.get("goals", []) if g]
    result += [
        (str(_("Goal %(number)s") % {"number": n}), str(goal)) for n, goal in enumerate(goals, start=1)
    ]
    return result
