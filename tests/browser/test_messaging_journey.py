"""The message box in Chromium: the composer's autosave (server and localStorage), inserting a
template where the cursor is, feedback reaching the patient, and accessibility of both pages."""

import subprocess
import sys

import pytest

from tests.browser.conftest import ROOT, check_both_widths

pytestmark = pytest.mark.browser

ENROLL = """
from django.utils import timezone
from patients.models import Enrollment, Patient
from programs.models import ProgramVersion
patient = Patient.objects.get(user__email="pain.patient@linde.example")
version = (ProgramVersion.objects.filter(program__slug="master-your-pain", language="en")
           .order_by("-number").first())
if not Enrollment.objects.filter(patient=patient, status__in=Enrollment.OPEN_STATUSES).exists():
    Enrollment.objects.create(patient=patient, clinic=patient.clinic, version=version,
                              therapist=patient.therapist, status="active", start_date=timezone.localdate())
print(patient.pk)
"""


@pytest.fixture
def pain_patient_pk(app_server):
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", ENROLL],
        env=app_server["env"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return int(done.stdout.strip().splitlines()[-1])


def test_composer_autosaves_restores_and_inserts_templates(signed_in, pain_patient_pk, shots, a11y):
    therapist = signed_in("therapist@linde.example", staff=True)
    page = therapist.page

    # A personal template, made on its page.
    page.goto("/staff/templates/new/")
    page.get_by_label("Title").fill("Warm start")
    page.get_by_label("Text").fill("Dear {first_name}, thank you for your diary.")
    page.get_by_role("button", name="Save").click()
    assert "Warm start" in page.locator("main").inner_text()

    composer = f"/staff/patients/{pain_patient_pk}/messages/"
    page.goto(composer)
    body = page.get_by_label("Your feedback or message")
    body.fill("")
    page.get_by_label("Template or snippet").select_option(label="Warm start")
    page.get_by_role("button", name="Insert").click()
    assert body.input_value() == "Dear Petra, thank you for your diary."
    assert page.url.endswith(composer)  # inserted by the script, not by a round trip

    # Autosave: the status region says so, and the server has it after a reload.
    body.press("End")
    body.type(" You walked twice.")
    status = page.locator("[data-draft-status]")
    status.filter(has_text="Draft saved").wait_for(timeout=10000)
    assert status.get_attribute("aria-live") == "polite"
    page.reload()
    assert (
        page.get_by_label("Your feedback or message").input_value()
        == "Dear Petra, thank you for your diary. You walked twice."
    )

    # Offline: the text stays on the device and comes back when the page is opened again.
    therapist.context.set_offline(True)
    body = page.get_by_label("Your feedback or message")
    body.press("End")
    body.type(" Written offline.")
    status.filter(has_text="Not saved yet").wait_for(timeout=10000)
    therapist.context.set_offline(False)
    page.goto(composer)
    body = page.get_by_label("Your feedback or message")
    assert body.input_value().endswith("Written offline.")
    assert "restored" in page.locator("[data-draft-status]").inner_text()
    page.locator("[data-draft-status]").filter(has_text="Draft saved").wait_for(timeout=10000)
    shots(page, "composer")
    check_both_widths(page, a11y)

    # Sent as feedback: the patient reads it, beside the notice about emergencies.
    page.get_by_role("button", name="Send feedback").click()
    assert "Sent." in page.locator("main").inner_text()
    patient = signed_in("pain.patient@linde.example", staff=False, viewport={"width": 375, "height": 740})
    patient.page.goto("/me/messages/")
    text = patient.page.locator("main").inner_text()
    assert "You walked twice. Written offline." in text
    assert "Not for emergencies" in text and "call 112" in text
    shots(patient.page, "patient-conversation")
    check_both_widths(patient.page, a11y)
