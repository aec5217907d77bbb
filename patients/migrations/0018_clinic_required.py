"""The clinic of every encrypted row, filled in by the previous migration, is required."""

import django.db.models.deletion
from django.db import migrations, models

MODELS = ["intake", "assignmentanswer", "diaryentry", "questionnaireresponse", "questionnairedraft", "treatmentsession", "steppedcaredecision", "timelineevent", "earlywarningdecision"]


class Migration(migrations.Migration):
    dependencies = [("patients", "0017_clinic_on_encrypted_rows")]

    operations = [
        migrations.AlterField(
            model_name=name,
            name="clinic",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="icbt.clinic"
            ),
        )
        for name in MODELS
    ]
