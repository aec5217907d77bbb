"""The clinic's pages: the staff list, the manager's overview (aggregates only), the staff
invitation form."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from icbt.models import StaffMember, Team, User
from patients.models import Patient

STAFF_LIST = reverse("therapists:staff_list")
OVERVIEW = reverse("therapists:clinic_overview")
INVITE = reverse("therapists:staff_invite")

# User, staff role, patient role, TOTP check, savepoint, clinic, the rows (+ teams), release.
OVERVIEW_QUERIES = 8
STAFF_LIST_QUERIES = 9


def add_patients(clinic, therapist, count, prefix="extra", active=True):
    users = User.objects.bulk_create(
        User(
            email=f"{prefix}{i}@patients.test",
            first_name="Zebulon",
            last_name=f"Q{prefix}{i}",
            is_active=active,
        )
        for i in range(count)
    )
    return Patient.objects.bulk_create(Patient(user=u, clinic=clinic, therapist=therapist) for u in users)


def add_staff(clinic, count, prefix="staff", teams=()):
    users = User.objects.bulk_create(
        User(email=f"{prefix}{i}@alpha.test", first_name="Staffer", last_name=f"{prefix}{i}")
        for i in range(count)
    )
    members = StaffMember.objects.bulk_create(
        StaffMember(user=u, clinic=clinic, is_therapist=True) for u in users
    )
    for member in members:
        member.teams.set(teams)
    return members


def _queries(client, url):
    client.get(url)  # the first request stores the activity time in the session
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx), response


# --- staff list -------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["admin", "manager"])
def test_the_staff_list_shows_the_clinics_staff(persona, world, client_for):
    world.therapist.training_date = dt.date(2025, 9, 1)
    world.therapist.save(update_fields=["training_date"])
    response = client_for(world.persona(persona)).get(STAFF_LIST)
    assert response.status_code == 200
    members = list(response.context["members"])
    assert {m.pk for m in members} == {
        world.therapist.pk,
        world.therapist2.pk,
        world.manager.pk,
        world.admin.pk,
    }
    html = response.content.decode()
    assert world.therapist.user.email in html
    assert "Pain" in html  # the team
    assert "1 Sep 2025" in html
    assert world.outsider.user.email not in html
    # No patient appears on a staff page.
    assert world.patient_a.user.email not in html


def test_only_the_clinic_admin_sees_the_invite_button(world, client_for):
    assert INVITE in client_for(world.admin.user).get(STAFF_LIST).content.decode()
    assert INVITE not in client_for(world.manager.user).get(STAFF_LIST).content.decode()


@pytest.mark.parametrize("persona, status", [("therapist", 403), ("therapist2", 403), ("patient_a", 404)])
def test_the_staff_list_is_for_admins_and_managers(persona, status, world, client_for):
    assert client_for(world.persona(persona)).get(STAFF_LIST).status_code == status


def test_the_staff_list_query_count_is_pinned_and_flat(world, client_for, django_assert_max_num_queries):
    client = client_for(world.admin.user)
    fatigue = Team.objects.create(clinic=world.clinic, name="Fatigue")
    add_staff(world.clinic, 1, prefix="few", teams=[world.team, fatigue])
    few, response = _queries(client, STAFF_LIST)
    assert len(response.context["members"]) == 5
    add_staff(world.clinic, 25, prefix="many", teams=[world.team, fatigue])
    many, response = _queries(client, STAFF_LIST)
    assert len(response.context["members"]) == 30
    assert many == few
    with django_assert_max_num_queries(STAFF_LIST_QUERIES):
        client.get(STAFF_LIST)


# --- clinic overview --------------------------------------------------------------------------


def test_the_overview_shows_counts_per_therapist(world, client_for):
    add_patients(world.clinic, world.therapist2, 3, prefix="invited", active=False)
    world.therapist2.training_date = dt.date(2025, 9, 1)
    world.therapist2.save(update_fields=["training_date"])
    response = client_for(world.manager.user).get(OVERVIEW)
    assert response.status_code == 200
    rows = {row.pk: (row.patient_count, row.active_patient_count) for row in response.context["rows"]}
    assert rows == {world.therapist.pk: (2, 2), world.therapist2.pk: (3, 0)}


def test_trained_therapists_without_patients_stand_out(world, client_for):
    world.therapist2.training_date = dt.date(2025, 9, 1)
    world.therapist2.save(update_fields=["training_date"])
    html = client_for(world.manager.user).get(OVERVIEW).content.decode()
    assert "trained, no patient yet" in html


def test_the_overview_shows_no_patient(world, client_for):
    add_patients(world.clinic, world.therapist, 5)
    html = client_for(world.manager.user).get(OVERVIEW).content.decode()
    for patient in Patient.objects.filter(clinic=world.clinic).select_related("user"):
        assert patient.user.email not in html
        assert patient.case_reference not in html
        assert _patient_url(patient) not in html
    assert "Anna" not in html and "Bob" not in html and "Zebulon" not in html
    assert world.other_clinic.name not in html
    assert world.outsider.user.get_full_name() not in html


def _patient_url(patient):
    return reverse("patients:staff_patient_detail", args=[patient.pk])


def test_the_overview_of_another_clinic_shows_only_that_clinic(world, client_for):
    response = client_for(world.outsider.user).get(OVERVIEW)
    assert [row.pk for row in response.context["rows"]] == [world.outsider.pk]
    assert world.therapist.user.get_full_name() not in response.content.decode()


@pytest.mark.parametrize("persona, status", [("therapist", 403), ("admin", 403), ("patient_a", 404)])
def test_the_overview_is_for_managers(persona, status, world, client_for):
    assert client_for(world.persona(persona)).get(OVERVIEW).status_code == status


def test_the_overview_query_count_is_pinned_and_flat(world, client_for, django_assert_max_num_queries):
    client = client_for(world.manager.user)
    add_patients(world.clinic, world.therapist2, 3, prefix="few")
    few, response = _queries(client, OVERVIEW)
    assert sum(row.patient_count for row in response.context["rows"]) == 5
    add_patients(world.clinic, world.therapist2, 25, prefix="many")
    add_staff(world.clinic, 5, prefix="more")
    many, response = _queries(client, OVERVIEW)
    assert sum(row.patient_count for row in response.context["rows"]) == 30
    assert many == few
    with django_assert_max_num_queries(OVERVIEW_QUERIES):
        client.get(OVERVIEW)


def test_a_one_person_practice_sees_overview_and_own_patients(world, client_for):
    """In a small practice one person is therapist and manager: both pages open."""
    client = client_for(world.outsider.user)
    assert client.get(OVERVIEW).status_code == 200
    assert client.get(reverse("patients:staff_patient_list")).status_code == 200


# --- the staff invitation form ----------------------------------------------------------------


def test_the_invite_form_offers_only_the_clinics_teams(world, client_for):
    Team.objects.create(clinic=world.other_clinic, name="Elsewhere")
    response = client_for(world.admin.user).get(INVITE)
    assert response.status_code == 200
    assert list(response.context["form"].fields["teams"].queryset) == [world.team]
    html = response.content.decode()
    assert "Elsewhere" not in html
    for field in ("first_name", "last_name", "email", "training_date"):
        assert f'<label for="id_{field}">' in html
    # The roles are one group, its legend above its options, and not marked optional.
    roles = html[html.index('<fieldset class="field choice-group">') :]
    roles = roles[: roles.index("</fieldset>")]
    assert roles.index("<legend>Roles</legend>") < roles.index('value="therapist"')
    assert all(f'value="{role}"' in roles for role in ("therapist", "manager", "clinic_admin"))


@pytest.mark.parametrize(
    "persona, status", [("manager", 403), ("therapist", 403), ("outsider", 403), ("patient_a", 404)]
)
def test_only_the_clinic_admin_invites_staff(persona, status, world, client_for):
    response = client_for(world.persona(persona)).post(
        INVITE, {"first_name": "Sam", "last_name": "Visser", "email": "sam@alpha.test", "roles": "therapist"}
    )
    assert response.status_code == status
    assert not User.objects.filter(email="sam@alpha.test").exists()


def test_bad_staff_input_keeps_what_was_typed(world, client_for):
    response = client_for(world.admin.user).post(
        INVITE,
        {
            "first_name": "Sam",
            "last_name": "Visser",
            "email": "sam@",
            "roles": "manager",
            "teams": [world.team.pk],
            "training_date": "not a date",
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"email", "training_date"}
    html = response.content.decode()
    assert 'value="Sam"' in html and 'value="Visser"' in html and 'value="sam@"' in html
    assert 'value="manager" id="id_roles_1" checked' in html
    assert 'id="id_email_error"' in html and 'id="id_training_date_error"' in html
    assert not User.objects.filter(first_name="Sam").exists()
