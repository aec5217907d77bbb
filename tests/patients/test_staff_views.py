"""The therapist's pages about patients: the list, one record, the invitation form."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from icbt.models import User
from patients.models import Patient

LIST = reverse("patients:staff_patient_list")
INVITE = reverse("patients:staff_patient_invite")

# User, staff role, patient role, TOTP check, savepoint, audit event, the worklist count in
# the navigation, the list, release. Constant: it must not grow with the number of patients.
PATIENT_LIST_QUERIES = 9


def _detail(patient):
    return reverse("patients:staff_patient_detail", args=[patient.pk])


def add_patients(clinic, therapist, count, prefix="extra"):
    """Many patients at once, without password hashing."""
    users = User.objects.bulk_create(
        User(email=f"{prefix}{i}@patients.test", first_name="Zebulon", last_name=f"{prefix.title()}{i}")
        for i in range(count)
    )
    return Patient.objects.bulk_create(Patient(user=u, clinic=clinic, therapist=therapist) for u in users)


def _names(response):
    return {p.user.email for p in response.context["patients"]}


# --- the list ---------------------------------------------------------------------------------


def test_the_list_shows_only_the_therapists_own_patients(world, client_for):
    response = client_for(world.therapist.user).get(LIST)
    assert response.status_code == 200
    assert _names(response) == {world.patient_a.user.email, world.patient_b.user.email}
    html = response.content.decode()
    assert world.patient_a.user.get_full_name() in html
    assert world.patient_a.case_reference in html
    assert _detail(world.patient_a) in html
    assert world.other_patient.user.get_full_name() not in html


def test_a_colleague_without_patients_sees_none(world, client_for):
    response = client_for(world.therapist2.user).get(LIST)
    assert response.status_code == 200
    assert _names(response) == set()
    html = response.content.decode()
    assert "You have no patients yet." in html
    assert world.patient_a.user.get_full_name() not in html


def test_another_clinic_sees_only_its_own(world, client_for):
    assert _names(client_for(world.outsider.user).get(LIST)) == {world.other_patient.user.email}


def test_a_patient_treated_by_a_colleague_is_not_listed(world, client_for):
    world.patient_b.therapist = world.therapist2
    world.patient_b.save(update_fields=["therapist"])
    assert _names(client_for(world.therapist.user).get(LIST)) == {world.patient_a.user.email}
    assert _names(client_for(world.therapist2.user).get(LIST)) == {world.patient_b.user.email}


@pytest.mark.parametrize("persona, status", [("manager", 403), ("admin", 403), ("patient_a", 404)])
def test_the_list_is_for_therapists(persona, status, world, client_for):
    response = client_for(world.persona(persona)).get(LIST)
    assert response.status_code == status
    assert world.patient_a.user.get_full_name() not in response.content.decode()


def test_the_list_shows_invited_and_active_accounts(world, client_for):
    world.patient_b.user.is_active = False
    world.patient_b.user.save(update_fields=["is_active"])
    html = client_for(world.therapist.user).get(LIST).content.decode()
    assert "invited" in html
    assert "active" in html


def _list_queries(client):
    client.get(LIST)  # the first request stores the activity time in the session
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(LIST)
    assert response.status_code == 200
    return len(ctx), len(response.context["patients"])


def test_the_list_query_count_is_pinned(world, client_for, django_assert_max_num_queries):
    add_patients(world.clinic, world.therapist, 10)
    client = client_for(world.therapist.user)
    client.get(LIST)
    with django_assert_max_num_queries(PATIENT_LIST_QUERIES):
        assert client.get(LIST).status_code == 200


def test_the_list_query_count_does_not_grow_with_the_caseload(world, client_for):
    client = client_for(world.therapist.user)
    add_patients(world.clinic, world.therapist, 3, prefix="few")
    few_queries, few_rows = _list_queries(client)
    add_patients(world.clinic, world.therapist, 25, prefix="many")
    many_queries, many_rows = _list_queries(client)
    assert (few_rows, many_rows) == (5, 30)
    assert many_queries == few_queries <= PATIENT_LIST_QUERIES


# --- one record -------------------------------------------------------------------------------


def test_the_therapist_opens_their_patients_record(world, client_for):
    response = client_for(world.therapist.user).get(_detail(world.patient_a))
    assert response.status_code == 200
    html = response.content.decode()
    assert world.patient_a.user.get_full_name() in html
    assert world.patient_a.user.email in html
    assert world.patient_a.case_reference in html


@pytest.mark.parametrize(
    "persona, status",
    [
        ("therapist2", 403),
        ("manager", 403),
        ("admin", 403),
        ("outsider", 404),
        ("patient_a", 404),
        ("patient_b", 404),
    ],
)
def test_nobody_else_opens_the_record(persona, status, world, client_for):
    response = client_for(world.persona(persona)).get(_detail(world.patient_a))
    assert response.status_code == status
    html = response.content.decode()
    assert world.patient_a.user.email not in html
    assert world.patient_a.case_reference not in html


def test_an_unknown_record_is_404(world, client_for):
    assert (
        client_for(world.therapist.user)
        .get(reverse("patients:staff_patient_detail", args=[987654]))
        .status_code
        == 404
    )


def test_anonymous_is_sent_to_sign_in(world, client):
    response = client.get(_detail(world.patient_a))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# --- the invitation form ----------------------------------------------------------------------


def test_the_invite_form_labels_every_field(world, client_for):
    response = client_for(world.therapist.user).get(INVITE)
    assert response.status_code == 200
    html = response.content.decode()
    for field in ("first_name", "last_name", "email", "language"):
        assert f'<label for="id_{field}">' in html


@pytest.mark.parametrize("persona, status", [("manager", 403), ("admin", 403), ("patient_a", 404)])
def test_only_therapists_invite_patients(persona, status, world, client_for):
    response = client_for(world.persona(persona)).post(
        INVITE, {"first_name": "Petra", "last_name": "Jansen", "email": "petra@home.test", "language": "en"}
    )
    assert response.status_code == status
    assert not User.objects.filter(email="petra@home.test").exists()


def test_bad_input_keeps_everything_that_was_typed(world, client_for):
    response = client_for(world.therapist.user).post(
        INVITE, {"first_name": "Petra", "last_name": "", "email": "petra(at)home", "language": "nl"}
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"last_name", "email"}
    html = response.content.decode()
    assert 'value="Petra"' in html
    assert 'value="petra(at)home"' in html
    assert '<option value="nl" selected>' in html
    assert 'id="id_email_error"' in html and 'id="id_last_name_error"' in html
    assert not User.objects.filter(first_name="Petra").exists()


def test_the_invited_patient_belongs_to_the_therapists_clinic(
    world, client_for, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client_for(world.outsider.user).post(
            INVITE,
            {"first_name": "Petra", "last_name": "Jansen", "email": "Petra@Home.test", "language": "nl"},
        )
    patient = Patient.objects.select_related("user").get(user__email="petra@home.test")
    assert (patient.clinic, patient.therapist) == (world.other_clinic, world.outsider)
    assert patient.user.language == "nl"
