"""Clinic, Team and StaffMember now live in ``icbt`` (see icbt 0010): the foreign keys follow in
Django's state only. The tables and their constraints stay as they are."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('icbt', '0010_tenancy'),
        ('patients', '0013_enrollment_team'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='careshare',
                    name='colleague',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='shared_patients', to='icbt.staffmember'),
                ),
                migrations.AlterField(
                    model_name='careshare',
                    name='shared_by',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='icbt.staffmember'),
                ),
                migrations.AlterField(
                    model_name='earlywarningdecision',
                    name='decided_by',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='icbt.staffmember'),
                ),
                migrations.AlterField(
                    model_name='enrollment',
                    name='clinic',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='enrollments', to='icbt.clinic'),
                ),
                migrations.AlterField(
                    model_name='enrollment',
                    name='team',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='enrollments', to='icbt.team'),
                ),
                migrations.AlterField(
                    model_name='enrollment',
                    name='therapist',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='enrollments', to='icbt.staffmember'),
                ),
                migrations.AlterField(
                    model_name='intake',
                    name='therapist',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='intakes', to='icbt.staffmember'),
                ),
                migrations.AlterField(
                    model_name='intakerequest',
                    name='clinic',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='intake_requests', to='icbt.clinic'),
                ),
                migrations.AlterField(
                    model_name='intakerequest',
                    name='handled_by',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='icbt.staffmember'),
                ),
                migrations.AlterField(
                    model_name='patient',
                    name='clinic',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='patients', to='icbt.clinic'),
                ),
                migrations.AlterField(
                    model_name='patient',
                    name='therapist',
                    field=models.ForeignKey(blank=True, limit_choices_to={'is_therapist': True}, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='patients', to='icbt.staffmember'),
                ),
                migrations.AlterField(
                    model_name='referral',
                    name='clinic',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='referrals', to='icbt.clinic'),
                ),
                migrations.AlterField(
                    model_name='referral',
                    name='referred_by',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='referrals_made', to='icbt.staffmember'),
                ),
                migrations.AlterField(
                    model_name='referral',
                    name='to_therapist',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='referrals_received', to='icbt.staffmember'),
                ),
                migrations.AlterField(
                    model_name='steppedcaredecision',
                    name='decided_by',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='icbt.staffmember'),
                ),
                migrations.AlterField(
                    model_name='treatmentsession',
                    name='recorded_by',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='icbt.staffmember'),
                ),
            ],
            database_operations=[],
        ),
    ]
