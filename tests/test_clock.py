"""The suite's clock: a date-dependent test runs on each day of the week, and the clock is set
before any fixture makes data."""

import pytest
from django.utils import timezone

from tests.clock import DAY_IDS, day_of_week

seen = set()


@pytest.mark.every_weekday
def test_every_weekday_runs_once_per_day_with_the_clock_set_first(request, world, clock):
    weekday = request.node.callspec.params["_weekday"]
    assert request.node.callspec.id.startswith(DAY_IDS[weekday])
    assert clock.today() == day_of_week(weekday) == timezone.localdate()
    assert clock.weekday() == weekday
    # The world was made after the clock moved: its rows carry the fixed day, not the real one.
    assert timezone.localdate(world.therapist.user.date_joined) == day_of_week(weekday)


def test_the_clock_moves_on_and_can_be_moved(clock):
    start = clock.now()
    clock.advance(days=3, hours=2)
    assert (clock.now() - start).total_seconds() >= 3 * 86400 + 7200
    clock.travel(day_of_week(6))
    assert clock.today().weekday() == 6
