"""The digests for real: a Redis broker and a Celery worker *process* (``celery -A icbt worker``)
against the test database.

1. Events in, e-mails out: a patient writes a diary entry and the therapist answers a message
   through the real services; the task queued on commit reaches the worker over Redis and the
   e-mails land in the worker's e-mail folder (``EMAIL_URL=file://...``).
2. A worker killed (SIGKILL) in the middle of a round: a second worker started at once sends
   what nobody had claimed, but not the digest the dead worker held; after the lease expired
   the next round sends that one too. No recipient gets a window's e-mail twice, except in the
   documented case (killed after sending, before committing), and then both copies carry the
   same Message-ID.

The worker uses a Redis database of its own (``REDIS_DB``) so it never takes other tests' tasks.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connection
from django.utils import timezone

import icbt.notifications
from icbt.models import Digest, Notification
from icbt.notifications import DELIVERY_TASK, Kind, notify
from patients.models import IntakeRequest
from tests.factories import make_staff
from tests.messaging.digest_helpers import Treated, prefer
from tests.work import settle

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REDIS_DB = 11
BASE_DIR = Path(__file__).resolve().parents[2]
SEPARATOR = b"\n" + b"-" * 79 + b"\n"


def _broker_url() -> str:
    base = os.environ.get("REDIS_URL")
    if not base:
        pytest.fail("REDIS_URL is not set: this test needs a Redis server (it is deselected without it).")
    return urlunsplit(urlsplit(base)._replace(path=f"/{REDIS_DB}"))


def _database_url() -> str:
    if connection.vendor != "postgresql":
        pytest.fail(
            "This test needs PostgreSQL (DATABASE_URL=postgres://...): the worker is another process."
        )
    db = settings.DATABASES["default"]
    auth = quote(db["USER"] or "postgres") + (f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _wait(condition, *, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def read_mail(folder: Path) -> list:
    """Every message the file e-mail backend wrote into ``folder``."""
    messages = []
    for path in sorted(folder.glob("*.log")):
        for chunk in path.read_bytes().split(SEPARATOR):
            if chunk.strip():
                messages.append(message_from_bytes(chunk, policy=policy.default))
    return messages


@pytest.fixture
def broker():
    url = _broker_url()
    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    client.ping()  # an unreachable Redis fails the test here
    client.flushdb()
    yield url
    client.flushdb()


@pytest.fixture
def sender(broker):
    """A Celery client on the worker's broker (the test process itself runs tasks eagerly)."""
    app = Celery("icbt-test-sender", broker=broker, set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"], broker_connection_retry_on_startup=True)
    yield app
    app.close()


@pytest.fixture
def workers(transactional_db, broker, tmp_path):
    """``start(**env)`` starts a worker process and waits until it is ready. Every worker is
    killed before the test database is emptied."""
    started = []
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()

    def start(*, queue: str = "celery", wait: bool = True, **extra_env):
        log = tmp_path / f"worker-{len(started)}.log"
        env = {
            **os.environ,
            "REDIS_URL": broker,
            "DATABASE_URL": _database_url(),
            "EMAIL_URL": f"file://{mail_dir}",
            "ICBT_VAR_DIR": str(tmp_path / "var"),
            "DJANGO_SETTINGS_MODULE": "icbt.settings",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            **{k: str(v) for k, v in extra_env.items()},
        }
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "icbt",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            queue,
            "-n",
            f"digest-test-{uuid.uuid4().hex[:8]}@%h",
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT)
        started.append(process)
        process.log = log
        if wait:
            ready(process)
        return process

    def ready(process):
        _wait(
            lambda: b"ready." in process.log.read_bytes() or process.poll() is not None,
            timeout=60,
            what="the worker to start",
            interval=0.2,
        )
        assert process.poll() is None, process.log.read_text()

    start.ready = ready
    start.mail_dir = mail_dir
    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
    connection.close()


def test_events_in_emails_out(world, workers, sender, monkeypatch):
    from messaging.services import conversation_get_or_create, message_send
    from patients.services import diary_entry_save

    worker = workers()
    monkeypatch.setattr(
        icbt.notifications,
        "_queue_delivery",
        lambda recipient_id: sender.send_task(DELIVERY_TASK, args=[recipient_id]),
    )
    t = Treated(world)
    prefer(world.therapist.user, email_enabled=True, frequency="soon")
    prefer(world.patient_a.user, email_enabled=True, frequency="soon")

    entry = diary_entry_save(
        enrollment=t.enrollment_a,
        diary_type=t.mood,
        entry_date=timezone.localdate(),
        answers={"mood": 4, "note": "a private note"},
    )
    conversation = conversation_get_or_create(enrollment=t.enrollment_a)
    message = message_send(conversation=conversation, author=world.therapist.user, body="How was your week?")

    messages = _wait(
        lambda: len(read_mail(workers.mail_dir)) >= 2 and read_mail(workers.mail_dir),
        timeout=30,
        what="two e-mails from the worker",
    )
    by_recipient = {m["To"]: m for m in messages}
    assert set(by_recipient) == {world.therapist.user.email, world.patient_a.user.email}
    therapist_mail = by_recipient[world.therapist.user.email].get_body(("plain",)).get_content()
    assert f"/staff/patients/{world.patient_a.pk}/messages/#item-diary{entry.pk}" in therapist_mail
    patient_mail = by_recipient[world.patient_a.user.email].get_body(("plain",)).get_content()
    assert f"/me/messages/#message-{message.pk}" in patient_mail
    assert "private note" not in therapist_mail and "How was your week" not in patient_mail
    assert set(Notification.objects.values_list("state", flat=True)) == {"sent"}
    assert worker.poll() is None


def test_a_killed_worker_loses_nothing_and_duplicates_only_with_the_same_message_id(
    world, workers, sender, monkeypatch
):
    monkeypatch.setattr(icbt.notifications, "_queue_delivery", lambda recipient_id: None)  # rounds by hand
    # The lease outlives the second worker's round (a few seconds), so that round must leave the
    # held digest alone; then the test waits for the lease to expire.
    lease = 10
    slow = {"ICBT_DIGEST_SEND_PAUSE_MS": 300, "ICBT_DIGEST_LEASE_SECONDS": lease}
    t = Treated(world)
    request = IntakeRequest.objects.create(
        clinic=world.clinic, program=t.version.program, name="N", email="n@example.org"
    )
    settle()
    staff = [
        make_staff(world.clinic, f"colleague{i}@alpha.test", therapist=True, totp=False) for i in range(7)
    ]
    recipients = [world.therapist.user, *[s.user for s in staff]]
    three_days_ago = timezone.now() - timedelta(days=3)  # due in today's daily window, whatever the hour
    for user in recipients:
        notify(
            recipient=user,
            kind=Kind.INTAKE_REQUEST,
            clinic_id=world.clinic.pk,
            object_type="intake_request",
            object_id=request.pk,
            now=three_days_ago,
        )

    # Two workers: the first runs the round and is killed; the second, already up on a queue of
    # its own, runs the next rounds at once (no start-up time between the kill and its round).
    first = workers(wait=False, **slow)
    second = workers(queue="digest-test-next", wait=False, **slow)
    workers.ready(first)
    workers.ready(second)
    sender.send_task("messaging.tasks.digests_send_due")

    def in_flight():
        """Some e-mails of the batch have left, and the batch is not marked sent yet: the worker
        is between sending and the batch's commit."""
        if len(list(read_mail(workers.mail_dir))) < 3:
            return None
        return Digest.objects.filter(sent_at__isnull=True).first()

    held = _wait(in_flight, timeout=30, what="a round in the middle", interval=0.02)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    before_the_kill = len(list(read_mail(workers.mail_dir)))
    held.refresh_from_db()
    assert held.sent_at is None

    # A round while the leases live takes nothing over.
    sender.send_task("messaging.tasks.digests_send_due", queue="digest-test-next")
    _wait(
        lambda: timezone.now() > held.lease_until - timedelta(seconds=1),
        timeout=lease + 5,
        what="the last second of the lease",
        interval=0.2,
    )
    assert not Digest.objects.filter(sent_at__isnull=False).exists(), "a live lease was taken over"

    _wait(
        lambda: timezone.now() > held.lease_until, timeout=lease + 5, what="the lease to expire", interval=0.2
    )
    sender.send_task("messaging.tasks.digests_send_due", queue="digest-test-next")
    _wait(
        lambda: Digest.objects.filter(sent_at__isnull=False).count() == len(recipients),
        timeout=30,
        what="the round after the lease to send what was left",
    )
    assert second.poll() is None

    assert set(Notification.objects.values_list("state", flat=True)) == {"sent"}
    assert Digest.objects.count() == len(recipients)
    received = defaultdict(list)
    for message in read_mail(workers.mail_dir):
        received[message["To"]].append(message["Message-ID"])
    assert set(received) == {user.email for user in recipients}
    # The documented duplicate: what left before the kill is sent again with the same Message-ID.
    assert sum(len(ids) for ids in received.values()) == len(recipients) + before_the_kill
    for email, message_ids in received.items():
        assert len(message_ids) <= 2 and len(set(message_ids)) == 1, (email, message_ids)
    digest_ids = dict(Digest.objects.values_list("recipient__email", "message_id"))
    assert all(set(ids) == {digest_ids[email]} for email, ids in received.items())
