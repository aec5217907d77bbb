"""Invitations: therapists invite patients, clinic admins invite staff. A single-use, expiring
link; the e-mail says nothing about the clinic, the treatment or the person."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from icbt.models import Invitation, StaffMember, Team, User
from icbt.services import invitation_create
from patients.models import Patient

NEW_PASSWORD = "Correct-horse-battery-9"
LINK_RE = re.compile(r"https?://[^\s\"<>]+/invitation/(?P<token>[^/\s\"<>]+)/")


def _invite_patient(client, **overrides):
    data = {"first_name": "Petra", "last_name": "Jansen", "email": "petra@home.test", "language": "en"}
    data.update(overrides)
    return client.post(reverse("patients:staff_patient_invite"), data)


def _token_from(message) -> str:
    match = LINK_RE.search(message.body)
    assert match, message.body
    return match.group("token")


def _accept_url(token):
    return reverse("invitation_accept", args=[token])


@pytest.fixture
def therapist_client(world, client):
    client.force_login(world.therapist.user)
    return client


@pytest.fixture
def admin_client(world, client):
    client.force_login(world.admin.user)
    return client


# --- therapist invites a patient --------------------------------------------------------------


def test_therapist_invites_a_patient(world, therapist_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _invite_patient(therapist_client)
    user = User.objects.get(email="petra@home.test")
    patient = Patient.objects.get(user=user)
    assert response.status_code == 302
    assert response["Location"] == reverse("patients:staff_patient_detail", args=[patient.pk])
    assert not user.is_active
    assert not user.has_usable_password()
    assert patient.clinic == world.clinic
    assert patient.therapist == world.therapist
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["petra@home.test"]
    token = _token_from(message)
    assert Invitation.objects.get(user=user).token_hash != token  # only a hash is stored
    html = message.alternatives[0][0]
    assert _accept_url(token) in html
    # The new patient shows on the therapist's list.
    assert "Petra Jansen" in therapist_client.get(reverse("patients:staff_patient_list")).content.decode()


def test_no_email_is_sent_before_the_transaction_commits(
    therapist_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _invite_patient(therapist_client)
    assert len(mail.outbox) == 0
    assert len(callbacks) == 1


def test_invitation_email_carries_no_clinic_person_or_health_wording(
    world, therapist_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _invite_patient(therapist_client)
    message = mail.outbox[0]
    sender_name = message.from_email.split("<")[0]  # the address is the host's own (ICBT_FROM_EMAIL)
    text = "\n".join([message.subject, sender_name, message.body, message.alternatives[0][0]])
    # The random token could by chance contain a forbidden word: leave the links out.
    text = LINK_RE.sub("LINK", text).lower()
    therapist = world.therapist.user
    forbidden = [
        world.clinic.name,
        "alpha",
        "pain",
        "fatigue",
        "therap",
        "treatment",
        "cbt",
        "patient",
        "program",
        "clinic",
        "health",
        therapist.first_name,
        therapist.last_name,
        therapist.email,
        "petra",
        "jansen",
    ]
    found = [word for word in forbidden if word.lower() in text]
    assert not found, f"invitation e-mail mentions {found}:\n{text}"


def test_accepting_sets_the_password_and_activates(
    world, therapist_client, client_for, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _invite_patient(therapist_client)
    token = _token_from(mail.outbox[0])
    invitee = client_for(None)
    page = invitee.get(_accept_url(token))
    assert page.status_code == 200
    assert "petra@home.test" in page.content.decode()

    response = invitee.post(_accept_url(token), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    user = User.objects.get(email="petra@home.test")
    assert user.is_active
    assert user.check_password(NEW_PASSWORD)
    assert Invitation.objects.get(user=user).used_at is not None
    # The new password signs in.
    invitee.logout()
    invitee.post(reverse("account_login"), {"login": "petra@home.test", "password": NEW_PASSWORD})
    assert invitee.session.get("_auth_user_id") == str(user.pk)


def test_setting_the_password_signs_the_patient_in(world, client, django_capture_on_commit_callbacks):
    """No second sign-in with the password just chosen: the patient is signed in, asked once how
    they want to hear about feedback, and then sees their home page."""
    token = invitation_create(user=world.patient_a.user, kind=Invitation.Kind.PATIENT, created_by=None)
    response = client.post(_accept_url(token), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert client.session.get("_auth_user_id") == str(world.patient_a.user.pk)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("messaging:notifications:first_choice"))
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Your password is set." in page.content.decode()
    response = client.post(response["Location"], {"choice": "email", "next": "/"})
    assert client.get(response["Location"], follow=True).redirect_chain[-1][0] == reverse("patients:home")


def test_setting_the_password_of_an_account_with_a_second_factor_asks_for_the_code(world, client):
    """The invitation sets the password; it does not skip a second factor the account has."""
    token = invitation_create(user=world.therapist.user, kind=Invitation.Kind.STAFF, created_by=None)
    response = client.post(_accept_url(token), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert client.session.get("_auth_user_id") is None


def test_a_new_staff_member_is_signed_in_and_sent_to_set_up_totp(world, client):
    from tests.factories import make_staff

    member = make_staff(world.clinic, "new@alpha.test", therapist=True, totp=False)
    token = invitation_create(user=member.user, kind=Invitation.Kind.STAFF, created_by=None)
    response = client.post(_accept_url(token), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert client.session.get("_auth_user_id") == str(member.user.pk)
    assert client.get(response["Location"]).status_code == 302
    assert client.get(response["Location"], follow=True).redirect_chain[-1][0] == reverse("mfa_activate_totp")


def test_the_link_works_once(world, client, db):
    token = invitation_create(user=world.patient_a.user, kind=Invitation.Kind.PATIENT, created_by=None)
    response = client.post(_accept_url(token), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    for method in (client.get, client.post):
        response = method(
            _accept_url(token), {"password1": "Another-pass-77", "password2": "Another-pass-77"}
        )
        assert response.status_code == 404
        assert "This link no longer works" in response.content.decode()
    world.patient_a.user.refresh_from_db()
    assert world.patient_a.user.check_password(NEW_PASSWORD)


def test_an_expired_link_is_refused(world, client):
    token = invitation_create(user=world.patient_a.user, kind=Invitation.Kind.PATIENT, created_by=None)
    Invitation.objects.filter(user=world.patient_a.user).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = client.get(_accept_url(token))
    assert response.status_code == 404
    assert "This link no longer works" in response.content.decode()
    response = client.post(_accept_url(token), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 404
    world.patient_a.user.refresh_from_db()
    assert not world.patient_a.user.check_password(NEW_PASSWORD)


def test_the_link_expires_after_the_configured_days(world, settings):
    settings.ICBT_INVITATION_DAYS = 7
    invitation_create(user=world.patient_a.user, kind=Invitation.Kind.PATIENT, created_by=None)
    invitation = Invitation.objects.get(user=world.patient_a.user)
    assert (
        timedelta(days=7) - timedelta(minutes=1) < invitation.expires_at - timezone.now() <= timedelta(days=7)
    )


def test_an_unknown_token_is_refused(client, db):
    assert client.get(_accept_url("made-up-token")).status_code == 404


def test_a_newer_invitation_invalidates_the_older(world, client):
    old = invitation_create(user=world.patient_a.user, kind=Invitation.Kind.PATIENT, created_by=None)
    new = invitation_create(user=world.patient_a.user, kind=Invitation.Kind.PATIENT, created_by=None)
    response = client.get(_accept_url(old))
    assert response.status_code == 404
    assert "A newer invitation was sent to you after this one" in response.content.decode()
    assert "more than" not in response.content.decode()
    assert client.get(_accept_url(new)).status_code == 200


def test_an_older_link_after_the_newer_was_used_says_the_password_is_set(world, client):
    old = invitation_create(user=world.patient_a.user, kind=Invitation.Kind.PATIENT, created_by=None)
    new = invitation_create(user=world.patient_a.user, kind=Invitation.Kind.PATIENT, created_by=None)
    client.post(_accept_url(new), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    client.logout()
    assert "has been used already" in client.get(_accept_url(old)).content.decode()


def test_a_used_or_expired_link_says_which(world, client):
    token = invitation_create(user=world.patient_a.user, kind=Invitation.Kind.PATIENT, created_by=None)
    Invitation.objects.filter(user=world.patient_a.user).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert "more than 7 days old" in client.get(_accept_url(token)).content.decode()
    Invitation.objects.filter(user=world.patient_a.user).update(used_at=timezone.now())
    assert "has been used already" in client.get(_accept_url(token)).content.decode()


def test_enrolling_after_the_intake_request_invitation_keeps_the_one_link(
    world, client_for, django_capture_on_commit_callbacks
):
    """ "Make the account and send the invitation" from an intake request, then enrolling: one
    e-mail, and its link still works."""
    from patients import services as patient_services
    from patients.models import IntakeRequest
    from tests.patients import staff_helpers as sh

    request = sh.intake_request(world.clinic)
    therapist = client_for(world.therapist.user)
    with django_capture_on_commit_callbacks(execute=True):
        therapist.post(
            reverse("patients:staff_intake_request_invite", args=[request.pk]),
            {"first_name": "Petra", "last_name": "Jansen", "email": "petra@home.test", "language": "en"},
        )
    assert IntakeRequest.objects.get(pk=request.pk).status == IntakeRequest.Status.INVITED
    patient = Patient.objects.get(user__email="petra@home.test")
    with django_capture_on_commit_callbacks(execute=True):
        patient_services.enrollment_create(
            patient=patient,
            version=sh.tiny(),
            therapist=world.therapist,
            enrolled_by=world.therapist,
            start_date=timezone.localdate(),
        )
    assert len(mail.outbox) == 1
    assert Invitation.objects.filter(user=patient.user).count() == 1
    assert client_for(None).get(_accept_url(_token_from(mail.outbox[0]))).status_code == 200


def test_enrolling_after_an_expired_invitation_sends_a_new_one(world, django_capture_on_commit_callbacks):
    from patients import services as patient_services
    from tests.patients import staff_helpers as sh

    user = world.patient_a.user
    user.set_unusable_password()
    user.is_active = False
    user.save()
    invitation_create(user=user, kind=Invitation.Kind.PATIENT, created_by=None)
    Invitation.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        patient_services.enrollment_create(
            patient=world.patient_a,
            version=sh.tiny(),
            therapist=world.therapist,
            enrolled_by=world.therapist,
            start_date=timezone.localdate(),
        )
    assert len(mail.outbox) == 1
    assert (
        Invitation.objects.filter(user=user, used_at__isnull=True, expires_at__gt=timezone.now()).count() == 1
    )


def test_bad_password_keeps_the_form_with_a_message_next_to_the_field(world, client):
    token = invitation_create(user=world.patient_a.user, kind=Invitation.Kind.PATIENT, created_by=None)
    response = client.post(_accept_url(token), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"})
    assert response.status_code == 200
    assert response.context["form"].errors["password2"] == ["The two passwords are not the same."]
    html = response.content.decode()
    assert 'id="id_password2_error"' in html
    assert "The two passwords are not the same." in html

    response = client.post(_accept_url(token), {"password1": "short", "password2": "short"})
    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    assert 'id="id_password1_error"' in response.content.decode()

    response = client.post(_accept_url(token), {"password1": "", "password2": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["password1"]

    # Nothing was used up: the link still works.
    world.patient_a.user.refresh_from_db()
    assert not world.patient_a.user.check_password("short")
    assert Invitation.objects.get(user=world.patient_a.user).used_at is None
    assert client.get(_accept_url(token)).status_code == 200


def test_duplicate_email_is_refused_and_the_input_stays(
    world, therapist_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _invite_patient(
            therapist_client, email=world.patient_b.user.email.upper(), first_name="Rosa"
        )
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["email"] == ["There is already an account with this e-mail address."]
    html = response.content.decode()
    assert "There is already an account with this e-mail address." in html
    assert 'value="Rosa"' in html
    assert 'value="Jansen"' in html
    assert world.patient_b.user.email.upper() in html
    assert len(mail.outbox) == 0
    assert User.objects.filter(first_name="Rosa").count() == 0


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"email": "not-an-address"}, "email"),
        ({"first_name": ""}, "first_name"),
        ({"language": "xx"}, "language"),
    ],
)
def test_bad_patient_invite_input_is_refused_with_a_message(overrides, field, therapist_client):
    response = _invite_patient(therapist_client, **overrides)
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert f'id="id_{field}_error"' in response.content.decode()
    assert not User.objects.filter(last_name="Jansen").exists()


# --- clinic admin invites staff ---------------------------------------------------------------


def _staff_data(world, **overrides):
    data = {
        "first_name": "Sam",
        "last_name": "Visser",
        "email": "sam@alpha.test",
        "roles": ["therapist", "manager"],
        "teams": [world.team.pk],
        "training_date": "2026-01-15",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_clinic_admin_invites_staff_with_roles_and_teams(
    world, admin_client, django_capture_on_commit_callbacks
):
    fatigue = Team.objects.create(clinic=world.clinic, name="Fatigue")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("therapists:staff_invite"), _staff_data(world, teams=[world.team.pk, fatigue.pk])
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("therapists:staff_list")
    member = StaffMember.objects.select_related("user").get(user__email="sam@alpha.test")
    assert member.clinic == world.clinic
    assert (member.is_therapist, member.is_manager, member.is_clinic_admin) == (True, True, False)
    assert set(member.teams.all()) == {world.team, fatigue}
    assert str(member.training_date) == "2026-01-15"
    assert not member.user.is_active
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["sam@alpha.test"]
    token = _token_from(mail.outbox[0])
    assert Invitation.objects.get(user=member.user).kind == Invitation.Kind.STAFF
    # The staff member appears on the staff list.
    assert "sam@alpha.test" in admin_client.get(reverse("therapists:staff_list")).content.decode()
    # Setting a password signs the new staff member in; they must set up TOTP first.
    from django.test import Client

    newcomer = Client()
    newcomer.post(_accept_url(token), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    response = newcomer.get(reverse("patients:staff_patient_list"))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    # ... and can, without typing the password they just chose once more: nothing (such as an
    # unverified e-mail address) keeps them from adding it.
    page = newcomer.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    assert "code" in page.context["form"].fields


def test_staff_invite_without_a_role_is_refused(world, admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("therapists:staff_invite"), _staff_data(world, roles=None))
    assert response.status_code == 200
    assert response.context["form"].errors["roles"] == ["Choose at least one role."]
    html = response.content.decode()
    assert "Choose at least one role." in html
    assert 'value="sam@alpha.test"' in html
    assert not User.objects.filter(email="sam@alpha.test").exists()
    assert len(mail.outbox) == 0


def test_staff_invite_refuses_a_team_of_another_clinic(world, admin_client):
    foreign = Team.objects.create(clinic=world.other_clinic, name="Elsewhere")
    response = admin_client.post(reverse("therapists:staff_invite"), _staff_data(world, teams=[foreign.pk]))
    assert response.status_code == 200
    assert response.context["form"].errors["teams"]
    assert not User.objects.filter(email="sam@alpha.test").exists()


def test_staff_invite_refuses_a_duplicate_email(world, admin_client):
    response = admin_client.post(
        reverse("therapists:staff_invite"), _staff_data(world, email=world.outsider.user.email)
    )
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        "There is already an account with this e-mail address."
    ]
    assert 'value="Visser"' in response.content.decode()


def test_staff_invite_refuses_a_bad_date(world, admin_client):
    response = admin_client.post(
        reverse("therapists:staff_invite"), _staff_data(world, training_date="15/31/2026")
    )
    assert response.status_code == 200
    assert response.context["form"].errors["training_date"]
    assert not User.objects.filter(email="sam@alpha.test").exists()


@pytest.mark.parametrize("path", ["/invitation/%C3%A9/", "/invitation/t%C3%B6ken-%E2%82%AC/"])
def test_a_token_with_non_ascii_characters_is_an_unknown_token(path, client, db):
    for response in (client.get(path), client.post(path, {"password1": "x", "password2": "x"})):
        assert response.status_code == 404
        assert response.templates[0].name == "icbt/invitation_invalid.html"
