"""Clinic, Team and StaffMember move from ``therapists`` to ``icbt``, beside the user model.

The tables keep their names (``therapists_clinic``, ``therapists_team``, ``therapists_staffmember``
and the ``therapists_staffmember_teams`` link table), so nothing moves in the database: this
migration only tells Django's state where the models now live. The content types follow, so
existing permissions, admin log entries and other generic references keep pointing at the same
rows. The apps that point at these models switch their state next, and ``therapists`` drops the
old state last.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = ("clinic", "team", "staffmember")


def _relabel(apps, schema_editor, *, old, new):
    ContentType = apps.get_model("contenttypes", "ContentType")
    types = ContentType.objects.using(schema_editor.connection.alias)
    for model in MOVED:
        moving = types.filter(app_label=old, model=model).first()
        if moving is None:
            continue
        # A type made for the new label before this ran (an interrupted earlier migrate) holds no
        # history worth keeping: the old one carries the permissions and admin log entries.
        types.filter(app_label=new, model=model).delete()
        moving.app_label = new
        moving.save(update_fields=["app_label"])


def content_types_forward(apps, schema_editor):
    _relabel(apps, schema_editor, old="therapists", new="icbt")


def content_types_backward(apps, schema_editor):
    _relabel(apps, schema_editor, old="icbt", new="therapists")


class Migration(migrations.Migration):
    dependencies = [
        ("icbt", "0009_audit_seal_fixed_search_path"),
        ("therapists", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Clinic",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=120, unique=True, verbose_name="name")),
                        (
                            "kind",
                            models.CharField(
                                choices=[("institute", "institute"), ("practice", "practice")],
                                default="institute",
                                max_length=12,
                                verbose_name="kind",
                            ),
                        ),
                        (
                            "crisis_instructions",
                            models.TextField(
                                blank=True,
                                help_text="Shown to patients where they write messages: whom to call in an emergency.",
                                verbose_name="crisis instructions",
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={"db_table": "therapists_clinic", "ordering": ["name"]},
                ),
                migrations.CreateModel(
                    name="Team",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=120, verbose_name="name")),
                        (
                            "clinic",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="teams", to="icbt.clinic"
                            ),
                        ),
                    ],
                    options={
                        "db_table": "therapists_team",
                        "ordering": ["clinic", "name"],
                        "constraints": [
                            models.UniqueConstraint(fields=("clinic", "name"), name="team_name_unique_in_clinic")
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="StaffMember",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("is_therapist", models.BooleanField(default=False, verbose_name="therapist")),
                        ("is_manager", models.BooleanField(default=False, verbose_name="manager")),
                        ("is_clinic_admin", models.BooleanField(default=False, verbose_name="clinic admin")),
                        ("training_date", models.DateField(blank=True, null=True, verbose_name="ICBT training date")),
                        (
                            "clinic",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT, related_name="staff", to="icbt.clinic"
                            ),
                        ),
                        (
                            "user",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="staff",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        ("teams", models.ManyToManyField(blank=True, related_name="members", to="icbt.team")),
                    ],
                    options={
                        "db_table": "therapists_staffmember",
                        "ordering": ["clinic", "user__email"],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("is_therapist", True), ("is_manager", True), ("is_clinic_admin", True), _connector="OR"
                                ),
                                name="staff_has_a_role",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_forward, content_types_backward, elidable=False),
    ]
