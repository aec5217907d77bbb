"""While ``manage.py migrate --database owner`` runs, every query goes to that connection.

Data migrations that use ``Model.objects`` (or code they call, such as the session store or the
data-key lookup of encrypted fields) would otherwise reach the default connection, which in
production is the application's role: it may not be able to do what a migration does, and a
migration should not half-run under two roles. ``pre_migrate`` names the connection being
migrated; nothing changes when that is the default one.
"""

_migrating_on: str | None = None


def migration_started(sender, using=None, **kwargs):
    global _migrating_on  # noqa: PLW0603 (one process runs one migrate)
    _migrating_on = using if using and using != "default" else None


class MigrateAsOwner:
    def db_for_read(self, model, **hints):
        return _migrating_on

    def db_for_write(self, model, **hints):
        return _migrating_on
