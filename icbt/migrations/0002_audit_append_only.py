"""On PostgreSQL, a trigger makes the audit trail append-only for every client (raw SQL too).

TRUNCATE is left to the table owner (the test runner empties tables with it); the application's
database role should not own the table in production (see README, "Running in production").
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION icbt_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'icbt_auditevent is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER icbt_auditevent_append_only
    BEFORE UPDATE OR DELETE ON icbt_auditevent
    FOR EACH ROW EXECUTE FUNCTION icbt_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS icbt_auditevent_append_only ON icbt_auditevent;
DROP FUNCTION IF EXISTS icbt_audit_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("icbt", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
