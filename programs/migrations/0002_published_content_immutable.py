"""Published content is immutable for every client (raw SQL too): a trigger refuses UPDATE on
the version, module, step and diary-type tables. The loader only inserts; a change of content
is a new version. (DELETE stays possible for removing a version no patient uses: the patients
app protects used versions with on_delete=PROTECT.)

On SQLite a later migration that rebuilds one of these tables drops its trigger; such a
migration must run ``forwards`` again.
"""

from django.db import migrations

TABLES = ["programs_programversion", "programs_module", "programs_step", "programs_diarytype"]

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION programs_content_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is published content and cannot be changed: load a new version', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)  # psycopg 3: with () a '%' is a placeholder
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_immutable BEFORE UPDATE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION programs_content_immutable();"
            )
    elif vendor == "sqlite":
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER IF NOT EXISTS {table}_immutable BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is published content and cannot be changed'); END;"
            )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table};")
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable;")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS programs_content_immutable();")


class Migration(migrations.Migration):
    dependencies = [("programs", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
