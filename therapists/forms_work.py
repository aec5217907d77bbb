"""Filter forms of the worklist and the manager's dashboard (GET forms: nothing is written)."""

from datetime import timedelta

from django import forms
from django.forms.utils import flatatt
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from icbt.dates import DayField
from therapists.dashboard import MAX_MONTHS, Period, default_period
from therapists.worklist import FILTER_KINDS


class LongSelect(forms.Select):
    """A select that writes its options directly (escaped) instead of rendering a template per
    option: the worklist's patient list holds every patient with an item, thousands in a large
    caseload, where the per-option templates took most of the page's time (its short selects
    too are written so: a template per option costs more than the rest of the form)."""

    def render(self, name, value, attrs=None, renderer=None):
        attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        chosen = "" if value is None else str(value)
        options = "".join(
            f'<option value="{escape(v)}"{" selected" if str(v) == chosen else ""}>{escape(label)}</option>'
            for v, label in self.choices
        )
        return mark_safe(f"<select{flatatt(attrs)}>{options}</select>")  # noqa: S308 - every part escaped


class WorklistFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), required=False, widget=LongSelect)
    patient = forms.TypedChoiceField(
        label=_("Patient"), required=False, coerce=int, empty_value=None, widget=LongSelect
    )
    order = forms.ChoiceField(
        label=_("Sort by age"),
        required=False,
        widget=LongSelect,
        choices=[("oldest", _("oldest first")), ("newest", _("newest first"))],
    )

    def __init__(self, *args, patients=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", _("every kind")), *FILTER_KINDS.items()]
        self.fields["patient"].choices = [("", _("every patient")), *patients]


class DashboardFilterForm(forms.Form):
    start = DayField(label=_("From"), required=False)
    end = DayField(label=_("To"), required=False)
    team = forms.TypedChoiceField(label=_("Team"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", _("the whole clinic")), *[(t.pk, t.name) for t in teams]]

    def clean(self):
        data = super().clean()
        default = default_period()
        start, end = data.get("start") or default.start, data.get("end") or default.end
        if start > end:
            raise forms.ValidationError(_("The start date must come before the end date."))
        if (end - start) > timedelta(days=31 * MAX_MONTHS):
            raise forms.ValidationError(
                _("Choose a period of at most %(months)s months."), params={"months": MAX_MONTHS}
            )
        data["period"] = Period(start=start, end=end)
        return data

    def period(self) -> Period:
        """The chosen period, or the default (the last twelve months) when the form is invalid."""
        if self.is_bound and self.is_valid():
            return self.cleaned_data["period"]
        return default_period()
