"""Clinic, Team and StaffMember live in ``icbt`` now (icbt 0010): ``therapists`` forgets them in
Django's state once every app that points at them has followed. The tables stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("therapists", "0001_initial"),
        ("icbt", "0010_tenancy"),
        ("messaging", "0004_tenancy_moved_to_icbt"),
        ("patients", "0014_tenancy_moved_to_icbt"),
        ("programs", "0007_tenancy_moved_to_icbt"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="StaffMember"),
                migrations.DeleteModel(name="Team"),
                migrations.DeleteModel(name="Clinic"),
            ],
            database_operations=[],
        ),
    ]
