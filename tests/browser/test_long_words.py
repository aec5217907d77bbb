"""A 5,000-character word in a diary note does not widen the patient's pages on a phone."""

import pytest

from tests.browser.conftest import PHONE

pytestmark = pytest.mark.browser

PATIENT = "pain.patient@linde.example"
WORD = "w" * 5000


def test_a_long_word_in_a_diary_note_keeps_the_page_phone_wide(signed_in, shots):
    session = signed_in(PATIENT, staff=False, viewport=PHONE)
    page = session.page
    page.goto("/me/diaries/activity-pain/write/")
    for legend, value in (("this morning", "4"), ("this afternoon", "5"), ("this evening", "6")):
        page.locator("fieldset", has_text=legend).get_by_label(value, exact=True).check()
    page.get_by_label("What were your main activities today?").fill("Walk")
    page.get_by_label("How many rest breaks did you take today?").fill("3")
    page.get_by_label("Anything else you want to note?").fill(WORD)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("button", name="Save my diary").click()
    assert "Your diary is saved" in page.locator("main").inner_text()
    page.locator(".entry-list a").first.click()
    assert WORD in page.locator("main").inner_text().replace("\n", "")
    shots(page, "entry-with-a-long-word")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
