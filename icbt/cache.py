"""The shared cache, kept working when Redis cannot be reached.

Rate limits (allauth's sign-in and second-factor limits, icbt's own sign-in back-off, PDF and
public-form limits), second-factor codes already used, and the programs' content token all live in
the default cache. With plain Redis as that cache, a Redis outage turned every sign-in into a
server error: nobody could sign in, not even to read an urgent flag. With ``FallbackCache`` the
default cache is Redis while Redis answers; when it does not, the same calls go to a stand-in in
the process's own memory. After a failure the process stays on its stand-in for
``retry_seconds`` before it asks Redis again, so an outage does not cost a connection timeout on
every call.

What the outage costs, on purpose:
- each process counts on its own: a limit lets through at most its number per process (with
  gunicorn's workers, a few times its number), never fewer, and a code used in one process could
  be used once more in another within its 30-second step;
- what one store holds is not seen by the other when the process switches (a hold-back recorded
  during the outage ends with it; the content token is read again).
A table in the database was tried first: its writes joined the request's transaction, so a
count was lost when a request failed, and a second request waited on the first one's row lock
for the whole request (six presses of "PDF" rendered one after the other instead of being
refused).

Sessions keep their own alias (plain Redis): their store (``icbt.session_store``) falls back to the
session table, which every process shares.

The ``redis`` alias (sessions, and the primary of ``default``) uses ``RedisCache``: Django's own,
but with one redis-py client per connection pool, where Django makes a new client (and its table
of command callbacks) for every call, about a tenth of a millisecond each; every signed-in
request reads its session through it.
"""

import logging
import threading
import time

from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

logger = logging.getLogger(__name__)


def redis_caches(redis_url: str) -> dict:
    """The CACHES setting for a deployment with Redis: ``default`` with the stand-in, ``redis``
    (plain, for sessions), ``local`` (the stand-in in the process's memory)."""
    return {
        "default": {
            "BACKEND": "icbt.cache.FallbackCache",
            "OPTIONS": {"primary": "redis", "fallback": "local", "retry_seconds": 30},
        },
        "redis": {
            "BACKEND": "icbt.cache.RedisCache",
            "LOCATION": redis_url,
            # An unreachable server answers within a second instead of hanging a request.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        },
        "local": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "icbt-redis-stand-in",
            "OPTIONS": {"MAX_ENTRIES": 2_000},  # rate-limit counts are small; a cached PDF is not
        },
    }


class _ClientPerPool(RedisCacheClient):
    """Django's client of the Redis cache, keeping the redis-py client of each pool. A redis-py
    client holds nothing of a call's own (its connections are the pool's, which redis-py renews
    in a forked process), and may be shared between threads."""

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        clients = self.__dict__.setdefault("_icbt_clients", {})
        client = clients.get(pool)
        if client is None:
            client = clients[pool] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    """Django's Redis cache with one redis-py client per connection pool (``_ClientPerPool``)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ClientPerPool


def _unreachable_errors() -> tuple[type[BaseException], ...]:
    """What a cache server that cannot be reached raises (redis-py's errors are not OSErrors), or
    one that cannot take writes (a read-only replica, a server at its memory limit)."""
    errors: list[type[BaseException]] = [OSError]
    try:
        from redis import exceptions
    except ImportError:  # pragma: no cover - redis is a dependency
        return tuple(errors)
    return (
        *errors,
        exceptions.ConnectionError,
        exceptions.TimeoutError,
        exceptions.ReadOnlyError,
        exceptions.OutOfMemoryError,
    )


class FallbackCache(BaseCache):
    """A cache that forwards every call to ``primary`` and, when ``primary`` cannot be reached, to
    ``fallback`` (both aliases of CACHES). Errors other than an unreachable server (``incr`` of a
    missing key, a value that cannot be pickled) pass through unchanged."""

    # Per process and alias: until when the primary is not asked (time.monotonic()).
    _down_until: dict[str, float] = {}
    _lock = threading.Lock()

    def __init__(self, location, params):
        super().__init__(params)
        options = params.get("OPTIONS", {})
        self.primary = options["primary"]
        self.fallback = options["fallback"]
        self.retry_seconds = float(options.get("retry_seconds", 30))
        self.unreachable = _unreachable_errors()

    def _call(self, name: str, *args, **kwargs):
        if time.monotonic() >= self._down_until.get(self.primary, 0.0):
            try:
                return getattr(caches[self.primary], name)(*args, **kwargs)
            except self.unreachable:
                with self._lock:
                    self._down_until[self.primary] = time.monotonic() + self.retry_seconds
                logger.warning(
                    "cache %r unreachable; using %r for %d s",
                    self.primary,
                    self.fallback,
                    self.retry_seconds,
                    exc_info=True,
                )
        return getattr(caches[self.fallback], name)(*args, **kwargs)

    @classmethod
    def reset(cls) -> None:
        """Ask the primary again at once (tests; after a known recovery)."""
        with cls._lock:
            cls._down_until.clear()

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._call("get", key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", key, timeout, version)

    def delete(self, key, version=None):
        return self._call("delete", key, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", keys, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", key, version)

    def incr(self, key, delta=1, version=None):
        return self._call("incr", key, delta, version)

    def decr(self, key, delta=1, version=None):
        return self._call("decr", key, delta, version)

    def clear(self):
        return self._call("clear")

    def close(self, **kwargs):
        """Nothing of its own to close: Django closes the two aliases it forwards to."""
