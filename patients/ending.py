"""What ending a treatment leaves waiting, for the confirmation the therapist sees first.

Unanswered messages and unreviewed urgent questionnaires are waiting work, and ``messaging``
(a floor above) holds the one definition of waiting work (``messaging.pending``). So patients
does not count them itself: messaging registers its counter when it starts
(``MessagingConfig.ready``). Without a counter this refuses to answer rather than show zero: a
safety signal is never hidden.
"""

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

from patients.models import Enrollment

OpenItemsCounter = Callable[[Enrollment], tuple[int, int]]

_counter: OpenItemsCounter | None = None


def open_items_counter_register(counter: OpenItemsCounter) -> None:
    """``counter(enrollment) -> (urgent questionnaires, unanswered messages)``."""
    global _counter  # noqa: PLW0603 (set once, at start-up)
    _counter = counter


def open_items(enrollment: Enrollment) -> tuple[int, int]:
    """What ending ``enrollment`` leaves waiting: unreviewed urgent questionnaires and the
    patient's unanswered messages (two counts; they stay on the worklist after the end). Nothing
    for a treatment that has ended already."""
    if not enrollment.is_open:
        return (0, 0)
    if _counter is None:
        raise ImproperlyConfigured("No counter of open items: the messaging app registers it at start-up.")
    return _counter(enrollment)
