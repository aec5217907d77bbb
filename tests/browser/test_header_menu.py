"""The header on a phone: the links fold behind a menu button (a disclosure) that opens and
closes with the keyboard; on a desktop the links are in view and the button is not."""

import pytest

from tests.browser.conftest import DESKTOP, PHONE

pytestmark = pytest.mark.browser


def test_the_menu_button_folds_the_navigation_on_a_phone(signed_in, shots):
    page = signed_in("pain.patient@linde.example", staff=False, viewport=PHONE).page
    page.goto("/me/")
    button = page.locator("header [data-menu-button]")
    link = page.locator("header").get_by_role("link", name="Messages")
    assert button.is_visible() and not link.is_visible()
    button.focus()
    page.keyboard.press("Enter")
    assert button.get_attribute("aria-expanded") == "true" and link.is_visible()
    shots(page, "menu-open-phone")
    link.focus()
    page.keyboard.press("Escape")
    assert button.get_attribute("aria-expanded") == "false" and not link.is_visible()
    assert page.evaluate("() => document.activeElement.hasAttribute('data-menu-button')")
    current = page.locator("header [aria-current]")
    assert current.count() == 1 and current.get_attribute("href") == "/me/"


def test_the_links_stay_in_view_on_a_desktop(signed_in):
    page = signed_in("therapist@linde.example", staff=True, viewport=DESKTOP).page
    page.goto("/staff/worklist/")
    assert not page.locator("header [data-menu-button]").is_visible()
    worklist = page.locator("header").get_by_role("link", name="Worklist")
    assert worklist.is_visible() and worklist.get_attribute("aria-current") == "page"
