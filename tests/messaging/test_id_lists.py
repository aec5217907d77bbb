"""``id_in``: a long list of ids as one array parameter on PostgreSQL, the same rows as ``IN``."""

import pytest
from django.db import connection

from icbt.models import Notification
from messaging.notifications.id_lists import id_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(world):
    return Notification.objects.bulk_create(
        Notification(recipient=world.therapist.user, kind=Notification.Kind.DIARY_ENTRY, object_id=str(n))
        for n in range(5)
    )


def test_the_same_rows_as_in(rows):
    ids = [row.pk for row in rows[:3]]
    found = set(
        Notification.objects.filter(id_in("pk", [*ids, None, 2**70, -(2**70)])).values_list("pk", flat=True)
    )
    assert found == set(Notification.objects.filter(pk__in=ids).values_list("pk", flat=True)) == set(ids)
    assert not Notification.objects.filter(id_in("pk", [])).exists()
    assert not Notification.objects.filter(id_in("pk", [None, 2**70])).exists()
    assert (
        Notification.objects.filter(id_in("pk", ids), kind=Notification.Kind.DIARY_ENTRY).update(urgent=True)
        == 3
    )
    assert set(Notification.objects.filter(urgent=True).values_list("pk", flat=True)) == set(ids)


@pytest.mark.postgres
def test_one_parameter_for_a_thousand_ids_on_postgresql(rows):
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL (without it, run the suite with -m 'not postgres')")
    sent = []

    def capture(execute, sql, params, many, context):
        sent.append((sql, params))
        return execute(sql, params, many, context)

    ids = [rows[0].pk, *range(10**9, 10**9 + 999)]
    with connection.execute_wrapper(capture):
        assert list(Notification.objects.filter(id_in("pk", ids)).values_list("pk", flat=True)) == [
            rows[0].pk
        ]
    ((sql, params),) = sent
    assert "= ANY(" in sql and len(params) == 1 and list(params[0]) == ids
