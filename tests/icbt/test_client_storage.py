"""What the browser keeps on a device: copies keyed by an opaque owner value, Clear-Site-Data
when a session ends, the server's confirmation of a kept copy, and the pages of an outage."""

import re
import time

import pytest
from django.contrib.sessions.models import Session
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from icbt.client_storage import CLEAR_SESSION_KEY, LOCAL_COPY_FIELD, SAVED_SESSION_KEY, draft_owner
from icbt.middleware import StaffIdleTimeoutMiddleware
from patients.models import DiaryEntry, StepProgress
from tests.patients.patient_helpers import enroll, step_of, tiny_version

pytestmark = pytest.mark.django_db

WRITE_URL = "/me/diaries/mood/write/"
ENTRY = {"mood": "6", "bedtime": "22:30", "walked": "yes", "minutes": "25", "kind": "free", "note": "Garden"}
CLEAR = '"storage"'
OWNER_META = re.compile(r'<meta name="icbt-draft-owner" content="([0-9a-f]+)" data-saved="([^"]*)">')


@pytest.fixture
def diary(world, client_for, clock):
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    StepProgress.objects.create(enrollment=enrollment, step=step_of(version, "start-diary"))
    return world, enrollment, client_for(world.patient_a.user)


def _entry(**extra):
    return dict(ENTRY, entry_date=timezone.localdate().isoformat(), **extra)


def _owner_meta(response):
    found = OWNER_META.search(response.content.decode())
    assert found, "the signed-in page carries no owner value for local copies"
    return found.group(1), found.group(2).split()


# --- The owner value ---------------------------------------------------------------------------------


def test_the_owner_value_is_opaque_and_differs_per_person(world, client_for):
    anna, olga = world.patient_a.user, world.other_patient.user
    owner, _saved = _owner_meta(client_for(anna).get(reverse("personal_settings")))
    assert owner == draft_owner(anna)
    assert owner != draft_owner(olga)
    assert anna.email not in owner and str(anna.pk) != owner and len(owner) == 32
    assert "icbt-draft-owner" not in Client().get(reverse("account_login")).content.decode()


def test_patient_forms_carry_the_keep_local_attribute_with_their_enrollment(diary):
    _world, enrollment, client = diary
    for url in (WRITE_URL, "/me/steps/first/start-diary/", "/me/steps/first/mood-start/"):
        html = client.get(url).content.decode()
        assert html.count(f'data-keep-local="{enrollment.pk}"') == 1, url
    # An assignment autosaves: its copy is keyed by the enrollment too.
    html = client.get("/me/steps/first/plan/").content.decode()
    assert f'data-autosave-key="{enrollment.pk}:/me/steps/first/plan/"' in html


# --- Clear-Site-Data when a session ends --------------------------------------------------------------


def test_signing_out_clears_the_browsers_storage_also_on_the_next_page(world, client_for):
    client = client_for(world.patient_a.user)
    assert "Clear-Site-Data" not in client.get(reverse("personal_settings")).headers
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert response["Clear-Site-Data"] == CLEAR
    page = client.get(response["Location"])
    assert page["Clear-Site-Data"] == CLEAR
    assert not any(CLEAR_SESSION_KEY in row.get_decoded() for row in Session.objects.all())
    # Once: a later page of the signed-out visitor is left alone.
    assert "Clear-Site-Data" not in client.get(reverse("account_login")).headers


def test_an_idle_sign_out_clears_the_browsers_storage(world, client_for, settings):
    settings.ICBT_STAFF_IDLE_MINUTES = 30
    client = client_for(world.therapist.user)
    session = client.session
    session[StaffIdleTimeoutMiddleware.SESSION_KEY] = int(time.time()) - 31 * 60
    session.save()
    response = client.get(reverse("patients:staff_patient_list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert response["Clear-Site-Data"] == CLEAR
    assert client.get(response["Location"])["Clear-Site-Data"] == CLEAR


def test_a_session_the_server_no_longer_has_clears_the_browsers_storage(world, client_for):
    client = client_for(world.patient_a.user)
    client.session.delete()  # expired, or ended by an administrator
    response = client.get(reverse("patients:home"))
    assert response.status_code == 302
    assert response["Clear-Site-Data"] == CLEAR
    assert client.get(response["Location"])["Clear-Site-Data"] == CLEAR
    assert not Session.objects.exists()  # the session that only carried the flag is gone
    assert "Clear-Site-Data" not in client.get(response["Location"]).headers


def test_a_visitor_without_a_session_is_not_sent_the_header():
    assert "Clear-Site-Data" not in Client().get(reverse("account_login")).headers


# --- The server confirms a kept copy ------------------------------------------------------------------


def test_a_saved_form_confirms_its_copy_once_on_the_next_page(diary):
    _world, _enrollment, client = diary
    response = client.post(WRITE_URL, _entry(**{LOCAL_COPY_FIELD: "a1b2c3"}))
    assert response.status_code == 302
    _owner, saved = _owner_meta(client.get(response["Location"]))
    assert saved == ["a1b2c3"]
    _owner, saved = _owner_meta(client.get(response["Location"]))
    assert saved == []


def test_a_refused_form_does_not_confirm_its_copy(diary):
    _world, _enrollment, client = diary
    response = client.post(WRITE_URL, _entry(mood="11", **{LOCAL_COPY_FIELD: "d4e5f6"}))
    assert response.status_code == 200
    _owner, saved = _owner_meta(client.get(WRITE_URL))
    assert saved == []


def test_a_copy_id_that_is_not_a_plain_token_is_ignored(diary):
    _world, _enrollment, client = diary
    response = client.post(WRITE_URL, _entry(**{LOCAL_COPY_FIELD: '"><script>'}))
    assert response.status_code == 302
    _owner, saved = _owner_meta(client.get(response["Location"]))
    assert saved == []


# --- A database outage --------------------------------------------------------------------------------


def _database_gone(execute, sql, params, many, context):
    if sql.lstrip().upper().startswith(("INSERT", "UPDATE")) and "patients_diaryentry" in sql:
        raise OperationalError("server closed the connection unexpectedly")
    return execute(sql, params, many, context)


def test_a_diary_sent_while_the_database_is_down_gets_the_outage_page(diary):
    _world, _enrollment, client = diary
    client.raise_request_exception = False
    with connection.execute_wrapper(_database_gone):
        response = client.post(WRITE_URL, _entry(**{LOCAL_COPY_FIELD: "a1b2c3"}))
    assert response.status_code == 503
    assert response["Retry-After"]
    html = response.content.decode()
    assert "What you typed has not reached us yet. It is kept on this device." in html
    assert "Check it and press the button to send it." in html
    assert f'href="{WRITE_URL}"' in html
    assert 'href="tel:112"' in html and 'href="tel:08000113"' in html
    assert "Nothing you saved is lost" not in html
    assert DiaryEntry.objects.count() == 0


def test_the_outage_page_speaks_dutch(diary):
    world, _enrollment, client = diary
    world.patient_a.user.language = "nl"
    world.patient_a.user.save(update_fields=["language"])
    client.raise_request_exception = False
    with connection.execute_wrapper(_database_gone):
        response = client.post(WRITE_URL, _entry(**{LOCAL_COPY_FIELD: "a1b2c3"}))
    assert response.status_code == 503
    html = response.content.decode()
    assert "Het staat nog op dit apparaat." in html
    assert "113 Zelfmoordpreventie" in html and 'href="tel:08000113"' in html and 'href="tel:112"' in html


def test_the_outage_page_promises_a_copy_only_when_the_device_kept_one(diary):
    _world, _enrollment, client = diary
    client.raise_request_exception = False
    with connection.execute_wrapper(_database_gone):
        response = client.post(WRITE_URL, _entry())  # the page's script did not run
    assert response.status_code == 503
    html = response.content.decode()
    assert "kept on this device" not in html
    assert "What you sent has not reached us." in html


def test_a_page_asked_for_while_the_database_is_down_gets_the_outage_page(diary):
    _world, _enrollment, client = diary
    client.raise_request_exception = False

    def nothing_answers(execute, sql, params, many, context):
        if "SAVEPOINT" in sql.upper():
            return execute(sql, params, many, context)
        raise OperationalError("could not connect to server")

    with connection.execute_wrapper(nothing_answers):
        response = client.get(WRITE_URL)
    assert response.status_code == 503
    html = response.content.decode()
    assert "This page cannot be shown right now" in html and "kept on this device" not in html


def test_another_error_keeps_the_error_page_without_promising_what_it_cannot(diary, monkeypatch):
    _world, _enrollment, client = diary
    client.raise_request_exception = False

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("patients.services.diary_entry_save", broken)
    response = client.post(WRITE_URL, _entry())
    assert response.status_code == 500
    html = response.content.decode()
    assert "Nothing you saved is lost" not in html and "Niets van wat je hebt bewaard" not in html
    assert "may not have reached us" in html


# --- The confirmation travels in a cookie bound to the session ---------------------------------------


def _copies_cookie(response):
    from django.conf import settings

    return response.cookies.get(settings.ICBT_LOCAL_COPIES_COOKIE_NAME)


def test_a_confirmed_copy_writes_no_session_and_its_cookie_holds_only_the_id(diary):
    from django.test.utils import CaptureQueriesContext

    _world, _enrollment, client = diary
    client.post(WRITE_URL, _entry(**{LOCAL_COPY_FIELD: "a1b2c3"}))  # warm: the data key, the session
    client.get(WRITE_URL)
    # Two corrections of today's entry, with and without a kept copy: the same statements.
    with CaptureQueriesContext(connection) as without:
        assert client.post(WRITE_URL, _entry(note="Changed")).status_code == 302
    with CaptureQueriesContext(connection) as kept:
        response = client.post(WRITE_URL, _entry(note="Again", **{LOCAL_COPY_FIELD: "f00d42"}))
    assert response.status_code == 302
    assert len(kept) == len(without), [q["sql"][:60] for q in kept.captured_queries]
    morsel = _copies_cookie(response)
    assert morsel.value.split(":")[0] == "f00d42" and morsel["httponly"] and morsel["samesite"] == "Lax"
    assert morsel["max-age"] == "" and morsel["expires"] == ""  # gone when the browser closes
    assert not any(SAVED_SESSION_KEY in row.get_decoded() for row in Session.objects.all())
    page = client.get(response["Location"])
    assert _owner_meta(page)[1] == ["f00d42"]
    morsel = _copies_cookie(page)
    assert morsel is not None and morsel.value == ""  # given once: the page deletes it


def test_a_redirect_keeps_the_confirmed_copies_for_the_page_that_gives_them(diary):
    _world, _enrollment, client = diary
    client.post(WRITE_URL, _entry(**{LOCAL_COPY_FIELD: "a1b2c3"}))
    hop = client.get("/")  # to the patient's start page: gives nothing itself
    assert hop.status_code == 302 and _copies_cookie(hop) is None
    assert _owner_meta(client.get(hop["Location"]))[1] == ["a1b2c3"]


def test_confirmed_copies_never_reach_the_next_person(diary, world):
    from django.conf import settings

    _world, _enrollment, client = diary
    cookie = _copies_cookie(client.post(WRITE_URL, _entry(**{LOCAL_COPY_FIELD: "a1b2c3"}))).value
    client.post(reverse("account_logout"))
    client.force_login(world.patient_b.user)
    client.cookies[settings.ICBT_LOCAL_COPIES_COOKIE_NAME] = cookie  # as a browser that kept it
    page = client.get(reverse("personal_settings"))
    assert _owner_meta(page)[1] == []
    assert _copies_cookie(page).value == ""


def test_copies_confirmed_in_the_session_before_the_cookie_are_still_given(diary):
    _world, _enrollment, client = diary
    session = client.session
    session[SAVED_SESSION_KEY] = ["0ld1d"]
    session.save()
    response = client.post(WRITE_URL, _entry(**{LOCAL_COPY_FIELD: "n3w1d"}))
    assert sorted(_owner_meta(client.get(response["Location"]))[1]) == ["0ld1d", "n3w1d"]
    assert not any(SAVED_SESSION_KEY in row.get_decoded() for row in Session.objects.all())


def test_a_page_that_comes_late_still_confirms_the_copy(clock, diary):
    _world, _enrollment, client = diary
    response = client.post(WRITE_URL, _entry(**{LOCAL_COPY_FIELD: "a1b2c3"}))
    clock.advance(minutes=10)  # a lost connection: the confirmation waits as long as the session
    assert _owner_meta(client.get(response["Location"]))[1] == ["a1b2c3"]
