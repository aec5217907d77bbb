"""Platform operators' use of the Django admin is audited like any access: every page and every
change, with the patient when the object is (or belongs to) one."""

import pytest
from django.urls import reverse

from icbt.audit import Action, Outcome
from icbt.models import AuditEvent, User
from tests.factories import give_totp


@pytest.fixture
def operator(world):
    user = User.objects.create_superuser(email="op@platform.test", password="an-operator-passw0rd")
    give_totp(user)
    return user


def _new(before):
    return list(AuditEvent.objects.exclude(pk__in=before).order_by("id"))


def _ids():
    return set(AuditEvent.objects.values_list("pk", flat=True))


def test_opening_a_patient_in_the_admin_is_in_their_access_log(world, operator, client_for):
    admin = client_for(operator)
    before = _ids()
    url = reverse("admin:patients_patient_change", args=[world.patient_a.pk])
    assert admin.get(url).status_code == 200
    [event] = _new(before)
    assert (event.action, event.outcome, event.object_type, event.object_id, event.patient_id) == (
        Action.VIEW,
        Outcome.OK,
        "admin:patients.patient",
        str(world.patient_a.pk),
        world.patient_a.pk,
    )
    assert event.user == operator
    log = client_for(world.patient_a.user).get(reverse("patients:access_log")).context["events"]
    assert [(e.user_id, e.object_type) for e in log] == [(operator.pk, "admin:patients.patient")]


def test_the_user_list_records_every_patient_it_showed(world, operator, client_for):
    before = _ids()
    assert client_for(operator).get(reverse("admin:icbt_user_changelist")).status_code == 200
    new = _new(before)
    assert {e.action for e in new} == {Action.SEARCH}
    assert {e.object_type for e in new} == {"admin:icbt.user"}
    assert {world.patient_a.pk, world.patient_b.pk} <= {e.patient_id for e in new}


def test_a_change_of_a_patients_account_is_audited_as_a_change(world, operator, client_for):
    victim = world.patient_a.user
    before = _ids()
    response = client_for(operator).post(
        reverse("admin:icbt_user_change", args=[victim.pk]),
        {
            "email": victim.email,
            "first_name": "Renamed",
            "last_name": victim.last_name,
            "language": "en",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "10:00:00",
        },
    )
    assert response.status_code == 302, response.content[:300]
    [event] = _new(before)
    assert (event.action, event.object_type, event.patient_id) == (
        Action.CHANGE,
        "admin:icbt.user",
        world.patient_a.pk,
    )


def test_opening_the_audit_list_and_the_admin_index_is_audited(world, operator, client_for):
    admin = client_for(operator)
    before = _ids()
    admin.get(reverse("admin:index"))
    admin.get(reverse("admin:icbt_auditevent_changelist"))
    types = [(e.action, e.object_type) for e in _new(before)]
    assert (Action.VIEW, "admin:index") in types
    assert (Action.SEARCH, "admin:icbt.auditevent") in types


def test_an_admin_page_that_is_not_found_is_a_refusal(world, operator, client_for):
    before = _ids()
    response = client_for(operator).get(reverse("admin:patients_patient_change", args=[987654]))
    assert response.status_code in (302, 404)
    events = _new(before)
    assert events and events[0].object_type == "admin:patients.patient"
