"""The patient's forms: the programs app's content forms, with what saving them needs.

``programs.forms`` builds the fields from the content definitions (and renders them with
templates/programs/fields/); here we add the draft of an assignment (everything typed, valid or
not) and the date of a diary entry.
"""

from datetime import timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

from icbt.forms import plain_field
from patients.services.work import DIARY_ENTRY_DAYS_BACK, diary_entry_answers, diary_entry_version
from programs.field_types import field_type
from programs.forms import AssignmentForm, DiaryEntryForm


class PatientAssignmentForm(AssignmentForm):
    """An assignment as the patient fills it in."""

    def _raw(self, name: str):
        field = self.fields[name]
        return field.widget.value_from_datadict(self.data, self.files, self.add_prefix(name))

    def draft_answers(self) -> dict:
        """Everything typed so far in the shape of ``answers()``, without validation: a text that
        is too long, points over the budget or a half-finished row are kept as typed, so the
        patient finds them again. Values that are not numbers where numbers belong are kept as
        text; energy points left empty are None."""
        result = {}
        for d in self.definitions:
            value = field_type(d).draft(d, self._raw)
            if value is not None:
                result[d["name"]] = value
        return result


class PatientDiaryForm(DiaryEntryForm):
    """A diary entry with its date: today by default, or one of the six days before. On a
    diary step the date is today and not shown."""

    def __init__(self, *args, today, day=None, date_hidden: bool = False, shown=None, **kwargs):
        self.today = today
        super().__init__(*args, **kwargs)
        # The entry this form showed ("new" when none): saving never replaces another entry.
        self.fields["shown_entry"] = forms.CharField(
            required=False, initial=str(shown.uid) if shown is not None else "new", widget=forms.HiddenInput()
        )
        # That entry's version when the form was opened: a save never silently replaces a
        # correction made meanwhile in another tab (``diary_entry_save``).
        self.fields["shown_version"] = forms.CharField(
            required=False, initial=diary_entry_version(shown), widget=forms.HiddenInput()
        )
        self.conflict = None
        earliest = today - timedelta(days=DIARY_ENTRY_DAYS_BACK)
        widget = (
            forms.HiddenInput()
            if date_hidden
            else forms.DateInput(
                attrs={"type": "date", "max": today.isoformat(), "min": earliest.isoformat()},
                format="%Y-%m-%d",
            )
        )
        self.fields["entry_date"] = forms.DateField(
            label=_("Which day is this entry about?"),
            required=not date_hidden,
            initial=day or today,
            widget=widget,
            help_text=_("Today, unless you are filling in a day you missed."),
            error_messages={"required": _("Please choose the day this entry is about.")},
        )
        plain_field(self.fields["entry_date"])

    def changed_elsewhere(self, entry) -> None:
        """The save was refused because ``entry`` changed since the form was opened: the form
        keeps what was typed, shows what is saved now, and carries the entry's current version,
        so that sending it again saves this version (the patient's choice)."""
        self.conflict = {"entry": entry, "answers": diary_entry_answers(entry)}
        data = self.data.copy()
        data[self.add_prefix("shown_version")] = diary_entry_version(entry)
        data[self.add_prefix("shown_entry")] = str(entry.uid)
        self.data = data

    def clean_entry_date(self):
        value = self.cleaned_data["entry_date"] or self.today
        if value > self.today:
            raise forms.ValidationError(_("This day has not come yet. Choose today or an earlier day."))
        if value < self.today - timedelta(days=DIARY_ENTRY_DAYS_BACK):
            raise forms.ValidationError(_("You can fill in today and the six days before."))
        return value
