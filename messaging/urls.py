from django.urls import include, path

from messaging import views

app_name = "messaging"

urlpatterns = [
    path("me/messages/", views.patient_conversation, name="patient_conversation"),
    path("me/messages/draft/", views.patient_draft, name="patient_draft"),
    path("staff/patients/<int:pk>/messages/", views.staff_conversation, name="staff_conversation"),
    path("staff/patients/<int:pk>/messages/draft/", views.staff_draft, name="staff_draft"),
    path("staff/patients/<int:pk>/review/", views.item_review, name="item_review"),
    path("staff/patients/<int:pk>/notes/", views.notes, name="notes"),
    path("staff/patients/<int:pk>/sharing/", views.sharing, name="sharing"),
    path("staff/patients/<int:pk>/sharing/<int:share_pk>/end/", views.share_end, name="share_end"),
    path("staff/covering/", views.covering, name="covering"),
    path("staff/templates/", views.template_list, name="template_list"),
    path("staff/templates/new/", views.template_create, name="template_create"),
    path("staff/templates/<int:pk>/", views.template_update, name="template_update"),
    path("staff/templates/<int:pk>/delete/", views.template_delete, name="template_delete"),
]

# Notification e-mail settings and the one-click unsubscribe link:
# messaging:notifications:preferences, messaging:notifications:unsubscribe.
urlpatterns += [path("", include("messaging.notifications.urls"))]
