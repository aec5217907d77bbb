"""The patient's main path with the keyboard alone: Tab to move, arrow keys in a radio group,
typing, Enter to follow a link or to send a form. At every Tab stop the focused element must show
a visible focus (a computed outline or focus ring, not ``none``).

A patient of its own (Kees, on Master your Pain with modules 2 and 4 opened by his therapist), so
the demo patients that other tests rely on keep their state.
"""

import pytest

from tests.browser.conftest import PHONE, manage, own_patient_setup

pytestmark = pytest.mark.browser

KEES = "kees.keyboard@example.org"

SETUP = own_patient_setup(KEES, "Kees", "de Boer", opened_modules=(2, 4))

FOCUSED = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const style = getComputedStyle(el);
    return {
        tag: el.tagName.toLowerCase(), type: el.type || "", name: el.name || "", id: el.id || "",
        value: el.value || "",
        text: (el.innerText || el.getAttribute("aria-label") || "").replace(/\\s+/g, " ").trim(),
        label: el.labels && el.labels.length ? el.labels[0].innerText.replace(/\\s+/g, " ").trim() : "",
        legend: el.closest("fieldset") ? el.closest("fieldset").querySelector("legend").innerText.trim() : "",
        outline: style.outlineStyle, outlineWidth: style.outlineWidth, shadow: style.boxShadow,
        focusVisible: el.matches(":focus-visible"), focus: el.matches(":focus"),
    };
}"""


@pytest.fixture(scope="module")
def kees(app_server):
    manage(app_server, "shell", "-c", SETUP)
    return KEES


def focused(page) -> dict | None:
    return page.evaluate(FOCUSED)


def assert_focus_visible(info):
    outline = info["outline"] != "none" and info["outlineWidth"] not in ("0px", "")
    if info["type"] in ("date", "time") and (info["focusVisible"] or not info["focus"]):
        # A date or time field has Tab stops inside it (day, month, year, the calendar button).
        # On the parts, our :focus-visible ring is drawn though getComputedStyle may report none;
        # on the calendar button the focus is inside Chromium's own control, which draws its own
        # ring (and the field no longer matches :focus).
        outline = True
    assert outline or info["shadow"] != "none", f"the focus is not visible on {info}"


def tab_to(page, match, *, limit=120, describe=""):
    """Presses Tab until ``match(focused)`` holds, checking that every stop on the way shows its
    focus. Returns the focused element's description."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        info = focused(page)
        if info is None:
            continue
        assert_focus_visible(info)
        seen.append(info["text"] or info["label"] or info["name"])
        if match(info):
            return info
    raise AssertionError(f"Tab never reached {describe or match}; it went through {seen}")


def text_is(prefix):
    return lambda info: info["text"].startswith(prefix)


def named(name):
    return lambda info: info["name"] == name


def test_module_page_to_the_next_step_with_tab_and_enter(signed_in, kees, shots):
    page = signed_in(kees, staff=False, viewport=PHONE).page
    page.goto("/me/modules/your-goals/")
    # The first stop is the skip link, and it works.
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"

    tab_to(
        page,
        lambda info: info["tag"] == "a" and info["text"].startswith(("Start", "Continue")),
        describe="the link to the first step",
    )
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/me/steps/your-goals/intro/" in page.url
    shots(page, "step-1")

    # Larger text, then on to the next step.
    sizes = page.get_by_role("group", name="Text size")
    assert sizes.get_by_role("button", name="Normal text").get_attribute("aria-pressed") == "true"
    tab_to(page, text_is("A+"), describe="the larger text button")
    page.keyboard.press("Enter")
    assert page.evaluate("() => getComputedStyle(document.documentElement).fontSize") != "16px"
    assert sizes.get_by_role("button", name="Larger text").get_attribute("aria-pressed") == "true"
    assert sizes.get_by_role("button", name="Normal text").get_attribute("aria-pressed") == "false"
    tab_to(page, text_is("Next:"), describe="the Next button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/me/steps/your-goals/pain-start/" in page.url, page.url
    shots(page, "step-2")


def test_diary_entry_with_the_keyboard_alone(signed_in, kees, shots):
    page = signed_in(kees, staff=False, viewport=PHONE).page
    page.goto("/me/diaries/activity-pain/write/")
    for moment, value in (("this morning", 4), ("this afternoon", 5), ("this evening", 6)):
        info = tab_to(page, lambda i, m=moment: i["type"] == "radio" and m in i["legend"], describe=moment)
        assert info["value"] == "0", "Tab enters an empty rating scale at its first point"
        for _ in range(value):
            page.keyboard.press("ArrowRight")
        assert_focus_visible(focused(page))
        group = page.locator("fieldset", has_text=moment)
        assert group.get_by_label(str(value), exact=True).is_checked()
    tab_to(page, lambda i: i["label"].startswith("What were your main activities"), describe="activities")
    page.keyboard.type("Shopping with my daughter")
    tab_to(page, lambda i: i["label"].startswith("How many rest breaks"), describe="rest breaks")
    page.keyboard.type("3")
    shots(page, "diary-filled")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # Enter in a field sends the form
    assert "Your diary is saved" in page.locator("main").inner_text()
    assert "/me/diaries/activity-pain/" in page.url
    shots(page, "diary-saved")


def test_energy_points_assignment_with_the_keyboard_alone(signed_in, kees, shots):
    page = signed_in(kees, staff=False, viewport=PHONE).page
    page.goto("/me/steps/pain-and-activity/energy-points/")
    remaining = page.locator("[data-energy-remaining]")
    assert remaining.get_attribute("aria-live") == "polite"
    plan = {"points_plan__1": "4", "points_plan__2": "6", "points_plan__3": "5"}
    for name, points in plan.items():
        tab_to(page, named(name), describe=name)
        page.keyboard.type(points)
    # An activity of her own: the label, then its points.
    tab_to(page, named("points_plan__own1_label"), describe="own activity")
    page.keyboard.type("Gardening")
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "points_plan__own1"
    page.keyboard.type("3")
    remaining.filter(has_text="Points left: 2").wait_for(timeout=5000)
    tab_to(page, named("rest_moments"), describe="rest breaks")
    page.keyboard.type("After lunch and after shopping")
    tab_to(page, named("first_change"), describe="first change")
    page.keyboard.type("Spread the housework over the week")
    shots(page, "energy-points-filled")
    tab_to(page, text_is("Hand in to your therapist"), describe="the hand-in button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    main = page.locator("main").inner_text()
    assert "Thank you. Your answer is sent to your therapist." in main
    assert "Gardening" in main
    shots(page, "energy-points-handed-in")


# The focused field and its ring (2px offset, 3px outline, 5px shadow) against the sticky box.
COVERED_BY_POINTS_LEFT = """() => {
    const el = document.activeElement, box = document.querySelector("[data-energy-remaining]");
    if (!el || !box || !el.closest("[data-energy-group]")) return null;
    const field = el.getBoundingClientRect(), sticky = box.getBoundingClientRect();
    return {name: el.name, covered: field.bottom + 10 > sticky.top && field.top - 10 < sticky.bottom};
}"""


def test_the_points_left_box_never_covers_the_field_with_focus(signed_in, kees):
    """WCAG 2.4.11 on a phone: the sticky "Points left" box stays below every field Tab reaches."""
    page = signed_in(kees, staff=False, viewport={"width": 390, "height": 844}).page
    page.goto("/me/steps/pain-and-activity/energy-points/")
    change = page.get_by_role("link", name="Change my answer")
    if change.count():  # handed in by the test before: open the answer again
        change.click()
        page.wait_for_load_state()
    checked = []
    for _ in range(60):
        page.keyboard.press("Tab")
        stop = page.evaluate(COVERED_BY_POINTS_LEFT)
        if stop is None:
            if checked:
                break  # past the energy fields
            continue
        assert not stop["covered"], f"the Points left box covers {stop['name']}"
        checked.append(stop["name"])
    assert len(checked) >= 10 and "points_plan__own1" in checked


def test_think_feel_do_assignment_with_the_keyboard_alone(signed_in, kees, shots):
    page = signed_in(kees, staff=False, viewport=PHONE).page
    page.goto("/me/steps/thoughts-feelings-mood/think-feel-do-rows/")
    first = page.locator("fieldset.tfd-row").first
    cells = first.locator("input, textarea")
    names = [cells.nth(i).get_attribute("name") for i in range(cells.count())]
    assert len(names) == 5, names
    answers = [
        "Pain in my back while cooking",
        "I will never be able to cook a meal again",
        "Sad and tense",
        "Stopped and lay on the couch",
        "I can cook in two parts with a rest in between",
    ]
    tab_to(page, named(names[0]), describe="the first cell of the table")
    for number, answer in enumerate(answers):
        if number:
            page.keyboard.press("Tab")  # the cells follow each other: left to right
            assert focused(page)["name"] == names[number], "Tab goes through a row in reading order"
        page.keyboard.type(answer)
    tab_to(page, lambda i: i["label"].startswith("What do you notice"), describe="what you notice")
    page.keyboard.type("My first thought is always the worst one")
    shots(page, "think-feel-do-filled")
    tab_to(page, text_is("Hand in to your therapist"), describe="the hand-in button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    main = page.locator("main").inner_text()
    assert "Thank you. Your answer is sent to your therapist." in main, main[:800]
    assert "I can cook in two parts with a rest in between" in main
    shots(page, "think-feel-do-handed-in")
