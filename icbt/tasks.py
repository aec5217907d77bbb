"""Celery tasks of the base app. Each is safe to run twice."""

from celery import shared_task

from icbt.submissions import form_submissions_purge as purge


@shared_task(name="icbt.tasks.form_submissions_purge")
def form_submissions_purge() -> int:
    """Forget idempotency keys past their retention (beat, daily)."""
    return purge()
