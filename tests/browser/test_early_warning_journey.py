"""Weekly check-ins that do not improve reach the therapist: a patient (Wim, on Master your Pain
for five weeks) has three check-ins from earlier weeks (set up as the past: the browser cannot
travel in time) and does the fourth in the browser; the therapist's worklist flags him as "not
improving" with the figures and the rule, his page shows every score on one chart, and once the
therapist records a decision the flag is gone."""

import pytest

from tests.browser.conftest import DEMO_PASSWORD, PHONE, check_both_widths, manage

pytestmark = pytest.mark.browser

WIM = "wim.weekly@example.org"

SETUP = f"""
from datetime import timedelta
from django.utils import timezone
from icbt.models import User
from patients import services
from patients.models import Enrollment
from programs.models import ProgramVersion
from icbt.models import StaffMember

if not User.objects.filter(email="{WIM}").exists():
    tessa = StaffMember.objects.get(user__email="therapist@linde.example")
    patient = services.patient_invite(therapist=tessa, email="{WIM}", first_name="Wim", last_name="Weekly")
    patient.user.set_password("{DEMO_PASSWORD}")
    patient.user.is_active = True
    patient.user.save()
    version = (ProgramVersion.objects.filter(program__slug="master-your-pain", language="en")
               .order_by("-number").first())
    start = timezone.localdate() - timedelta(days=35)
    enrollment = services.enrollment_create(patient=patient, version=version, therapist=tessa,
                                            enrolled_by=tessa, start_date=start,
                                            feedback_weekday=start.weekday())
    Enrollment.objects.filter(pk=enrollment.pk).update(status="active", started_at=timezone.now())
    enrollment.refresh_from_db()
    for week in (1, 2, 3):
        services.check_in_submit(enrollment=enrollment, answers={{1: 7, 2: 1, 3: 1, 4: 0}},
                                 today=start + timedelta(days=7 * week))
print(User.objects.get(email="{WIM}").patient.pk)
"""


@pytest.fixture(scope="module")
def wim(app_server):
    return int(manage(app_server, "shell", "-c", SETUP).strip().splitlines()[-1])


def test_four_check_ins_that_do_not_improve_flag_the_patient_for_the_therapist(signed_in, wim, shots, a11y):
    patient = signed_in(WIM, staff=False, viewport=PHONE).page
    patient.goto("/me/")
    assert "Time for your weekly check-in" in patient.locator("main").inner_text()
    patient.get_by_role("link", name="Do my check-in").click()
    check_both_widths(patient, a11y)  # the check-in form
    patient.set_viewport_size(PHONE)
    for name, value in (("q1", "7"), ("q2", "1"), ("q3", "1"), ("q4", "0")):
        patient.locator(f'input[name="{name}"][value="{value}"]').check()
    patient.get_by_role("button", name="Send my check-in").click()
    main = patient.locator("main").inner_text()
    assert "Thank you" in main and "you rated your pain 7 out of 10" in main
    assert patient.locator("main svg.chart").count() == 1
    shots(patient, "patient-check-in-done")
    check_both_widths(patient, a11y)  # the answer and the graph

    therapist = signed_in("therapist@linde.example", staff=True).page
    therapist.goto("/staff/worklist/")
    row = therapist.locator(".work-group", has_text="Wim Weekly").locator(
        ".work-item", has_text="Early warning"
    )
    assert row.count() == 1
    text = row.inner_text()
    # The worklist names the warning and its rule; the scores are on the patient's page only
    # (the work item keeps none).
    assert "Not improving" in text and "from week 4 on" in text and "Pain: 7" not in text
    shots(therapist, "worklist-flag")
    row.get_by_role("link").first.click()
    therapist.wait_for_url(f"**/staff/patients/{wim}/**")
    therapist.wait_for_load_state()  # count() does not wait for the page it is asked about
    chart = therapist.locator("[data-scores-chart]")
    chart.wait_for()
    assert chart.locator("svg.chart").count() == 1
    assert "Pain, weekly (0-10)" in chart.inner_text() or "Pain, weekly (0-10)" in chart.inner_html()
    shots(therapist, "patient-chart")
    check_both_widths(therapist, a11y)  # the warning, its form and the chart
    warning = therapist.locator("#early-warning")
    assert "Pain: 7 at the first check-in" in warning.inner_text()
    warning.get_by_label("call the patient").check()
    warning.get_by_role("button", name="Record the decision").click()
    assert "Your decision is recorded" in therapist.locator("main").inner_text()
    therapist.goto("/staff/worklist/")
    assert (
        therapist.locator(".work-group", has_text="Wim Weekly")
        .locator(".work-item", has_text="Early warning")
        .count()
        == 0
    )
