"""gunicorn's access log (gunicorn.conf.py): tokens from invitation, reset and confirmation links
and query strings never reach it; forwarded headers are trusted only from the named proxies."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from icbt.gunicorn_logging import redact, redact_request_line

PROJECT = Path(__file__).resolve().parents[2]
TOKEN = "Zq8xK2mN4pL7vR9tW3yB5cD1fG6hJ0sA-eU"
# About one token_urlsafe(32) in 1,500 has no digit at all; it is a token all the same.
TOKEN_WITHOUT_DIGITS = "QwErTyUiOpAsDfGhJkLzXcVbNm_qwertyuiopasdfgh"


def test_tokens_in_paths_and_queries_are_redacted():
    assert redact(f"/invitation/{TOKEN}/") == "/invitation/[redacted]/"
    assert redact(f"/accounts/password/reset/key/2-{TOKEN}/") == "/accounts/password/reset/key/[redacted]/"
    assert redact("/staff/worklist/?patient=4") == "/staff/worklist/?[redacted]"
    # What helps to read the log stays: slugs, numbers, case references.
    assert redact("/me/steps/ex-think-feel-do/") == "/me/steps/ex-think-feel-do/"
    assert redact("/staff/patients/42/") == "/staff/patients/42/"
    assert len(TOKEN_WITHOUT_DIGITS) == 43
    assert redact(f"/invitation/{TOKEN_WITHOUT_DIGITS}/") == "/invitation/[redacted]/"
    assert redact("/invitation/abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq/") == "/invitation/[redacted]/"
    # Words joined by hyphens are slugs, however long.
    assert (
        redact("/programs/master-your-fatigue-and-your-pain/")
        == "/programs/master-your-fatigue-and-your-pain/"
    )
    line = f"GET /invitation/{TOKEN}/?next=/x HTTP/1.1"
    assert redact_request_line(line) == "GET /invitation/[redacted]/?[redacted] HTTP/1.1"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_real_gunicorn_writes_no_token_into_its_access_log(tmp_path):
    port = _free_port()
    log = tmp_path / "access.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    env.update(
        ICBT_VAR_DIR=str(tmp_path / "var"),
        GUNICORN_ACCESS_LOG=str(log),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="1",
        DJANGO_DEBUG="true",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "icbt.wsgi:application"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.1)
        request = urllib.request.Request(
            f"{base}/invitation/{TOKEN}/?key={TOKEN}", headers={"Referer": f"{base}/invitation/{TOKEN}/"}
        )
        try:
            urllib.request.urlopen(request, timeout=5)  # noqa: S310 - loopback
        except urllib.error.HTTPError:
            pass  # no such invitation (and no database here): only the log line matters
        for _ in range(50):
            if log.exists() and "/invitation/" in log.read_text():
                break
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=20)
    text = log.read_text()
    assert "/invitation/[redacted]/" in text
    assert TOKEN not in text
