"""A form left open from an earlier sign-in: the save is refused (the CSRF token changed at the
new sign-in), in the normal layout, in the person's language, in plain words, with the crisis
lines, a way back and nothing of Django's reason. The copy the browser keeps of what was typed
is not thrown away (no Clear-Site-Data, no sign-out)."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from patients.models import DiaryEntry, StepProgress
from tests.patients.patient_helpers import enroll, step_of, tiny_version

pytestmark = pytest.mark.django_db

WRITE_URL = "/me/diaries/mood/write/"
TEXT = "A quiet day in the garden"
PASSWORD = "a-long-test-password-2026"
MESSAGES = {
    "en": (
        "This page was open from an earlier sign-in, so we could not save what you sent safely.",
        "Back to the page",
    ),
    "nl": ("Deze pagina stond nog open van een eerdere keer inloggen.", "Terug naar de pagina"),
}
KEPT = {
    "en": "What you typed is kept on this device.",
    "nl": "Wat je typte is bewaard op dit apparaat.",
}


def _token(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def _assert_layout(html, language):
    assert re.search(rf'<html lang="{language}"', html)
    header = html[html.index("<header") : html.index("</header>")]
    assert 'href="/help/" data-crisis-header' in header
    footer = html[html.index('class="site-footer') :]
    assert 'href="tel:08000113"' in footer and 'href="tel:112"' in footer
    assert "CSRF" not in html and "Forbidden" not in html and "Referer" not in html


def _sign_in(client, user):
    """Through the sign-in form, as a person does: the CSRF token changes."""
    token = _token(client.get(reverse("account_login")).content.decode())
    response = client.post(
        reverse("account_login"),
        {"login": user.email, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302, response.content.decode()[:300]


@pytest.fixture
def patient(clock, world):
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    StepProgress.objects.create(enrollment=enrollment, step=step_of(version, "start-diary"))
    user = world.patient_a.user
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    return user


@pytest.mark.parametrize("language", ["en", "nl"])
def test_a_diary_open_from_an_earlier_sign_in_gets_plain_words_in_the_layout(clock, patient, language):
    patient.language = language
    patient.save(update_fields=["language"])
    tab = Client(enforce_csrf_checks=True)
    _sign_in(tab, patient)
    old_token = _token(tab.get(WRITE_URL).content.decode())
    # In another tab: sign out and in again (a new session and a new CSRF token).
    tab.post(reverse("account_logout"), {"csrfmiddlewaretoken": old_token})
    _sign_in(tab, patient)

    entry = {"mood": "6", "note": TEXT, "entry_date": timezone.localdate().isoformat()}
    response = tab.post(
        WRITE_URL,
        {**entry, "csrfmiddlewaretoken": old_token, "icbt_local_copy": "abc123"},
        headers={"referer": f"http://testserver{WRITE_URL}"},
    )

    assert response.status_code == 403
    html = response.content.decode()
    _assert_layout(html, language)
    plain, back = MESSAGES[language]
    assert plain in html and KEPT[language] in html
    assert f'<a class="button" href="{WRITE_URL}">{back}</a>' in html
    assert not DiaryEntry.objects.exists()
    # The browser's copy of the diary stays: no order to clear the storage, still signed in,
    # and the page names the same owner for the copy (so drafts.js keeps it).
    assert "Clear-Site-Data" not in response
    assert re.search(r'<meta name="icbt-draft-owner" content="\w+"', html)
    assert tab.get(WRITE_URL).status_code == 200


@pytest.mark.parametrize("language", ["en", "nl"])
def test_a_visitor_gets_the_page_with_a_way_home_and_to_sign_in(clock, world, language):
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("account_login"))  # a CSRF cookie, but not the token of this form
    response = client.post(
        reverse("account_login"),
        {"login": "someone@example.org", "password": "x", "csrfmiddlewaretoken": "x" * 64},
        headers={"accept-language": language, "referer": "https://elsewhere.example/me/"},
    )
    assert response.status_code == 403
    html = response.content.decode()
    _assert_layout(html, language)
    assert MESSAGES[language][0] in html and KEPT[language] not in html
    assert 'href="/me/"' not in html  # another site's Referer is not followed
    assert f'<a class="button" href="{reverse("home")}">' in html
    assert f'href="{reverse("account_login")}"' in html


def test_a_background_save_gets_the_words_as_json(clock, patient):
    tab = Client(enforce_csrf_checks=True)
    tab.force_login(patient)
    response = tab.post(
        WRITE_URL, {"note": TEXT}, headers={"accept": "application/json", "x-csrftoken": "y" * 64}
    )
    assert response.status_code == 403
    assert response.json() == {
        "error": "This page was open from an earlier sign-in, so it was not saved. Reload the page."
    }


@pytest.mark.parametrize("path", ["//elsewhere.example/x", "/\\elsewhere.example/x"])
def test_a_referer_of_this_site_whose_path_leaves_it_is_not_followed(clock, world, path):
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("account_login"))
    response = client.post(
        reverse("account_login"),
        {"login": "someone@example.org", "password": "x", "csrfmiddlewaretoken": "x" * 64},
        headers={"referer": f"http://testserver{path}"},
    )
    assert response.status_code == 403
    html = response.content.decode()
    assert "elsewhere.example" not in html
    assert f'<a class="button" href="{reverse("home")}">' in html
