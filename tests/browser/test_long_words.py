"""A 5,000-character word in a diary note does not widen the patient's pages on a phone."""

import pytest

from tests.browser.conftest import PHONE, manage, own_patient_setup

pytestmark = pytest.mark.browser

# A patient of the test's own: the demo patient's diary of today stays unwritten for the journeys.
PATIENT = "lena.longword@example.org"
WORD = "w" * 5000


@pytest.fixture(scope="module")
def lena(app_server):
    manage(app_server, "shell", "-c", own_patient_setup(PATIENT, "Lena", "Lang"))
    return PATIENT


def test_a_long_word_in_a_diary_note_keeps_the_page_phone_wide(lena, signed_in, shots):
    session = signed_in(lena, staff=False, viewport=PHONE)
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
