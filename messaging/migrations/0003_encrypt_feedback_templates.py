"""Feedback template titles and texts are encrypted: each template gets a uid to bind its
ciphertext to (filled in for existing templates, then made unique), then existing titles and
texts are encrypted in place. Lists sort by title in Python from now on. Whether a clinic's copy
of a starter still says what was copied can no longer be asked of the database (its title and
text are ciphertext): ``edited`` keeps that, derived here from the plain texts first."""

import uuid

from django.db import migrations, models

import icbt.fields
from icbt.fields import encrypt_existing_rows


def fill_uids(apps, schema_editor):
    FeedbackTemplate = apps.get_model("messaging", "FeedbackTemplate")
    manager = FeedbackTemplate.objects.using(schema_editor.connection.alias)
    for pk in manager.filter(uid__isnull=True).values_list("pk", flat=True).iterator():
        manager.filter(pk=pk).update(uid=uuid.uuid4())


def derive_edited(apps, schema_editor):
    FeedbackTemplate = apps.get_model("messaging", "FeedbackTemplate")
    manager = FeedbackTemplate.objects.using(schema_editor.connection.alias)
    copies = manager.filter(starter__isnull=False).values_list("pk", "title", "body", "starter_title", "starter_body")
    for pk, title, body, starter_title, starter_body in copies.iterator():
        if title != starter_title or body != starter_body:
            manager.filter(pk=pk).update(edited=True)


def encrypt_templates(apps, schema_editor):
    encrypt_existing_rows(
        apps,
        schema_editor,
        model="messaging.FeedbackTemplate",
        fields={"title": "text", "body": "text"},
        scope="clinic_id",
    )


class Migration(migrations.Migration):
    dependencies = [("messaging", "0002_feedback_template_starter_copies")]

    operations = [
        migrations.AlterModelOptions(name="feedbacktemplate", options={"ordering": ["-is_snippet", "pk"]}),
        migrations.AddField(
            model_name="feedbacktemplate",
            name="uid",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(fill_uids, migrations.RunPython.noop),
        migrations.AddField(
            model_name="feedbacktemplate",
            name="edited",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.RunPython(derive_edited, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="feedbacktemplate",
            name="uid",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name="feedbacktemplate",
            name="title",
            field=icbt.fields.EncryptedTextField(max_length=120, verbose_name="title"),
        ),
        migrations.AlterField(
            model_name="feedbacktemplate",
            name="body",
            field=icbt.fields.EncryptedTextField(max_length=4000, verbose_name="text"),
        ),
        migrations.RunPython(encrypt_templates, migrations.RunPython.noop),
    ]
