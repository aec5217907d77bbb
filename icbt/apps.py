from django.apps import AppConfig


class IcbtConfig(AppConfig):
    name = "icbt"
    verbose_name = "icbt platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from icbt import signin

        signin.connect()
