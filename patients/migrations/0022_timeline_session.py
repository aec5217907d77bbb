"""A timeline line about a recorded session points at it with a real key (``session``), so that
the timeline reads its sessions in the same query. Existing lines get the key from the session
id in their (encrypted) detail, when that session belongs to the same patient."""

import django.db.models.deletion
from django.db import migrations, models


def link_sessions(apps, schema_editor):
    alias = schema_editor.connection.alias
    TimelineEvent = apps.get_model("patients", "TimelineEvent")
    TreatmentSession = apps.get_model("patients", "TreatmentSession")
    events = TimelineEvent.objects.using(alias).filter(kind="session", session__isnull=True)
    for event in events.iterator():
        session_id = (event.detail or {}).get("session")
        if not isinstance(session_id, int):
            continue
        if TreatmentSession.objects.using(alias).filter(pk=session_id, patient_id=event.patient_id).exists():
            TimelineEvent.objects.using(alias).filter(pk=event.pk).update(session_id=session_id)


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0021_daily_figures"),
    ]

    operations = [
        migrations.AddField(
            model_name="timelineevent",
            name="session",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="patients.treatmentsession",
            ),
        ),
        migrations.RunPython(link_sessions, migrations.RunPython.noop),
    ]
