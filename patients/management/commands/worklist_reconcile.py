"""manage.py worklist_reconcile [--repair]: collect the waiting work again from the source tables
and compare it with the work-item table, clinic by clinic, with progress."""

from django.core.management.base import BaseCommand, CommandError

from patients import figures, work_items


class Command(BaseCommand):
    help = (
        "Recompute the waiting work (messages, answers, diary weeks, questionnaires, feedback, quiet "
        "patients, intake requests, referrals) from the source tables and report where the work-item "
        "table differs; --repair brings it in line. Safe to run at any time."
    )

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true", help="Open, close and change rows to match.")
        parser.add_argument("--clinic", type=int, action="append", help="Only this clinic (repeatable).")

    def handle(self, *args, repair=False, clinic=None, **options):
        def progress(clinic_id, done, total, drift):
            found = f"{len(drift.opened)} missing, {len(drift.closed)} stale, {len(drift.changed)} changed"
            self.stdout.write(f"  clinic {clinic_id} ({done}/{total}): {found if drift else 'in step'}")

        self.stdout.write("reconciling the work items" + (" (repairing)" if repair else "") + " ...")
        drift = work_items.reconcile(repair=repair, clinic_ids=clinic, progress=progress)
        for label, keys in (("missing", drift.opened), ("stale", drift.closed), ("changed", drift.changed)):
            if keys:
                self.stdout.write(f"{label}: {', '.join(sorted(keys))}")
        if not drift:
            self.stdout.write(self.style.SUCCESS("done: the work items are in step."))
        elif repair:
            # Repaired rows moved no tallies: count the dashboard's waiting work again now, not
            # only at night (figures_reconcile), so it agrees with the worklist at once.
            recounted = figures.reconcile(repair=True, clinic_ids=clinic)
            self.stdout.write(
                self.style.SUCCESS(
                    f"done: {work_items.drift_summary(drift)}, repaired; "
                    f"the dashboard's figures recounted ({len(recounted)} corrected)."
                )
            )
        else:
            raise CommandError(f"out of step: {work_items.drift_summary(drift)} (run with --repair).")
