"""What the browser keeps on a device, in Chromium on the demo data: two patients of different
clinics share one browser profile, and a diary sent while the server cannot save comes back on
the form for the patient to send."""

import json
import re

import pytest

from tests.browser.conftest import DESKTOP, sign_in

pytestmark = pytest.mark.browser

# Two patients of different clinics, both in module 1 of Master your Fatigue.
LINDE = "fatigue.patient@linde.example"
NOORDERZON = "patient@noorderzon.example"
STEP = "/me/steps/getting-started/my-fatigue-cycle/"
FIELD = "How do you sleep and rest now?"
SECRET = "Linde patient: I sleep badly since the divorce"
DRAFT_KEYS = "() => Object.keys(localStorage).filter(k => k.startsWith('icbt-draft'))"


def _fresh_page(chromium, app_server):
    context = chromium.new_context(base_url=app_server["base"], viewport=DESKTOP)
    context.set_default_timeout(15000)
    return context, context.new_page()


def _sign_out(page):
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()


def test_a_shared_browser_never_gives_one_patients_text_to_the_next(chromium, app_server, shots):
    context, page = _fresh_page(chromium, app_server)
    try:
        # Patient 1 types, and the text does not reach the server (the autosave cannot get through).
        sign_in(page, LINDE, staff=False)
        page.route("**/draft/", lambda route: route.abort())
        page.goto(STEP)
        page.get_by_label(FIELD).fill(SECRET)
        page.wait_for_function(f"() => ({DRAFT_KEYS})().length > 0")
        kept = page.evaluate(
            "() => Object.fromEntries(Object.keys(localStorage)"
            ".filter(k => k.startsWith('icbt-draft')).map(k => [k, localStorage.getItem(k)]))"
        )
        owner = page.locator('meta[name="icbt-draft-owner"]').get_attribute("content")
        assert owner and all(key.startswith(f"icbt-draft:{owner}:") for key in kept)
        assert not any(LINDE in key or "fatigue.patient" in key for key in kept)
        assert any(SECRET in value for value in kept.values())
        page.unroute("**/draft/")

        # Signing out clears the browser's storage: the server's Clear-Site-Data alone does it
        # (the script's own clean-up at sign-out is switched off here to show that).
        page.evaluate("() => document.querySelector('form[data-sign-out]').removeAttribute('data-sign-out')")
        _sign_out(page)
        assert page.evaluate(DRAFT_KEYS) == []

        # A session that ends without a sign-out (the browser closed) leaves the copy behind:
        # put it back, as such a browser would still have it.
        page.evaluate(
            "(kept) => { for (const [k, v] of Object.entries(kept)) localStorage.setItem(k, v); }", kept
        )
        assert len(page.evaluate(DRAFT_KEYS)) == len(kept)

        # Patient 2, of another clinic, signs in on the same browser and opens the same step.
        drafts_sent = []
        page.on(
            "request",
            lambda request: (
                drafts_sent.append(request.post_data or "")
                if request.method == "POST" and request.url.endswith("/draft/")
                else None
            ),
        )
        sign_in(page, NOORDERZON, staff=False)
        assert "/accounts/login" not in page.url
        page.goto(STEP)
        page.wait_for_load_state("networkidle")
        main = page.locator("main").inner_text()
        assert SECRET not in main and page.get_by_label(FIELD).input_value() != SECRET
        assert "We put back what you typed" not in main
        assert "did not reach us yet" not in main
        assert not any(SECRET in body for body in drafts_sent)
        # The other patient's copy is gone from the device, and nothing of it is in the record.
        assert page.evaluate(DRAFT_KEYS) == []
        page.reload()
        assert page.get_by_label(FIELD).input_value() != SECRET
        shots(page, "second-patient-step")

        # A copy under patient 2's own key that another owner wrote is not used either.
        own = page.locator('meta[name="icbt-draft-owner"]').get_attribute("content")
        assert own != owner
        scope = page.locator("[data-autosave]").get_attribute("data-autosave-key")
        forged = json.loads(next(v for v in kept.values() if SECRET in v))
        page.evaluate(
            "([key, value]) => localStorage.setItem(key, value)",
            [f"icbt-draft:{own}:{scope}", json.dumps(forged)],
        )
        page.reload()
        page.wait_for_load_state("networkidle")
        assert page.get_by_label(FIELD).input_value() != SECRET
        assert not any(SECRET in body for body in drafts_sent)
        assert page.evaluate(DRAFT_KEYS) == []

        # Signing out clears patient 2's copies too.
        page.get_by_label(FIELD).fill("Noorderzon patient's own words")
        page.wait_for_function(f"() => ({DRAFT_KEYS})().length > 0")
        _sign_out(page)
        assert page.evaluate(DRAFT_KEYS) == []
    finally:
        context.close()


def test_a_diary_the_server_could_not_save_comes_back_on_the_form_and_is_sent(
    chromium, app_server, shots, a11y
):
    write_url = "/me/diaries/activity/write/"
    note = "Written while the server could not save: a short walk, then rest"
    context, page = _fresh_page(chromium, app_server)
    try:
        sign_in(page, LINDE, staff=False)
        page.goto(write_url)
        for legend, value in (("this morning", "6"), ("this afternoon", "7"), ("this evening", "5")):
            page.locator("fieldset", has_text=legend).get_by_label(value, exact=True).check()
        page.get_by_label("physically active").fill("2")
        page.get_by_label("use your head").fill("3")
        page.get_by_label("walk or cycle").fill("20")
        page.get_by_label("Anything you want to note?").fill(note)

        # The database is down: the server answers 503.
        def outage(route):
            if route.request.method == "POST":
                route.fulfill(status=503, content_type="text/html", body="<h1>We cannot save right now</h1>")
            else:
                route.continue_()

        page.route(re.compile(re.escape(write_url) + "$"), outage)
        with page.expect_navigation():
            page.get_by_role("button", name="Save my diary").click()
        assert "We cannot save right now" in page.content()
        page.unroute(re.compile(re.escape(write_url) + "$"))

        # Back on the form: what was typed is there, with a notice; nothing was sent for them.
        posts = []
        page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
        page.goto(write_url)
        notice = page.locator(".local-copy-notice")
        notice.wait_for()
        assert "did not reach us yet" in notice.inner_text()
        assert page.get_by_label("Anything you want to note?").input_value() == note
        assert page.get_by_label("walk or cycle").input_value() == "20"
        assert page.locator("fieldset", has_text="this afternoon").get_by_label("7", exact=True).is_checked()
        page.wait_for_timeout(2000)
        assert posts == []  # never sent without the patient's choice
        a11y(page)
        shots(page, "diary-put-back")

        # The patient sends it.
        with page.expect_navigation():
            page.get_by_role("button", name="Save my diary").click()
        assert "Your diary is saved" in page.locator("main").inner_text()
        page.wait_for_load_state()
        assert page.evaluate(DRAFT_KEYS) == []
        page.goto(write_url)
        assert page.get_by_label("Anything you want to note?").input_value() == note
        assert page.locator(".local-copy-notice").count() == 0
        shots(page, "diary-sent")
    finally:
        context.close()


def test_a_put_back_copy_can_be_removed(chromium, app_server):
    write_url = "/me/diaries/sleep-wake/write/"
    context, page = _fresh_page(chromium, app_server)
    try:
        sign_in(page, LINDE, staff=False)
        page.goto(write_url)
        before = page.get_by_label("Anything you want to note?").input_value()
        page.get_by_label("Anything you want to note?").fill("A note I changed my mind about")
        page.wait_for_function(f"() => ({DRAFT_KEYS})().length > 0")
        page.goto(write_url)
        page.locator(".local-copy-notice").wait_for()
        assert (
            page.get_by_label("Anything you want to note?").input_value() == "A note I changed my mind about"
        )
        page.get_by_role("button", name="Remove what was put back").click()
        assert page.get_by_label("Anything you want to note?").input_value() == before
        assert page.locator(".local-copy-notice").count() == 0
        assert page.evaluate(DRAFT_KEYS) == []
        page.reload()
        assert page.locator(".local-copy-notice").count() == 0
    finally:
        context.close()
