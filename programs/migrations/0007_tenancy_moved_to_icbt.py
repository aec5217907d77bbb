"""Clinic, Team and StaffMember now live in ``icbt`` (see icbt 0010): the foreign keys follow in
Django's state only. The tables and their constraints stay as they are."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('icbt', '0010_tenancy'),
        ('programs', '0006_version_measurement_schedule'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='clinicprogramsetting',
                    name='clinic',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='program_settings', to='icbt.clinic'),
                ),
                migrations.AlterField(
                    model_name='licensedinstrument',
                    name='clinic',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='licensed_instruments', to='icbt.clinic'),
                ),
                migrations.AlterField(
                    model_name='licensedupload',
                    name='clinic',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='icbt.clinic'),
                ),
                migrations.AlterField(
                    model_name='stepmedia',
                    name='clinic',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='step_media', to='icbt.clinic'),
                ),
            ],
            database_operations=[],
        ),
    ]
