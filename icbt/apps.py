from django.apps import AppConfig


class IcbtConfig(AppConfig):
    name = "icbt"
    verbose_name = "icbt platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from allauth.mfa.signals import authenticator_removed

        from icbt.middleware import forget_totp

        authenticator_removed.connect(forget_totp, dispatch_uid="icbt-forget-totp")
