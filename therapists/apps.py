from django.apps import AppConfig


class TherapistsConfig(AppConfig):
    name = "therapists"
    default_auto_field = "django.db.models.BigAutoField"
