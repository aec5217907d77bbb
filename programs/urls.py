from django.urls import path

from programs import views

app_name = "programs"

urlpatterns = [
    path("staff/programs/", views.program_list, name="program_list"),
    path("staff/programs/recordings/", views.media_list, name="media_list"),
    path("staff/programs/recordings/<int:step_id>/", views.media_upload, name="media_upload"),
    path("staff/programs/recordings/<int:step_id>/record/", views.media_studio, name="media_studio"),
    path(
        "staff/programs/recordings/<int:step_id>/record/<int:position>/",
        views.media_part_record,
        name="media_part_record",
    ),
    path("staff/programs/recordings/<int:step_id>/publish/", views.media_publish, name="media_publish"),
    path("staff/programs/questionnaires/", views.licensed_list, name="licensed_list"),
    path("staff/programs/preview/<int:version_id>/", views.preview_start, name="preview_start"),
    path(
        "staff/programs/preview/<int:version_id>/<slug:module_slug>/<slug:step_slug>/",
        views.preview_step,
        name="preview_step",
    ),
    path("staff/programs/<slug:program_slug>/defaults/", views.clinic_settings, name="clinic_settings"),
    path("staff/programs/<slug:program_slug>/<str:language>/", views.program_detail, name="program_detail"),
    path("programs/recordings/<int:media_id>/<str:part>/", views.media_file, name="media_file"),
    path("programs/recorded-parts/<int:part_id>/", views.media_part_file, name="media_part_file"),
]
