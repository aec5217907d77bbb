from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from icbt.access import require_staff_role
from icbt.audit_words import event_in_words
from icbt.decorators import read_only_page
from icbt.selectors import audit_events_for_patient
from patients import selectors, services
from patients.access import audited, own_patient, patient_for_staff
from patients.audit_objects import day_of, object_days
from patients.forms import PatientInviteForm
from patients.views_staff import overview_context


@login_required
def patient_access_log(request):
    """'Who looked at my file': every staff access to the patient's own record."""
    patient = own_patient(request)
    events = audit_events_for_patient(patient_id=patient.pk, fetched_by=request.user)
    events = list(events)
    therapist_user_id = patient.therapist.user_id if patient.therapist_id else None
    days = object_days(events, clinic_id=patient.clinic_id)
    rows = [
        (event, event_in_words(event, therapist_user_id=therapist_user_id, day=day_of(days, event)))
        for event in events
    ]
    return render(request, "patients/access_log.html", {"patient": patient, "events": events, "rows": rows})


@login_required
@audited("patient_list", "therapist")
def staff_patient_list(request):
    patients = list(selectors.patient_list(fetched_by=request.user))
    request.audit.shown(patient_ids=[p.pk for p in patients])
    return render(request, "patients/staff_patient_list.html", {"patients": patients})


@login_required
def staff_patient_invite(request):
    staff = require_staff_role(request.user, "therapist")
    form = PatientInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        patient = services.patient_invite(therapist=staff, **form.cleaned_data)
        messages.success(request, _("The invitation is on its way. The link works for a week."))
        return redirect("patients:staff_patient_detail", pk=patient.pk)
    return render(request, "patients/staff_patient_invite.html", {"form": form})


@login_required
@read_only_page
def staff_patient_detail(request, pk):
    patient = patient_for_staff(request, pk, with_enrollment=True)
    context = {"patient": patient, **overview_context(request, patient)}
    return render(request, "patients/staff_patient_detail.html", context)
