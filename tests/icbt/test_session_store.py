"""Sessions read from the cache and kept in the database (icbt/session_store.py): no session
query on a request, and a cache that cannot be reached signs nobody out and breaks no page."""

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from icbt.services import user_sessions_end
from icbt.session_store import SessionStore
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = reverse("account_login")
LOGOUT = reverse("account_logout")


class UnreachableCache(BaseCache):
    """A cache server that is down: every call raises, as the Redis backend does."""

    def __init__(self, location, params):
        super().__init__(params)

    def _fail(self, *args, **kwargs):
        raise ConnectionError("cache unreachable")

    add = get = set = delete = touch = has_key = clear = get_many = set_many = delete_many = _fail
    incr = decr = _fail


class RecordingCache(LocMemCache):
    """A local cache that remembers the timeout of every write."""

    timeouts: list = []

    def set(self, key, value, timeout=None, version=None):
        type(self).timeouts.append((key, timeout))
        return super().set(key, value, timeout, version)


class FullCache(LocMemCache):
    """A cache that serves reads and deletes but refuses writes (Redis at its memory limit with
    ``noeviction``)."""

    def set(self, key, value, timeout=None, version=None):
        raise MemoryError("OOM command not allowed when used memory > 'maxmemory'")


def _session_queries(queries):
    return [q["sql"] for q in queries if "django_session" in q["sql"]]


def test_the_engine_is_this_store(settings):
    assert settings.SESSION_ENGINE == "icbt.session_store"


def test_a_signed_in_request_reads_no_session_row(world, client_for):
    client = client_for(world.therapist.user)
    url = reverse("patients:staff_patient_list")
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert _session_queries(queries.captured_queries) == []


def test_a_session_missing_from_the_cache_is_read_from_the_database(world, client_for):
    client = client_for(world.therapist.user)
    url = reverse("patients:staff_patient_list")
    caches["default"].clear()  # a restarted cache server
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert _session_queries(queries.captured_queries) == []


def _closed_port() -> int:
    """A local port where nothing listens (a Redis server that is down)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The outage as a hand-made cache that raises, and as the real Redis backend and client (Django's,
# with one redis-py client per pool: ``icbt.cache.RedisCache``) pointed at a server that is not there.
OUTAGES = {
    "raising": lambda: {"BACKEND": f"{__name__}.UnreachableCache"},
    "redis": lambda: {
        "BACKEND": "icbt.cache.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{_closed_port()}/3",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    },
}


@pytest.fixture(params=sorted(OUTAGES))
def cache_down(request, settings):
    def down():
        settings.CACHES = {"default": OUTAGES[request.param]()}

    return down


def test_a_cache_outage_signs_nobody_out_and_breaks_no_page(world, client_for, cache_down):
    therapist, patient = client_for(world.therapist.user), client_for(world.patient_a.user)
    cache_down()
    response = therapist.get(reverse("patients:staff_patient_detail", args=[world.patient_a.pk]))
    assert response.status_code == 200
    assert patient.get(reverse("patients:home")).status_code == 200
    assert therapist.session["_auth_user_id"] == str(world.therapist.user.pk)


def test_signing_out_works_while_the_cache_is_down(world, client, cache_down, settings):
    """(Signing in while Redis is down: tests/icbt/test_cache_fallback.py.)"""
    client.post(LOGIN, {"login": world.patient_a.user.email, "password": TEST_PASSWORD})
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get(reverse("patients:home")).status_code == 200
    cache_down()
    assert client.get(reverse("patients:home")).status_code == 200
    client.post(LOGOUT)
    assert not Session.objects.filter(session_key=key).exists()
    response = client.get(reverse("patients:home"))
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_signing_in_gives_a_new_key_and_ends_the_old_one_in_the_cache_too(world, client, settings):
    client.get(LOGIN)
    session = client.session
    session["before"] = "sign-in"
    session.save()
    old_key = session.session_key
    client.cookies[settings.SESSION_COOKIE_NAME] = old_key
    assert SessionStore(session_key=old_key).load() == {"before": "sign-in"}
    client.post(LOGIN, {"login": world.patient_a.user.email, "password": TEST_PASSWORD})
    new_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key != old_key
    assert SessionStore(session_key=new_key).load()["_auth_user_id"] == str(world.patient_a.user.pk)
    assert SessionStore(session_key=old_key).load() == {}
    assert not SessionStore().exists(old_key)


def test_ending_a_users_sessions_also_ends_their_cached_copies(world, client_for):
    """user_sessions_end deleted the rows only; with sessions read from the cache the person
    stayed signed in until the cached copy expired."""
    client = client_for(world.patient_a.user)
    assert client.get(reverse("patients:home")).status_code == 200
    assert user_sessions_end(user=world.patient_a.user) == 1
    response = client.get(reverse("patients:home"))
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_a_cached_copy_lives_no_longer_than_the_setting(world, client_for, settings):
    settings.CACHES = {"default": {"BACKEND": f"{__name__}.RecordingCache", "LOCATION": "sessions"}}
    settings.ICBT_SESSION_CACHE_SECONDS = 90
    RecordingCache.timeouts = []
    client = client_for(world.patient_a.user)
    caches["default"].clear()
    client.get(reverse("patients:home"))  # read from the database, then cached
    written = [timeout for key, timeout in RecordingCache.timeouts if "sessions" in key]
    assert written and all(0 < timeout <= 90 for timeout in written)


def test_a_session_ended_while_the_cache_was_down_stays_ended_in_the_database(world, client, settings):
    client.force_login(world.patient_a.user)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    settings.CACHES = {"default": {"BACKEND": f"{__name__}.UnreachableCache"}}
    SessionStore(session_key=key).delete()  # no error although the cache could not be told
    assert not Session.objects.filter(session_key=key).exists()


def test_a_cache_that_refuses_a_write_keeps_no_older_copy_of_the_session(world, settings):
    """The row holds the newest data; an older cached copy would be read on the next request and
    written back over it."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "full"}
    }
    store = SessionStore()
    store["x"] = 1
    store.save()
    key = store.session_key
    settings.CACHES = {"default": {"BACKEND": f"{__name__}.FullCache", "LOCATION": "full"}}
    later = SessionStore(session_key=key)
    assert later["x"] == 1  # read from the cached copy
    later["x"] = 2
    later.save()  # the row says 2; the cache refused the new copy
    again = SessionStore(session_key=key)
    assert again["x"] == 2


def _statements(queries) -> list[str]:
    return [q["sql"].split(" ")[0] for q in queries]


@pytest.mark.django_db(transaction=True)
def test_a_changed_session_is_written_in_one_statement_outside_a_transaction():
    """Outside a transaction (the session middleware runs after the request's transaction) the
    UPDATE commits by itself: no BEGIN and COMMIT around it, and row and cache both say the same."""
    store = SessionStore()
    store["x"] = 1
    store.create()
    key = store.session_key
    changed = SessionStore(session_key=key)
    changed["x"] = 2
    with CaptureQueriesContext(connection) as queries:
        changed.save()
    assert _statements(queries.captured_queries) == ["UPDATE"]
    assert SessionStore().decode(Session.objects.get(session_key=key).session_data)["x"] == 2
    assert SessionStore(session_key=key)["x"] == 2  # the cached copy
    caches["default"].clear()
    assert SessionStore(session_key=key)["x"] == 2  # the row


@pytest.mark.django_db(transaction=True)
def test_a_session_whose_row_is_gone_is_not_written_back():
    """As Django's own save: a session ended while a request ran (signed out in another tab)
    raises UpdateError rather than creating its row again."""
    from django.contrib.sessions.backends.base import UpdateError

    store = SessionStore()
    store["x"] = 1
    store.create()
    key = store.session_key
    Session.objects.filter(session_key=key).delete()
    store["x"] = 2
    with pytest.raises(UpdateError):
        store.save()
    assert not Session.objects.filter(session_key=key).exists()


def test_inside_a_transaction_a_session_is_saved_as_django_saves_it():
    """In a transaction the write keeps Django's savepoint, so a failed write cannot break the
    surrounding transaction."""
    store = SessionStore()
    store["x"] = 1
    store.create()
    changed = SessionStore(session_key=store.session_key)
    changed["x"] = 2
    with CaptureQueriesContext(connection) as queries:
        changed.save()
    assert any(s.startswith("SAVEPOINT") for s in _statements(queries.captured_queries))
    assert SessionStore().decode(Session.objects.get(session_key=store.session_key).session_data)["x"] == 2
