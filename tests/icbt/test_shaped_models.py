"""``icbt.shaped_sql`` for model instances and plain updates: the instances of SQL built once are
the ORM's own (its columns, the rows read with ``select_related``, decrypted fields), a stand-in
left without a value is refused, a locking query is refused outside a transaction, and
``update_row`` writes what ``QuerySet.update`` writes."""

import json
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from icbt import shaped_sql
from patients.models import DiaryEntry, Enrollment
from tests.patients.patient_helpers import enroll, step_of, tiny_version

# Rows are written and changed directly: what is tested is the SQL, not the services.
pytestmark = [pytest.mark.django_db, pytest.mark.writes_around_services]
STAND_IN = shaped_sql.StandIn


@pytest.fixture
def entry(world, clock):
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    diary_type = step_of(version, "start-diary").diary_type
    today = timezone.localdate()
    return DiaryEntry.objects.create(
        enrollment=enrollment,
        clinic_id=enrollment.clinic_id,
        diary_type=diary_type,
        entry_date=today,
        values={"mood": 4},
        text=json.dumps({"note": "Rain all day"}),
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )


def _entries_of_day():
    return shaped_sql.of_model_queryset(
        DiaryEntry.objects.filter(enrollment_id=STAND_IN.enrollment, entry_date=STAND_IN.day)
        .select_related("enrollment__patient", "diary_type")
        .annotate(one_more=F("id") + 1)
        .order_by()
    )


def test_instances_are_the_orms_own_with_their_related_rows_and_annotations(entry):
    shaped = _entries_of_day()
    params = shaped_sql.bound(
        connection, shaped, {STAND_IN.enrollment: entry.enrollment_id, STAND_IN.day: entry.entry_date}
    )
    [found] = shaped.instances(connection, params)
    assert isinstance(found, DiaryEntry) and found.pk == entry.pk
    assert found.values == {"mood": 4} and json.loads(found.text) == {"note": "Rain all day"}  # decrypted
    assert found.entry_date == entry.entry_date and found.created_at == entry.created_at  # converted
    assert found.one_more == entry.pk + 1
    assert (
        DiaryEntry.enrollment.is_cached(found) and found.enrollment.patient.pk == entry.enrollment.patient_id
    )
    assert found.diary_type.slug == entry.diary_type.slug
    assert not found._state.adding and found._state.db == "default"
    other_day = shaped_sql.bound(
        connection,
        shaped,
        {STAND_IN.enrollment: entry.enrollment_id, STAND_IN.day: entry.entry_date - timedelta(days=1)},
    )
    assert shaped.instances(connection, other_day) == []


def test_a_stand_in_left_without_a_value_is_refused(entry):
    shaped = _entries_of_day()
    with pytest.raises(ValueError, match="no value"):
        shaped_sql.bound(connection, shaped, {STAND_IN.enrollment: entry.enrollment_id})


def test_a_query_set_that_needs_more_than_one_query_is_refused():
    with pytest.raises(ValueError, match="prefetch_related"):
        shaped_sql.of_model_queryset(Enrollment.objects.prefetch_related("diary_entries"))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_locking_query_is_refused_outside_a_transaction(world):
    enrollment = enroll(world.patient_a)
    locking = Enrollment.objects.select_for_update().filter(pk=STAND_IN.enrollment)
    with transaction.atomic():
        shaped = shaped_sql.of_model_queryset(locking)
        values = shaped_sql.of_queryset(locking.values_list("pk"))
    params = shaped_sql.bound(connection, shaped, {STAND_IN.enrollment: enrollment.pk})
    with pytest.raises(transaction.TransactionManagementError):
        shaped.instances(connection, params)
    with pytest.raises(transaction.TransactionManagementError):
        values.rows(connection, params)
    with transaction.atomic():
        assert [row.pk for row in shaped.instances(connection, params)] == [enrollment.pk]


def test_update_row_writes_what_the_orm_update_writes(entry, clock):
    enrollment = entry.enrollment
    moment = timezone.now() - timedelta(hours=3)
    assert shaped_sql.update_row(
        connection, Enrollment, enrollment.pk, {"last_activity_at": moment, "current_step_id": None}
    )
    assert shaped_sql.update_row(connection, DiaryEntry, entry.pk, {"reviewed_by_id": None}) == 1
    enrollment.refresh_from_db()
    assert enrollment.last_activity_at == moment and enrollment.current_step_id is None
    assert shaped_sql.update_row(connection, Enrollment, -1, {"last_activity_at": moment}) == 0


def test_update_rows_writes_the_rows_its_columns_name(clock, entry):
    enrollment = entry.enrollment
    moment = timezone.now() - timedelta(hours=1)
    where = {"enrollment_id": enrollment.pk, "entry_date": entry.entry_date}
    assert shaped_sql.update_rows(connection, DiaryEntry, where, {"updated_at": moment}) == 1
    entry.refresh_from_db()
    assert entry.updated_at == moment
    assert (
        shaped_sql.update_rows(connection, DiaryEntry, {**where, "per_moment": True}, {"updated_at": None})
        == 0
    )
    with pytest.raises(TypeError, match="plain values"):
        shaped_sql.update_rows(connection, DiaryEntry, {"reviewed_at": None}, {"updated_at": moment})
    with pytest.raises(TypeError, match="condition"):
        shaped_sql.update_rows(connection, DiaryEntry, {}, {"updated_at": moment})


def test_update_rows_writes_the_codes_constants_into_its_sql(clock, entry):
    from django.test.utils import CaptureQueriesContext

    where = {"enrollment_id": entry.enrollment_id}
    with CaptureQueriesContext(connection) as captured:
        assert (
            shaped_sql.update_rows(
                connection, DiaryEntry, where, {"updated_at": timezone.now()}, constants={"per_moment": False}
            )
            == 1
        )
        assert (
            shaped_sql.update_rows(
                connection, DiaryEntry, where, {"updated_at": timezone.now()}, constants={"per_moment": True}
            )
            == 0
        )
    assert captured.captured_queries[0]["sql"].endswith('"per_moment" = FALSE')


class _Sly(str):
    def __format__(self, spec):
        return "x' OR '1'='1"


@pytest.mark.parametrize("value", ["open'", "a b", _Sly("open"), 1.5, None, b"open"])
def test_update_rows_refuses_a_constant_that_is_not_a_plain_word_or_number(clock, entry, value):
    with pytest.raises(TypeError, match="constants"):
        shaped_sql.update_rows(
            connection, DiaryEntry, {"pk": entry.pk}, {"updated_at": None}, constants={"uid": value}
        )


def test_update_row_refuses_expressions(entry):
    with pytest.raises(TypeError, match="plain values"):
        shaped_sql.update_row(
            connection, Enrollment, entry.enrollment_id, {"reminders_in_a_row": F("reminders_in_a_row") + 1}
        )
