"""The staff messages in the manager dashboard's figures (``patients.figures``): counted per
clinic, local day, written feedback or other message, and the team of the treatment. The services
here move them when a message is written (``counted``); ``patients.figures.reconcile`` counts
them again through ``source``, registered when the app loads."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from messaging.models import Message
from patients import figures


def counted(message: Message, *, enrollment, by_staff: bool) -> None:
    """A message was written in ``enrollment``'s message box: one more contact when clinic
    staff wrote it (the patient's own messages are no treatment contact)."""
    if by_staff:
        figures.message_added(message, enrollment=enrollment)


def source(clinic_id: int) -> Iterator[tuple[figures.Key, int]]:
    tz = timezone.get_current_timezone()
    rows = (
        Message.objects.filter(clinic_id=clinic_id, author__staff__isnull=False)
        .values_list("is_feedback", "conversation__enrollment__team_id", TruncDate("created_at", tzinfo=tz))
        .annotate(n=Count("pk"))
        .order_by()
    )
    for is_feedback, team, day, n in rows:
        kind = figures.FEEDBACK if is_feedback else figures.MESSAGE
        yield figures.Key(clinic_id, day, kind, "", 0, team or 0), n


def register() -> None:
    figures.register_source("messages", source)
