"""Dates typed into forms in the one date style of the page's language (``icbt/formats``).

A date field shows its value as every other date on the page ("30 Nov 2026", "30 nov 2026"),
never in the browser's own style ("11/30/2026"), and accepts what people type: the shown
style, a month written out or abbreviated in English or Dutch ("30 november 2026",
"3 mrt. 2026"), day-month-year with dashes, slashes or dots ("30-11-2026"), or ISO
("2026-11-30"). What was typed stays in the field when it cannot be read.
"""

from __future__ import annotations

import re
from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.utils import formats, translation
from django.utils.dates import MONTHS, MONTHS_3, MONTHS_AP
from django.utils.translation import gettext_lazy as _

EXAMPLE = date(2026, 11, 30)
WRITTEN = re.compile(r"^\s*(\d{1,2})[\s.\-/]*([^\W\d_]+)\.?[\s.\-/,]*(\d{4})\s*$")


def _month_numbers() -> dict[str, int]:
    """Month names and abbreviations of the current language, English and Dutch, lower case
    and without a final dot."""
    numbers: dict[str, int] = {}
    for language in dict.fromkeys([translation.get_language() or "en", "en", "nl"]):
        with translation.override(language):
            for table in (MONTHS, MONTHS_3, MONTHS_AP):
                for number, name in table.items():
                    numbers[str(name).lower().rstrip(".")] = number
    numbers.setdefault("sept", 9)
    return numbers


def parse_written_day(text: str) -> date | None:
    """``"30 Nov 2026"`` (or ``30 november 2026``, ``30 nov. 2026``) -> date; else None."""
    match = WRITTEN.match(text or "")
    if not match:
        return None
    month = _month_numbers().get(match.group(2).lower())
    if month is None:
        return None
    try:
        return date(int(match.group(3)), month, int(match.group(1)))
    except ValueError:
        return None


class DayInput(forms.TextInput):
    """A text box that shows a date in the page's date style."""

    def __init__(self, attrs=None):
        super().__init__({"autocomplete": "off", "spellcheck": "false", "size": "14", **(attrs or {})})

    def format_value(self, value):
        if isinstance(value, date):
            return formats.date_format(value)
        return super().format_value(value)


class DayField(forms.DateField):
    """A date typed as people write it (see the module docstring)."""

    widget = DayInput

    def prepare_value(self, value):
        """A date that was typed in another way is shown back in the page's style; text that is
        no date stays as it was typed."""
        if isinstance(value, str) and value.strip():
            try:
                return self.to_python(value)
            except ValidationError:
                return value
        return value

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            written = parse_written_day(value)
            if written is not None:
                return written
        try:
            return super().to_python(value)
        except ValidationError:
            raise ValidationError(
                _("Write the date like %(example)s (or as 30-11-2026)."),
                code="invalid",
                params={"example": formats.date_format(EXAMPLE)},
            ) from None
