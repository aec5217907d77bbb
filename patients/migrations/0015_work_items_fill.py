"""Fill the work-item table of an existing database with what waits today (the reconcile's
collectors: the same as ``manage.py worklist_reconcile --repair``)."""

from django.db import migrations


def fill(apps, schema_editor):
    # The collectors read the source tables through the current models: they are the one
    # definition of waiting work. An empty database has nothing to fill.
    if not apps.get_model("patients", "Patient").objects.exists() and not apps.get_model(
        "patients", "IntakeRequest"
    ).objects.exists():
        return
    from patients import work_items

    work_items.reconcile(repair=True)


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0014_work_items"),
        ("messaging", "0003_encrypt_feedback_templates"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
