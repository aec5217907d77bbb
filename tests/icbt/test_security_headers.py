"""Security headers on every page; pages with patient data are never cached."""

import re

import pytest
from django.urls import reverse


def _csp(response):
    return {
        directive.split()[0]: directive.split()[1:]
        for directive in (part.strip() for part in response["Content-Security-Policy"].split(";"))
        if directive
    }


@pytest.fixture
def patient_page(world, client):
    """A staff page that shows a patient's data."""
    client.force_login(world.therapist.user)
    response = client.get(reverse("patients:staff_patient_detail", args=[world.patient_a.pk]))
    assert response.status_code == 200
    assert world.patient_a.user.email in response.content.decode()
    return response


def test_content_security_policy(patient_page):
    csp = _csp(patient_page)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    policy = patient_page["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert "http:" not in policy and "https:" not in policy and "*" not in policy


def test_no_framing(patient_page):
    assert patient_page["X-Frame-Options"] == "DENY"


def test_patient_data_is_never_cached(patient_page):
    assert "no-store" in patient_page["Cache-Control"]
    assert "Expires" not in patient_page or patient_page["Expires"]


def test_the_patients_own_pages_are_not_cached(world, client):
    client.force_login(world.patient_a.user)
    for name in ("patients:home", "patients:access_log"):
        assert "no-store" in client.get(reverse(name))["Cache-Control"]


def test_no_sniffing_and_a_strict_referrer(patient_page):
    assert patient_page["X-Content-Type-Options"] == "nosniff"
    assert patient_page["Referrer-Policy"] == "same-origin"
    assert patient_page["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in patient_page["Permissions-Policy"]


@pytest.mark.parametrize("url", ["/", "/accounts/login/", "/healthz", "/no-such-page/"])
def test_every_response_carries_the_headers(url, db, client):
    response = client.get(url)
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]


def test_error_pages_carry_the_headers(world, client):
    client.force_login(world.therapist2.user)
    response = client.get(reverse("patients:staff_patient_detail", args=[world.patient_a.pk]))
    assert response.status_code == 403
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "no-store" in response["Cache-Control"]


# A JSON data block (<script type="application/json">, as allauth uses) is not run: allowed.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
INLINE_STYLE = re.compile(r"<style\b|<[^>]+\sstyle\s*=", re.I)


def test_our_pages_need_nothing_the_policy_blocks(world, client_for):
    """No inline scripts, event handlers or styles: the policy would block them and the page
    would silently break."""
    pages = [
        (None, reverse("home")),
        (None, reverse("account_login")),
        (None, reverse("account_reset_password")),
        (world.patient_a.user, reverse("patients:home")),
        (world.patient_a.user, reverse("patients:access_log")),
        (world.patient_a.user, reverse("personal_settings")),
        (world.therapist.user, reverse("patients:staff_patient_list")),
        (world.therapist.user, reverse("patients:staff_patient_invite")),
        (world.therapist.user, reverse("patients:staff_patient_detail", args=[world.patient_a.pk])),
        (world.manager.user, reverse("therapists:clinic_overview")),
        (world.admin.user, reverse("therapists:staff_list")),
        (world.admin.user, reverse("therapists:staff_invite")),
        (world.admin.user, reverse("therapists:audit_search") + "?staff_member="),
        (world.therapist.user, reverse("mfa_index")),
    ]
    from tests.factories import TEST_PASSWORD

    second_step = client_for(None)
    second_step.post(reverse("account_login"), {"login": world.manager.user.email, "password": TEST_PASSWORD})
    problems = []
    for user, url in [*pages, (second_step, reverse("mfa_authenticate"))]:
        client = user if user is second_step else client_for(user)
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for name, pattern in (
            ("inline script", INLINE_SCRIPT),
            ("event handler", INLINE_HANDLER),
            ("inline style", INLINE_STYLE),
        ):
            match = pattern.search(html)
            if match:
                problems.append(f"{url}: {name}: {match.group(0)[:80]}")
    assert not problems, "\n".join(problems)
