"""Clinic, Team and StaffMember moved from ``therapists`` to ``icbt`` without touching a table:
a database populated before the move (the demo, plus rows written through the models as they
were then) comes out of ``migrate`` with every row, every foreign key, its content types and
the permissions on them intact. Runs on the suite's database (SQLite, or PostgreSQL with
DATABASE_URL)."""

import io
from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from icbt.models import Clinic, StaffMember, User
from patients.models import CareShare, Enrollment
from programs import services as program_services

BEFORE_THE_MOVE = [
    ("icbt", "0009_audit_seal_fixed_search_path"),
    ("therapists", "0001_initial"),
    ("patients", "0013_enrollment_team"),
    ("messaging", "0003_encrypt_feedback_templates"),
    ("programs", "0006_version_measurement_schedule"),
]
MOVED = ("clinic", "team", "staffmember")
TENANCY_TABLES = (
    "therapists_clinic",
    "therapists_team",
    "therapists_staffmember",
    "therapists_staffmember_teams",
)


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _rows():
    """Every row of every table but the migration bookkeeping, as {table: {row as sorted items}}."""
    quote = connection.ops.quote_name
    skip = {"django_migrations", "django_content_type"}
    tables = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            if table in skip:
                continue
            cursor.execute(f"SELECT * FROM {quote(table)}")  # noqa: S608
            names = [c[0] for c in cursor.description]
            tables[table] = {
                tuple(sorted(zip(names, map(str, row), strict=True))) for row in cursor.fetchall()
            }
    return tables


def _seed_with_the_old_models(old_apps):
    """A clinic, its teams and staff, a patient with an enrollment and a cover, written through the
    historical models of ``therapists``, with a permission on the old content type."""
    OldUser = old_apps.get_model("icbt", "User")
    OldClinic = old_apps.get_model("therapists", "Clinic")
    OldTeam = old_apps.get_model("therapists", "Team")
    OldStaff = old_apps.get_model("therapists", "StaffMember")
    clinic = OldClinic.objects.create(name="Old Clinic", kind="practice", crisis_instructions="Call 112.")
    team = OldTeam.objects.create(clinic=clinic, name="Old Team")
    therapist = OldStaff.objects.create(
        user=OldUser.objects.create(email="old.therapist@example.org"), clinic=clinic, is_therapist=True
    )
    therapist.teams.add(team)
    colleague = OldStaff.objects.create(
        user=OldUser.objects.create(email="old.colleague@example.org"), clinic=clinic, is_therapist=True
    )
    patient = old_apps.get_model("patients", "Patient").objects.create(
        user=OldUser.objects.create(email="old.patient@example.org"), clinic=clinic, therapist=therapist
    )
    version = old_apps.get_model("programs", "ProgramVersion").objects.order_by("pk").first()
    old_apps.get_model("patients", "Enrollment").objects.create(
        patient=patient,
        clinic=clinic,
        version_id=version.pk,
        therapist=therapist,
        team=team,
        start_date=date(2026, 1, 5),
    )
    old_apps.get_model("patients", "CareShare").objects.create(
        patient=patient, colleague=colleague, shared_by=therapist, until=date(2026, 2, 1)
    )
    OldContentType = old_apps.get_model("contenttypes", "ContentType")
    OldPermission = old_apps.get_model("auth", "Permission")
    manager = OldUser.objects.get(email="manager@linde.example")
    manager.user_permissions.add(
        OldPermission.objects.get(
            codename="change_clinic",
            content_type=OldContentType.objects.get(app_label="therapists", model="clinic"),
        )
    )


# Rows written with the models of an old schema, and the work-item table dropped and made again by
# the migrations: nothing here goes through the services (a real database gets its rows after
# `migrate`, patients/apps.py; this test drives the migration executor directly).
@pytest.mark.writes_around_services
@pytest.mark.django_db(transaction=True)
def test_a_populated_database_from_before_the_move_keeps_every_row(settings):
    settings.DEBUG = True
    program_services.program_content_load()
    call_command("seed_demo", stdout=io.StringIO())
    type_ids = {m: ContentType.objects.get(app_label="icbt", model=m).pk for m in MOVED}
    try:
        old_apps = _migrate(BEFORE_THE_MOVE)
        old_types = old_apps.get_model("contenttypes", "ContentType").objects
        assert {m: old_types.get(app_label="therapists", model=m).pk for m in MOVED} == type_ids
        _seed_with_the_old_models(old_apps)
        before = _rows()
    finally:
        _migrate(_latest())

    after = _rows()
    for table, rows in before.items():
        # Later migrations may add columns (a clinic on encrypted rows): the old ones must hold.
        names = {name for row in rows for name, _value in row}
        assert {tuple(p for p in row if p[0] in names) for row in after[table]} == rows, table
    assert all(before[table] for table in TENANCY_TABLES)
    connection.check_constraints()

    ContentType.objects.clear_cache()
    assert {m: ContentType.objects.get(app_label="icbt", model=m).pk for m in MOVED} == type_ids
    assert not ContentType.objects.filter(app_label="therapists", model__in=MOVED).exists()
    assert User.objects.get(email="manager@linde.example").has_perm("icbt.change_clinic")
    assert Permission.objects.filter(
        content_type_id=type_ids["staffmember"], codename="view_staffmember"
    ).exists()

    enrollment = Enrollment.objects.select_related("clinic", "team", "therapist__user").get(
        patient__user__email="old.patient@example.org"
    )
    assert (enrollment.clinic.name, enrollment.team.name) == ("Old Clinic", "Old Team")
    assert enrollment.therapist.user.email == "old.therapist@example.org"
    assert list(enrollment.therapist.teams.all()) == [enrollment.team]
    share = CareShare.objects.get(patient=enrollment.patient)
    assert (share.colleague.user.email, share.shared_by_id) == (
        "old.colleague@example.org",
        enrollment.therapist_id,
    )
    linde = Clinic.objects.get(name="Linde Clinic")
    assert StaffMember.objects.filter(clinic=linde).count() == 4
    assert Enrollment.objects.filter(clinic=linde).exists()
