"""The patient's forms: the programs app's content forms, with what saving them needs.

``programs.forms`` builds the fields from the content definitions (and renders them with
templates/programs/fields/); here we add the draft of an assignment (everything typed, valid or
not) and the date of a diary entry.
"""

from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext_lazy as _

from patients.services import DIARY_ENTRY_DAYS_BACK
from programs.forms import OWN_ACTIVITY_ROWS, AssignmentForm, DiaryEntryForm


def _number(raw):
    """A typed number as int or float; the text as typed when it is not a number; None if empty."""
    if raw is None or str(raw).strip() == "":
        return None
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        return str(raw)
    if not value.is_finite():
        return str(raw)
    return int(value) if value == value.to_integral_value() else float(value)


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
            name, kind = d["name"], d["type"]
            if kind == "goal_list":
                goals = [(self._raw(f"{name}__{i}") or "") for i in range(1, d["max_items"] + 1)]
                goals = [g for g in goals if g.strip()]
                if goals:
                    result[name] = goals
            elif kind == "energy_points":
                items = []
                for i, activity in enumerate(d["activities"], start=1):
                    points = _number(self._raw(f"{name}__{i}"))
                    items.append(
                        {"activity": activity, "points": points, "own": False}  # None: left empty
                    )
                for i in range(1, OWN_ACTIVITY_ROWS + 1):
                    label = self._raw(f"{name}__own{i}_label") or ""
                    points = _number(self._raw(f"{name}__own{i}"))
                    if label.strip() or points:
                        items.append({"activity": label, "points": points, "own": True})
                result[name] = {"budget": d["budget"], "items": items}
            elif kind == "think_feel_do":
                rows = []
                for row in range(1, d["rows"] + 1):
                    cells = {c: self._raw(f"{name}__{row}__{c}") or "" for c in d.get("columns", [])}
                    if any(v.strip() for v in cells.values()):
                        rows.append(cells)
                if rows:
                    result[name] = rows
            else:
                raw = self._raw(name)
                if raw in (None, ""):
                    continue
                if kind in ("scale", "number"):
                    raw = _number(raw)
                elif kind == "yes_no":
                    raw = raw == "yes"
                result[name] = raw
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
        )

    def clean_entry_date(self):
        value = self.cleaned_data["entry_date"] or self.today
        if value > self.today:
            raise forms.ValidationError(_("This day has not come yet. Choose today or an earlier day."))
        if value < self.today - timedelta(days=DIARY_ENTRY_DAYS_BACK):
            raise forms.ValidationError(_("You can fill in today and the six days before."))
        return value
