"""Reports about one patient: the therapist's treatment summary (PDF) and the patient's own data
(PDF and JSON). Thin views: the access helper (which audits), a report, a file.

The downloads only read, so they run outside the request transaction (``read_only_page``): their
audit event commits at once. Inside a transaction, the row's seal would keep the clinic's audit
chain locked (PostgreSQL) for as long as the PDF takes to render, and every other audited
request of that clinic would wait for it."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from icbt.audit import Action
from icbt.decorators import read_only_page
from icbt.pdf import pdf_download
from patients import reports
from patients.access import own_patient, patient_for_staff


@login_required
@read_only_page
def staff_treatment_summary(request, pk):
    """The treatment summary PDF, for the patient's file and for reimbursement. Generating it is
    an export of patient data: audited by the access helper."""
    patient = patient_for_staff(request, pk, action=Action.EXPORT, purpose="treatment_summary")
    return pdf_download(
        request,
        kind=f"treatment_summary:{patient.pk}",
        template_name="patients/reports/treatment_summary.html",
        context=reports.treatment_summary(patient=patient),
        scope=patient.clinic_id,
        filename=f"treatment-summary-{patient.case_reference}.pdf",
    )


@login_required
def my_data(request):
    patient = own_patient(request)
    return render(request, "patients/reports/my_data.html", {"patient": patient})


@login_required
@read_only_page
def my_data_json(request):
    patient = own_patient(request, export="json")
    response = HttpResponse(
        reports.own_data_json(reports.own_data(patient=patient)),
        content_type="application/json; charset=utf-8",
    )
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="my-data-{stamp}.json"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@read_only_page
def my_data_pdf(request):
    patient = own_patient(request, export="pdf")
    data = reports.own_data_for_pdf(reports.own_data(patient=patient))
    return pdf_download(
        request,
        kind="own_data",
        template_name="patients/reports/own_data.html",
        context={"data": data, "patient": patient},
        scope=patient.clinic_id,
        filename=f"my-data-{timezone.localdate().isoformat()}.pdf",
        stamp=("data", "generated_at"),
    )
