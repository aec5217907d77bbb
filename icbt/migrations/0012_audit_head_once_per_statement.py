"""The audit chain's head moves once per INSERT statement instead of once per row (see
icbt.audit_chain): a list page that records a hundred patients in one statement no longer
writes the head row a hundred times. Events and heads stay as they are; only the triggers are
replaced. PostgreSQL only; SQLite keeps its trigger."""

from django.db import migrations

from icbt import audit_chain


def reinstall(apps, schema_editor):
    audit_chain.reinstall(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("icbt", "0011_clinic_identity"),
    ]

    operations = [
        migrations.RunPython(reinstall, migrations.RunPython.noop, elidable=False),
    ]
