"""Celery tasks of the patients floor. Each takes ids (or nothing) and is safe to run twice."""

import logging

from celery import shared_task

from patients import figures, work_items

logger = logging.getLogger("icbt.work_items")


@shared_task(name="patients.tasks.work_items_reconcile")
def work_items_reconcile() -> dict:
    """The nightly check that the work-item table is in step with the source tables (beat). Any
    difference is a defect of a service (an event that did not refresh its items): it is logged as
    an error, with kinds and ids only, and repaired so that the worklist is right again."""
    drift = work_items.reconcile(repair=True)
    if drift:
        logger.error(
            "work items were out of step (%s): %s",
            work_items.drift_summary(drift),
            " ".join(sorted(drift.opened + drift.closed + drift.changed)),
        )
    return {"opened": len(drift.opened), "closed": len(drift.closed), "changed": len(drift.changed)}


@shared_task(name="patients.tasks.figures_reconcile")
def figures_reconcile() -> dict:
    """The nightly check of the manager dashboard's figures and tallies against the source
    tables (after the work items' reconcile, whose rows the tallies count). A difference is a
    defect of a service: logged as an error with the keys (kinds, days and ids only) and
    repaired."""
    wrong = figures.reconcile(repair=True)
    if wrong:
        logger.error("figures were out of step (%s counts): %s", len(wrong), " ".join(wrong))
    return {"wrong": len(wrong)}
