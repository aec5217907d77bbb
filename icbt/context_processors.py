from functools import lru_cache
from typing import NamedTuple

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.translation import gettext_lazy as _

from icbt.roles import roles_of


class NavItem(NamedTuple):
    label: str
    url: str
    current: str | None = None


def navigation(request):
    """The navigation for the signed-in person's roles, the section the page belongs to marked
    (the item whose address is the longest start of the path). base.html adds the worklist count
    as a badge (``therapists.context_processors``)."""
    user = getattr(request, "user", None)
    items = []
    if user is not None and user.is_authenticated:
        roles = roles_of(user)
        if roles.patient is not None:
            items.append((_("My program"), _url("patients:home")))
            items.append((_("Messages"), _url("messaging:patient_conversation")))
            items.append((_("Who looked at my file"), _url("patients:access_log")))
            items.append((_("Your data"), _url("patients:my_data")))
        if roles.staff is not None:
            if roles.staff.is_therapist:
                # The worklist first; base.html adds what waits (therapists.context_processors).
                items.append((_("Worklist"), _url("therapists:worklist")))
            if roles.staff.is_therapist:
                items.append((_("My patients"), _url("patients:staff_patient_list")))
            if roles.staff.is_therapist or roles.staff.is_clinic_admin:
                items.append((_("Feedback templates"), _url("messaging:template_list")))
            if roles.staff.is_therapist or roles.staff.is_clinic_admin:
                items.append((_("Programs"), _url("programs:program_list")))
            if roles.staff.is_manager:
                items.append((_("Dashboard"), _url("therapists:dashboard")))
            if roles.staff.is_manager:
                items.append((_("Clinic overview"), _url("therapists:clinic_overview")))
            if roles.staff.is_clinic_admin or roles.staff.is_manager:
                items.append((_("Staff"), _url("therapists:staff_list")))
            if roles.staff.is_clinic_admin:
                items.append((_("Audit log"), _url("therapists:audit_search")))
                items.append((_("Clinic name and logo"), _url("therapists:clinic_identity")))
        items.append((_("Settings"), _url("personal_settings")))
    return {
        "product_name": settings.PRODUCT_NAME,
        "nav_items": _mark_current([NavItem(*item) for item in items], getattr(request, "path", "")),
        "roles": roles_of(user) if user is not None else None,
        "clinic_brand": _clinic(user),
        "idle_warning": _idle_warning(user),
    }


@lru_cache(maxsize=64)
def _reversed(name: str, urlconf: str, prefix: str) -> str:
    return reverse(name, urlconf=urlconf)


def _url(name: str) -> str:
    """``reverse(name)`` of a URL without arguments, once per URLconf in use (a test may
    override it) and script prefix, not once per page."""
    return _reversed(name, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())


def _idle_warning(user):
    """For patients: the idle time and when to warn (two minutes before, or half the time)."""
    from icbt.middleware import idle_minutes

    if user is None or not user.is_authenticated or roles_of(user).patient is None:
        return None
    seconds = idle_minutes(user) * 60
    return {"seconds": seconds, "warn_seconds": min(120, seconds // 2)}


def _mark_current(items, path):
    """aria-current: "page" on the item for this very page, "true" on the section it belongs to."""
    matches = [item for item in items if path.startswith(item.url)]
    if not matches:
        return items
    best = max(matches, key=lambda item: len(item.url))
    current = "page" if best.url == path else "true"
    return [item._replace(current=current) if item is best else item for item in items]


def _clinic(user):
    """The signed-in person's clinic, for its name, logo and colour in the header."""
    if user is None or not user.is_authenticated:
        return None
    roles = roles_of(user)
    member = roles.staff or roles.patient
    return member.clinic if member is not None else None
