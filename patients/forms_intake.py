"""Forms for getting in: the public intake request, the intake queue, referrals, and the intake
itself per program (see patients/intake_criteria.py for what each program records)."""

import re

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from icbt.dates import DayField
from icbt.forms import PlainMessagesMixin, plain_messages
from icbt.models import Clinic
from patients import intake_criteria
from patients.models import Intake, IntakeRequest

PHONE_RE = re.compile(r"^[0-9 +()\-./]{6,40}$")


class _StaffLabelChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.user.get_full_name()


# --- Public intake request ---------------------------------------------------------------------


class IntakeRequestForm(PlainMessagesMixin, forms.Form):
    """The short form on a public program page. Minimal data: how to reach the person. The
    ``website`` field is a honeypot: hidden from people (and from screen readers), filled in by
    bots; a request with it filled in is dropped without saying so."""

    HONEYPOT = "website"

    name = forms.CharField(
        label=_("Your name"), max_length=120, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    email = forms.EmailField(
        label=_("Your e-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(
        label=_("Phone number"),
        max_length=40,
        required=False,
        help_text=_("If you prefer that we call you."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    clinic = forms.ModelChoiceField(
        label=_("Clinic"),
        queryset=Clinic.objects.none(),
        empty_label=None,
        help_text=_("The clinic where you would like to have the intake."),
    )
    message = forms.CharField(
        label=_("Message"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "Anything we should know to contact you, such as good times to call. There is no need to "
            "describe your health here: you will talk about that at the intake."
        ),
    )
    consent = forms.BooleanField(
        label=_("I agree that the clinic uses these details to contact me about an intake.")
    )
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args, clinics, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = Clinic.objects.filter(pk__in=[c.pk for c in clinics]).order_by(
            "name"
        )
        self.single_clinic = len(clinics) == 1
        if self.single_clinic:
            self.fields["clinic"].widget = forms.HiddenInput()
            self.fields["clinic"].initial = clinics[0].pk

    def clean_phone(self):
        phone = self.cleaned_data["phone"].strip()
        if phone and not PHONE_RE.match(phone):
            raise forms.ValidationError(
                _("Enter a phone number with digits only (spaces, + and - are fine).")
            )
        return phone

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get(self.HONEYPOT, "").strip())

    def visible_fields_without_honeypot(self):
        return [f for f in self.visible_fields() if f.name != self.HONEYPOT]


class IntakeRequestStatusForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        # In the order a request moves through them.
        choices=[
            (IntakeRequest.Status.NEW, _("new (not handled yet)")),
            (IntakeRequest.Status.CONTACTED, _("contacted")),
            (IntakeRequest.Status.CLOSED, _("closed")),
        ],
    )


# --- Referral -----------------------------------------------------------------------------------


class ReferralForm(PlainMessagesMixin, forms.Form):
    to_therapist = _StaffLabelChoiceField(
        label=_("Refer to"),
        queryset=None,
        empty_label=None,
        help_text=_("Therapists of your clinic trained in the online programs."),
    )
    program = forms.ChoiceField(label=_("Program"))
    note = forms.CharField(
        label=_("Note for your colleague"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "For example: would this patient suit the online program? What should your colleague know?"
        ),
    )

    def __init__(self, *args, targets, programs, **kwargs):
        """``programs``: ``[(Program, title)]``."""
        super().__init__(*args, **kwargs)
        self.fields["to_therapist"].queryset = targets
        self._programs = {str(program.pk): program for program, _title in programs}
        self.fields["program"].choices = [(str(program.pk), title) for program, title in programs]

    def clean_program(self):
        return self._programs[self.cleaned_data["program"]]


class ReferralDecisionForm(PlainMessagesMixin, forms.Form):
    ACCEPT = "accept"
    DECLINE = "decline"

    decision = forms.ChoiceField(
        label=_("Your answer"),
        widget=forms.RadioSelect,
        choices=[
            (ACCEPT, _("Accept: I become this patient's therapist")),
            (DECLINE, _("Decline")),
        ],
    )
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required when you decline: your colleague reads it."),
    )
    # Required for some answers (the help text says which): never marked optional.
    reason.sometimes_required = True

    def clean(self):
        data = super().clean()
        if data.get("decision") == self.DECLINE and not data.get("reason", "").strip():
            self.add_error("reason", _("Say why you decline, so your colleague knows what to do next."))
        return data


# --- Intake per program ---------------------------------------------------------------------------


def _scale(label):
    return forms.IntegerField(
        label=label,
        min_value=0,
        max_value=10,
        widget=forms.NumberInput(attrs={"min": 0, "max": 10, "inputmode": "numeric"}),
    )


class IntakeFormBase(PlainMessagesMixin, forms.Form):
    """The parts every intake has: date, comorbidity, goals and the decision.

    ``checking=True`` is the "check the criteria" button: the decision is not asked yet, so the
    summary can be shown before the therapist decides."""

    kind = intake_criteria.GENERAL
    activity_choices: list = []
    activity_help = ""
    # (legend, [field names]) in order; the template renders one fieldset per entry.
    fieldsets: list = []

    held_on = DayField(label=_("Date of the intake"))
    comorbidity = forms.CharField(
        label=_("Comorbidity"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Other physical or mental conditions, and treatments for them."),
    )
    decision = forms.ChoiceField(
        label=_("Decision"), choices=Intake.Decision.choices, widget=forms.RadioSelect
    )
    decision_reason = forms.CharField(
        label=_("Reason for the decision"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required when the program is not indicated or another treatment fits better."),
    )
    # Required for some answers (the help text says which): never marked optional.
    decision_reason.sometimes_required = True

    def __init__(self, *args, checking: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        for i in range(1, intake_criteria.MAX_GOALS + 1):
            self.fields[f"goal_{i}"] = forms.CharField(
                label=_("Goal %(number)s") % {"number": i}, required=False, max_length=300
            )
        self.fields["held_on"].initial = timezone.localdate()
        if self.activity_choices:
            self.fields["activity_pattern"] = forms.ChoiceField(
                label=_("Activity pattern"),
                required=False,
                choices=self.activity_choices,
                widget=forms.RadioSelect,
                help_text=self.activity_help,
            )
        self.checking = checking
        if checking:
            self.fields["decision"].required = False
        plain_messages(self)  # the fields added here too

    def goal_fields(self):
        return [self[f"goal_{i}"] for i in range(1, intake_criteria.MAX_GOALS + 1)]

    def clean(self):
        data = super().clean()
        if self.checking:
            return data
        goals = [data.get(f"goal_{i}", "").strip() for i in range(1, intake_criteria.MAX_GOALS + 1)]
        if self.kind == intake_criteria.PAIN and not any(goals):
            self.add_error(
                "goal_1", _("Write at least one personal treatment goal: the pain program is built on them.")
            )
        if (
            data.get("decision")
            and data["decision"] != Intake.Decision.INDICATED
            and not data.get("decision_reason", "").strip()
        ):
            self.add_error("decision_reason", _("Give the reason for this decision."))
        held_on = data.get("held_on")
        if held_on and held_on > timezone.localdate():
            self.add_error("held_on", _("The intake cannot be in the future."))
        return data

    def goals(self) -> list[str]:
        data = getattr(self, "cleaned_data", {})
        return [
            data.get(f"goal_{i}", "").strip()
            for i in range(1, intake_criteria.MAX_GOALS + 1)
            if data.get(f"goal_{i}", "").strip()
        ]

    def specific_answers(self) -> dict:
        return {}

    def answers(self) -> dict:
        """The structured answers to store (encrypted) with the intake."""
        data = getattr(self, "cleaned_data", {})
        return {
            "kind": self.kind,
            **self.specific_answers(),
            "comorbidity": data.get("comorbidity", ""),
            "goals": self.goals(),
        }

    def summary(self):
        return intake_criteria.intake_summary(self.kind, self.answers())

    def sections(self):
        """[(legend, [bound fields])] for the template."""
        return [
            (legend, [self[name] for name in names if name in self.fields])
            for legend, names in self.fieldsets
        ]


class GeneralIntakeForm(IntakeFormBase):
    fieldsets = [(_("The intake"), ["held_on", "comorbidity"])]


class FatigueIntakeForm(IntakeFormBase):
    kind = intake_criteria.FATIGUE
    activity_choices = [
        ("", _("not assessed")),
        (Intake.ActivityPattern.RELATIVELY_ACTIVE, _("relatively active (bursts of activity, then rest)")),
        (Intake.ActivityPattern.LOW_ACTIVE, _("low active")),
    ]
    activity_help = _(
        "Suggests where 'gradually increasing activity' starts; the activity diary confirms it."
    )
    fieldsets = [
        (_("The intake"), ["held_on"]),
        (
            _("CDC criteria: the fatigue"),
            [f"criterion_{code}" for code, _label in intake_criteria.CDC_MAIN_CRITERIA],
        ),
        (
            _("CDC criteria: symptoms for six months or more, not predating the fatigue (at least four)"),
            ["symptoms"],
        ),
        (_("CDC criteria: exclusions (tick what is present)"), ["exclusions"]),
        (_("Comorbidity and activity"), ["comorbidity", "activity_pattern"]),
    ]

    symptoms = forms.MultipleChoiceField(
        label=_("Symptoms present"),
        required=False,
        choices=intake_criteria.CDC_SYMPTOMS,
        widget=forms.CheckboxSelectMultiple,
    )
    exclusions = forms.MultipleChoiceField(
        label=_("Exclusions present"),
        required=False,
        choices=intake_criteria.CDC_EXCLUSIONS,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for code, label in intake_criteria.CDC_MAIN_CRITERIA:
            self.fields[f"criterion_{code}"] = forms.BooleanField(label=label, required=False)

    def specific_answers(self) -> dict:
        data = getattr(self, "cleaned_data", {})
        return {
            "criteria": {
                code: bool(data.get(f"criterion_{code}")) for code, _l in intake_criteria.CDC_MAIN_CRITERIA
            },
            "symptoms": list(data.get("symptoms", [])),
            "exclusions": list(data.get("exclusions", [])),
        }


class PainIntakeForm(IntakeFormBase):
    kind = intake_criteria.PAIN
    activity_choices = [
        ("", _("not assessed")),
        (Intake.ActivityPattern.AVOIDANCE, _("pain avoidance: doing less and less for fear of pain")),
        (Intake.ActivityPattern.PERSISTENCE, _("pain persistence: pushing on despite pain, then crashing")),
    ]
    activity_help = _("Suggests how to tailor the program: building activity gradually, or pacing and rest.")
    fieldsets = [
        (_("The intake"), ["held_on", "duration_months"]),
        (_("Where is the pain?"), ["locations", "locations_other"]),
        (
            _("Pain intensity (0 = no pain, 10 = worst imaginable)"),
            ["intensity_now", "intensity_average", "intensity_worst"],
        ),
        (
            _("Interference (0 = none, 10 = completely)"),
            ["interference_daily", "interference_sleep", "interference_mood"],
        ),
        (
            _("Medication, comorbidity and activity pattern"),
            ["medication", "comorbidity", "activity_pattern"],
        ),
    ]

    duration_months = forms.IntegerField(
        label=_("How long has the pain lasted? (months)"),
        min_value=0,
        max_value=1200,
        help_text=_("Chronic pain lasts more than three months."),
    )
    locations = forms.MultipleChoiceField(
        label=_("Locations"),
        required=False,
        choices=intake_criteria.PAIN_LOCATIONS,
        widget=forms.CheckboxSelectMultiple,
    )
    locations_other = forms.CharField(label=_("Other locations"), required=False, max_length=300)
    intensity_now = _scale(_("Now"))
    intensity_average = _scale(_("On average in the past week"))
    intensity_worst = _scale(_("At its worst in the past week"))
    interference_daily = _scale(_("With daily activities and work"))
    interference_sleep = _scale(_("With sleep"))
    interference_mood = _scale(_("With mood"))
    medication = forms.CharField(
        label=_("Medication for the pain"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def specific_answers(self) -> dict:
        data = getattr(self, "cleaned_data", {})
        keys = [
            "duration_months",
            "intensity_now",
            "intensity_average",
            "intensity_worst",
            "interference_daily",
            "interference_sleep",
            "interference_mood",
        ]
        answers = {key: data.get(key) for key in keys}
        answers.update(
            {
                "locations": list(data.get("locations", [])),
                "locations_other": data.get("locations_other", ""),
                "medication": data.get("medication", ""),
            }
        )
        return answers


INTAKE_FORMS = {
    intake_criteria.FATIGUE: FatigueIntakeForm,
    intake_criteria.PAIN: PainIntakeForm,
    intake_criteria.GENERAL: GeneralIntakeForm,
}


def intake_form_class(program_slug: str):
    return INTAKE_FORMS[intake_criteria.intake_kind(program_slug)]
