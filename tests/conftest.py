import os

import pytest
from django.utils import translation

from icbt import crypto
from programs import content_cache
from tests import work
from tests.clock import DAY_IDS, DEFAULT_WEEKDAY, start_clock
from tests.factories import make_world


def pytest_generate_tests(metafunc):
    """``@pytest.mark.every_weekday``: one run per day of the week (see tests/clock.py)."""
    if metafunc.definition.get_closest_marker("every_weekday"):
        metafunc.fixturenames.append("_weekday")
        metafunc.parametrize("_weekday", range(7), ids=DAY_IDS)


@pytest.fixture
def clock(request):
    """The fixed "now" of this test: a :class:`tests.clock.Clock`."""
    weekday = _weekday_from_environment()
    if weekday is None:
        weekday = DEFAULT_WEEKDAY
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and "_weekday" in callspec.params:
        weekday = callspec.params["_weekday"]
    fixed = start_clock(weekday)
    yield fixed
    fixed.stop()


def _weekday_from_environment():
    value = os.environ.get("ICBT_TEST_WEEKDAY", "").strip().lower()[:3]
    return DAY_IDS.index(value) if value in DAY_IDS else None


@pytest.fixture(autouse=True)
def _sqlite_only(request):
    """A test marked ``sqlite`` fails (never skips) on another database: bin/run-tests gives it
    a SQLite pass of its own when DATABASE_URL points to PostgreSQL."""
    if request.node.get_closest_marker("sqlite"):
        from django.db import connection

        if connection.vendor != "sqlite":
            pytest.fail("this test checks SQLite behaviour: run it without DATABASE_URL (bin/run-tests does)")


@pytest.fixture(autouse=True)
def _clock_first(request):
    """A test marked ``every_weekday`` gets its clock before any other fixture makes data.
    ``ICBT_TEST_WEEKDAY=fri make test`` runs the whole suite on the Friday of the fixed week."""
    if request.node.get_closest_marker("every_weekday") or _weekday_from_environment() is not None:
        request.getfixturevalue("clock")


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.MEDIA_ROOT = tmp_path / "media"
    # A fresh in-memory cache per test: allauth's rate limits and used-TOTP-code records
    # must not leak from one test into the next.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": str(tmp_path)}
    }
    settings.SESSION_CACHE_ALIAS = "default"  # with REDIS_URL set, sessions have an alias of their own
    # Each request activates its reader's language and leaves it active in the thread (the next
    # request activates its own); a test that calls a selector after a Dutch user's request
    # must not inherit Dutch.
    translation.activate(settings.LANGUAGE_CODE)
    # Data keys live in the test's transaction and vanish with it, but the process keeps the
    # active key of a scope (a clinic id) once a commit was seen. On SQLite the next test's
    # clinic may get the same id and would encrypt under a key that no longer exists.
    crypto.clear_key_cache()
    # Program content kept in the process (programs.content_cache) is keyed by version id and
    # hashes; a test's rolled-back versions must not be served to the next test.
    content_cache.clear()
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def world(db):
    return make_world()


@pytest.fixture
def client_for(client):
    """client_for(user) -> a test client signed in as that user (None: anonymous)."""
    from django.test import Client

    def _make(user):
        c = Client()
        if user is not None:
            c.force_login(user)
        return c

    return _make


def pytest_report_header(config):
    db = os.environ.get("DATABASE_URL", "(SQLite, embedded default)")
    redis = os.environ.get("REDIS_URL", "(not set: Redis tests are left out)")
    return [f"icbt: DATABASE_URL={db.split('@')[-1]}", f"icbt: REDIS_URL={redis}"]


def _uses_database(item) -> bool:
    names = getattr(item, "fixturenames", ())
    return "db" in names or "transactional_db" in names or item.get_closest_marker("django_db") is not None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After a database test passed, at its own clock and in its own transaction: the work-item
    table and the dashboard's figures must still match the source tables (tests/work.py,
    ``check_in_step``). A failing test keeps its own failure; browser journeys are left out
    (their process refuses database work while the browser runs, and their data comes through
    the live server's services)."""
    result = yield
    if (
        _uses_database(item)
        and item.get_closest_marker(work.MARK) is None
        and item.get_closest_marker("browser") is None
    ):
        work.check_in_step(item.nodeid)
    return result
