"""The WSGI application of the benchmark's gunicorn run: the production application with the
bench urlconf (:mod:`devtools.bench.urls`, the project's URLs plus ``bench/hello``).

The switch lives here, in a module only ``manage.py bench`` starts, rather than as an
environment variable in ``icbt/settings.py``: a production process cannot be talked into
serving the bench view by its environment. Everything else is the production configuration,
read from the environment the bench command sets (``DJANGO_DEBUG=false`` and fresh keys).
"""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "icbt.settings")
application = get_wsgi_application()
settings.ROOT_URLCONF = "devtools.bench.urls"
