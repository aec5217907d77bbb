"""The main pages at a phone (390 px, a common phone today) and a desktop width: none is wider
than the screen, and each is photographed, the audit log and "Who looked at my file" among them.
`bin/screenshots` writes the photographs into docs/screenshots/ (the README shows four of them);
an ordinary test run writes them into test-artifacts/ and leaves docs/ alone."""

import os
from pathlib import Path

import pytest

from tests.browser.conftest import DESKTOP, SCREENSHOTS

pytestmark = pytest.mark.browser

FOLDER = Path(os.environ.get("ICBT_SCREENSHOTS_DIR") or SCREENSHOTS / "main-pages")
PHONE = {"width": 390, "height": 844}
WIDER_THAN_THE_SCREEN = "() => document.documentElement.scrollWidth > window.innerWidth + 1"
PATIENT_PAGES = {
    "patient-home": "/me/",
    "step": "/me/steps/pain-and-activity/energy-points/",
    "diary-form": "/me/diaries/activity-pain/write/",
    "messages": "/me/messages/",
}
STAFF_PAGES = {"worklist": "/staff/worklist/", "patient-list": "/staff/patients/"}


def _photograph(page, name, viewport):
    assert not page.evaluate(WIDER_THAN_THE_SCREEN), (
        f"{name} is wider than the screen at {viewport['width']}px"
    )
    FOLDER.mkdir(parents=True, exist_ok=True)
    path = FOLDER / f"{name}-{'phone' if viewport is PHONE else 'desktop'}.png"
    page.screenshot(path=str(path), full_page=True)
    _shrink(path)


def _shrink(path):
    """A palette of 256 colours: the pages are flat colours and text, and the files stay small
    enough to keep in the repository."""
    from PIL import Image

    with Image.open(path) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_main_pages_fit_the_screen(signed_in, anonymous, viewport):
    anonymous.set_viewport_size(viewport)
    anonymous.goto("/accounts/login/")
    _photograph(anonymous, "sign-in", viewport)
    patient = signed_in("pain.patient@linde.example", staff=False, viewport=viewport).page
    for name, url in PATIENT_PAGES.items():
        patient.goto(url)
        _photograph(patient, name, viewport)
    therapist = signed_in("therapist@linde.example", staff=True, viewport=viewport).page
    for name, url in STAFF_PAGES.items():
        therapist.goto(url)
        _photograph(therapist, name, viewport)
    therapist.get_by_role("link", name="Petra Smit").first.click()
    therapist.goto(therapist.url.rstrip("/") + "/messages/")
    _photograph(therapist, "composer", viewport)
    manager = signed_in("manager@linde.example", staff=True, viewport=viewport).page
    manager.goto("/staff/dashboard/")
    _photograph(manager, "dashboard", viewport)
    admin = signed_in("admin@linde.example", staff=True, viewport=viewport).page
    admin.goto("/staff/clinic/look/")
    _photograph(admin, "clinic-look", viewport)
    # The audit log searched for one patient, and what that patient sees of the same events:
    # the therapist opened Petra's file and messages above.
    admin.goto("/staff/audit/?patient=Petra+Smit")
    _photograph(admin, "audit-log", viewport)
    patient.goto("/me/access-log/")
    _photograph(patient, "who-looked", viewport)
