"""The Celery application. Configuration comes from Django settings (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "icbt.settings")

app = Celery("icbt")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _create_filesystem_queue(sender, **kwargs):
    """The embedded broker (no REDIS_URL) keeps its queue in folders that must exist."""
    options = sender.conf.broker_transport_options or {}
    if str(sender.conf.broker_url).startswith("filesystem://"):
        for key in ("data_folder_in", "data_folder_out", "processed_folder"):
            if options.get(key):
                os.makedirs(options[key], exist_ok=True)


def task_named(name: str):
    """The registered task ``name``, for a module that queues a task of a module that imports it
    back (services queue their app's tasks by name, so no import cycle). Outside a worker the
    apps' tasks modules are imported on demand (Celery's autodiscovery runs on this signal)."""
    if name not in app.tasks:
        app.loader.import_default_modules()
    return app.tasks[name]
