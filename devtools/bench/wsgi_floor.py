"""The WSGI application of the benchmark's floor: the bench urlconf served with Django's own
middleware only (:data:`devtools.bench.urls.FLOOR_MIDDLEWARE`), to compare the project's stack with.
Started only by ``manage.py bench``, like :mod:`devtools.bench.wsgi`."""

import os

import django
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "icbt.settings")
django.setup(set_prefix=False)

from devtools.bench.urls import FLOOR_MIDDLEWARE  # noqa: E402 - after the settings are set up

settings.MIDDLEWARE = FLOOR_MIDDLEWARE
settings.ROOT_URLCONF = "devtools.bench.urls"

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
