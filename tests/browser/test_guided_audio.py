"""Guided audio in Chromium: a patient plays the calm-breathing exercise as a guided text (parts
advance on their timers, pause holds the part, going on continues), a clinic admin records a part
with a (fake) microphone, listens back, records it again, keeps it and publishes the recording;
then the patient's step plays the recording instead of the guided text.

A patient of her own (Rita, on Master your Pain with module 3 opened), so the demo patients that
other tests rely on keep their state; the clinic's recording is removed again at the end.
Timers run on Playwright's clock, so the test does not wait out the exercise's silences.
"""

import re

import pytest

from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    manage,
    own_patient_setup,
    sign_in,
)

pytestmark = pytest.mark.browser

RITA = "rita.relax@example.org"
ADMIN = "admin@linde.example"
STEP_KEY = "master-your-pain/relaxation/calm-breathing"
STEP_URL = "/me/steps/relaxation/calm-breathing/"
FAKE_MEDIA = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]

SETUP = own_patient_setup(RITA, "Rita", "Smit", opened_modules=(3,))

# The other parts were recorded earlier: copies of the part the test records.
OTHER_PARTS = f"""
from django.core.files.base import ContentFile
from programs.models import StepMediaPart

first = StepMediaPart.objects.get(step_key="{STEP_KEY}", language="en", published=False, position=1)
data = first.file.read()
for number in range(2, COUNT + 1):
    part = StepMediaPart(clinic_id=first.clinic_id, step_key=first.step_key, language="en", position=number)
    part.file.save(f"part-{{number}}.webm", ContentFile(data))
"""

CLEAN_UP = f"""
from programs.models import StepMedia, StepMediaPart
StepMediaPart.objects.filter(step_key="{STEP_KEY}").delete()
StepMedia.objects.filter(step_key="{STEP_KEY}").delete()
"""


@pytest.fixture(scope="module")
def rita(app_server):
    manage(app_server, "shell", "-c", SETUP)
    return RITA


@pytest.fixture
def media_browser(app_server, playwright_session):
    """Chromium with a fake microphone and camera that need no permission prompt."""
    browser = playwright_session.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + FAKE_MEDIA)
    yield browser
    browser.close()
    manage(app_server, "shell", "-c", CLEAN_UP)


def _page(browser, app_server, states, email, *, staff, viewport):
    """A signed-in page (signing in once per person per test session, like conftest.Session)."""
    context = browser.new_context(
        base_url=app_server["base"], viewport=viewport, storage_state=states.get(email)
    )
    context.set_default_timeout(15000)
    page = context.new_page()
    if email not in states:
        sign_in(page, email, staff=staff)
        assert "/accounts/login" not in page.url, f"sign-in failed for {email}"
        states[email] = context.storage_state()
    return page


def _current(page) -> str:
    return page.locator(".guided-segment.is-current").get_attribute("id")


def _run_until(page, status, text, *, limit_seconds=120):
    for _second in range(limit_seconds):
        if text in status.inner_text():
            return
        page.clock.run_for(1000)
    raise AssertionError(f"still {status.inner_text()!r}, waited for {text!r}")


def _patient_plays_the_guided_exercise(page, a11y, shots):
    page.goto(STEP_URL)
    player = page.locator("[data-guided-player]")
    segments = player.locator(".guided-segment")
    count = segments.count()
    assert count >= 10 and segments.nth(1).is_visible()  # before Start: the whole text
    a11y(page)
    status = player.locator("[data-player-status]")
    assert status.get_attribute("aria-live") == "polite"

    page.get_by_role("button", name="Start", exact=True).click()
    assert status.inner_text() == f"Part 1 of {count}"
    assert _current(page) == "part-1" and not segments.nth(1).is_visible()
    shots(page, "guided-part-1")
    _run_until(page, status, "Quiet for")
    _run_until(page, status, f"Part 2 of {count}")
    assert _current(page) == "part-2" and not segments.nth(0).is_visible()

    page.get_by_role("button", name="Pause", exact=True).click()
    assert status.inner_text() == "Paused"
    page.clock.run_for(300_000)
    assert _current(page) == "part-2" and status.inner_text() == "Paused"

    page.get_by_role("button", name="Go on").focus()
    page.keyboard.press("Enter")  # the keyboard works too
    _run_until(page, status, f"Part 3 of {count}")
    page.get_by_role("button", name="Start again").click()
    assert _current(page) == "part-1"
    return count


def _admin_records_part_one(page, count, shots):
    page.goto("/staff/programs/recordings/")
    row = page.locator("tr", has_text="Master your Pain (en)").filter(has_text="Calm breathing")
    row.get_by_role("link", name=re.compile("^Record")).click()
    part = page.locator("#part-1")
    part.wait_for()  # count() does not wait for the page the click opens
    assert page.locator(".studio-part").count() == count
    assert not part.get_by_role("button", name="Stop", exact=True).is_visible()
    assert not part.get_by_role("button", name="Keep this take").is_visible()

    for _take in range(2):  # record, listen, and record again
        (
            part.get_by_role("button", name="Record part 1")
            if _take == 0
            else part.get_by_role("button", name="Record again")
        ).click()
        part.get_by_text("Recording…").wait_for()
        page.wait_for_timeout(1500)
        part.get_by_role("button", name="Stop", exact=True).click()
        take = part.locator("[data-take]")
        take.wait_for(state="visible")
        page.wait_for_function("el => el.src.startsWith('blob:')", arg=take.element_handle())
        played = page.evaluate(
            """el => el.play().then(() => new Promise(r => setTimeout(() => r(el.currentTime), 500)))""",
            take.element_handle(),
        )
        assert played > 0, "the take does not play back"
        page.evaluate("el => el.pause()", take.element_handle())
    shots(page, "studio-take")
    # Keeping sets the part's fragment (a navigation within the page) and then reloads: wait for
    # the reload's load event, not the first navigation, or the old page is read.
    with page.expect_event("load"):
        part.get_by_role("button", name="Keep this take").click()
    part = page.locator("#part-1")
    assert "New recording, not published yet" in part.inner_text()
    saved = part.get_by_label("Listen to the new recording").get_attribute("src")
    head = page.evaluate(
        "url => fetch(url).then(r => r.arrayBuffer()).then(b => Array.from(new Uint8Array(b.slice(0, 4))))",
        saved,
    )
    assert head == [0x1A, 0x45, 0xDF, 0xA3]  # a WebM recording reached the server


def test_patient_plays_the_guided_exercise_and_then_hears_the_clinics_recording(
    media_browser, app_server, _storage_states, rita, a11y, shots
):
    patient = _page(media_browser, app_server, _storage_states, rita, staff=False, viewport=PHONE)
    patient.clock.install()
    count = _patient_plays_the_guided_exercise(patient, a11y, shots)

    admin = _page(media_browser, app_server, _storage_states, ADMIN, staff=True, viewport=DESKTOP)
    _admin_records_part_one(admin, count, shots)
    manage(app_server, "shell", "-c", f"COUNT = {count}\n" + OTHER_PARTS)
    admin.reload()
    admin.get_by_role("button", name="Publish this recording").click()
    assert "The recording is published" in admin.locator("main").inner_text()
    assert "recorded part by part" in admin.locator("main").inner_text()

    patient.goto(STEP_URL)
    player = patient.locator("[data-guided-player]")
    assert "guided-player-recorded" in player.get_attribute("class")
    assert patient.get_by_label("Read aloud slowly").count() == 0
    assert player.locator("audio").count() == count
    a11y(patient)
    shots(patient, "recorded")
    patient.clock.resume()
    first = player.locator("#part-1 audio")
    patient.get_by_role("button", name="Start", exact=True).click()
    patient.wait_for_function("el => !el.paused && el.currentTime > 0", arg=first.element_handle())
    assert player.locator("[data-player-status]").inner_text() == f"Part 1 of {count}"
