"""What a feedback is about, named and linked the same way everywhere: in the conversation (both
sides), in the composer's choice of items, on the patient's home page and in the patient's own copy
of their data.

Pure functions over loaded objects: no queries beyond the related objects the caller prefetched.
An item is ``(kind, object)`` with kind ``answer``, ``diary``, ``questionnaire`` or ``module`` (the
object of a module is its number); a feedback link (``messaging.FeedbackLink``) points at exactly
one item.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from programs.questionnaires import INSTRUMENTS


def questionnaire_name(code: str) -> str:
    instrument = INSTRUMENTS.get(code)
    return str(instrument.short_name) if instrument is not None else code.upper()


def link_item(link) -> tuple[str, object]:
    """The item a feedback link is about."""
    if link.answer_id:
        return "answer", link.answer
    if link.diary_entry_id:
        return "diary", link.diary_entry
    if link.questionnaire_id:
        return "questionnaire", link.questionnaire
    return "module", link.module_number


def item_label(*, kind: str, obj, modules: dict[int, str] | None = None) -> str:
    """A short name for something feedback is about, as both sides see it."""
    if kind == "answer":
        return _("Assignment “%(title)s”") % {"title": obj.step.title}
    if kind == "diary":
        return _("%(diary)s of %(date)s") % {
            "diary": obj.diary_type.title,
            "date": date_format(obj.entry_date, "DATE_FORMAT"),
        }
    if kind == "questionnaire":
        return _("Questionnaire %(name)s (%(moment)s)") % {
            "name": questionnaire_name(obj.code),
            "moment": obj.get_moment_display(),
        }
    title = (modules or {}).get(obj, "")
    return (
        (_("Module %(number)s: %(title)s") % {"number": obj, "title": title})
        if title
        else _("Module %(number)s") % {"number": obj}
    )


def link_label(link, modules: dict[int, str] | None = None) -> str:
    kind, obj = link_item(link)
    return item_label(kind=kind, obj=obj, modules=modules)


def item_url_for_patient(*, kind: str, obj, module_slugs: dict[int, str] | None = None) -> str:
    """Where the patient finds an item ('' when it has no page of its own). A questionnaire links
    to its own page, which shows the patient's result once it is filled in."""
    if kind == "answer":
        return reverse("patients:step", args=[obj.step.module.slug, obj.step.slug])
    if kind == "diary":
        return reverse("patients:diary_entry", args=[obj.uid])
    if kind == "questionnaire":
        return reverse("patients:questionnaire_fill", args=[obj.moment, obj.code])
    slug = (module_slugs or {}).get(obj)
    return reverse("patients:module", args=[slug]) if slug else ""


def link_url_for_patient(link, module_slugs: dict[int, str]) -> str:
    kind, obj = link_item(link)
    return item_url_for_patient(kind=kind, obj=obj, module_slugs=module_slugs)
