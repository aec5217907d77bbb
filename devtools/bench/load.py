"""The HTTP part of the benchmark: gunicorn with the production settings on a loopback port,
and a small load generator (threads with ``http.client``) that sends a fixed number of requests.

Every request carries the session cookie of a signed-in patient (sessions made beforehand with
the session store, as a sign-in would), so the bare view and the diary pay the same session,
authentication and middleware costs. Diary entries are posted like the form does: the CSRF
cookie and the same token in the form. Only loopback is ever contacted.
"""

from __future__ import annotations

import http.client
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.core.management.base import CommandError

HOST = "127.0.0.1"
# Settings the gunicorn run must not inherit from the bench's own environment: its keys are the
# bench's fresh ones, its broker and cache are local files (never a shared Redis, whose workers
# would run tasks for ids of the bench database; ``--redis-url`` names a Redis of the bench's own,
# ``BenchRedis``), its e-mail goes to a folder.
_DROP = (
    "DJANGO_SECRET_KEY_FILE",
    "ICBT_MASTER_KEY_FILE",
    "ICBT_OLD_MASTER_KEYS",
    "REDIS_URL",
    "EMAIL_URL",
    "CELERY_TASK_ALWAYS_EAGER",
    "ICBT_TESTING",
    "DJANGO_SETTINGS_MODULE",
    "ICBT_VAR_DIR",
    "ICBT_MEDIA_ROOT",
)


@dataclass
class Request:
    method: str
    path: str
    cookie: str
    body: bytes = b""
    expect: int = 200
    location: str = ""  # for redirects: the Location must contain this


class BenchRedis:
    """The Redis database the HTTP part may use (``--redis-url``): only one that holds no key,
    so that no real worker, beat or cache uses it (a Celery worker's broker keeps its bindings
    there even when idle); emptied afterwards, so the tasks queued by the diary's notifications
    are never run against another database's ids."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise CommandError(f"--redis-url takes redis://HOST:PORT/N, not {self._without_password(url)}")
        self.url = url
        self.safe_url = self._without_password(url)

    @staticmethod
    def _without_password(url: str) -> str:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return parts._replace(netloc=f"{parts.username or ''}:***@{netloc}").geturl()

    def _client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5)

    def check_empty(self) -> None:
        """Refuse (``CommandError``) a database that holds any key, or a server that cannot be
        reached."""
        import redis

        try:
            with self._client() as client:
                keys = client.dbsize()
        except redis.RedisError as exc:
            raise CommandError(f"--redis-url {self.safe_url}: {type(exc).__name__}: {exc}") from exc
        if keys:
            raise CommandError(
                f"--redis-url {self.safe_url} holds {keys} keys: the bench uses only an empty Redis "
                "database (never one that real workers, a cache or sessions use) and empties it afterwards."
            )

    def empty(self) -> None:
        with self._client() as client:
            client.flushdb()


@contextmanager
def redis_claimed(redis: BenchRedis | None):
    """With ``redis``: checked empty before, emptied after (also when the load fails)."""
    if redis is None:
        yield
        return
    redis.check_empty()
    try:
        yield
    finally:
        redis.empty()


def patient_sessions(users) -> list[tuple[str, str]]:
    """A signed-in session per user, as ``login()`` stores it: (session key, CSRF secret)."""
    result = []
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = user._meta.pk.value_to_string(user)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        result.append((session.session_key, secrets.token_hex(16)))
    return result


# gunicorn runs with the production settings, whose cookies carry the __Host- prefix whatever
# DEBUG is in this process.
PRODUCTION_SESSION_COOKIE = "__Host-sessionid"
PRODUCTION_CSRF_COOKIE = "__Host-csrftoken"


def cookie(session_key: str, csrf: str) -> str:
    return f"{PRODUCTION_SESSION_COOKIE}={session_key}; {PRODUCTION_CSRF_COOKIE}={csrf}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Gunicorn:
    """gunicorn serving :mod:`devtools.bench.wsgi` with ``DJANGO_DEBUG=false`` and the given
    environment, in its own process group (stopped by its pid when done). With ``redis_url``
    (a ``BenchRedis``'s) its cache, sessions and broker are there, as in production; without it,
    files in its own folder."""

    def __init__(
        self,
        *,
        database_url: str,
        secret_key: str,
        master_key: str,
        workers: int,
        progress,
        app: str = "devtools.bench.wsgi:application",
        conn_max_age: int = 0,
        redis_url: str = "",
    ):
        self.app = app
        self.workers = workers
        self.progress = progress
        self.port = free_port()
        self.var_dir = Path(tempfile.mkdtemp(prefix="icbt-bench-var-"))
        for folder in ("celery/queue", "celery/processed", "mail", "media", "cache"):
            (self.var_dir / folder).mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in _DROP}
        env.update(
            DJANGO_DEBUG="false",
            DJANGO_SECRET_KEY=secret_key,
            ICBT_MASTER_KEY=master_key,
            DJANGO_SECURE_SSL_REDIRECT="false",
            DJANGO_ALLOWED_HOSTS=HOST,
            DATABASE_URL=database_url,
            ICBT_VAR_DIR=str(self.var_dir),
            EMAIL_URL=f"file://{self.var_dir / 'mail'}",
            ICBT_LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
            # gunicorn.conf.py applies (as in production), without an access log.
            GUNICORN_ACCESS_LOG="",
            DB_CONN_MAX_AGE=str(conn_max_age),
        )
        if redis_url:
            env["REDIS_URL"] = redis_url
        self.env = env
        self.process: subprocess.Popen | None = None
        self.log = self.var_dir / "gunicorn.log"

    def collectstatic(self):
        """The production static files storage needs its manifest (as the Docker image has)."""
        subprocess.run(  # noqa: S603 - our own interpreter and manage.py, fixed arguments
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=settings.BASE_DIR,
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def __enter__(self):
        self.collectstatic()
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    self.app,
                    "--bind",
                    f"{HOST}:{self.port}",
                    "--workers",
                    str(self.workers),
                    "--log-level",
                    "warning",
                    "--graceful-timeout",
                    "5",
                ],
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_until_ready(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn stopped at start-up: {self.log.read_text()[-2000:]}")
            try:
                status, _body, _location = send(self.port, Request("GET", "/bench/hello", ""))
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within 60 s: {self.log.read_text()[-2000:]}")

    def __exit__(self, *exc):
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        shutil.rmtree(self.var_dir, ignore_errors=True)


def send(port: int, request: Request, timeout: float = 30) -> tuple[int, bytes, str]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = (
            {"Host": f"{HOST}:{port}", "Cookie": request.cookie}
            if request.cookie
            else {"Host": f"{HOST}:{port}"}
        )
        if request.method == "POST":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(request.method, request.path, body=request.body or None, headers=headers)
        response = conn.getresponse()
        body = response.read()
        return response.status, body, response.getheader("Location", "")
    finally:
        conn.close()


def run_load(port: int, requests: list[Request], *, concurrency: int, time_limit: float) -> dict:
    """Send ``requests`` from ``concurrency`` threads, at most for ``time_limit`` seconds."""
    lock = threading.Lock()
    queue = iter(requests)
    statuses: Counter = Counter()
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + time_limit

    def worker():
        nonlocal errors
        while time.monotonic() < deadline:
            with lock:
                request = next(queue, None)
            if request is None:
                return
            started = time.perf_counter()
            try:
                status, _body, location = send(port, request)
                ok = status == request.expect and request.location in location
                key = str(status)
            except OSError as exc:
                ok, key = False, type(exc).__name__
            elapsed = time.perf_counter() - started
            with lock:
                statuses[key] += 1
                latencies.append(elapsed)
                errors += not ok

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    done = len(latencies)
    return {
        "requests": done,
        "not_sent": len(requests) - done,
        "seconds": round(wall, 2),
        "rps": round(done / wall, 1) if wall else 0.0,
        "errors": errors + (len(requests) - done),
        "statuses": dict(statuses),
        "median_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
    }


def diary_requests(sessions, *, path: str, data_for, count: int, location: str) -> list[Request]:
    result = []
    for i in range(count):
        session_key, csrf = sessions[i % len(sessions)]
        data = {**data_for(i), "csrfmiddlewaretoken": csrf}
        result.append(
            Request(
                "POST",
                path,
                cookie(session_key, csrf),
                urlencode(data).encode(),
                expect=302,
                location=location,
            )
        )
    return result


def hello_requests(sessions, *, count: int, path: str = "/bench/hello") -> list[Request]:
    return [Request("GET", path, cookie(*sessions[i % len(sessions)])) for i in range(count)]
