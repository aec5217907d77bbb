"""The answers of unsent questionnaires (PHQ-9 item 9 included) are encrypted like those of sent
ones: each draft gets a uid to bind its ciphertext to, then existing answers are encrypted."""

import uuid

from django.db import migrations, models

import icbt.fields
from icbt.fields import encrypt_existing_rows


def fill_uids(apps, schema_editor):
    QuestionnaireDraft = apps.get_model("patients", "QuestionnaireDraft")
    manager = QuestionnaireDraft.objects.using(schema_editor.connection.alias)
    for pk in manager.filter(uid__isnull=True).values_list("pk", flat=True).iterator():
        manager.filter(pk=pk).update(uid=uuid.uuid4())


def encrypt_answers(apps, schema_editor):
    encrypt_existing_rows(
        apps,
        schema_editor,
        model="patients.QuestionnaireDraft",
        fields={"answers": "json"},
        scope="enrollment__clinic_id",
    )


class Migration(migrations.Migration):
    dependencies = [("patients", "0009_encrypt_timeline_detail")]

    operations = [
        migrations.AddField(
            model_name="questionnairedraft",
            name="uid",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(fill_uids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="questionnairedraft",
            name="uid",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name="questionnairedraft",
            name="answers",
            field=icbt.fields.EncryptedJSONField(blank=True, default=dict),
        ),
        migrations.RunPython(encrypt_answers, migrations.RunPython.noop),
    ]
