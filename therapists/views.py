from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from icbt.access import require_staff_role
from icbt.audit import Action
from patients.access import audited
from therapists import audit_presentation, selectors, services
from therapists.forms import AuditSearchForm, ClinicIdentityForm, StaffInviteForm


@login_required
def staff_list(request):
    staff = require_staff_role(request.user, "clinic_admin", "manager")
    members = selectors.staff_list(fetched_by=request.user)
    return render(request, "therapists/staff_list.html", {"members": members, "clinic": staff.clinic})


@login_required
def staff_invite(request):
    staff = require_staff_role(request.user, "clinic_admin")
    form = StaffInviteForm(request.POST or None, clinic=staff.clinic)
    if request.method == "POST" and form.is_valid():
        services.staff_invite(clinic=staff.clinic, invited_by=request.user, **form.cleaned_data)
        messages.success(request, _("The invitation is on its way."))
        return redirect("therapists:staff_list")
    return render(request, "therapists/staff_invite.html", {"form": form})


@login_required
def clinic_overview(request):
    staff = require_staff_role(request.user, "manager")
    rows = selectors.caseload_per_therapist(fetched_by=request.user)
    return render(request, "therapists/clinic_overview.html", {"rows": rows, "clinic": staff.clinic})


@login_required
@audited("audit_log", "clinic_admin", required=False)
def audit_search(request):
    """The clinic's audit trail for its clinic admin. Every search is itself audited (the
    empty form shows nothing)."""
    form = AuditSearchForm(request.GET or None)
    events = rows = None
    if form.is_valid():
        # Recorded before the search runs, so the page's count and rows agree (the search is
        # part of its own result).
        request.audit.record(Action.SEARCH)
        clinic_id = request.audit.staff.clinic_id
        criteria = form.cleaned_data
        found = audit_presentation.audit_search(fetched_by=request.user, clinic_id=clinic_id, **criteria)
        events = Paginator(found, 50).get_page(request.GET.get("page"))
        rows = audit_presentation.audit_rows(events, clinic_id=clinic_id)
    context = {"form": form, "events": events, "rows": rows}
    return render(request, "therapists/audit_search.html", context)


@login_required
def clinic_identity(request):
    """The clinic admin sets the clinic's name, logo and colour."""
    staff = require_staff_role(request.user, "clinic_admin")
    form = ClinicIdentityForm(request.POST or None, request.FILES or None, instance=staff.clinic)
    if request.method == "POST" and form.is_valid():
        services.clinic_identity_update(
            clinic=staff.clinic,
            display_name=form.cleaned_data["display_name"],
            accent=form.cleaned_data["accent"],
            logo=form.cleaned_data["logo_file"],
            remove_logo=form.cleaned_data.get("remove_logo", False),
            changed_by=request.user,
        )
        messages.success(request, _("The clinic's name, logo and colour are saved."))
        return redirect("therapists:clinic_identity")
    return render(request, "therapists/clinic_identity.html", {"form": form, "clinic": staff.clinic})
