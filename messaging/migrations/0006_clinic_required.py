"""The clinic of every encrypted row, filled in by the previous migration, is required."""

import django.db.models.deletion
from django.db import migrations, models

MODELS = ["message", "messagedraft", "staffnote"]


class Migration(migrations.Migration):
    dependencies = [("messaging", "0005_clinic_on_encrypted_rows")]

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
