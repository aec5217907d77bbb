"""manage.py send_digests: one digest round now (what beat runs every minute), with progress."""

from django.core.management.base import BaseCommand

from messaging.notifications.digests import digest_round
from messaging.notifications.scans import notifications_scan


class Command(BaseCommand):
    help = (
        "Create the time-based notifications (feedback due, inactivity, diaries, weekly figures) and send "
        "every digest e-mail that is due now. Safe to run at any time, also while workers run."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-scan", action="store_true", help="Only send; do not create time-based items."
        )

    def handle(self, *args, no_scan=False, **options):
        if not no_scan:
            scan = notifications_scan()
            made = (
                ", ".join(f"{count} {kind}" for kind, count in sorted(scan.created.items())) or "nothing new"
            )
            self.stdout.write(f"scan: {made}")
        self.stdout.write("sending due digests ...")
        report = digest_round(time_budget=None, progress=lambda line: self.stdout.write(f"  {line}"))
        self.stdout.write(
            self.style.SUCCESS(
                f"done: {report.sent} e-mail(s) with {report.items} item(s) sent, {report.resumed} resumed, "
                f"{report.dropped} item(s) dropped at the re-check, {report.failed} failed "
                f"({report.recipients} recipient(s) with pending items looked at)."
            )
        )
