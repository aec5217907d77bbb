import importlib

from django.db import migrations, models

_immutable = importlib.import_module("programs.migrations.0002_published_content_immutable")


def _triggers_again(apps, schema_editor):
    """SQLite rebuilds the table for the new column and drops its trigger: create it again (on
    PostgreSQL the trigger survives; CREATE would fail, so only SQLite runs this)."""
    if schema_editor.connection.vendor == "sqlite":
        _immutable.forwards(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0005_feedback_starters"),
    ]

    operations = [
        migrations.AddField(
            model_name="programversion",
            name="measurement_schedule",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(_triggers_again, migrations.RunPython.noop),
    ]
