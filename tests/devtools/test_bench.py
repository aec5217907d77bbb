"""``manage.py bench`` at a tiny scale: one JSON object on stdout with every figure of the benchmark, the
query counts equal for the small and the large caseload, every notification delivered in one
e-mail per person, and the HTTP part answering without errors. Runs the command in its own
process (its own bench database on SQLite, a temporary file), so the test database is untouched."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from devtools.bench import load

ROOT = Path(settings.BASE_DIR)
# The bench empties the Redis database it is given: one of its own, never the tests' own
# (REDIS_URL's), whose other tests keep keys there while this one runs.
BENCH_REDIS_DB = 12


def _tiny_bench(*extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    result = subprocess.run(  # noqa: S603 - our interpreter and manage.py
        [
            sys.executable,
            "manage.py",
            "bench",
            "--json",
            "--scale",
            "0.002",
            "--requests",
            "30",
            "--repeat",
            "3",
            "--workers",
            "1",
            *extra,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_bench_prints_every_figure_and_the_queries_do_not_grow():
    figures = _tiny_bench()

    assert figures["hello"]["ms"] > 0
    for page in ("worklist", "patient_overview"):
        keys = {"patients_small", "patients_large", "queries_small", "queries_large", "ms_small", "ms_large"}
        assert keys <= set(figures[page])
        assert figures[page]["patients_small"] < figures[page]["patients_large"]
        assert figures[page]["queries_small"] == figures[page]["queries_large"], figures[page]
        for size in ("small", "large", "xlarge"):
            statements = figures[page][f"statement_ms_{size}"]
            assert len(statements) == figures[page][f"queries_{size}"], statements
            assert all(isinstance(label, str) and ms >= 0 for label, ms in statements)
            # Every page with patients writes one access event per patient it shows.
            assert figures[page][f"audit_events_{size}"] >= 1
            assert ["INSERT icbt_auditevent"] == [
                label for label, _ms in statements if label.startswith("INSERT icbt_auditevent")
            ]
        assert figures[page]["audit_events_small"] <= figures[page]["audit_events_large"]
    assert figures["worklist"]["statement_ms_small"][0][0] == "SELECT icbt_user"
    assert {"patients", "queries", "ms"} <= set(figures["manager_dashboard"])
    digest = figures["digest"]
    assert {"pending", "recipients", "emails", "queries_per_recipient", "s"} <= set(digest)
    assert digest["emails"] == digest["recipients"] > 0
    assert digest["delivered"] == digest["pending"] > 0
    assert digest["one_email_each"] is True
    assert 0 <= figures["encryption_overhead_pct"] < 100
    http = figures["http"]
    assert {"workers", "hello_rps", "diary_submit_rps", "errors"} <= set(http)
    assert http["errors"] == 0, http
    assert http["hello_rps"] > 0 and http["diary_submit_rps"] > 0
    assert http["cache"] == "file"
    assert set(figures["targets"]) >= {
        "worklist_queries_constant",
        "digest_one_email_per_recipient_all_delivered",
    }


@pytest.fixture
def bench_redis():
    """A client of the bench's own Redis database (``BENCH_REDIS_DB``), its URL, emptied after."""
    import redis

    base = os.environ.get("REDIS_URL")
    if not base:
        pytest.fail("REDIS_URL is not set: this test needs a Redis server (it is deselected without it).")
    url = urlunsplit(urlsplit(base)._replace(path=f"/{BENCH_REDIS_DB}"))
    client = redis.Redis.from_url(url)
    yield client, url
    client.flushdb()
    client.close()


@pytest.mark.redis
def test_the_bench_refuses_a_redis_database_that_holds_a_key_before_it_builds_anything(bench_redis):
    client, url = bench_redis
    client.set("celery-worker-binding", "1")
    with pytest.raises(CommandError, match="holds 1 keys"):
        call_command("bench", "--json", "--scale", "0.002", "--redis-url", url)
    assert client.get("celery-worker-binding") == b"1"  # refused: nothing emptied either


def test_the_bench_refuses_a_redis_url_that_is_not_one():
    with pytest.raises(CommandError, match="redis://HOST:PORT/N"):
        call_command("bench", "--scale", "0.002", "--redis-url", "http://127.0.0.1:6379/12")


def test_gunicorn_gets_redis_only_when_the_bench_is_given_one(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")  # the shell's own: never passed on
    options = {
        "database_url": "sqlite:///bench.sqlite3",
        "secret_key": "s",
        "master_key": "m",
        "workers": 1,
        "progress": print,
    }
    plain = load.Gunicorn(**options)
    given = load.Gunicorn(**options, redis_url="redis://127.0.0.1:6379/12")
    try:
        assert "REDIS_URL" not in plain.env
        assert given.env["REDIS_URL"] == "redis://127.0.0.1:6379/12"
    finally:
        for server in (plain, given):
            server.__exit__(None, None, None)  # its folder


@pytest.mark.redis
def test_the_bench_on_redis_says_so_and_empties_the_database_afterwards(bench_redis):
    client, url = bench_redis
    figures = _tiny_bench("--redis-url", url)
    http = figures["http"]
    assert http["cache"] == "redis"
    assert http["errors"] == 0, http
    assert http["diary_submit_rps"] > 0
    assert client.dbsize() == 0


@pytest.mark.parametrize(
    ("sql", "label"),
    [
        ('SELECT "icbt_user"."id" FROM "icbt_user" LEFT OUTER JOIN "x" ON (1)', "SELECT icbt_user"),
        ('SELECT "u"."id", EXISTS(SELECT 1 FROM "mfa_authenticator") FROM "icbt_user"', "SELECT icbt_user"),
        ('SELECT \'FROM "not_a_table" (\' AS t FROM "icbt_user"', "SELECT icbt_user"),
        ('SELECT * FROM (SELECT "n" FROM "patients_workcount") _part0', "SELECT patients_workcount"),
        ('INSERT INTO "icbt_auditevent" ("action") SELECT 1 FROM unnest(%s)', "INSERT icbt_auditevent"),
        ('UPDATE "patients_enrollment" SET "a" = 1 FROM "other"', "UPDATE patients_enrollment"),
        ('SAVEPOINT "s1_x1"', "SAVEPOINT"),
        ('(SELECT "a" FROM "patients_intake") UNION ALL (SELECT "b" FROM "x")', "SELECT patients_intake"),
    ],
)
def test_a_statement_is_labelled_by_its_verb_and_first_table(sql, label):
    from devtools.bench.measure import _label

    assert _label(sql) == label
