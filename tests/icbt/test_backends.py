"""The authentication backends read the signed-in user with their roles, their clinic and
whether they have an authenticator in one query built once per process (``icbt.backends``):
what the ORM's query gave, nothing for an id that names no active user."""

import pytest
from django.contrib.auth import get_user_model

from icbt.backends import AuthenticationBackend, ModelBackend
from tests.factories import make_staff

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("backend", [ModelBackend(), AuthenticationBackend()])
def test_a_patient_comes_with_their_clinic_in_one_query(world, backend, django_assert_num_queries):
    patient = world.patient_a
    with django_assert_num_queries(1):
        user = backend.get_user(str(patient.user.pk))
        assert user.patient.clinic.name == patient.clinic.name
        assert user.icbt_has_totp is False
    assert user == patient.user and user.get_session_auth_hash() == patient.user.get_session_auth_hash()
    assert "logo" in user.patient.clinic.get_deferred_fields() and not user.get_deferred_fields()


def test_staff_come_with_their_clinic_and_whether_they_have_an_authenticator(world):
    backend = ModelBackend()
    with_totp = backend.get_user(world.therapist.user.pk)
    assert with_totp.staff.clinic == world.clinic and with_totp.icbt_has_totp is True
    newbie = make_staff(world.clinic, "newbie@alpha.test", therapist=True, totp=False)
    assert backend.get_user(newbie.user.pk).icbt_has_totp is False


@pytest.mark.parametrize("user_id", [None, "", "abc", "-1", 0, 2**70, str(2**63)])
def test_an_id_that_names_no_user_gives_nobody(world, user_id):
    assert ModelBackend().get_user(user_id) is None


def test_an_inactive_user_is_nobody(world):
    user = world.patient_a.user
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert ModelBackend().get_user(user.pk) is None


@pytest.mark.sqlite
def test_an_id_too_large_for_the_database_gives_nobody_on_sqlite(world):
    assert ModelBackend().get_user(str(2**64)) is None
