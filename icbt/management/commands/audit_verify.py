"""manage.py audit_verify: check the audit trail's hash chains and report the first break.

Walks every clinic's chain (or one, with ``--clinic``) in order, recomputing each event's hash,
with progress on stderr. Prints, per chain, the number of events and the hash of the last one:
keep those lines somewhere the database owner cannot write (a ticket, a signed e-mail, the
clinic's own records) and compare them at the next run, because someone with the table owner's
rights could rewrite a whole chain consistently. Exits with status 1 at the first break.
"""

from django.core.management.base import BaseCommand, CommandError

from icbt.audit_chain import ChainBreak, chains, verify_chain
from icbt.models import AuditEvent


class Command(BaseCommand):
    help = "Check the hash chains of the audit trail; report the first event that breaks one."

    def add_arguments(self, parser):
        parser.add_argument(
            "--clinic", type=int, help="only this clinic's chain (0: events without a clinic)"
        )
        parser.add_argument("--batch-size", type=int, default=2000)

    def handle(self, *args, clinic=None, batch_size=2000, **options):
        keys = [clinic] if clinic is not None else chains()
        total = 0
        for chain in keys:
            events = AuditEvent.objects.filter(
                **({"clinic_id__isnull": True} if chain == 0 else {"clinic_id": chain})
            )
            count = events.count()
            label = "no clinic" if chain == 0 else f"clinic {chain}"

            def progress(done, label=label, count=count):
                self.stderr.write(f"{label}: {done} of {count} events checked")

            try:
                checked, head = verify_chain(chain, batch_size=batch_size, progress=progress)
            except ChainBreak as broken:
                self.stdout.write(
                    f"{label}: BROKEN at event {broken.event_id} (number {broken.chain_seq} in the chain): "
                    f"{broken.reason}"
                )
                raise CommandError(
                    f"The audit trail of {label} is broken at event {broken.event_id}."
                ) from None
            total += checked
            self.stdout.write(f"{label}: {checked} events intact; last {head or '-'}")
        self.stdout.write(self.style.SUCCESS(f"Audit trail intact: {total} events in {len(keys)} chains."))
