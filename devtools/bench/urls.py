"""The project's URLs plus ``bench/hello``: a bare view that goes through the whole middleware
stack (session, authentication, the MFA gate, security headers) and does nothing else.

Used only by ``manage.py bench`` (``override_settings(ROOT_URLCONF=...)`` in process, and
:mod:`devtools.bench.wsgi` for the gunicorn run); ``icbt.urls`` never includes it.
"""

from django.http import HttpResponse
from django.urls import path

from icbt.urls import urlpatterns as project_urlpatterns


def hello(request):
    """The cheapest page the stack can serve: the baseline the other figures compare with."""
    return HttpResponse(b"hello", content_type="text/plain")


urlpatterns = [path("bench/hello", hello, name="bench_hello"), *project_urlpatterns]
