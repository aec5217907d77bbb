from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _work_items_fill(sender, using, **kwargs):
    """An existing database that has just received the work-item table gets its rows once,
    after every migration has run (the collectors read today's models, so this cannot be a
    migration of its own: a later migration would change the tables under it)."""
    from django.db import DEFAULT_DB_ALIAS

    from patients import work_items
    from patients.models import Enrollment, IntakeRequest, Patient, WorkItem

    if using != DEFAULT_DB_ALIAS:
        return
    if not WorkItem.objects.exists():
        if Patient.objects.exists() or IntakeRequest.objects.exists():
            work_items.reconcile(repair=True)
        return
    # A table from before early warnings were rows: they get theirs once (a treatment with a
    # weekly check-in is what can have one).
    if not WorkItem.objects.filter(kind="early_warning").exists() and (
        Enrollment.objects.filter(status=Enrollment.Status.ACTIVE)
        .exclude(version__measurement_schedule={})
        .exists()
    ):
        work_items.reconcile(repair=True)


def _figures_fill(sender, using, **kwargs):
    """An existing database that has just received the dashboard's figures (``DailyFigure``,
    ``WorkTally``) gets them once, counted from the source tables, after every migration ran
    (after the work items, which the tallies count)."""
    from django.db import DEFAULT_DB_ALIAS

    from patients import figures
    from patients.models import DailyFigure, IntakeRequest, Patient, WorkTally

    if using != DEFAULT_DB_ALIAS or DailyFigure.objects.exists() or WorkTally.objects.exists():
        return
    # Intakes and sessions belong to patients, treatments too: any patient or request can count.
    if Patient.objects.exists() or IntakeRequest.objects.exists():
        figures.reconcile(repair=True)


class PatientsConfig(AppConfig):
    name = "patients"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from patients import confirmations  # noqa: F401 - registers the codes (icbt.flash)

        post_migrate.connect(_work_items_fill, sender=self, dispatch_uid="patients.work_items_fill")
        post_migrate.connect(_figures_fill, sender=self, dispatch_uid="patients.figures_fill")
