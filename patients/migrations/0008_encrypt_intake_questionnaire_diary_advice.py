"""Identifying and health data that was stored in plain text is encrypted: the intake request's
name, e-mail address and phone number; questionnaire item answers, band and flags (PHQ-9 item 9
included); diary values; the stepped-care advice. The questionnaire's flags leave two derived
columns behind (``urgent``: the self-harm flag; ``flagged``: any flag), computed from the plain
flags before they are encrypted. Then every existing row is encrypted in place (both SQLite and
PostgreSQL; safe to run on rows that already hold tokens).
"""

import django.core.validators
from django.db import migrations, models

import icbt.fields
from icbt.fields import encrypt_existing_rows

ENCRYPTED = [
    ("patients.IntakeRequest", {"name": "text", "email": "text", "phone": "text"}, "clinic_id"),
    (
        "patients.QuestionnaireResponse",
        {"answers": "json", "band": "text", "flags": "json"},
        "enrollment__clinic_id",
    ),
    ("patients.DiaryEntry", {"values": "json"}, "enrollment__clinic_id"),
    ("patients.SteppedCareDecision", {"advice": "json"}, "enrollment__clinic_id"),
]


def derive_flag_columns(apps, schema_editor):
    QuestionnaireResponse = apps.get_model("patients", "QuestionnaireResponse")
    manager = QuestionnaireResponse.objects.using(schema_editor.connection.alias)
    for pk, flags in manager.values_list("pk", "flags").iterator():
        flags = flags or []
        if flags:
            manager.filter(pk=pk).update(urgent="self_harm" in flags, flagged=True)


def encrypt_rows(apps, schema_editor):
    for model, fields, scope in ENCRYPTED:
        encrypt_existing_rows(apps, schema_editor, model=model, fields=fields, scope=scope)


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0007_assignment_answer_from_intake"),
    ]

    operations = [
        migrations.AddField(
            model_name="questionnaireresponse",
            name="flagged",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AddField(
            model_name="questionnaireresponse",
            name="urgent",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.RunPython(derive_flag_columns, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="diaryentry",
            name="values",
            field=icbt.fields.EncryptedJSONField(blank=True, default=dict),
        ),
        migrations.AlterField(
            model_name="intakerequest",
            name="email",
            field=icbt.fields.EncryptedTextField(
                max_length=254,
                validators=[django.core.validators.EmailValidator()],
                verbose_name="e-mail address",
            ),
        ),
        migrations.AlterField(
            model_name="intakerequest",
            name="name",
            field=icbt.fields.EncryptedTextField(max_length=120, verbose_name="name"),
        ),
        migrations.AlterField(
            model_name="intakerequest",
            name="phone",
            field=icbt.fields.EncryptedTextField(blank=True, max_length=40, verbose_name="phone number"),
        ),
        migrations.AlterField(
            model_name="questionnaireresponse",
            name="answers",
            field=icbt.fields.EncryptedJSONField(blank=True, default=list),
        ),
        migrations.AlterField(
            model_name="questionnaireresponse",
            name="band",
            field=icbt.fields.EncryptedTextField(blank=True, max_length=40),
        ),
        migrations.AlterField(
            model_name="questionnaireresponse",
            name="flags",
            field=icbt.fields.EncryptedJSONField(blank=True, default=list),
        ),
        migrations.AlterField(
            model_name="steppedcaredecision",
            name="advice",
            field=icbt.fields.EncryptedJSONField(default=dict),
        ),
        migrations.RunPython(encrypt_rows, migrations.RunPython.noop),
    ]
