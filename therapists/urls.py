from django.urls import path

from therapists import views, views_work

app_name = "therapists"

urlpatterns = [
    path("staff/team/", views.staff_list, name="staff_list"),
    path("staff/team/invite/", views.staff_invite, name="staff_invite"),
    path("staff/clinic/", views.clinic_overview, name="clinic_overview"),
    path("staff/audit/", views.audit_search, name="audit_search"),
    path("staff/clinic/look/", views.clinic_identity, name="clinic_identity"),
]

# The worklist, the caseload and the manager's dashboard with its exports.

urlpatterns += [
    path("staff/worklist/", views_work.worklist, name="worklist"),
    path("staff/caseload/", views_work.caseload, name="caseload"),
    path("staff/dashboard/", views_work.dashboard, name="dashboard"),
    path("staff/dashboard/report.pdf", views_work.dashboard_pdf, name="dashboard_pdf"),
    path("staff/dashboard/<slug:table>.csv", views_work.dashboard_csv, name="dashboard_csv"),
]
