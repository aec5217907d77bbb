"""The audit sealing function gets a fixed search path with pg_temp last (see
icbt.audit_chain.PG_PIN_SEARCH_PATH): a temporary table can no longer stand in for the chain heads.
PostgreSQL only; installations created from now on get it from 0008 already."""

from django.db import migrations

from icbt import audit_chain


def pin_search_path(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(audit_chain.PG_PIN_SEARCH_PATH, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("icbt", "0008_audit_hash_chain"),
    ]

    operations = [
        migrations.RunPython(pin_search_path, migrations.RunPython.noop, elidable=False),
    ]
