from django.urls import path

from therapists import views

app_name = "therapists"

urlpatterns = [
    path("staff/team/", views.staff_list, name="staff_list"),
    path("staff/team/invite/", views.staff_invite, name="staff_invite"),
    path("staff/clinic/", views.clinic_overview, name="clinic_overview"),
    path("staff/audit/", views.audit_search, name="audit_search"),
]
