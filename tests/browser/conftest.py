"""Browser journeys: Debian's Chromium driven by Playwright, against the app served on
localhost with the demo data, signed into as a person would (password, then a TOTP code).

The app runs in its own process with its own SQLite database in a temporary folder (the same
embedded defaults as `make run`), migrated, loaded with the programs and seeded with the demo.
Screenshots go to test-artifacts/screenshots/<test name>/.
"""

import contextlib
import email
import email.policy
import functools
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("ICBT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Without DEBUG the session and CSRF cookies are __Host- cookies (icbt/settings.py).
PRODUCTION_COOKIE_NAMES = {"sessionid": "__Host-sessionid", "csrftoken": "__Host-csrftoken"}
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
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's chromium package (bash .ci/run does)."
        )
    var = tmp_path_factory.mktemp("browser-app")
    env = {
        **os.environ,
        "DJANGO_DEBUG": "true",
        "ICBT_TESTING": "false",
        "ICBT_VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'icbt.sqlite3'}",
        "EMAIL_URL": f"file://{var / 'mail'}",
        "ICBT_MASTER_KEY": "YnJvd3Nlci10ZXN0cy1tYXN0ZXIta2V5LTMyLWJ5dGU=",
        # Shared with production_server, so that sessions signed in here are valid there too.
        "DJANGO_SECRET_KEY": "browser-tests-secret-key-only-for-this-local-test-server-0123456789",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "DJANGO_ALLOW_ASYNC_UNSAFE": "true",
    }
    env.pop("REDIS_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["migrate", "--noinput", "-v0"], ["load_programs"], ["seed_demo"]):
        subprocess.run(manage + command, env=env, cwd=ROOT, check=True, capture_output=True, timeout=600)
    with _serving(env, var / "server.log") as base:
        yield {"base": base, "var": var, "env": env}


@pytest.fixture(scope="session")
def production_server(app_server):
    """The same app and database as app_server, set up as in production: DEBUG off, static files
    collected, fingerprinted and pre-compressed, served by WhiteNoise with long cache lifetimes.
    For measurements (Lighthouse). Signed-in sessions carry over under the production cookie
    names (PRODUCTION_COOKIE_NAMES)."""
    env = {
        **app_server["env"],
        "DJANGO_DEBUG": "false",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run(manage + ["collectstatic", "--noinput", "-v0"], env=env, cwd=ROOT, check=True, timeout=300)
    with _serving(env, app_server["var"] / "production-server.log") as base:
        yield {"base": base, "env": env}


@contextlib.contextmanager
def _serving(env, log_path):
    """runserver on a free port with env, until the block ends; yields its base URL."""
    manage = [sys.executable, str(ROOT / "manage.py")]
    port = _free_port()
    log = open(log_path, "wb")  # noqa: SIM115 - closed when serving ends
    server = subprocess.Popen(
        manage + ["runserver", f"127.0.0.1:{port}", "--noreload"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2).read()
            break
        except Exception:  # noqa: BLE001 - not up yet
            if server.poll() is not None or time.time() > deadline:
                log.close()
                pytest.fail("The app server did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.3)
    try:
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="session")
def playwright_session():
    """One Playwright per test process: its sync API keeps an event loop running, so a second
    ``sync_playwright()`` in the same process is refused."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def chromium(playwright_session):
    browser = playwright_session.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


class Session:
    """A signed-in person in the browser. Signs in once per person per test session: allauth
    accepts each TOTP code only once per 30-second step, so a second sign-in would have to wait."""

    def __init__(self, chromium, base, email, storage_state, viewport):
        self.context = chromium.new_context(base_url=base, viewport=viewport, storage_state=storage_state)
        self.context.set_default_timeout(15000)
        self.page = self.context.new_page()
        self.page.icbt_who = role_of(email)  # for visit(): axe runs once per role and kind of page
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
        for attempt in range(2):
            page.get_by_label("Code").fill(totp_now())
            page.get_by_role("button", name=re.compile("^Sign in$", re.IGNORECASE)).first.click()
            page.wait_for_load_state()
            if "/accounts/2fa/authenticate" not in page.url or attempt:
                break
            # The code turned over between typing and checking (allauth accepts the current
            # 30-second step only): the next step's code, as a person would type it again.
            time.sleep(30.5 - time.time() % 30)
    page.wait_for_load_state()


def open_nav_link(page, name):
    """Follow a link of the main navigation, opening the menu first where the screen is narrow."""
    header = page.locator("header")
    button = header.locator("[data-menu-button]")
    if button.is_visible() and button.get_attribute("aria-expanded") == "false":
        button.click()
    with page.expect_navigation():
        header.get_by_role("link", name=name).click()


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
    context.set_default_timeout(15000)
    yield context.new_page()
    context.close()


@pytest.fixture
def shots(request):
    """shots(page, name): a full-page screenshot into test-artifacts/screenshots/<test>/."""
    folder = SCREENSHOTS / request.node.name.replace("/", "_")
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):  # an earlier run's screenshots would mislead
        old.unlink()

    def _shot(page, name):
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return _shot


@functools.cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def axe_violations(page) -> list[dict]:
    """Serious and critical WCAG 2.1 A/AA violations on the current page (axe-core)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    result = page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag',"
        " values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']})"
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
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


# --- Helpers of the journeys, the keyboard tests and the page checks --------------------

_NUMBER = re.compile(r"/\d+(?=/|$|\.)")
_UUID = re.compile(r"/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?=/|$)")
_TOKEN = re.compile(r"/[A-Za-z0-9_:-]{30,}(?=/|$)")  # invitation and unsubscribe links


# The demo's staff by role; anyone else signed in is a patient (the journeys invite new ones).
STAFF_ROLES = {
    "admin@linde.example": "clinic admin",
    "manager@linde.example": "manager",
    "therapist@linde.example": "therapist",
    "therapist2@linde.example": "therapist",
    "owner@noorderzon.example": "owner (therapist, manager and admin)",
}


def role_of(email: str | None) -> str:
    return "visitor" if email is None else STAFF_ROLES.get(email, "patient")


def page_route(url: str) -> str:
    """The kind of page a URL shows: its path with ids and uuids taken out, without the query."""
    path = urlsplit(url).path
    return _NUMBER.sub("/<id>", _TOKEN.sub("/<token>", _UUID.sub("/<uuid>", path)))


@pytest.fixture(scope="session")
def _checked_pages():
    return set()


@pytest.fixture
def visit(shots, a11y, _checked_pages):
    """visit(page, url=None, name=None, *, key=None, status=200) -> page.

    Opens ``url`` (or stays on the page that is open), saves a numbered screenshot at the page's
    own width, runs axe at a phone and a desktop width and checks that the page does not scroll
    sideways on the phone (WCAG reflow), once per role and kind of page
    (``key``, by default the path without its ids) in the test session: the same page of another
    patient, or of another therapist, is the same template with other data. The viewport is put
    back afterwards, so a patient on a phone stays on a phone."""
    counter = iter(range(1, 1000))

    def _visit(page, url=None, name=None, *, key=None, status=200):
        if url is not None:
            response = page.goto(url)
            assert response is not None, f"no response for {url}"
            assert response.status == status, f"{url} answered {response.status}, expected {status}"
        page.wait_for_load_state()
        name = name or page_route(page.url).strip("/").replace("/", "-") or "home"
        shots(page, f"{next(counter):02d}-{name}")
        seen = (getattr(page, "icbt_who", role_of(None)), key or page_route(page.url))
        if seen not in _checked_pages:
            size = page.viewport_size
            check_both_widths(page, a11y)
            page.set_viewport_size(PHONE)
            width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1] + 1, f"{page.url} scrolls sideways on a phone: {width[0]}px wide"
            page.set_viewport_size(size)
            _checked_pages.add(seen)
        return page

    return _visit


def own_patient_setup(email: str, first_name: str, last_name: str, *, opened_modules=()) -> str:
    """Code for ``manage shell -c`` that makes a patient of the test's own (Tessa's, on Master
    your Pain, with ``opened_modules`` opened early), so the demo patients keep their state."""
    return f"""
from django.utils import timezone
from icbt.models import User
from patients import services
from programs.models import ProgramVersion
from icbt.models import StaffMember

if not User.objects.filter(email="{email}").exists():
    tessa = StaffMember.objects.get(user__email="therapist@linde.example")
    patient = services.patient_invite(therapist=tessa, email="{email}", first_name="{first_name}",
                                      last_name="{last_name}")
    patient.user.set_password("{DEMO_PASSWORD}")
    patient.user.is_active = True
    patient.user.save()
    version = (ProgramVersion.objects.filter(program__slug="master-your-pain", language="en")
               .order_by("-number").first())
    enrollment = services.enrollment_create(patient=patient, version=version, therapist=tessa,
                                            enrolled_by=tessa, start_date=timezone.localdate())
    for number in {tuple(opened_modules)!r}:
        services.module_state_set(enrollment=enrollment, staff=tessa, module_number=number, state="opened")
"""


def manage(app_server, *args, timeout=180) -> str:
    """Runs ``manage.py *args`` against the app's database and settings; returns its output."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=app_server["env"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"manage.py {args[0]} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done.stdout


def sent_mails(app_server, to: str) -> list[email.message.Message]:
    """Every e-mail the app wrote to its mail folder for ``to``, oldest first (Django's file
    backend: one file per connection, messages separated by a line of dashes)."""
    folder = Path(app_server["var"]) / "mail"
    found = []
    for path in (
        sorted(folder.glob("*"), key=lambda p: (p.stat().st_mtime_ns, p.name)) if folder.exists() else []
    ):
        for chunk in path.read_text(encoding="utf-8").split("-" * 79 + "\n"):
            if not chunk.strip():
                continue
            message = email.message_from_string(chunk, policy=email.policy.default)
            if to.lower() in str(message.get("To", "")).lower():
                found.append(message)
    return found


def mail_text(message: email.message.Message) -> str:
    """The plain-text body of an e-mail, decoded."""
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def mail_html(message: email.message.Message) -> str:
    part = message.get_body(preferencelist=("html",))
    return part.get_content() if part is not None else ""


def link_paths(text: str, marker: str) -> list[str]:
    """The paths (with query) of the links in ``text`` that contain ``marker``."""
    paths = []
    for url in re.findall(r"https?://[^\s\"'<>]+", text):
        if marker in url:
            parts = urlsplit(url)
            paths.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return paths
