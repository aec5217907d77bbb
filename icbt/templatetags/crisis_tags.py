import re

from django import template
from django.conf import settings
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from icbt.crisis import national_block

register = template.Library()


@register.inclusion_tag("includes/crisis_block.html")
def crisis_block(clinic_text="", heading=True):
    """The national crisis lines of the active language, then the clinic's own text (added, never
    instead)."""
    return {"lines": national_block(), "clinic_text": clinic_text or "", "heading": heading}


MIN_PHONE_DIGITS = 6
SHORT_CRISIS_NUMBERS = ("112", "113")
_PHONE = re.compile(r"(?<![\w+])(\+?\d[\d \-]{1,16}\d)(?!\w)")


@register.filter(needs_autoescape=True)
def tel_links(text, autoescape=True):
    """Escapes ``text``, keeps its line breaks and makes every phone number in it (six digits or
    more, spaces and dashes allowed, or the emergency numbers 112 and 113) a ``tel:`` link, so a
    patient can tap to call. Shorter runs are times and dates ("9-17", "24/7"), not numbers.

    Text that is already safe (escaped once by ``{% firstof %}``, ``|escape`` or the like) is not
    escaped again: a clinic's "GP's" must never reach the patient as "GP&#x27;s"."""
    text = text or ""
    escaped = conditional_escape(text) if autoescape else text
    escaped = str(escaped).replace("\r\n", "\n")

    def link(match):
        shown = match.group(1)
        digits = re.sub(r"[^\d+]", "", shown)
        if len(digits.lstrip("+")) < MIN_PHONE_DIGITS and digits not in SHORT_CRISIS_NUMBERS:
            return shown
        return f'<a href="tel:{digits}" class="crisis-phone">{shown}</a>'

    return mark_safe(_PHONE.sub(link, escaped).replace("\n", "<br>"))  # noqa: S308 - escaped above


@register.simple_tag
def answer_working_days():
    """Within how many working days the therapist answers: the clinic-wide service standard that
    also makes feedback overdue on the worklist."""
    return settings.ICBT_FEEDBACK_OVERDUE_WORKING_DAYS
