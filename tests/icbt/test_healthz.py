"""/healthz reports the database and the broker: 200 when both answer, 503 with JSON otherwise."""

from contextlib import contextmanager

import pytest
from django.db import OperationalError, connections
from django.urls import reverse

URL = reverse("healthz")


def test_healthy(db, client):
    response = client.get(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]


def test_healthz_needs_no_sign_in_and_no_second_factor(world, client_for):
    from tests.factories import make_staff

    newcomer = make_staff(world.clinic, "newbie@alpha.test", therapist=True, totp=False)
    for user in (None, world.patient_a.user, newcomer.user):
        assert client_for(user).get(URL).status_code == 200


@contextmanager
def _database_down(monkeypatch):
    """Every attempt to reach the database fails, as when the server is gone (undone before
    the test database is cleaned up)."""

    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(connections["default"], "ensure_connection", refuse)
        yield


def test_database_down_is_503_with_json(db, client, monkeypatch):
    with _database_down(monkeypatch):
        response = client.get(URL)
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "error", "database": "error", "broker": "ok"}


def test_database_query_failing_is_503(db, client, monkeypatch):
    import icbt.views

    class BrokenConnection:
        def cursor(self):
            raise OperationalError("the query failed")

    monkeypatch.setattr(icbt.views, "connection", BrokenConnection())
    response = client.get(URL)
    assert response.status_code == 503
    assert response.json()["database"] == "error"
    assert response.json()["status"] == "error"


def test_broker_down_is_503(db, client, monkeypatch):
    from icbt.celery import app

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("no broker")

    monkeypatch.setattr(app, "connection_for_write", refuse)
    response = client.get(URL)
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "broker": "error"}


def test_the_error_text_is_not_shown(db, client, monkeypatch):
    with _database_down(monkeypatch):
        response = client.get(URL)
    assert response.status_code == 503
    assert "connection refused" not in response.content.decode()


def test_healthz_is_exempt_from_the_https_redirect(db, client, settings):
    """The container health check calls it over plain http inside the host."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    assert client.get(URL).status_code == 200
    assert client.get(reverse("home")).status_code == 301


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_only_reading_is_allowed(method, db, client):
    assert getattr(client, method)(URL).status_code == 405


def test_head_is_answered_like_get(db, client):
    """Load balancers and uptime checks often probe with HEAD."""
    response = client.head(URL)
    assert response.status_code == 200
    assert response.content == b""
    assert client.post(URL).status_code == 405
