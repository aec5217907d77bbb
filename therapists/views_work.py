"""The therapist's worklist and caseload, the manager's dashboard and its exports. Thin views:
an access check, a selector, a template (or a CSV / PDF), and an audit event."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from icbt.access import require_staff_role
from icbt.audit import Action
from icbt.decorators import read_only_page
from icbt.pdf import pdf_download
from patients.access import audited
from therapists import worklist as worklist_selectors
from therapists.dashboard import MEDIAN_SAMPLE, clinic_dashboard, clinic_teams
from therapists.dashboard_presentation import dashboard_charts, dashboard_tables
from therapists.exports import csv_response
from therapists.forms_work import DashboardFilterForm, WorklistFilterForm
from therapists.worklist_presentation import worklist_groups

WORKLIST_PAGE_SIZE = 100
CASELOAD_PAGE_SIZE = 100


def _int(value) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 12 else None


@login_required
@read_only_page
@audited("worklist", "therapist")
def worklist(request):
    result = worklist_selectors.worklist(
        fetched_by=request.user,
        kind=request.GET.get("kind", ""),
        patient_id=_int(request.GET.get("patient")),
        order=request.GET.get("order", "oldest"),
    )
    form = WorklistFilterForm(request.GET or None, patients=result.patients)
    form.is_valid()
    page = Paginator(result.items, WORKLIST_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    # What the page showed: the patients of its items (the filter's short list of names is not
    # a record of anyone's work and stays out of their access logs).
    # The urgent items are shown above whatever the filter chose: theirs too.
    shown = [*page.object_list, *result.urgent]
    request.audit.shown(patient_ids=list(dict.fromkeys(item.patient_id for item in shown if item.patient_id)))
    return render(
        request,
        "therapists/worklist.html",
        {
            "worklist": result,
            "form": form,
            "page": page,
            "groups": worklist_groups(page.object_list),
            "query": query.urlencode(),
            "worklist_waiting": result.waiting,  # the navigation's count, counted once
        },
    )


@login_required
@read_only_page
@audited("caseload", "therapist")
def caseload(request):
    rows = worklist_selectors.caseload(fetched_by=request.user)
    page = Paginator(rows, CASELOAD_PAGE_SIZE).get_page(request.GET.get("page"))
    request.audit.shown(patient_ids=[r.patient.pk for r in page.object_list])
    return render(
        request,
        "therapists/caseload.html",
        {"rows": page.object_list, "page": page, "today": timezone.localdate()},
    )


def _dashboard(request):
    """The filter form and the figures of the period it chose; no figures (None) when the form
    was refused: the figures of another period must never pass for the ones asked for."""
    staff = require_staff_role(request.user, "manager")
    teams = clinic_teams(clinic_id=staff.clinic_id)
    form = DashboardFilterForm(request.GET or None, teams=teams)
    if form.is_bound and not form.is_valid():
        return form, None
    team_id = form.cleaned_data.get("team") if form.is_bound else None
    dashboard = clinic_dashboard(fetched_by=request.user, period=form.period(), team_id=team_id, teams=teams)
    return form, dashboard


def _refused_period(request, form, *, status=200):
    """The dashboard with the form's errors and no figures or exports (an export asked for a
    period that is not one answers this page, status 400, instead of another period's file)."""
    return render(request, "therapists/dashboard.html", {"form": form, "dashboard": None}, status=status)


def _definitions() -> dict:
    return {"overdue_days": settings.ICBT_FEEDBACK_OVERDUE_WORKING_DAYS, "median_sample": MEDIAN_SAMPLE}


@login_required
@read_only_page
def dashboard(request):
    form, data = _dashboard(request)
    if data is None:
        return _refused_period(request, form)
    return render(
        request,
        "therapists/dashboard.html",
        {
            "form": form,
            "dashboard": data,
            "tables": dashboard_tables(data),
            "charts": dashboard_charts(data),
            "query": request.GET.urlencode(),
            **_definitions(),
        },
    )


@login_required
@read_only_page
@audited("clinic_report", "manager")
def dashboard_csv(request, table):
    form, data = _dashboard(request)
    if data is None:
        return _refused_period(request, form, status=400)
    tables = dashboard_tables(data)
    if table not in tables:
        raise Http404
    request.audit.record(Action.EXPORT, object_id=f"csv:{table}", clinic_id=data.clinic.pk)
    chosen = tables[table]
    name = f"clinic-{table}-{data.period.start.isoformat()}-{data.period.end.isoformat()}.csv"
    return csv_response(chosen.headers, chosen.rows, filename=name)


@login_required
@read_only_page
@audited("clinic_report", "manager")
def dashboard_pdf(request):
    form, data = _dashboard(request)
    if data is None:
        return _refused_period(request, form, status=400)
    request.audit.record(Action.EXPORT, object_id="pdf", clinic_id=data.clinic.pk)
    name = f"clinic-report-{data.period.start.isoformat()}-{data.period.end.isoformat()}.pdf"
    return pdf_download(
        request,
        kind="clinic_report",
        template_name="therapists/pdf/clinic_report.html",
        context={
            "dashboard": data,
            "tables": dashboard_tables(data),
            "charts": dashboard_charts(data),
            "generated_at": timezone.now(),
            **_definitions(),
        },
        scope=data.clinic.pk,
        filename=name,
    )
