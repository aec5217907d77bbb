"""The suite's one way to fix "now".

A test that depends on the date asks for the ``clock`` fixture (frozen, still ticking, on a
Wednesday at 10:00 in the project's time zone unless the test says otherwise) or carries the
``every_weekday`` marker, which runs it seven times, once on each day of one fixed week, with the
clock set before any other fixture builds data. Rules about weekdays (feedback due days, digests
on a chosen day, diary weeks) must hold on all seven; the real calendar never decides a result.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import time_machine
from django.conf import settings
from django.utils import timezone

# Monday 30 November to Sunday 6 December 2026: one fixed week, so every run sees the same days.
WEEK_START = date(2026, 11, 30)
DAY_IDS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_WEEKDAY = 2


def day_of_week(weekday: int) -> date:
    return WEEK_START + timedelta(days=weekday)


class Clock:
    """Moves the time everywhere Python reads it (``time.time``, ``datetime.now``, Django's
    ``timezone.now``), with time going on from the moment it was set (``tick``)."""

    def __init__(self, traveller: time_machine.travel):
        self._traveller = traveller
        self._coordinates = traveller.start()

    def travel(self, moment: datetime | date, *, tick: bool = True) -> None:
        if not isinstance(moment, datetime):
            moment = datetime.combine(moment, time(10, 0))
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=ZoneInfo(settings.TIME_ZONE))
        self._coordinates.move_to(moment, tick=tick)

    def advance(self, **delta: float) -> None:
        self._coordinates.shift(timedelta(**delta))

    def now(self) -> datetime:
        return timezone.now()

    def today(self) -> date:
        return timezone.localdate()

    def weekday(self) -> int:
        return self.today().weekday()

    def stop(self) -> None:
        self._traveller.stop()


def start_clock(weekday: int = DEFAULT_WEEKDAY) -> Clock:
    moment = datetime.combine(day_of_week(weekday), time(10, 0), tzinfo=ZoneInfo(settings.TIME_ZONE))
    return Clock(time_machine.travel(moment, tick=True))
