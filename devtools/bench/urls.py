"""The project's URLs plus ``bench/hello``: a bare view that goes through the whole middleware
stack (session, authentication, the MFA gate, security headers) and does nothing else; and the
floor beside it: ``bench/floor``, a plain Django page (the session and the signed-in user), served
with Django's own middleware only (``FLOOR_MIDDLEWARE``, :mod:`devtools.bench.wsgi_floor`), and
``bench/floor-roles``, the same with the user's roles loaded as every staff page loads them.

Used only by ``manage.py bench`` (``override_settings(ROOT_URLCONF=...)`` in process, and
:mod:`devtools.bench.wsgi` for the gunicorn run); ``icbt.urls`` never includes it.
"""

from django.http import HttpResponse
from django.urls import path

from icbt.roles import roles_of
from icbt.urls import urlpatterns as project_urlpatterns

# What ``django-admin startproject`` gives a new project: the floor the project's stack is
# compared with.
FLOOR_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


def hello(request):
    """The cheapest page the stack can serve: the baseline the other figures compare with."""
    return HttpResponse(b"hello", content_type="text/plain")


def floor(request):
    """A plain Django page for signed-in users: reads the session and loads the user."""
    if not request.user.is_authenticated:
        return HttpResponse(b"sign in", status=403, content_type="text/plain")
    return HttpResponse(b"floor", content_type="text/plain")


def floor_roles(request):
    """The floor plus the user's roles (``icbt.roles.roles_of``), as the project loads them."""
    if not request.user.is_authenticated:
        return HttpResponse(b"sign in", status=403, content_type="text/plain")
    roles_of(request.user)
    return HttpResponse(b"floor", content_type="text/plain")


urlpatterns = [
    path("bench/hello", hello, name="bench_hello"),
    path("bench/floor", floor, name="bench_floor"),
    path("bench/floor-roles", floor_roles, name="bench_floor_roles"),
    *project_urlpatterns,
]
