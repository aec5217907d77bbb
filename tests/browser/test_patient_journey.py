"""The patient's side in Chromium, on the demo data: the one next thing on home, today's diary in
a minute and the graph, an assignment whose draft saves as the patient types and survives a lost
connection, a refused submit that keeps everything typed, and accessibility of each page at a
phone and a desktop width."""

import pytest

from tests.browser.conftest import PHONE, check_both_widths

pytestmark = pytest.mark.browser

PATIENT = "pain.patient@linde.example"
ENERGY = "/me/steps/pain-and-activity/energy-points/"


def test_home_diary_and_graph(signed_in, shots, a11y):
    session = signed_in(PATIENT, staff=False, viewport=PHONE)
    page = session.page
    page.goto("/me/")
    main = page.locator("main")
    assert "Module 2: Pain and activity" in main.inner_text()
    check_both_widths(page, a11y)
    shots(page, "home")

    page.get_by_role("link", name="Keep today's diary").first.click()
    assert page.url.endswith("/me/diaries/activity-pain/write/")
    for legend, value in (("this morning", "4"), ("this afternoon", "5"), ("this evening", "6")):
        page.locator("fieldset", has_text=legend).get_by_label(value, exact=True).check()
    page.get_by_label("What were your main activities today?").fill("Walk with the dog, a short visit")
    page.get_by_label("How many rest breaks did you take today?").fill("3")
    check_both_widths(page, a11y)
    shots(page, "diary-write")
    page.get_by_role("button", name="Save my diary").click()
    assert "/me/diaries/activity-pain/" in page.url
    assert "Your diary is saved" in page.locator("main").inner_text()
    # pain 0-10; rest breaks; energy points used; planned and done minutes; hours active per part
    # of the day: each on its own scale
    assert page.locator("svg.chart").count() == 5
    page.get_by_text("Show the numbers as a table").first.click()
    assert page.locator("table").first.is_visible()
    check_both_widths(page, a11y)
    shots(page, "diary-graph")


def test_assignment_draft_autosaves_survives_offline_and_a_refused_submit_keeps_the_text(
    signed_in, shots, a11y
):
    session = signed_in(PATIENT, staff=False, viewport=PHONE)
    page = session.page
    page.goto(ENERGY)
    # The demo's draft is there.
    assert page.get_by_label("Shower and get dressed").input_value() == "3"
    status = page.locator("[data-autosave-status]")

    rest = page.get_by_label("When will you take your rest breaks?")
    with page.expect_response(lambda r: r.url.endswith("/draft/") and r.status == 200):
        rest.fill("After lunch")
    status.filter(has_text="Saved at").wait_for(timeout=10000)
    page.reload()
    assert page.get_by_label("When will you take your rest breaks?").input_value() == "After lunch"

    # A lost connection: kept on the device, put back and saved when the page opens again.
    session.context.set_offline(True)
    page.get_by_label("What will you do differently this week?").fill("Written without a connection")
    status.filter(has_text="Not saved yet").wait_for(timeout=10000)
    session.context.set_offline(False)
    page.goto(ENERGY)
    assert (
        page.get_by_label("What will you do differently this week?").input_value()
        == "Written without a connection"
    )
    status.filter(has_text="put back").filter(has_text="Saved at").wait_for(timeout=10000)
    page.evaluate("() => localStorage.clear()")
    page.reload()
    assert (
        page.get_by_label("What will you do differently this week?").input_value()
        == "Written without a connection"
    )

    # Too many points: refused with the message next to the field, everything typed kept.
    page.get_by_label("Housework").fill("16")
    page.locator("[data-energy-remaining]").filter(has_text="Points too many").wait_for(timeout=5000)
    with page.expect_navigation():
        page.get_by_role("button", name="Hand in to your therapist").click()
    main = page.locator("main").inner_text()
    assert "You used 25 points, but you have 20. Take away 5 points." in main
    assert page.get_by_label("Housework").input_value() == "16"
    assert (
        page.get_by_label("What will you do differently this week?").input_value()
        == "Written without a connection"
    )
    check_both_widths(page, a11y)
    shots(page, "assignment-refused")

    page.get_by_label("Housework").fill("4")
    with page.expect_navigation():
        page.get_by_role("button", name="Hand in to your therapist").click()
    assert "Handed in" in page.locator("main").inner_text()
    assert (
        page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('icbt-draft:')).length") == 0
    )
