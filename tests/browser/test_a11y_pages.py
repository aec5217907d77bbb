"""axe on the pages the journeys do not pass through, for every role, at a phone and a desktop
width: the pages each role reaches from its navigation, the error states of the main forms (a
refused form must be as usable as an empty one), an invitation link that no longer works and a
module that is not open yet.

Pages already checked for that role in this session (by the journeys) are not checked twice; see
``visit`` in conftest.py.
"""

import re

import pytest

from tests.browser.conftest import PHONE

pytestmark = pytest.mark.browser


def test_pages_of_a_visitor(anonymous, visit):
    page = anonymous
    visit(page, "/", "landing")
    visit(page, "/accounts/password/reset/", "password-reset")
    # (The app runs with DEBUG on here, so an unknown address shows Django's debug page; our
    # own 404 page is checked below.)
    visit(page, "/invitation/not-a-valid-link/", "invitation-not-valid", status=404)
    # A refused intake request: every message next to its field, what was typed kept.
    visit(page, "/programs/master-your-pain/", "program-page")
    page.get_by_label("Your name").fill("Ilse")
    with page.expect_navigation():
        page.get_by_role("button", name="Send my request").click()
    assert page.locator(".error").count() >= 2
    assert "Please check your answers" in page.locator("#ask .error-summary").inner_text()
    assert page.get_by_label("Your name").input_value() == "Ilse"
    visit(page, None, "program-page-refused", key="public-intake-refused")


def test_the_not_found_page_as_production_shows_it(anonymous, visit, client, settings):
    """The 404 page a visitor gets in production (DEBUG off, as pytest-django runs Django in this
    process), shown in the browser on the app's origin so that its styles load."""
    settings.DEBUG = False
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "We cannot find this page" in html
    page = anonymous
    page.goto("/")
    page.set_content(html)
    assert page.locator("h1").count() == 1
    visit(page, None, "not-found", key="not-found")


def test_pages_of_a_patient(signed_in, visit):
    page = signed_in("pain.patient@linde.example", staff=False, viewport=PHONE).page
    for url in (
        "/me/questionnaires/",
        "/me/my-data/",
        "/me/diaries/",
        "/me/diaries/activity-pain/?period=month",
        "/me/access-log/",
    ):
        visit(page, url)
    visit(page, "/me/modules/relaxation/", "module-not-open", status=403)
    page.goto("/me/diaries/")
    page.locator("main .entry-list a").first.click()
    visit(page, None, "diary-entry")
    # A diary refused: nothing filled in.
    page.goto("/me/diaries/activity-pain/write/")
    with page.expect_navigation():
        page.get_by_role("button", name="Save my diary").click()
    assert page.locator(".error, .error-summary").count() >= 1
    visit(page, None, "diary-refused", key="diary-refused")

    # A video step, on the fatigue program.
    frank = signed_in("fatigue.patient@linde.example", staff=False, viewport=PHONE).page
    visit(frank, "/me/steps/getting-started/patient-story/", "video-step", key="step:video")


def test_pages_of_a_therapist(signed_in, visit):
    page = signed_in("therapist@linde.example", staff=True).page
    for url in (
        "/staff/caseload/",
        "/staff/covering/",
        "/staff/templates/new/",
        "/staff/programs/",
        "/settings/",
        "/accounts/password/change/",
        "/accounts/2fa/",
    ):
        visit(page, url)
    page.goto("/staff/programs/")
    page.get_by_role("link", name="Preview as patient").first.click()
    visit(page, None, "preview")

    page.goto("/staff/patients/")
    page.get_by_role("link", name="Petra Smit").click()
    petra = page.url
    for link in ("Record a session", "Change the feedback rhythm", "Stop"):
        page.goto(petra)
        page.get_by_role("link", name=link, exact=True).first.click()
        visit(page, None, link.lower().replace(" ", "-"))
    # A session refused: no minutes.
    page.goto(petra)
    page.get_by_role("link", name="Record a session").click()
    page.get_by_label("Minutes").fill("")
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("Save|Record")).first.click()
    assert page.locator(".error, .error-summary").count() >= 1
    visit(page, None, "session-refused", key="session-refused")
    page.goto(petra)
    page.get_by_role("link", name="Write feedback on the work since the last feedback").click()
    for link in ("Internal notes", "Covering and sharing"):
        page.get_by_role("link", name=link).click()
        visit(page, None, link.lower().replace(" ", "-"))
        page.go_back()


def test_pages_of_a_manager_an_admin_and_a_small_practice_owner(signed_in, visit):
    manager = signed_in("manager@linde.example", staff=True).page
    for url in ("/staff/dashboard/", "/staff/clinic/", "/staff/team/"):
        visit(manager, url)

    admin = signed_in("admin@linde.example", staff=True).page
    for url in (
        "/staff/team/",
        "/staff/team/invite/",
        "/staff/audit/",
        "/staff/programs/master-your-fatigue/en/",
        "/staff/programs/master-your-fatigue/defaults/",
        "/staff/programs/recordings/",
        "/staff/programs/questionnaires/",
    ):
        visit(admin, url)
    visit(admin, "/staff/audit/?staff_member=&action=view", "audit-found", key="audit-found")
    admin.goto("/staff/programs/recordings/")
    admin.locator("main a[href*='/recordings/']").first.click()
    visit(admin, None, "recording-upload")

    # One person who treats, manages and sets up a small practice.
    owner = signed_in("owner@noorderzon.example", staff=True).page
    for url in ("/staff/worklist/", "/staff/dashboard/"):
        visit(owner, url)
