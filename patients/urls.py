from django.urls import path

from patients import views, views_measurement, views_patient, views_public, views_reports, views_staff

app_name = "patients"

urlpatterns = [
    path("me/", views_patient.home, name="home"),
    path("me/access-log/", views.patient_access_log, name="access_log"),
    path("staff/patients/", views.staff_patient_list, name="staff_patient_list"),
    path("staff/patients/invite/", views.staff_patient_invite, name="staff_patient_invite"),
    path("staff/patients/<int:pk>/", views.staff_patient_detail, name="staff_patient_detail"),
]

# The patient's side: everything under me/ starts from the patient's own enrollment.
urlpatterns += [
    path("me/modules/<slug:module_slug>/", views_patient.module_detail, name="module"),
    path("me/steps/<slug:module_slug>/<slug:step_slug>/", views_patient.step, name="step"),
    path("me/steps/<slug:module_slug>/<slug:step_slug>/done/", views_patient.step_done, name="step_done"),
    path(
        "me/steps/<slug:module_slug>/<slug:step_slug>/draft/",
        views_patient.assignment_draft,
        name="assignment_draft",
    ),
    path("me/diaries/", views_patient.diary_list, name="diary_list"),
    path("me/diaries/entries/<uuid:uid>/", views_patient.diary_entry, name="diary_entry"),
    path("me/diaries/<slug:diary_slug>/", views_patient.diary_detail, name="diary_detail"),
    path("me/diaries/<slug:diary_slug>/write/", views_patient.diary_write, name="diary_write"),
    path("me/questionnaires/", views_patient.questionnaire_list, name="questionnaires"),
    path("me/check-in/", views_measurement.check_in, name="check_in"),
    path(
        "me/questionnaires/<str:moment>/<str:code>/",
        views_patient.questionnaire_fill,
        name="questionnaire_fill",
    ),
]

# Getting in and the therapist's side of one patient. Public pages need no account.
_ENROLLMENT = "staff/patients/<int:pk>/enrollments/<int:enrollment_id>/"
urlpatterns += [
    path("programs/", views_public.public_program_list, name="public_program_list"),
    path("programs/<slug:program_slug>/", views_public.public_program, name="public_program"),
    path(
        "programs/<slug:program_slug>/request-sent/",
        views_public.public_intake_sent,
        name="public_intake_sent",
    ),
    path("staff/intake-requests/", views_staff.staff_intake_request_list, name="staff_intake_request_list"),
    path(
        "staff/intake-requests/<int:pk>/",
        views_staff.staff_intake_request_detail,
        name="staff_intake_request_detail",
    ),
    path(
        "staff/intake-requests/<int:pk>/status/",
        views_staff.staff_intake_request_status,
        name="staff_intake_request_status",
    ),
    path(
        "staff/intake-requests/<int:pk>/invite/",
        views_staff.staff_intake_request_invite,
        name="staff_intake_request_invite",
    ),
    path("staff/referrals/", views_staff.staff_referral_list, name="staff_referral_list"),
    path("staff/referrals/<int:pk>/", views_staff.staff_referral_detail, name="staff_referral_detail"),
    path("staff/patients/<int:pk>/refer/", views_staff.staff_referral_create, name="staff_referral_create"),
    path(
        "staff/patients/<int:pk>/intake/<slug:program_slug>/",
        views_staff.staff_intake_create,
        name="staff_intake_create",
    ),
    path(
        "staff/patients/<int:pk>/intakes/<int:intake_id>/",
        views_staff.staff_intake_detail,
        name="staff_intake_detail",
    ),
    path(
        "staff/patients/<int:pk>/enroll/", views_staff.staff_enrollment_create, name="staff_enrollment_create"
    ),
    path(
        "staff/patients/<int:pk>/sessions/new/", views_staff.staff_session_create, name="staff_session_create"
    ),
    path(_ENROLLMENT + "status/", views_staff.staff_enrollment_status, name="staff_enrollment_status"),
    path(_ENROLLMENT + "rhythm/", views_staff.staff_enrollment_cadence, name="staff_enrollment_cadence"),
    path(
        _ENROLLMENT + "early-warning/",
        views_staff.staff_early_warning_decide,
        name="staff_early_warning_decide",
    ),
    path(_ENROLLMENT + "tailor/", views_staff.staff_enrollment_tailor, name="staff_enrollment_tailor"),
    path(_ENROLLMENT + "tailor/step/", views_staff.staff_step_override, name="staff_step_override"),
    path(_ENROLLMENT + "tailor/module/", views_staff.staff_module_state, name="staff_module_state"),
    path(_ENROLLMENT + "tailor/route/", views_staff.staff_enrollment_route, name="staff_enrollment_route"),
    path(_ENROLLMENT + "end/", views_staff.staff_enrollment_end, name="staff_enrollment_end"),
    path(_ENROLLMENT + "end/score/", views_staff.staff_questionnaire_enter, name="staff_questionnaire_enter"),
]

# Reports: the therapist's treatment summary, and the patient's own data (GDPR).
urlpatterns += [
    path(
        "staff/patients/<int:pk>/summary.pdf",
        views_reports.staff_treatment_summary,
        name="staff_treatment_summary",
    ),
    path("me/my-data/", views_reports.my_data, name="my_data"),
    path("me/my-data/download.json", views_reports.my_data_json, name="my_data_json"),
    path("me/my-data/download.pdf", views_reports.my_data_pdf, name="my_data_pdf"),
]
