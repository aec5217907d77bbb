"""Timeline details (scores, flags, statuses) are encrypted: each event gets a uid to bind its
ciphertext to (filled in for existing events, then made unique), and existing details are
encrypted in place."""

import uuid

from django.db import migrations, models

import icbt.fields
from icbt.fields import encrypt_existing_rows


def fill_uids(apps, schema_editor):
    TimelineEvent = apps.get_model("patients", "TimelineEvent")
    manager = TimelineEvent.objects.using(schema_editor.connection.alias)
    for pk in manager.filter(uid__isnull=True).values_list("pk", flat=True).iterator():
        manager.filter(pk=pk).update(uid=uuid.uuid4())


def encrypt_details(apps, schema_editor):
    encrypt_existing_rows(
        apps, schema_editor, model="patients.TimelineEvent", fields={"detail": "json"}, scope="patient__clinic_id"
    )


class Migration(migrations.Migration):
    dependencies = [("patients", "0008_encrypt_intake_questionnaire_diary_advice")]

    operations = [
        migrations.AddField(
            model_name="timelineevent",
            name="uid",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(fill_uids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="timelineevent",
            name="uid",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name="timelineevent",
            name="detail",
            field=icbt.fields.EncryptedJSONField(blank=True, default=dict),
        ),
        migrations.RunPython(encrypt_details, migrations.RunPython.noop),
    ]
