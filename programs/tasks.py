"""Celery tasks of the programs app. Each takes ids and is safe to run twice."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from programs import services


@shared_task(
    name=services.LICENSED_UPLOAD_TASK,
    soft_time_limit=settings.ICBT_LICENSED_UPLOAD_SECONDS,
    time_limit=settings.ICBT_LICENSED_UPLOAD_SECONDS + 10,
)
def licensed_upload_process(upload_id: int) -> str:
    """Check and load an uploaded file of licensed questionnaire texts. A file that takes longer
    than the soft limit is refused; past the hard limit the worker process is replaced, and the
    next attempt refuses the file without parsing it again."""
    try:
        upload = services.licensed_upload_process(upload_id=upload_id)
    except SoftTimeLimitExceeded:
        services.licensed_upload_refuse(upload_id=upload_id, reason=services.licensed_timeout_reason)
        return "refused"
    return upload.status if upload is not None else "skipped"
