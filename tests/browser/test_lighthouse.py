"""Lighthouse (npm `lighthouse`, from the project's node_modules, `npm ci`) on the patient home, a
step page, the diary form, the worklist, the composer and the dashboard, with its phone profile,
against the live app: accessibility at least 98, best practices at least 95, performance at least
90. Debian's Chromium runs it (CHROME_PATH); the signed-in pages get the person's session cookie. The scores
go to test-artifacts/lighthouse.json."""

import json
import os
import subprocess

import pytest

from tests.browser.conftest import CHROMIUM, ROOT, SCREENSHOTS

pytestmark = pytest.mark.browser

LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
MINIMUM = {"accessibility": 98, "best-practices": 95, "performance": 90}


def _cookie_header(session) -> str:
    return "; ".join(f"{c['name']}={c['value']}" for c in session.context.cookies())


def lighthouse_scores(url: str, cookie: str, out) -> dict[str, int]:
    """The scores (0-100) of one page, and the failing audits' titles in the report beside it."""
    if not LIGHTHOUSE.exists():
        pytest.fail("Lighthouse is not installed: run `npm ci` in the project folder (make test does).")
    report = out.with_suffix(".json")
    done = subprocess.run(
        [
            str(LIGHTHOUSE),
            url,
            "--quiet",
            "--output=json",
            f"--output-path={report}",
            "--only-categories=accessibility,best-practices,performance",
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
            f"--extra-headers={json.dumps({'Cookie': cookie})}",
        ],
        env={**os.environ, "CHROME_PATH": CHROMIUM},
        timeout=180,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"Lighthouse failed on {url}:\n{done.stderr[-3000:]}"
    categories = json.loads(report.read_text(encoding="utf-8"))["categories"]
    return {key: round(category["score"] * 100) for key, category in categories.items()}


def _failing(report_path) -> list[str]:
    audits = json.loads(report_path.read_text(encoding="utf-8"))["audits"]
    return sorted(a["id"] for a in audits.values() if a.get("score") is not None and a["score"] < 0.9)


def test_lighthouse_on_the_main_pages_with_a_phone(signed_in, app_server, tmp_path):
    base = app_server["base"]
    patient = signed_in("pain.patient@linde.example", staff=False)
    therapist = signed_in("therapist@linde.example", staff=True)
    therapist.page.goto("/staff/patients/")
    therapist.page.get_by_role("link", name="Petra Smit").first.click()
    composer = therapist.page.url.removeprefix(base).rstrip("/") + "/messages/"
    manager = signed_in("manager@linde.example", staff=True)
    pages = {
        "patient-home": (patient, "/me/"),
        "step": (patient, "/me/steps/pain-and-activity/energy-points/"),
        "diary-form": (patient, "/me/diaries/activity-pain/write/"),
        "worklist": (therapist, "/staff/worklist/"),
        "composer": (therapist, composer),
        "dashboard": (manager, "/staff/dashboard/"),
    }
    below, measured = {}, {}
    for name, (session, path) in pages.items():
        scores = measured[name] = lighthouse_scores(base + path, _cookie_header(session), tmp_path / name)
        low = {key: score for key, score in scores.items() if score < MINIMUM[key]}
        if low:
            below[name] = {"scores": low, "audits": _failing(tmp_path / f"{name}.json")}
    SCREENSHOTS.parent.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS.parent / "lighthouse.json").write_text(json.dumps(measured, indent=1), encoding="utf-8")
    assert not below, json.dumps({"below": below, "measured": measured}, indent=1)
