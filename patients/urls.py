from django.urls import path

from patients import views

app_name = "patients"

urlpatterns = [
    path("me/", views.patient_home, name="home"),
    path("me/access-log/", views.patient_access_log, name="access_log"),
    path("staff/patients/", views.staff_patient_list, name="staff_patient_list"),
    path("staff/patients/invite/", views.staff_patient_invite, name="staff_patient_invite"),
    path("staff/patients/<int:pk>/", views.staff_patient_detail, name="staff_patient_detail"),
]
