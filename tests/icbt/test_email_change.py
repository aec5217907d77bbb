"""One address per person: allauth's address management is gone; a person changes their own
address through a link sent to the new address, which refuses addresses in use without saying so."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from icbt.models import AuditEvent
from tests.factories import TEST_PASSWORD, make_staff

CHANGE = reverse("email_change")
SENT = "If this address can be used, we sent a link to it."
LINK_RE = re.compile(r"https?://[^/\s]+(?P<path>/accounts/email/confirm/[^\s]+/)")


def _ask(client, email, password=TEST_PASSWORD):
    return client.post(CHANGE, {"email": email, "password": password}, follow=True)


def _link(message) -> str:
    return LINK_RE.search(message.body).group("path")


def test_allauths_address_management_cannot_add_someone_elses_address(world, client_for):
    attacker = client_for(world.patient_b.user)
    victim_email = world.patient_a.user.email
    response = attacker.post("/accounts/email/", {"action_add": "", "email": victim_email})
    # Our page answers: the password is missing, nothing is added anywhere.
    assert response.status_code == 200
    assert not EmailAddress.objects.filter(email__iexact=victim_email).exists()
    assert not EmailAddress.objects.filter(user=world.patient_b.user).exists()
    assert mail.outbox == []
    # A password reset for the victim's address reaches the victim's account only.
    from allauth.account.utils import filter_users_by_email

    assert [u.pk for u in filter_users_by_email(victim_email)] == [world.patient_a.user.pk]


def test_allauths_confirmation_links_are_gone(world, client):
    assert client.get("/accounts/confirm-email/some-key/").status_code == 404


def test_changing_ones_address_through_the_link(world, client_for, django_capture_on_commit_callbacks):
    user = world.patient_a.user
    old_email = user.email
    client = client_for(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = _ask(client, "New.Address@Home.test")
    assert SENT in response.content.decode()
    [message] = mail.outbox
    assert message.to == ["new.address@home.test"]
    user.refresh_from_db()
    assert user.email == old_email  # nothing changes before the link is opened

    link = _link(message)
    page = client_for(None).get(link)
    assert page.status_code == 200
    assert "new.address@home.test" in page.content.decode()
    user.refresh_from_db()
    assert user.email == old_email  # opening (a link scanner) changes nothing

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(link)
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.email == "new.address@home.test"
    assert mail.outbox[-1].to == [old_email]  # the old address hears of it
    assert AuditEvent.objects.filter(user=user, action="email_chg").count() == 1
    # The link works once.
    assert client.post(link).status_code == 404
    # Signing in works with the new address.
    fresh = client_for(None)
    fresh.post(reverse("account_login"), {"login": "new.address@home.test", "password": TEST_PASSWORD})
    assert fresh.session.get("_auth_user_id") == str(user.pk)


def test_an_address_in_use_gets_the_same_answer_and_no_link(
    world, client_for, django_capture_on_commit_callbacks
):
    client = client_for(world.patient_a.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = _ask(client, world.patient_b.user.email.upper())
    assert SENT in response.content.decode()
    assert mail.outbox == []


def test_an_address_taken_after_the_link_was_sent_is_refused(
    world, client_for, django_capture_on_commit_callbacks
):
    client = client_for(world.patient_a.user)
    with django_capture_on_commit_callbacks(execute=True):
        _ask(client, "free@home.test")
    link = _link(mail.outbox[0])
    world.patient_b.user.email = "free@home.test"
    world.patient_b.user.save(update_fields=["email"])
    assert client.post(link).status_code == 404
    world.patient_a.user.refresh_from_db()
    assert world.patient_a.user.email != "free@home.test"


def test_nobody_can_make_us_send_many_links(world, client_for, django_capture_on_commit_callbacks):
    client = client_for(world.patient_a.user)
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            response = _ask(client, f"someone{n}@elsewhere.test")
    assert len(mail.outbox) == 3
    assert "Please wait an hour" in response.content.decode()
    assert 'value="someone4@elsewhere.test"' in response.content.decode()


def test_a_wrong_password_keeps_what_was_typed(world, client_for):
    client = client_for(world.patient_a.user)
    response = client.post(CHANGE, {"email": "typed@home.test", "password": "not-my-password"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "This is not your current password." in html
    assert 'value="typed@home.test"' in html
    assert mail.outbox == []


def test_a_forged_link_is_refused(world, client):
    assert client.get(reverse("email_change_confirm", args=["forged-token"])).status_code == 404


def test_staff_without_totp_can_open_the_page(world, client):
    member = make_staff(world.clinic, "newbie@alpha.test", therapist=True, totp=False)
    client.force_login(member.user)
    assert client.get(CHANGE).status_code == 200
    assert client.get(reverse("account_email")).status_code == 200


@pytest.mark.parametrize("persona", ["patient_a", "therapist"])
def test_the_settings_page_links_to_the_change(persona, world, client_for):
    html = client_for(world.persona(persona)).get(reverse("personal_settings")).content.decode()
    assert CHANGE in html


def test_the_migration_removes_addresses_that_are_not_the_accounts_own(world):
    import importlib

    from django.apps import apps as django_apps

    migration = importlib.import_module("icbt.migrations.0007_remove_foreign_email_addresses")
    EmailAddress.objects.create(user=world.patient_b.user, email=world.patient_a.user.email, verified=True)
    EmailAddress.objects.create(user=world.patient_b.user, email=world.patient_b.user.email.upper())
    migration.remove_foreign_addresses(django_apps, None)
    assert list(EmailAddress.objects.values_list("email", flat=True)) == [world.patient_b.user.email.upper()]


def test_after_the_lock_out_the_page_says_nothing_about_the_password(world, client_for):
    client = client_for(world.patient_a.user)
    for _ in range(5):
        client.post(CHANGE, {"email": "typed@home.test", "password": "not-my-password"})

    def page(password):
        response = client.post(CHANGE, {"email": "typed@home.test", "password": password})
        assert response.status_code == 200
        html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())
        return html, response.context["form"].errors

    right, wrong = page(TEST_PASSWORD), page("not-my-password")
    assert right == wrong
    html, errors = right
    assert not errors
    assert "Too many attempts." in html
    assert "This is not your current password." not in html
    assert 'value="typed@home.test"' in html
    assert mail.outbox == []
