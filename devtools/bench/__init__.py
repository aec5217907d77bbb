"""The benchmark of ``manage.py bench``: synthetic clinics, in-process measurements and a load
test against gunicorn. Nothing here is imported by the application itself: the bench urlconf
(:mod:`devtools.bench.urls`) and WSGI entry point (:mod:`devtools.bench.wsgi`) are used only by the
command, so the production URL space has no benchmark view in it."""
