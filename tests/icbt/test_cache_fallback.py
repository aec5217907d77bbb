"""Signing in while Redis is down (icbt/cache.py): the default cache falls back to a stand-in in the
process's memory, so rate limits and used second-factor codes keep counting and nobody meets a
server error at the door. With plain Redis as the default cache every sign-in failed."""

import os
import socket
import uuid

import pytest
from django.core.cache import caches
from django.urls import reverse

from icbt.cache import FallbackCache, redis_caches
from tests.factories import TEST_PASSWORD, make_staff
from tests.icbt.test_mfa import current_code
from tests.icbt.test_settings import _run

pytestmark = pytest.mark.django_db

LOGIN = reverse("account_login")
AUTHENTICATE = reverse("mfa_authenticate")
ATTACKER = "198.51.100.66"


def _closed_port() -> int:
    """A local port where nothing listens: a Redis server that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_down(settings):
    """The production cache settings (icbt.settings with REDIS_URL), with Redis not answering."""
    settings.CACHES = redis_caches(f"redis://127.0.0.1:{_closed_port()}/0")
    settings.SESSION_CACHE_ALIAS = "redis"
    FallbackCache.reset()
    caches["local"].clear()  # the stand-in lives as long as the process
    yield
    FallbackCache.reset()
    caches["local"].clear()


def _login(client, email, password, address="203.0.113.10"):
    return client.post(LOGIN, {"login": email, "password": password}, REMOTE_ADDR=address)


def test_a_patient_signs_in_while_redis_is_down(world, client, redis_down):
    response = _login(client, world.patient_a.user.email, TEST_PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(world.patient_a.user.pk)
    assert client.get(reverse("patients:home")).status_code == 200


def test_a_therapist_signs_in_with_the_second_factor_while_redis_is_down(world, client_for, redis_down):
    member = make_staff(world.clinic, "covering@alpha.test", therapist=True)
    first = client_for(None)
    _login(first, member.user.email, TEST_PASSWORD)
    code = current_code()
    response = first.post(AUTHENTICATE, {"code": code})
    assert response.status_code == 302
    assert first.session["_auth_user_id"] == str(member.user.pk)
    # The used code was recorded in the stand-in: a second sign-in cannot use it again.
    second = client_for(None)
    _login(second, member.user.email, TEST_PASSWORD)
    response = second.post(AUTHENTICATE, {"code": code})
    assert response.status_code == 200
    assert second.session.get("_auth_user_id") is None


def test_wrong_passwords_are_still_held_back_while_redis_is_down(world, client_for, redis_down):
    user = world.patient_a.user
    attacker = client_for(None)
    for _ in range(12):
        _login(attacker, user.email, "Guess-password-1", ATTACKER)
    response = _login(attacker, user.email, TEST_PASSWORD, ATTACKER)
    assert attacker.session.get("_auth_user_id") is None
    assert "Too many sign-in attempts" in response.content.decode()


# --- The cache itself ------------------------------------------------------------------------------


class CountingUnreachable:
    """Stands in for caches["redis"]: counts the calls, raises as redis-py does when down."""

    def __init__(self):
        self.calls = 0

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls += 1
            from redis.exceptions import ConnectionError as RedisConnectionError

            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

        return call


@pytest.fixture
def two_stores(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "icbt.cache.FallbackCache",
            "OPTIONS": {"primary": "first", "fallback": "second", "retry_seconds": 30},
        },
        "first": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "first"},
        "second": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "second"},
    }
    FallbackCache.reset()
    yield caches["default"], caches["first"], caches["second"]
    FallbackCache.reset()


def test_while_the_primary_answers_the_fallback_is_not_used(two_stores):
    cache, first, second = two_stores
    cache.set("k", 1)
    assert cache.get("k") == 1 and first.get("k") == 1 and second.get("k") is None
    assert cache.add("k", 2) is False and cache.incr("k") == 2


def test_an_unreachable_primary_is_skipped_for_the_retry_time(two_stores, monkeypatch):
    cache, _first, second = two_stores
    down = CountingUnreachable()
    monkeypatch.setattr("icbt.cache.caches", {"first": down, "second": second})
    now = [1000.0]
    monkeypatch.setattr("icbt.cache.time.monotonic", lambda: now[0])
    cache.set("k", 1)
    assert down.calls == 1 and second.get("k") == 1
    assert cache.get("k") == 1 and cache.add("k", 5) is False
    assert down.calls == 1  # not asked again within the retry time
    now[0] += 31
    assert cache.get("k") == 1
    assert down.calls == 2  # asked again, still down: the stand-in answers


def test_a_redis_that_refuses_writes_sends_them_to_the_stand_in(two_stores, monkeypatch):
    from redis.exceptions import OutOfMemoryError

    cache, first, second = two_stores

    def full(*args, **kwargs):
        raise OutOfMemoryError("OOM command not allowed when used memory > 'maxmemory'.")

    monkeypatch.setattr(first, "set", full)
    cache.set("k", 1)
    assert second.get("k") == 1 and cache.get("k") == 1


def test_errors_other_than_an_unreachable_server_are_not_hidden(two_stores):
    cache, _first, second = two_stores
    with pytest.raises(ValueError):
        cache.incr("missing")  # as every Django cache does for a missing key
    assert second.get("missing") is None


def test_with_redis_the_default_cache_has_the_stand_in_and_sessions_use_plain_redis(tmp_path):
    """The settings a deployment with REDIS_URL starts with (a fresh process reads them)."""
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.CACHES['default']['BACKEND'], s.CACHES['redis']['LOCATION'], s.SESSION_CACHE_ALIAS)"
    )
    result = _run(["-c", code], tmp_path, REDIS_URL="redis://cache.example:6379/2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["icbt.cache.FallbackCache", "redis://cache.example:6379/2", "redis"]


@pytest.mark.redis
def test_while_redis_answers_it_holds_the_counts_and_the_stand_in_stays_empty(world, client, settings):
    caches_setting = redis_caches(os.environ["REDIS_URL"])
    # A prefix of this run's own: the server outlives the run, and the counts of an earlier run
    # (a wrong password below) must not hold this one back.
    caches_setting["redis"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches_setting
    settings.SESSION_CACHE_ALIAS = "redis"
    FallbackCache.reset()
    caches["local"].clear()
    caches["default"].set("icbt-test-fallback", 1, 5)
    assert caches["redis"].get("icbt-test-fallback") == 1
    assert caches["local"].get("icbt-test-fallback") is None
    _login(client, world.patient_a.user.email, "Guess-password-1")
    _login(client, world.patient_a.user.email, TEST_PASSWORD)
    assert client.session["_auth_user_id"] == str(world.patient_a.user.pk)
    assert not caches["local"]._cache  # nothing went to the stand-in
    caches["redis"].delete("icbt-test-fallback")


@pytest.mark.redis
def test_the_redis_cache_keeps_one_client_for_its_calls(settings):
    """Django made a new redis-py client for every call; ``icbt.cache.RedisCache`` keeps the one
    of its pool, and the calls still reach the server."""
    caches_setting = redis_caches(os.environ["REDIS_URL"])
    caches_setting["redis"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches_setting
    cache = caches["redis"]
    made = []
    real = cache._cache._client

    def counted(**kwargs):
        made.append(kwargs)
        return real(**kwargs)

    cache._cache._client = counted
    cache.set("icbt-test-client", {"n": 1}, 5)
    assert cache.get("icbt-test-client") == {"n": 1}
    assert cache.add("icbt-test-client-n", 0, 5)
    assert cache.incr("icbt-test-client-n") == 1
    cache.delete_many(["icbt-test-client", "icbt-test-client-n"])
    assert cache.get("icbt-test-client") is None
    assert len(made) == 1
