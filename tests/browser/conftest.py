"""Browser journeys: Debian's Chromium driven by Playwright, against the app served on
localhost with the demo data, signed into as a person would (password, then a TOTP code).

The app runs in its own process with its own SQLite database in a temporary folder (the same
embedded defaults as `make run`), migrated, loaded with the programs and seeded with the demo.
Screenshots go to test-artifacts/screenshots/<test name>/.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyotp
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("ICBT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DEMO_PASSWORD = "demo-icbt-2026"
DEMO_TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
AXE = ROOT / "tests" / "browser" / "vendor" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 860}

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """The application with the demo data, served by runserver on a free port."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package (bash .ci/run does).")
    var = tmp_path_factory.mktemp("browser-app")
    env = {
        **os.environ,
        "DJANGO_DEBUG": "true",
        "ICBT_TESTING": "false",
        "ICBT_VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'icbt.sqlite3'}",
        "EMAIL_URL": f"file://{var / 'mail'}",
        "ICBT_MASTER_KEY": "YnJvd3Nlci10ZXN0cy1tYXN0ZXIta2V5LTMyLWJ5dGU=",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "DJANGO_ALLOW_ASYNC_UNSAFE": "true",
    }
    env.pop("REDIS_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["migrate", "--noinput", "-v0"], ["load_programs"], ["seed_demo"]):
        subprocess.run(manage + command, env=env, cwd=ROOT, check=True, capture_output=True, timeout=600)
    port = _free_port()
    log = open(var / "server.log", "wb")  # noqa: SIM115 - closed after the session
    server = subprocess.Popen(manage + ["runserver", f"127.0.0.1:{port}", "--noreload"], env=env, cwd=ROOT,
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2).read()
            break
        except Exception:  # noqa: BLE001 - not up yet
            if server.poll() is not None or time.time() > deadline:
                log.close()
                pytest.fail("The app server did not start:\n" + (var / "server.log").read_text()[-3000:])
            time.sleep(0.3)
    yield {"base": base, "var": var, "env": env}
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Session:
    """A signed-in person in the browser. Signs in once per person per test session: allauth
    accepts each TOTP code only once per 30-second step, so a second sign-in would have to wait."""

    def __init__(self, chromium, base, email, storage_state, viewport):
        self.context = chromium.new_context(base_url=base, viewport=viewport, storage_state=storage_state)
        self.page = self.context.new_page()
        self.email = email

    def close(self):
        self.context.close()


@pytest.fixture(scope="session")
def _storage_states():
    return {}


def totp_now() -> str:
    return pyotp.TOTP(DEMO_TOTP).now()


def sign_in(page, email, *, staff: bool):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if staff:
        page.get_by_label("Code").fill(totp_now())
        page.get_by_role("button", name="Sign In").or_(page.get_by_role("button", name="Sign in")).first.click()
    page.wait_for_load_state()


@pytest.fixture
def signed_in(chromium, app_server, _storage_states):
    """signed_in(email, staff=True/False, viewport=PHONE|DESKTOP) -> Session."""
    opened = []

    def _open(email, *, staff, viewport=DESKTOP):
        state = _storage_states.get(email)
        session = Session(chromium, app_server["base"], email, state, viewport)
        if state is None:
            sign_in(session.page, email, staff=staff)
            assert "/accounts/login" not in session.page.url, f"sign-in failed for {email}"
            _storage_states[email] = session.context.storage_state()
        opened.append(session)
        return session

    yield _open
    for session in opened:
        session.close()


@pytest.fixture
def anonymous(chromium, app_server):
    context = chromium.new_context(base_url=app_server["base"], viewport=PHONE)
    yield context.new_page()
    context.close()


@pytest.fixture
def shots(request):
    """shots(page, name): a full-page screenshot into test-artifacts/screenshots/<test>/."""
    folder = SCREENSHOTS / request.node.name.replace("/", "_")
    folder.mkdir(parents=True, exist_ok=True)

    def _shot(page, name):
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return _shot


def axe_violations(page) -> list[dict]:
    """Serious and critical WCAG 2.1 A/AA violations on the current page (axe-core)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def a11y():
    """a11y(page): asserts zero serious or critical axe violations at the page's current width."""

    def _check(page):
        violations = axe_violations(page)
        assert not violations, f"axe on {page.url}: {violations}"

    return _check


def check_both_widths(page, a11y):
    """Runs axe at a phone width and a desktop width on the page that is open."""
    for viewport in (PHONE, DESKTOP):
        page.set_viewport_size(viewport)
        a11y(page)
