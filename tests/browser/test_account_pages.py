"""The account pages in the browser: the recent sign-ins and the e-mail change (also refused)
pass axe at both widths (the first-sign-in question is checked in journey 2). And the warning
before a patient's idle sign-out: shown two minutes before the end, reachable by keyboard and
screen reader, "Stay signed in" starts the time again without leaving the page, and when the time
is up the page tells listeners (``icbt:idle-signout``) and reloads so that the server's ordinary
sign-out runs. The browser's clock is moved with Playwright's clock; the server's idle rule itself
is tested in tests/icbt/test_sessions.py."""

import pytest

from tests.browser.conftest import PHONE

pytestmark = pytest.mark.browser

PATIENT = "patient@noorderzon.example"
IDLE_SECONDS = 60 * 60  # ICBT_PATIENT_IDLE_MINUTES's default, as the browser tests' server runs it


def test_the_idle_warning_appears_before_the_end_and_stay_signed_in_keeps_the_page(signed_in, a11y):
    session = signed_in(PATIENT, staff=False, viewport=PHONE)
    page = session.page
    page.clock.install()
    page.goto("/me/")
    warning = page.locator("#idle-warning")
    assert warning.get_attribute("data-idle-seconds") == str(IDLE_SECONDS)
    assert warning.is_hidden()
    typed = page.locator("main a").first
    typed.focus()

    page.clock.fast_forward((IDLE_SECONDS - 119) * 1000)
    page.clock.run_for(1500)
    assert warning.is_visible()
    assert warning.get_attribute("role") == "alertdialog"
    stay = page.get_by_role("button", name="Stay signed in")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Stay signed in"
    assert "sign you out" in warning.inner_text() and "minute" in warning.inner_text()
    a11y(page)

    with page.expect_response(lambda r: r.url.endswith("/session/keep-alive/")) as answer:
        stay.press("Enter")
    assert answer.value.status == 204
    page.clock.run_for(1500)
    assert warning.is_hidden()
    assert page.url.endswith("/me/")


def test_when_the_time_is_up_the_page_announces_the_sign_out_and_reloads(signed_in):
    session = signed_in(PATIENT, staff=False, viewport=PHONE)
    page = session.page
    page.clock.install()
    page.goto("/me/")
    page.evaluate(
        """document.addEventListener("icbt:idle-signout", function () {
               sessionStorage.setItem("idle-signout-seen", "yes");
           });"""
    )
    with page.expect_navigation():
        page.clock.fast_forward((IDLE_SECONDS + 10) * 1000)
        page.clock.run_for(2000)
    assert page.evaluate("sessionStorage.getItem('idle-signout-seen')") == "yes"


def test_the_account_pages_pass_axe(signed_in, visit):
    page = signed_in("pain.patient@linde.example", staff=False, viewport=PHONE).page
    visit(page, "/settings/sign-ins/", "recent-sign-ins")
    assert "Recent sign-ins" in page.locator("main").inner_text()
    visit(page, "/accounts/email/", "email-change")
    page.get_by_label("New e-mail address").fill("pain.patient.new@example.org")
    page.get_by_label("Your password").fill("not-the-password")
    with page.expect_navigation():
        page.get_by_role("button", name="Send the link").click()
    assert "This is not your current password." in page.locator("main").inner_text()
    assert page.get_by_label("New e-mail address").input_value() == "pain.patient.new@example.org"
    visit(page, None, "email-change-refused", key="email-change-refused")


def test_a_refused_form_puts_the_focus_on_the_first_field_with_an_error(signed_in):
    """Keyboard and screen-reader users land where the problem is, not at the top of the page."""
    page = signed_in("fatigue.patient@linde.example", staff=False, viewport=PHONE).page
    page.goto("/accounts/email/")
    page.get_by_label("New e-mail address").fill("fatigue.patient.new@example.org")
    page.get_by_label("Your password").fill("not-the-password")
    with page.expect_navigation():
        page.get_by_role("button", name="Send the link").click()
    assert "This is not your current password." in page.locator("main").inner_text()
    focused = page.evaluate("() => [document.activeElement.tagName, document.activeElement.name || '']")
    assert focused == ["INPUT", "password"], focused
