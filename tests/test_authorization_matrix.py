"""Walks the URL resolver: every URL of ours must be in the matrix, and every persona must get
exactly the expected answer, and leave exactly the expected audit events, for every listed URL."""

import importlib
import pkgutil

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

import tests
from icbt.models import AuditEvent
from tests.icbt.matrix import EXTERNAL_PREFIXES
from tests.matrix import LOGIN, PERSONAS, STAFF


def _all_routes():
    routes = []
    for module_info in pkgutil.iter_modules(tests.__path__):
        if not module_info.ispkg:
            continue
        try:
            module = importlib.import_module(f"tests.{module_info.name}.matrix")
        except ModuleNotFoundError:
            continue
        routes.extend(module.ROUTES)
    return routes


def _url_names(resolver=None, namespace=""):
    resolver = resolver or get_resolver()
    names = set()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = namespace
            if pattern.namespace:
                ns = f"{namespace}{pattern.namespace}:"
            names |= _url_names(pattern, ns)
        elif isinstance(pattern, URLPattern):
            if pattern.name is None:
                names.add(f"{namespace}<unnamed {pattern.pattern}>")
            else:
                names.add(f"{namespace}{pattern.name}")
    return names


ROUTES = _all_routes()


def test_every_url_is_in_the_matrix():
    covered = set()
    for route in ROUTES:
        covered.add(route.name)
        covered.update(route.extra_names)
    missing = sorted(
        name
        for name in _url_names()
        if name not in covered and not name.startswith(EXTERNAL_PREFIXES) and "<unnamed" not in name
    )
    unnamed = sorted(name for name in _url_names() if "<unnamed" in name and not name.startswith("admin:"))
    assert not missing, f"URLs missing from the authorization matrix: {missing}"
    assert not unnamed, f"URL patterns without a name (cannot be in the matrix): {unnamed}"


def test_every_route_names_every_persona():
    for route in ROUTES:
        assert set(route.expect) == set(PERSONAS), (
            f"{route.name}: personas {sorted(set(PERSONAS) ^ set(route.expect))}"
        )


@pytest.mark.parametrize(
    "route", ROUTES, ids=[r.name + (f"[{r.method}]" if r.method != "get" else "") for r in ROUTES]
)
def test_matrix(route, world, client_for):
    extra = route.setup(world) if route.setup else None
    kwargs = {}
    if route.kwargs:
        kwargs = route.kwargs(world, extra) if route.kwargs.__code__.co_argcount == 2 else route.kwargs(world)
    url = reverse(route.name, kwargs=kwargs)
    failures = []
    for persona in PERSONAS:
        client = client_for(world.persona(persona))
        data = route.data(world) if route.data else {}
        last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        response = getattr(client, route.method)(url, data)
        expected = route.expect[persona]
        if expected == LOGIN:
            ok = response.status_code == 302 and response["Location"].startswith(reverse(settings.LOGIN_URL))
        else:
            ok = response.status_code == expected
        if not ok:
            failures.append(f"{persona}: expected {expected}, got {response.status_code}")
        failures += _audit_failures(route, persona, expected, last)
    assert not failures, f"{route.name} ({url}): " + "; ".join(failures)


def _audit_failures(route, persona, expected, last) -> list[str]:
    """The events the request wrote against the route's ``audit`` (allowed) or ``refused``."""
    written = AuditEvent.objects.filter(pk__gt=last)
    allowed = expected != LOGIN and expected < 400
    ok = {f"{e.action}:{e.object_type}" for e in written if e.outcome == AuditEvent.Outcome.OK}
    denied = {f"{e.action}:{e.object_type}" for e in written if e.outcome == AuditEvent.Outcome.DENIED}
    if allowed:
        want_ok, want_denied = route.audit_events(allowed=True), set()
    else:
        want_ok, want_denied = set(), route.audit_events(allowed=False) if persona in STAFF else set()
    failures = []
    if ok != want_ok:
        failures.append(f"{persona}: audit {sorted(ok)} instead of {sorted(want_ok)}")
    if denied != want_denied:
        failures.append(f"{persona}: refusal audit {sorted(denied)} instead of {sorted(want_denied)}")
    return failures
