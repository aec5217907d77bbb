"""The weekly check-in: a normal Django form of four questions (radio buttons)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from programs import questionnaires


class CheckInForm(forms.Form):
    """``q1`` the symptom 0-10 (its question names both ends), ``q2`` and ``q3`` the PHQ-2, ``q4``
    the safety question (PHQ-9 item 9), with the PHQ's own answer options in the program's
    language."""

    def __init__(self, *args, code: str, language: str, **kwargs):
        super().__init__(*args, **kwargs)
        instrument = questionnaires.get_instrument(code)
        for item in instrument.items:
            if item.number == questionnaires.CHECK_IN_SYMPTOM:
                choices = [(str(v), str(v)) for v in range(11)]
            else:
                choices = [(str(o.value), o.label(language)) for o in instrument.options]
            self.fields[f"q{item.number}"] = forms.TypedChoiceField(
                label=item.label(language),
                choices=choices,
                coerce=int,
                widget=forms.RadioSelect,
                error_messages={"required": _("Please answer this question.")},
            )

    def items(self):
        return [self[name] for name in self.fields]

    def answers(self) -> dict[int, int]:
        return {int(name[1:]): value for name, value in self.cleaned_data.items()}
