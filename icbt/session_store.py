"""Sessions read from the cache, kept in the database (``SESSION_ENGINE = "icbt.session_store"``).

Django's ``cached_db`` engine takes the session SELECT out of every request. This store keeps its
guarantees when the cache (Redis in production, the file cache under ``make run``) fails:

- a cache that cannot be reached is never fatal: reading, creating, saving and ending a session
  fall back to the database, which always holds every live session (nobody is signed out, no
  page breaks; the failure is logged);
- a session ended while the cache could not be reached (sign-out, idle sign-out, a new key at
  sign-in, a deactivated account) is gone from the database at once, and its cached copy, if
  the cache kept it, expires after at most ``ICBT_SESSION_CACHE_SECONDS``: every copy is written
  with that timeout, renewed whenever the session is saved (the idle check saves it about once
  a minute while it is in use).
"""

import logging

from django.conf import settings
from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DBStore
from django.db import DatabaseError, IntegrityError, router, transaction

logger = logging.getLogger(__name__)


def cache_seconds(expiry_age: int) -> int:
    """How long a cached copy of a session may live: its own expiry, at most the setting."""
    return max(0, min(expiry_age, int(getattr(settings, "ICBT_SESSION_CACHE_SECONDS", 300))))


class SessionStore(cached_db.SessionStore):
    def _cache_failed(self, what: str) -> None:
        logger.warning("session cache unreachable while %s; using the database", what, exc_info=True)

    def load(self):
        try:
            data = self._cache.get(self.cache_key)
        except Exception:  # noqa: BLE001 - an unreachable cache (or a key it refuses): the database
            self._cache_failed("reading")
            data = None
        if data is not None:
            return data
        stored = self._get_session_from_db()
        if not stored:
            return {}
        data = self.decode(stored.session_data)
        self._cache_set(data, self.get_expiry_age(expiry=stored.expire_date))
        return data

    def exists(self, session_key):
        if not session_key:
            return False
        try:
            if (self.cache_key_prefix + session_key) in self._cache:
                return True
        except Exception:  # noqa: BLE001
            self._cache_failed("checking a key")
        return DBStore.exists(self, session_key)

    def save(self, must_create=False):
        if self.session_key is None or must_create or not self._update_row():
            DBStore.save(self, must_create)
        self._cache_set(self._session, self.get_expiry_age())

    def _update_row(self) -> bool:
        """Write a changed session to its row with one UPDATE (a flash message, the idle clock):
        outside a transaction that statement commits on its own, so Django's BEGIN and COMMIT
        around it are two round trips for nothing. As Django's save, a row that is gone (ended
        in the meantime) raises ``UpdateError``: the session is not brought back. Inside a
        transaction returns False, and Django's save (with its savepoint) writes it."""
        using = router.db_for_write(self.model)
        if transaction.get_connection(using).in_atomic_block:
            return False
        try:
            updated = (
                self.model._base_manager.using(using)
                .filter(session_key=self.session_key)
                .update(session_data=self.encode(self._get_session()), expire_date=self.get_expiry_date())
            )
        except IntegrityError:
            raise
        except DatabaseError as exc:
            raise UpdateError from exc
        if not updated:
            raise UpdateError
        return True

    def delete(self, session_key=None):
        DBStore.delete(self, session_key)
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        try:
            self._cache.delete(self.cache_key_prefix + session_key)
        except Exception:  # noqa: BLE001 - the row is gone; a cached copy expires by itself
            self._cache_failed("ending a session")

    def _cache_set(self, data, expiry_age: int) -> None:
        try:
            self._cache.set(self.cache_key, data, cache_seconds(expiry_age))
        except Exception:  # noqa: BLE001
            self._cache_failed("writing")
            # A cache that refuses writes but still serves reads (Redis at its memory limit)
            # must not keep a copy older than the row just saved: the next request would read
            # it and write it back over the newer row.
            try:
                self._cache.delete(self.cache_key)
            except Exception:  # noqa: BLE001, S110 - unreachable: its copy expires by itself
                pass
