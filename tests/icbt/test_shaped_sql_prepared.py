"""SQL built once per process is prepared on the PostgreSQL connection and planned once for all
(``icbt.shaped_sql``): the query's own values are written into its SQL, the viewer's stay
parameters, and the worklist's statements run on generic plans. Without preparing, each run was
planned again with its values (about 5 ms of the worklist's 20 at 20 patients)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from icbt import shaped_sql
from icbt.shaped_sql import Shaped, StandIn
from tests.therapists.builders import build_caseload

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _without_tokens(page: bytes) -> bytes:
    """The page without its CSRF tokens (masked afresh on every response)."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", page)


def _prepared() -> list[tuple[str, int, int]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        return cursor.fetchall()


@pytest.fixture
def fresh_statements():
    """No statement prepared on this connection yet, and every shape built anew."""
    shaped_sql.clear()
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    connection.connection._prepared.clear()  # psycopg's own record of what it prepared
    yield
    shaped_sql.clear()


def test_the_querys_own_values_become_literals_and_the_viewers_stay_parameters():
    connection.ensure_connection()
    query = Shaped(
        sql="SELECT %s AS a, %s AS b, %s AS c, %s AS d, '50%%' AS e, %s AS f WHERE %s = ANY(%s)",
        params=(StandIn.staff, "open", "owner:-7919311:diary", "it's 10%", True, StandIn.kind, ["x", "y"]),
        derived=("owner:-7919311:diary",),
    )
    inlined = query.inlined(connection)
    assert inlined.params == (StandIn.staff, "owner:-7919311:diary", StandIn.kind)
    assert "'open'" in inlined.sql and "'it''s 10%%'" in inlined.sql and "true" in inlined.sql.lower()
    assert "'50%%'" in inlined.sql  # the query's own escaped percent stays as it was
    bound = shaped_sql.bind(
        connection, inlined, staff=7, kind="x", derived={"owner:-7919311:diary": "owner:7:diary"}
    )
    with shaped_sql.prepared_cursor(connection) as cursor:
        cursor.execute(inlined.sql, bound)
        assert cursor.fetchall() == [(7, "open", "owner:7:diary", "it's 10%", "50%", True)]


def test_more_parameters_than_placeholders_is_refused():
    connection.ensure_connection()
    with pytest.raises(ValueError, match="more parameters"):
        Shaped(sql="SELECT %s", params=(1, 2)).inlined(connection)


def test_the_worklists_statements_are_prepared_and_planned_once(world, client_for, clock, fresh_statements):
    build_caseload(world.therapist, 3)
    client = client_for(world.therapist.user)
    url = reverse("therapists:worklist")
    for _ in range(3):
        assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    statements = [
        row for row in _prepared() if "patients_workitem" in row[0] or "patients_workcount" in row[0]
    ]
    # The counts, the patient filter, the page and the urgent rows above it: each prepared once,
    # run four times, each time on its one generic plan (never planned again with the values).
    assert len(statements) == 4, statements
    assert all(generic == 4 and custom == 0 for _sql, generic, custom in statements), statements
    # The viewer's values are parameters, never part of the prepared text.
    assert all(f"= {world.therapist.pk}" not in sql for sql, _g, _c in statements)
    # Django's query log still sees every statement, with its values, as it logs its own.
    logged = [q["sql"] for q in captured.captured_queries]
    assert all(isinstance(sql, str) for sql in logged)
    assert sum("patients_workitem" in sql or "patients_workcount" in sql for sql in logged) == 4
    assert any(str(world.therapist.pk) in sql for sql in logged if "patients_workcount" in sql)


def test_without_prepared_statements_the_same_page_prepares_nothing(
    world, client_for, clock, fresh_statements
):
    build_caseload(world.therapist, 3)
    client = client_for(world.therapist.user)
    url = reverse("therapists:worklist")
    prepared = client.get(url).content
    shaped_sql.clear()
    with override_settings(ICBT_DB_PREPARE=False):
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")
        connection.connection._prepared.clear()
        plain = client.get(url).content
        assert _prepared() == []
    assert _without_tokens(plain) == _without_tokens(prepared)


def test_no_stand_in_is_ever_written_into_the_sql(monkeypatch):
    """Every stand-in ``StandIn`` holds stays a parameter, those ``bind`` takes by name and those
    bound otherwise alike: written into the SQL, a stand-in would answer every call with itself."""
    import datetime as dt

    connection.ensure_connection()
    monkeypatch.setattr(StandIn, "row", -7_919_343, raising=False)
    monkeypatch.setattr(StandIn, "last_day", dt.date(1904, 3, 6), raising=False)
    last_day = connection.ops.adapt_datefield_value(StandIn.last_day)
    query = Shaped(sql="SELECT %s, %s, %s, %s", params=(StandIn.row, last_day, StandIn.now, "open"))
    inlined = query.inlined(connection)
    assert inlined.params == (StandIn.row, last_day, StandIn.now)
    assert "-7919343" not in inlined.sql and "1904" not in inlined.sql


def _work_item_scans(node):
    """The nodes of a JSON query plan that read the work-item table."""
    if node.get("Relation Name") == "patients_workitem":
        yield node
    for child in node.get("Plans", ()):
        yield from _work_item_scans(child)


@pytest.mark.writes_around_services  # the rest of the clinic: rows made to plan with, no service's
def test_one_generic_plan_walks_a_large_caseloads_index_and_stops_at_the_page(
    world, client_for, clock, fresh_statements
):
    """The page runs on one generic plan for every viewer. A plan made for an average caseload
    read all of a large caseload's rows to sort them (17,500 rows at 2,000 patients); told that
    the owners are few (migration ``patients.0023``), the planner walks each part's ordered index
    and stops at the page: the same few hundred rows read for 300 patients as for 20."""
    from datetime import timedelta

    from django.utils import timezone

    from icbt.models import StaffMember, User
    from patients.models import WorkItem
    from therapists import worklist as worklist_module

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attoptions FROM pg_attribute WHERE attrelid = 'patients_workitem'::regclass"
            " AND attname = 'owner_id'"
        )
        assert "n_distinct=10" in cursor.fetchone()[0]
    build_caseload(world.therapist, 300)  # 1,950 rows of the viewer's
    now = timezone.now()
    # The rest of a large clinic: 400 colleagues with a hundred rows each (not due yet). As
    # measured, an average caseload: a hundred rows, sorted in no time.
    users = User.objects.bulk_create(User(email=f"colleague{i}@staff.test") for i in range(400))
    colleagues = StaffMember.objects.bulk_create(
        StaffMember(user=user, clinic=world.clinic, is_therapist=True) for user in users
    )
    WorkItem.objects.bulk_create(
        WorkItem(
            key=f"elsewhere:{i}",
            kind="quiet",
            clinic=world.clinic,
            owner=colleagues[i % len(colleagues)],
            object_id=i,
            since=now - timedelta(days=1),
            due=now + timedelta(days=30),
        )
        for i in range(40_000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE patients_workitem")
    client = client_for(world.therapist.user)
    for _ in range(2):
        response = client.get(reverse("therapists:worklist"))
        assert response.status_code == 200 and response.context["worklist"].total == 300 * 6 + 150
    page = [
        (name, generic, custom)
        for name, sql, generic, custom in _named()
        if 'AS "overdue_at"' in sql and "OFFSET" in sql  # the page, not the urgent rows above it
    ]
    assert len(page) == 1 and page[0][1] == 2 and page[0][2] == 0, page  # prepared, never replanned

    staff = world.therapist
    rows = worklist_module._page_rows(staff, now, "oldest", kind="", patient_id=None)
    (shaped,) = [found for key, found in shaped_sql._shapes.items() if key[1] == "worklist_page"]
    params = shaped_sql.bind(connection, shaped, **rows.values(), limit=100, offset=0, language="en")
    with connection.cursor() as cursor:
        placeholders = ", ".join(["%s"] * len(params))
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE {page[0][0]}({placeholders})", params)
        plan = cursor.fetchone()[0][0]["Plan"]
    scans = list(_work_item_scans(plan))
    read = sum(scan["Actual Rows"] * scan.get("Actual Loops", 1) for scan in scans)
    read += sum(scan.get("Rows Removed by Filter", 0) for scan in scans)
    # The page (100 rows) and its parts' first rows, never the caseload's 1,950 or the clinic's.
    assert read <= 400, [(s.get("Index Name"), s["Actual Rows"]) for s in scans]


def _named() -> list[tuple[str, str, int, int]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, statement, generic_plans, custom_plans FROM pg_prepared_statements")
        return cursor.fetchall()


@pytest.mark.writes_around_services  # rows made to plan with, no service's
def test_a_work_items_move_by_key_runs_on_its_partial_index_with_one_generic_plan(
    world, client_for, clock, fresh_statements
):
    """``update_rows`` writes the state as a literal: the generic plan of the prepared UPDATE
    can then use the partial unique index of open keys (with the state as a parameter, it
    could not, and would read the whole table)."""
    from patients.models import WorkItem

    now = clock.now()
    WorkItem.objects.bulk_create(
        WorkItem(
            key=f"plan:{i}", kind="intake_request", clinic_id=world.clinic.pk, object_id=i, since=now, due=now
        )
        for i in range(3000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE patients_workitem")
    with override_settings(ICBT_DB_PREPARE=True):
        moved = shaped_sql.update_rows(
            connection,
            WorkItem,
            {"key": "quiet:-1"},
            {"since": clock.now(), "due": clock.now()},
            constants={"state": WorkItem.State.OPEN},
        )
        assert moved == 0
        (name,) = [name for name, sql, _g, _c in _named() if sql.startswith('UPDATE "patients_workitem"')]
        with connection.cursor() as cursor:
            cursor.execute(
                f"EXPLAIN (FORMAT JSON) EXECUTE {name}(%s, %s, %s)", [clock.now(), clock.now(), "x"]
            )
            plan = cursor.fetchone()[0][0]["Plan"]
    scans = [node for node in _work_item_scans(plan) if node["Node Type"] != "ModifyTable"]
    assert [node.get("Index Name") for node in scans] == ["work_item_open_key"], plan
