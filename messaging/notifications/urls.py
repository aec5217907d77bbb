"""URLs of the notification settings and the one-click unsubscribe link.

Included from ``messaging/urls.py``: the names are ``messaging:notifications:preferences`` and
``messaging:notifications:unsubscribe``.
"""

from django.urls import path

from messaging.notifications import views

app_name = "notifications"

urlpatterns = [
    path("settings/notifications/", views.notification_preferences, name="preferences"),
    path(
        "settings/notifications/first/",
        views.notification_first_choice,
        name="first_choice",
    ),
    path(
        "notifications/unsubscribe/<str:token>/",
        views.notification_unsubscribe,
        name="unsubscribe",
    ),
]
