"""CI: the README's first command on this fresh clone. Runs `make run` on a free port (embedded
defaults: no DATABASE_URL, no REDIS_URL, a fresh var/), waits for /healthz to answer 200, signs
in once over HTTP as the demo therapist (password, then a TOTP code from the demo secret), and
stops the whole process group. Any failure exits non-zero and prints the server's output."""

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EMAIL = "therapist@linde.example"
PASSWORD = "demo-icbt-2026"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # the demo secret the README publishes
STARTUP_SECONDS = 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main() -> int:
    if (ROOT / "var").exists():
        print("smoke: var/ exists already; this must run on a fresh clone", file=sys.stderr)
        return 1
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "EMAIL_URL")}
    env["PORT"] = str(port)
    log = open(ROOT / "smoke-make-run.log", "w")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"make run stopped with exit code {server.returncode}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=5) as answer:  # noqa: S310
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("/healthz did not answer 200 in time")
            time.sleep(2)
        print(f"smoke: /healthz answered 200 on port {port}")
        sign_in(base)
        print(f"smoke: signed in as {EMAIL} with password and TOTP; the worklist answered")
        return 0
    except Exception as error:  # noqa: BLE001 - reported with the server's output
        log.flush()
        print(f"smoke: FAILED: {error}", file=sys.stderr)
        print((ROOT / "smoke-make-run.log").read_text()[-6000:], file=sys.stderr)
        return 1
    finally:
        stop_group(server)
        log.close()


def stop_group(server: subprocess.Popen) -> None:
    """SIGTERM to the whole group (make, runserver, the Celery worker), then wait until every
    process of it is gone; SIGKILL whatever is still there after 30 seconds."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        server.poll()
        try:
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def sign_in(base: str) -> None:
    import pyotp

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def csrf_of(html: str) -> str:
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        if not found:
            raise RuntimeError("no CSRF token on the form")
        return found.group(1)

    def post(url: str, fields: dict) -> tuple[str, str]:
        request = urllib.request.Request(
            url, data=urllib.parse.urlencode(fields).encode(), headers={"Referer": url}
        )
        with opener.open(request, timeout=30) as answer:
            return answer.geturl(), answer.read().decode()

    with opener.open(f"{base}/accounts/login/", timeout=30) as answer:
        login_page = answer.read().decode()
    url, page = post(
        f"{base}/accounts/login/",
        {"csrfmiddlewaretoken": csrf_of(login_page), "login": EMAIL, "password": PASSWORD},
    )
    if "/2fa/authenticate" not in url:
        raise RuntimeError(f"after the password, expected the second-factor page, got {url}")
    url, page = post(url, {"csrfmiddlewaretoken": csrf_of(page), "code": pyotp.TOTP(TOTP_SECRET).now()})
    if "/accounts/" in urllib.parse.urlsplit(url).path:
        raise RuntimeError(f"the TOTP code was not accepted (still at {url})")
    with opener.open(f"{base}/staff/worklist/", timeout=30) as answer:
        if answer.status != 200 or "/accounts/login" in answer.geturl():
            raise RuntimeError("signed in, but the worklist did not open")


if __name__ == "__main__":
    sys.exit(main())
