from django.apps import AppConfig


class IcbtConfig(AppConfig):
    name = "icbt"
    verbose_name = "icbt platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from icbt import (
            client_storage,  # noqa: F401 - connects the sign-out receiver
            signin,
        )

        signin.connect()
