"""The planner's view of a caseload: one therapist may own a large share of the open work items.

The worklist's page is one statement prepared per process and run on one generic plan for every
viewer (``icbt.shaped_sql``). With the statistics as ANALYZE measures them (a few hundred owners,
so a few hundred rows each), that plan read all of a viewer's rows and sorted them: right for an
average caseload, and for a caseload of 2,000 patients (17,500 rows) five times the cost of
walking the ordered index ``work_item_owner_order`` and stopping at the page. Told that the owners
are few (``n_distinct`` of ``owner_id``), the planner counts on many rows per owner and walks the
index in order for every viewer, which costs a small caseload no more than the sort did. The
other reads by owner (the counts, the patient filter, the navigation's count) stay on their
indexes: they filter by kind and day as well.

PostgreSQL only (SQLite plans without these statistics)."""

from django.db import migrations

OWNERS_AS_PLANNED = 10


def plan_for_large_caseloads(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE patients_workitem ALTER COLUMN owner_id SET (n_distinct = {OWNERS_AS_PLANNED})"
    )
    schema_editor.execute("ANALYZE patients_workitem")


def plan_as_measured(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("ALTER TABLE patients_workitem ALTER COLUMN owner_id RESET (n_distinct)")
    schema_editor.execute("ANALYZE patients_workitem")


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0022_timeline_session"),
    ]

    operations = [migrations.RunPython(plan_for_large_caseloads, plan_as_measured, elidable=False)]
