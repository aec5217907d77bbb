"""Confirmations after a save travel in a short-lived signed cookie holding only their code
(``icbt.flash``): shown once, in the patient's language, never to anyone else, and no session
write for them."""

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from icbt.flash import CONFIRMATION_SECONDS
from patients.models import StepProgress
from tests.patients.patient_helpers import enroll, step_of, tiny_version

pytestmark = pytest.mark.django_db

WRITE_URL = "/me/diaries/mood/write/"
STEP_URL = "/me/steps/first/start-diary/"
ENTRY = {"mood": "6", "bedtime": "22:30", "walked": "yes", "minutes": "25", "kind": "free"}
SAVED = "Your diary is saved. You can change it until the end of the day."
COOKIE = settings.ICBT_CONFIRMATION_COOKIE_NAME


@pytest.fixture
def diary(world, client_for, clock):
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    StepProgress.objects.create(enrollment=enrollment, step=step_of(version, "start-diary"))
    return world, client_for(world.patient_a.user)


def _save(client, **extra):
    data = dict(ENTRY, note="A walk in the rain with my sister", entry_date=timezone.localdate().isoformat())
    response = client.post(WRITE_URL, dict(data, **extra))
    assert response.status_code == 302
    return response


def _messages_in_sessions() -> list:
    return [
        row.get_decoded().get("_messages")
        for row in Session.objects.all()
        if "_messages" in row.get_decoded()
    ]


def _deleted(response) -> bool:
    morsel = response.cookies.get(COOKIE)
    return morsel is not None and morsel.value == "" and str(morsel["max-age"]) == "0"


def test_a_saved_diary_says_so_once_from_a_cookie_that_holds_no_text(diary):
    _world, client = diary
    response = _save(client)
    morsel = response.cookies[COOKIE]
    # Its code, a time and a signature: nothing of the message or of what was written.
    code = morsel.value.split(":")[0]
    assert code == "p1"
    for word in ("diary", "saved", "rain", "sister", "Anna"):
        assert word not in morsel.value.lower()
    assert morsel["httponly"] and morsel["samesite"] == "Lax" and morsel["path"] == "/"
    assert int(morsel["max-age"]) == CONFIRMATION_SECONDS
    assert _messages_in_sessions() == []  # nothing kept in the session for it
    page = client.get(response["Location"])
    assert SAVED in page.content.decode()
    assert _deleted(page)  # the page that shows it ends it
    again = client.get(response["Location"])
    assert SAVED not in again.content.decode()


def test_a_redirect_keeps_the_confirmation_for_the_page_that_shows_it(diary):
    _world, client = diary
    _save(client)
    hop = client.get("/")  # sends the patient to their start page: shows nothing itself
    assert hop.status_code == 302 and COOKIE not in hop.cookies
    assert SAVED in client.get(hop["Location"]).content.decode()


def test_the_confirmation_speaks_the_patients_language(diary):
    world, client = diary
    world.patient_a.user.language = "nl"
    world.patient_a.user.save(update_fields=["language"])
    response = _save(client)
    html = client.get(response["Location"]).content.decode()
    assert "Je dagboek is bewaard." in html and SAVED not in html


def test_the_diary_step_and_a_moment_say_their_own_confirmation(diary):
    _world, client = diary
    response = client.post(STEP_URL, dict(ENTRY, note="From the step"))
    assert response.status_code == 302 and response.cookies[COOKIE].value.startswith("p2:")
    assert "Today&#x27;s diary is saved." in client.get(response["Location"]).content.decode()


def test_after_a_sign_out_the_next_person_never_sees_it(diary, world):
    _world, client = diary
    cookie = _save(client).cookies[COOKIE].value
    assert client.post(reverse("account_logout")).status_code == 302
    client.force_login(world.patient_b.user)
    client.cookies[COOKIE] = cookie  # as a browser that kept it
    page = client.get(reverse("personal_settings"))
    assert page.status_code == 200 and SAVED not in page.content.decode()
    assert _deleted(page)


def test_a_cookie_of_another_session_altered_or_too_old_shows_nothing(diary, world, clock):
    _world, client = diary
    cookie = _save(client).cookies[COOKIE].value
    other = Client()
    other.force_login(world.patient_b.user)
    other.cookies[COOKIE] = cookie
    page = other.get(reverse("personal_settings"))
    assert SAVED not in page.content.decode() and _deleted(page)

    altered = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    client.cookies[COOKIE] = altered
    page = client.get(reverse("personal_settings"))
    assert SAVED not in page.content.decode() and _deleted(page)

    client.cookies[COOKIE] = cookie
    clock.advance(seconds=CONFIRMATION_SECONDS + 1)
    page = client.get(reverse("personal_settings"))
    assert SAVED not in page.content.decode() and _deleted(page)


def test_a_request_that_fails_keeps_no_confirmation(diary, monkeypatch):
    _world, client = diary
    client.raise_request_exception = False

    def broken(*args, **kwargs):
        raise RuntimeError("the page after the save fails")

    monkeypatch.setattr("patients.views_patient.redirect", broken)
    response = client.post(WRITE_URL, dict(ENTRY, entry_date=timezone.localdate().isoformat()))
    assert response.status_code == 500
    assert COOKIE not in response.cookies
    assert _messages_in_sessions() == []
    monkeypatch.undo()
    assert SAVED not in client.get(reverse("patients:home")).content.decode()


def test_an_error_page_keeps_a_waiting_confirmation_for_the_next_page(diary, rf):
    """A confirmation of an earlier save not shown yet, then a request that fails after adding a
    message: no error of the message storage itself, the new confirmation is not kept (what it
    confirmed was rolled back), and the waiting one stays in its cookie for the next page."""
    from django.contrib import messages
    from django.http import HttpResponseServerError

    from icbt.flash import ConfirmationStorage
    from patients.confirmations import DIARY_SAVED

    _world, client = diary
    waiting = _save(client).cookies[COOKIE].value
    request = _request(rf, client.session)
    request.COOKIES = {COOKIE: waiting}
    storage = ConfirmationStorage(request)
    assert [str(m) for m in storage] == [SAVED]  # read (as a page would), not shown to anyone
    storage.used = False
    storage.add_confirmation(DIARY_SAVED)
    storage.add(messages.INFO, "Something else")
    response = HttpResponseServerError()
    storage.update(response)  # raised a TypeError on the lazy text before
    assert COOKIE not in response.cookies  # neither deleted nor replaced
    assert "Something else" in request.session.get("_messages", "")
    assert SAVED not in request.session.get("_messages", "")


def test_other_messages_stay_in_the_session(diary, rf):
    from django.contrib import messages
    from django.http import HttpResponse

    from icbt.flash import ConfirmationStorage

    _world, client = diary
    request = rf.get("/")
    request.COOKIES = {}
    request.session = client.session
    storage = ConfirmationStorage(request)
    storage.add(messages.INFO, "Welcome back, Anna")
    response = HttpResponse()
    storage.update(response)
    assert COOKIE not in response.cookies
    assert "Welcome back, Anna" in request.session["_messages"]


def test_a_confirmation_leaves_waiting_session_messages_as_they_are(diary, rf):
    """A message waiting in the session (not shown yet) is not written again when a save adds a
    confirmation: the session stays unchanged (no write), and both are shown on the next page."""
    from django.contrib import messages
    from django.http import HttpResponse

    from icbt.flash import ConfirmationStorage
    from patients.confirmations import DIARY_SAVED

    _world, client = diary
    session = client.session
    first = ConfirmationStorage(_request(rf, session))
    first.add(messages.INFO, "Welcome back, Anna")
    first.update(HttpResponse())
    session.save()

    session = client.session
    second = ConfirmationStorage(_request(rf, session))
    second.add_confirmation(DIARY_SAVED)
    response = HttpResponse()
    second.update(response)
    assert not session.modified and response.cookies[COOKIE].value.startswith("p1:")

    client.cookies[COOKIE] = response.cookies[COOKIE].value
    html = client.get(reverse("personal_settings")).content.decode()
    assert "Welcome back, Anna" in html and SAVED in html


def _request(rf, session):
    request = rf.get("/")
    request.COOKIES = {}
    request.session = session
    return request
