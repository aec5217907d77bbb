from django.apps import AppConfig


class IcbtConfig(AppConfig):
    name = "icbt"
    verbose_name = "icbt platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate, pre_migrate

        from icbt import (
            client_storage,  # noqa: F401 - connects the sign-out receiver
            shaped_sql,
            signin,
        )
        from icbt.audit_chain import register_sqlite_functions, reinstall_sqlite_trigger
        from icbt.db_router import migration_started

        signin.connect()
        connection_created.connect(register_sqlite_functions, dispatch_uid="icbt_audit_hash")
        connection_created.connect(shaped_sql.generic_plans, dispatch_uid="icbt_generic_plans")
        pre_migrate.connect(migration_started, dispatch_uid="icbt_migrate_as_owner")
        post_migrate.connect(reinstall_sqlite_trigger, sender=self, dispatch_uid="icbt_audit_seal_sqlite")
