"""manage.py figures_reconcile [--repair]: count the manager dashboard's figures again from the
source tables and compare them with the stored ones (``patients.figures``), clinic by clinic, with
progress."""

from django.core.management.base import BaseCommand, CommandError

from patients import figures


class Command(BaseCommand):
    help = (
        "Count the dashboard's daily figures (intake requests, starts, endings, the module funnel, "
        "staff messages, sessions, intakes) and the waiting work per therapist and team again from "
        "the source tables and report the keys that differ; --repair sets them right. Run it after "
        "worklist_reconcile --repair (the tallies count the work items). Safe to run at any time."
    )

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true", help="Set the differing counts right.")
        parser.add_argument("--clinic", type=int, action="append", help="Only this clinic (repeatable).")

    def handle(self, *args, repair=False, clinic=None, **options):
        def progress(clinic_id, done, total, wrong):
            found = f"{len(wrong)} counts differ" if wrong else "in step"
            self.stdout.write(f"  clinic {clinic_id} ({done}/{total}): {found}")

        self.stdout.write(
            "counting the dashboard's figures again" + (" (repairing)" if repair else "") + " ..."
        )
        wrong = figures.reconcile(repair=repair, clinic_ids=clinic, progress=progress)
        if wrong:
            self.stdout.write("differ: " + ", ".join(wrong))
        if not wrong:
            self.stdout.write(self.style.SUCCESS("done: the figures are in step."))
        elif repair:
            self.stdout.write(self.style.SUCCESS(f"done: {len(wrong)} counts repaired."))
        else:
            raise CommandError(f"out of step: {len(wrong)} counts differ (run with --repair).")
