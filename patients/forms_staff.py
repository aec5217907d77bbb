"""Forms of the therapist's side of one patient: enrollment, status, tailoring, sessions, end of
program."""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from icbt.dates import DayField
from icbt.forms import PlainMessagesMixin
from patients.models import (
    EarlyWarningDecision,
    Enrollment,
    Intake,
    ModuleState,
    QuestionnaireResponse,
    SteppedCareDecision,
    TreatmentSession,
)
from programs import questionnaires

WEEKDAY_CHOICES = [(number, WEEKDAYS[number]) for number in range(7)]


class _StaffLabelChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.user.get_full_name()


def _days(label, help_text=""):
    return forms.IntegerField(
        label=label,
        min_value=1,
        max_value=90,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"min": 1, "max": 90, "inputmode": "numeric"}),
    )


class CadenceFields(PlainMessagesMixin, forms.Form):
    feedback_cadence = forms.ChoiceField(
        label=_("Feedback rhythm"),
        choices=Enrollment.Cadence.choices,
        widget=forms.RadioSelect,
        initial=Enrollment.Cadence.WEEKLY,
    )
    feedback_weekday = forms.TypedChoiceField(
        label=_("Feedback day"),
        choices=WEEKDAY_CHOICES,
        coerce=int,
        initial=0,
        help_text=_("The day you write your feedback: the patient is told which day to expect it."),
    )
    inactivity_days = _days(
        _("Quiet days before a reminder"),
        _(
            "After this many days without activity the patient gets a reminder and shows as quiet on your "
            "worklist."
        ),
    )


class EnrollmentForm(CadenceFields):
    version = forms.TypedChoiceField(label=_("Program"), coerce=int)
    therapist = _StaffLabelChoiceField(label=_("Therapist"), queryset=None, empty_label=None)
    team = forms.ModelChoiceField(
        label=_("Team"),
        queryset=None,
        required=False,
        empty_label=_("The therapist's team"),
        help_text=_(
            "The team this treatment belongs to (the dashboard counts it there). Needed when the "
            "therapist works in more than one team."
        ),
    )
    team.sometimes_required = True  # required when the therapist is in more than one team
    start_date = DayField(label=_("Start date"))
    unlock_mode = forms.ChoiceField(
        label=_("How modules open"),
        choices=Enrollment.Unlock.choices,
        widget=forms.RadioSelect,
        initial=Enrollment.Unlock.SEQUENTIAL,
    )
    module_interval_days = _days(
        _("Days between modules"),
        _("Only used when modules open by date: module 2 opens this many days after the start, and so on."),
    )
    field_order = [
        "version",
        "therapist",
        "team",
        "start_date",
        "feedback_cadence",
        "feedback_weekday",
        "unlock_mode",
        "module_interval_days",
        "inactivity_days",
    ]

    def __init__(self, *args, versions, therapists, teams=None, **kwargs):
        """``versions``: the ProgramVersion each program would be enrolled on (see
        ``selectors.enrollable_programs``)."""
        super().__init__(*args, **kwargs)
        self._versions = {v.pk: v for v in versions}
        self.fields["version"].choices = [
            (
                v.pk,
                _("%(title)s (%(language)s, version %(number)s)")
                % {"title": v.title, "language": v.get_language_display(), "number": v.number},
            )
            for v in versions
        ]
        self.fields["therapist"].queryset = therapists
        if teams is None or not teams.exists():
            del self.fields["team"]  # a practice without teams is not asked
        else:
            self.fields["team"].queryset = teams
            self.fields["team"].label_from_instance = lambda team: team.name
        self.fields["start_date"].initial = timezone.localdate()
        self.fields["inactivity_days"].initial = getattr(settings, "ICBT_INACTIVE_DAYS", 7)
        self.fields["module_interval_days"].initial = 7

    def clean(self):
        data = super().clean()
        therapist, team = data.get("therapist"), data.get("team")
        if "team" in self.fields and therapist is not None and team is None:
            if therapist.teams.count() > 1:
                self.add_error("team", _("This therapist works in more than one team: choose the team."))
        return data

    def clean_version(self):
        version = self._versions.get(self.cleaned_data["version"])
        if version is None:
            raise forms.ValidationError(_("Choose one of the programs."))
        return version

    def clean_start_date(self):
        start = self.cleaned_data["start_date"]
        if start < timezone.localdate() - timedelta(days=31):
            raise forms.ValidationError(_("The start date can be at most a month ago."))
        return start


class CadenceForm(CadenceFields):
    pass


def open_items_text(*, urgent: int, messages: int) -> str:
    """ "1 urgent item and 1 message still open", in words for the counts that are not zero."""
    urgent_text = ngettext("%(count)s urgent item", "%(count)s urgent items", urgent) % {"count": urgent}
    messages_text = ngettext("%(count)s message", "%(count)s messages", messages) % {"count": messages}
    if urgent and messages:
        return _("%(urgent)s and %(messages)s still open") % {
            "urgent": urgent_text,
            "messages": messages_text,
        }
    return _("%(items)s still open") % {"items": urgent_text if urgent else messages_text}


class OpenItemsConfirmation(PlainMessagesMixin, forms.Form):
    """Ending a treatment while an urgent item or an unanswered message waits asks for a
    confirmation first. ``open_items``: ``(urgent, messages)`` counts of the enrollment, given
    only when the form's action ends it."""

    confirm_open_items = forms.BooleanField(
        label=_("End it anyway: these stay on the worklist until someone handles them"), required=False
    )

    def __init__(self, *args, open_items=(0, 0), **kwargs):
        super().__init__(*args, **kwargs)
        self.open_items = tuple(open_items)
        if not any(self.open_items):
            del self.fields["confirm_open_items"]
        else:
            self.order_fields([name for name in self.fields if name != "confirm_open_items"])

    @property
    def open_items_text(self) -> str:
        if not any(self.open_items):
            return ""
        urgent, messages = self.open_items
        return open_items_text(urgent=urgent, messages=messages)

    def clean(self):
        data = super().clean()
        if "confirm_open_items" in self.fields and not data.get("confirm_open_items"):
            self.add_error(
                "confirm_open_items",
                _("%(items)s. Handle them first, or tick the box to end the treatment anyway.")
                % {"items": self.open_items_text},
            )
        return data


class EnrollmentStatusForm(OpenItemsConfirmation):
    ACTIONS = [
        ("pause", _("Pause")),
        ("resume", _("Resume")),
        ("complete", _("Complete")),
        ("stop", _("Stop")),
        ("step_up", _("Step up to face-to-face care")),
    ]
    action = forms.ChoiceField(choices=ACTIONS, widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required to stop or step up."),
    )
    REASON_REQUIRED = ("stop", "step_up")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        action = self.data.get("action") if self.is_bound else self.initial.get("action")
        if action in self.REASON_REQUIRED:
            # Required here: the label must not say "optional".
            self.fields["reason"].required = True
            self.fields["reason"].error_messages["required"] = _("Give the reason.")
            self.fields["reason"].help_text = ""

    ENDING = ("complete", "stop", "step_up")

    def clean(self):
        data = super().clean()
        if data.get("action") in ("stop", "step_up") and not data.get("reason", "").strip():
            self.add_error("reason", _("Give the reason."))
        return data


class StepOverrideForm(forms.Form):
    step_key = forms.CharField(max_length=130, widget=forms.HiddenInput)
    included = forms.TypedChoiceField(
        choices=[("1", "1"), ("0", "0")], coerce=lambda v: v == "1", widget=forms.HiddenInput
    )


class ActivityRouteForm(forms.Form):
    """The activity pattern the therapist confirms, among those the patient's program has steps
    for (``routes``); empty takes a confirmation back."""

    route = forms.ChoiceField(label=_("Activity pattern"), widget=forms.RadioSelect, required=False)

    def __init__(self, *args, routes: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(Intake.ActivityPattern.choices)
        self.fields["route"].choices = [(r, labels[r]) for r in routes] + [("", _("not confirmed yet"))]


class ModuleStateForm(forms.Form):
    module_number = forms.IntegerField(min_value=1, max_value=99, widget=forms.HiddenInput)
    state = forms.ChoiceField(
        choices=[
            (ModuleState.State.OPENED, _("open")),
            (ModuleState.State.HELD, _("hold")),
            ("default", _("normal schedule")),
        ],
        widget=forms.HiddenInput,
    )


class TreatmentSessionForm(PlainMessagesMixin, forms.Form):
    held_on = DayField(label=_("Date"))
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=TreatmentSession.Kind.choices,
        widget=forms.RadioSelect,
        initial=TreatmentSession.Kind.FACE_TO_FACE,
    )
    minutes = forms.IntegerField(
        label=_("Minutes"),
        min_value=1,
        max_value=600,
        initial=45,
        widget=forms.NumberInput(attrs={"min": 1, "max": 600, "inputmode": "numeric"}),
    )
    note = forms.CharField(
        label=_("Short note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "Part of the patient's file: colleagues who treat this patient can read it, and so can the "
            "patient, in their own data. Personal working notes belong in an internal note."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["held_on"].initial = timezone.localdate()

    def clean_held_on(self):
        held_on = self.cleaned_data["held_on"]
        if held_on > timezone.localdate():
            raise forms.ValidationError(_("A session can only be recorded once it has taken place."))
        return held_on


class QuestionnaireEntryForm(PlainMessagesMixin, forms.Form):
    code = forms.ChoiceField(label=_("Questionnaire"))
    moment = forms.ChoiceField(
        label=_("Moment"),
        choices=[
            ("", _("Choose start or end")),
            (QuestionnaireResponse.Moment.START, _("start")),
            (QuestionnaireResponse.Moment.END, _("end")),
            (QuestionnaireResponse.Moment.MODULE, _("mid-treatment (after module 3)")),
        ],
        error_messages={"required": _("Choose whether this is the start or the end score.")},
    )
    total = forms.CharField(
        label=_("Total score"),
        max_length=10,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
        help_text=_("From the paper form. It is checked against the questionnaire's range."),
    )
    # Shown (as a checkbox) only once an end score without a start score was refused.
    end_without_start = forms.BooleanField(
        label=_("Yes, this is the end score, although there is no start score"),
        required=False,
        widget=forms.HiddenInput,
    )

    def __init__(self, *args, codes, mid_treatment: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not mid_treatment:  # only programs whose schedule asks questionnaires after a module
            self.fields["moment"].choices = [
                c for c in self.fields["moment"].choices if c[0] != QuestionnaireResponse.Moment.MODULE
            ]
        self.fields["code"].choices = [
            (
                code,
                questionnaires.INSTRUMENTS[code].short_name if code in questionnaires.INSTRUMENTS else code,
            )
            for code in codes
        ]

    def ask_end_without_start(self) -> None:
        self.fields["end_without_start"].widget = forms.CheckboxInput()

    def add_error(self, field, error):
        super().add_error(field, error)
        if "end_without_start" in self.errors:
            self.ask_end_without_start()


class SteppedCareDecisionForm(OpenItemsConfirmation):
    decision = forms.ChoiceField(
        label=_("Decision"), choices=SteppedCareDecision.Decision.choices, widget=forms.RadioSelect
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "What you and the patient decided, and why; especially when the decision differs from the advice."
        ),
    )


class CompleteForm(OpenItemsConfirmation):
    reason = forms.CharField(
        label=_("Closing note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class EarlyWarningDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("What did you decide?"),
        choices=EarlyWarningDecision.Decision.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose what you decided.")},
    )
