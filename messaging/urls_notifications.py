"""URLs of the notification settings and the one-click unsubscribe link.

Included from ``messaging/urls.py``: the names are ``messaging:notifications:preferences`` and
``messaging:notifications:unsubscribe``.
"""

from django.urls import path

from messaging import views_preferences

app_name = "notifications"

urlpatterns = [
    path("settings/notifications/", views_preferences.notification_preferences, name="preferences"),
    path(
        "settings/notifications/first/",
        views_preferences.notification_first_choice,
        name="first_choice",
    ),
    path(
        "notifications/unsubscribe/<str:token>/",
        views_preferences.notification_unsubscribe,
        name="unsubscribe",
    ),
]
