from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from icbt.roles import roles_of


def navigation(request):
    """The navigation for the signed-in person's roles: (label, url) pairs."""
    user = getattr(request, "user", None)
    items = []
    if user is not None and user.is_authenticated:
        roles = roles_of(user)
        if roles.patient is not None:
            items.append((_("My program"), reverse("patients:home")))
            items.append((_("Messages"), reverse("messaging:patient_conversation")))
            items.append((_("Who looked at my file"), reverse("patients:access_log")))
            items.append((_("Your data"), reverse("patients:my_data")))
        if roles.staff is not None:
            if roles.staff.is_therapist:
                # The worklist first; base.html adds what waits (therapists.context_processors).
                items.append((_("Worklist"), reverse("therapists:worklist")))
            if roles.staff.is_therapist:
                items.append((_("My patients"), reverse("patients:staff_patient_list")))
            if roles.staff.is_therapist or roles.staff.is_clinic_admin:
                items.append((_("Feedback templates"), reverse("messaging:template_list")))
            if roles.staff.is_therapist or roles.staff.is_clinic_admin:
                items.append((_("Programs"), reverse("programs:program_list")))
            if roles.staff.is_manager:
                items.append((_("Dashboard"), reverse("therapists:dashboard")))
            if roles.staff.is_manager:
                items.append((_("Clinic overview"), reverse("therapists:clinic_overview")))
            if roles.staff.is_clinic_admin or roles.staff.is_manager:
                items.append((_("Staff"), reverse("therapists:staff_list")))
            if roles.staff.is_clinic_admin:
                items.append((_("Audit log"), reverse("therapists:audit_search")))
        items.append((_("Settings"), reverse("personal_settings")))
    return {
        "nav_items": items,
        "roles": roles_of(user) if user is not None else None,
        "idle_warning": _idle_warning(user),
    }


def _idle_warning(user):
    """For patients: the idle time and when to warn (two minutes before, or half the time)."""
    from icbt.middleware import idle_minutes

    if user is None or not user.is_authenticated or roles_of(user).patient is None:
        return None
    seconds = idle_minutes(user) * 60
    return {"seconds": seconds, "warn_seconds": min(120, seconds // 2)}
