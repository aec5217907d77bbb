"""Public program pages and the 'ask for an intake' form (no account)."""

import pytest
from django.urls import reverse

from icbt.models import Clinic
from patients.models import IntakeRequest
from tests.patients import staff_helpers as sh

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(db):
    return sh.fatigue_version(
        tagline="Six modules at home.", public_html="<h2>Who is it for?</h2><p>Adults.</p>"
    )


def _url(version):
    return reverse("patients:public_program", args=[version.program.slug])


def _data(world, **overrides):
    data = {
        "name": "Petra Jansen",
        "email": "Petra@Home.test",
        "phone": "06 1234 5678",
        "clinic": world.clinic.pk,
        "message": "Best after 2 pm, I am often too tired in the morning.",
        "consent": "on",
        "website": "",
    }
    data.update(overrides)
    return data


def test_the_program_page_shows_the_content_and_the_form(world, client, version):
    response = client.get(_url(version))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Master your Fatigue" in html
    assert "Six modules at home." in html
    assert "<h2>Who is it for?</h2>" in html
    assert '<label for="id_name">' in html
    assert '<label for="id_email">' in html
    # Two clinics in the world: the person chooses.
    assert '<select name="clinic"' in html
    # The honeypot is hidden by the stylesheet, not by an inline style.
    assert 'class="hp-field" aria-hidden="true"' in html
    assert "style=" not in html


def test_the_list_links_every_program(world, client, version):
    html = client.get(reverse("patients:public_program_list")).content.decode()
    assert _url(version) in html


def test_the_newest_version_in_the_request_language_is_shown(world, client, version):
    sh.bare_version("master-your-fatigue", title="Baas over je moeheid", language="nl")
    pain = sh.pain_version()
    client.cookies["django_language"] = "nl"
    assert "Baas over je moeheid" in client.get(_url(version)).content.decode()
    # A program without a version in that language falls back to English.
    assert "Master your Pain" in client.get(_url(pain)).content.decode()


def test_an_unknown_program_is_404(world, client):
    assert client.get(reverse("patients:public_program", args=["no-such-program"])).status_code == 404


def test_a_request_lands_in_the_clinics_queue_with_the_message_encrypted(world, client, version):
    response = client.post(_url(version), _data(world))
    assert response.status_code == 302
    assert response["Location"] == reverse("patients:public_intake_sent", args=[version.program.slug])
    request = IntakeRequest.objects.get()
    assert (request.clinic, request.program, request.status) == (world.clinic, version.program, "new")
    assert request.email == "petra@home.test"
    assert request.message.startswith("Best after 2 pm")
    stored = sh.raw_column(IntakeRequest, "message", request.pk)
    assert "tired" not in stored and "2 pm" not in stored


def test_the_confirmation_page_says_what_happens_next(world, client, version):
    html = client.get(reverse("patients:public_intake_sent", args=[version.program.slug])).content.decode()
    assert "your request has been sent" in html
    assert "will contact you" in html


def test_the_honeypot_drops_the_request_but_looks_like_success(world, client, version):
    response = client.post(_url(version), _data(world, website="http://spam.example"))
    assert response.status_code == 302
    assert response["Location"].endswith("/request-sent/")
    assert not IntakeRequest.objects.exists()


def test_bad_input_says_what_to_fix_and_keeps_everything_typed(world, client, version):
    response = client.post(_url(version), _data(world, email="not-an-address", phone="call me!", consent=""))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="id_email_error"' in html
    assert 'id="id_phone_error"' in html
    assert 'id="id_consent_error"' in html
    assert 'value="Petra Jansen"' in html
    assert 'value="not-an-address"' in html
    assert "Best after 2 pm, I am often too tired in the morning." in html
    assert not IntakeRequest.objects.exists()


def test_the_rate_limit_allows_five_requests_an_hour_per_address(world, client, version, settings):
    for i in range(5):
        assert client.post(_url(version), _data(world, email=f"p{i}@home.test")).status_code == 302
    response = client.post(_url(version), _data(world, email="p6@home.test"))
    assert response.status_code == 429
    html = response.content.decode()
    assert "try again later" in html
    assert 'value="p6@home.test"' in html  # what was typed is kept
    assert IntakeRequest.objects.count() == 5
    # Another address is not affected.
    other = client.post(_url(version), _data(world, email="p7@home.test"), REMOTE_ADDR="203.0.113.9")
    assert other.status_code == 302


def test_the_limit_is_a_setting(world, client, version, settings):
    settings.ICBT_INTAKE_REQUESTS_PER_HOUR = 1
    assert client.post(_url(version), _data(world)).status_code == 302
    assert client.post(_url(version), _data(world)).status_code == 429


def test_one_clinic_needs_no_choice_and_a_link_can_preselect_a_clinic(world, client, version):
    html = client.get(_url(version) + f"?clinic={world.other_clinic.pk}").content.decode()
    assert f'<option value="{world.other_clinic.pk}" selected>' in html
    world.other_patient.delete()
    world.outsider.delete()
    world.outsider.user.delete()
    Clinic.objects.filter(pk=world.other_clinic.pk).delete()
    html = client.get(_url(version)).content.decode()
    assert '<select name="clinic"' not in html
    assert f'<input type="hidden" name="clinic" value="{world.clinic.pk}"' in html
    data = _data(world)
    data["clinic"] = world.clinic.pk
    assert client.post(_url(version), data).status_code == 302
