import os

import pytest
from django.utils import translation

from tests.factories import make_world


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
    # Each request activates its reader's language and leaves it active in the thread (the next
    # request activates its own); a test that calls a selector after a Dutch user's request
    # must not inherit Dutch.
    translation.activate(settings.LANGUAGE_CODE)
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
