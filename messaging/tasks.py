"""Celery tasks of the notification digests. Each takes ids (or nothing), is safe to run twice
and to overlap with itself: the guarantees live in ``messaging.notifications.digests`` and
``messaging.notifications.scans``, the tasks only call them. Beat runs them (``CELERY_BEAT_SCHEDULE`` in
settings); ``icbt.notifications.notify`` queues ``notifications_deliver`` on commit."""

import logging

from celery import shared_task

from messaging.notifications.digests import digest_round, purge_handled
from messaging.notifications.scans import notifications_scan as run_scan

logger = logging.getLogger("icbt.digests")


@shared_task(name="messaging.tasks.digests_send_due")
def digests_send_due() -> dict:
    """One digest round for everybody (beat, every minute)."""
    report = digest_round()
    if report.sent or report.failed or report.resumed:
        logger.info(
            "digest round: %s sent, %s resumed, %s failed, %s dropped",
            report.sent,
            report.resumed,
            report.failed,
            report.dropped,
        )
    return {
        "sent": report.sent,
        "failed": report.failed,
        "resumed": report.resumed,
        "dropped": report.dropped,
    }


@shared_task(name="messaging.tasks.notifications_deliver")
def notifications_deliver(recipient_id: int) -> dict:
    """A digest round for one person, queued when an event for them commits: urgent items and
    people on "soon" hear at once instead of at the next beat. A no-op when nothing is due."""
    report = digest_round(recipient_ids=[recipient_id])
    return {"sent": report.sent, "failed": report.failed}


@shared_task(name="messaging.tasks.notifications_scan")
def notifications_scan() -> dict:
    """Create the time-based notifications (beat, every 15 minutes)."""
    report = run_scan()
    return dict(report.created)


@shared_task(name="messaging.tasks.notifications_purge")
def notifications_purge() -> int:
    """Delete handled notifications and digests past the retention period (beat, daily)."""
    return purge_handled()
