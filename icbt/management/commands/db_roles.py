"""manage.py db_roles: give the application's PostgreSQL role exactly the rights it needs.

Run it as the role that owns the tables (the one migrations use: ``--database owner`` by default
when DATABASE_MIGRATE_URL is set), after every ``migrate``. The application's role
(ICBT_DB_APP_ROLE, by default the user in DATABASE_URL) then gets:

- on the audit trail (``icbt_auditevent``): SELECT and INSERT only. No UPDATE, DELETE or TRUNCATE,
  and as it owns nothing it cannot disable or drop the triggers that refuse changes and seal each
  row; ``session_replication_role`` is for superusers only;
- on the audit chain heads and ``django_migrations``: SELECT (the sealing trigger writes the heads
  with its owner's rights);
- on every other table of the schema: SELECT, INSERT, UPDATE, DELETE; USAGE on the sequences;
- no temporary tables: TEMPORARY on the database is revoked from PUBLIC and from the role (the
  application needs none, and a temporary table is a way to stand in for a real one).

It refuses to grant to the owner itself, to a superuser, or to a member of the owner role: each of
those could wipe the audit trail. ``--create`` creates the role (LOGIN, password from
ICBT_DB_APP_PASSWORD if set) when it does not exist; that needs the CREATEROLE right.
"""

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction

APPEND_ONLY = {"icbt_auditevent": "SELECT, INSERT"}
READ_ONLY = {"icbt_auditchainhead", "django_migrations"}
READ_WRITE = "SELECT, INSERT, UPDATE, DELETE"


class Command(BaseCommand):
    help = "Grant the application's database role its rights (PostgreSQL; run as the table owner)."

    def add_arguments(self, parser):
        default_alias = "owner" if "owner" in settings.DATABASES else "default"
        parser.add_argument("--database", default=default_alias, help="connection of the table owner")
        parser.add_argument("--app-role", default=settings.ICBT_DB_APP_ROLE, help="the application's role")
        parser.add_argument("--create", action="store_true", help="create the role if it does not exist")

    def handle(self, *args, database, app_role, create=False, **options):
        connection = connections[database]
        if connection.vendor != "postgresql":
            raise CommandError("Database roles are for PostgreSQL; SQLite is for development only.")
        if not app_role:
            raise CommandError("Name the application's role (--app-role or ICBT_DB_APP_ROLE).")
        quote = connection.ops.quote_name
        role = quote(app_role)
        with transaction.atomic(using=database), connection.cursor() as cursor:
            cursor.execute("SELECT current_user, current_database(), current_schema()")
            owner, database_name, schema = cursor.fetchone()
            if app_role == owner:
                raise CommandError(
                    f"The application's role '{app_role}' is the role running this command, which owns the "
                    "tables: it could disable the audit triggers. Give the application a role of its own."
                )
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [app_role])
            found = cursor.fetchone()
            if found is None:
                if not create:
                    raise CommandError(f"There is no role '{app_role}'. Create it, or pass --create.")
                password = os.environ.get("ICBT_DB_APP_PASSWORD", "")
                cursor.execute(
                    f"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
                    + (" PASSWORD %s" if password else ""),
                    [password] if password else None,
                )
                self.stdout.write(f"Created role {app_role}.")
            elif found[0]:
                raise CommandError(f"'{app_role}' is a superuser: it could switch the audit triggers off.")
            cursor.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", [app_role, owner])
            if cursor.fetchone()[0]:
                raise CommandError(f"'{app_role}' is a member of '{owner}' and so has the owner's rights.")
            cursor.execute(
                "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = %s ORDER BY tablename",
                [schema],
            )
            tables = cursor.fetchall()
            owned = [name for name, table_owner in tables if table_owner == app_role]
            if owned:
                raise CommandError(
                    f"'{app_role}' owns tables ({', '.join(owned)}); they must belong to the owner."
                )
            cursor.execute(f"GRANT CONNECT ON DATABASE {quote(database_name)} TO {role}")
            cursor.execute(f"REVOKE TEMPORARY ON DATABASE {quote(database_name)} FROM PUBLIC")
            cursor.execute(f"REVOKE TEMPORARY ON DATABASE {quote(database_name)} FROM {role}")
            cursor.execute(f"GRANT USAGE ON SCHEMA {quote(schema)} TO {role}")
            for name, _owner in tables:
                table = quote(name)
                cursor.execute(f"REVOKE ALL ON {table} FROM {role}")
                rights = APPEND_ONLY.get(name) or ("SELECT" if name in READ_ONLY else READ_WRITE)
                cursor.execute(f"GRANT {rights} ON {table} TO {role}")
            cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {quote(schema)} TO {role}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{app_role}: rows of {len(tables) - len(APPEND_ONLY) - len(READ_ONLY)} tables; "
                "audit trail INSERT and SELECT only."
            )
        )
