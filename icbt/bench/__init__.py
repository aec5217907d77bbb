"""The benchmark of ``manage.py bench``: synthetic clinics, in-process measurements and a load
test against gunicorn. Nothing here is imported by the application itself: the bench urlconf
(:mod:`icbt.bench.urls`) and WSGI entry point (:mod:`icbt.bench.wsgi`) are used only by the
command, so the production URL space has no benchmark view in it."""
