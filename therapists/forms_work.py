"""Filter forms of the worklist and the manager's dashboard (GET forms: nothing is written)."""

from datetime import timedelta
from functools import lru_cache

from django import forms
from django.forms.utils import flatatt
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from icbt.dates import DayField
from icbt.markup import html_text
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
            f'<option value="{html_text(v)}"{" selected" if str(v) == chosen else ""}>'
            f"{html_text(label)}</option>"
            for v, label in self.choices
        )
        return mark_safe(f"<select{flatatt(attrs)}>{options}</select>")  # noqa: S308 - every part escaped


ORDER_CHOICES = [("oldest", _("oldest first")), ("newest", _("newest first"))]


class WorklistFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), required=False, widget=LongSelect)
    patient = forms.TypedChoiceField(
        label=_("Patient"), required=False, coerce=int, empty_value=None, widget=LongSelect
    )
    order = forms.ChoiceField(
        label=_("Sort by age"),
        required=False,
        widget=LongSelect,
        choices=ORDER_CHOICES,
    )

    def __init__(self, *args, patients=(), **kwargs):
        super().__init__(*args, **kwargs)
        language = get_language()
        self.fields["kind"].choices = _kind_choices(language)
        self.fields["order"].choices = _order_choices(language)
        self.fields["patient"].choices = [("", _every_patient(language)), *patients]


# The words of the worklist filter's choices, translated once per process and language (the
# active one: the caller's key), not on every page.
@lru_cache(maxsize=16)
def _kind_choices(language: str) -> list[tuple[str, str]]:
    return [("", str(_("every kind"))), *((key, str(label)) for key, label in FILTER_KINDS.items())]


@lru_cache(maxsize=16)
def _order_choices(language: str) -> list[tuple[str, str]]:
    return [(key, str(label)) for key, label in ORDER_CHOICES]


@lru_cache(maxsize=16)
def _every_patient(language: str) -> str:
    return str(_("every patient"))


class DashboardFilterForm(forms.Form):
    start = DayField(label=_("From"), required=False)
    end = DayField(label=pgettext_lazy("end of a period", "To"), required=False)
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
