"""Clinic, Team and StaffMember now live in ``icbt`` (see icbt 0010): the foreign keys follow in
Django's state only. The tables and their constraints stay as they are."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('icbt', '0010_tenancy'),
        ('messaging', '0003_encrypt_feedback_templates'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='feedbacktemplate',
                    name='clinic',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='feedback_templates', to='icbt.clinic'),
                ),
                migrations.AlterField(
                    model_name='feedbacktemplate',
                    name='owner',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='feedback_templates', to='icbt.staffmember'),
                ),
                migrations.AlterField(
                    model_name='staffnote',
                    name='author',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='icbt.staffmember'),
                ),
            ],
            database_operations=[],
        ),
    ]
