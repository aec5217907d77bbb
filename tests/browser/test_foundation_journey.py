"""Signing in as staff (password + TOTP) and as a patient; what each may see."""

import pytest

from tests.browser.conftest import check_both_widths

pytestmark = pytest.mark.browser


def test_therapist_signs_in_with_a_second_factor_and_sees_only_their_patients(signed_in, shots, a11y):
    session = signed_in("therapist@linde.example", staff=True)
    page = session.page
    page.goto("/staff/patients/")
    shots(page, "patient-list")
    names = page.locator("table tbody tr").all_inner_texts()
    assert any("Petra" in n for n in names) and any("Frank" in n for n in names)
    assert not any("Noah" in n for n in names), "a patient of another clinic is listed"
    check_both_widths(page, a11y)


def test_login_page_is_accessible_and_asks_no_sign_up(anonymous, shots, a11y):
    anonymous.goto("/accounts/login/")
    shots(anonymous, "login")
    assert "sign up" not in anonymous.content().lower()
    check_both_widths(anonymous, a11y)


def test_patient_sees_who_looked_at_their_file(signed_in, shots, a11y):
    therapist = signed_in("therapist@linde.example", staff=True)
    therapist.page.goto("/staff/patients/")
    therapist.page.get_by_role("link", name="Petra Smit").click()
    patient = signed_in("pain.patient@linde.example", staff=False, viewport={"width": 375, "height": 740})
    patient.page.goto("/me/access-log/")
    shots(patient.page, "access-log")
    assert "T. Bakker" in patient.page.locator("main").inner_text()  # as Who looked at my file names staff
    check_both_widths(patient.page, a11y)
