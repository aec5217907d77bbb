"""The one cover rule (``CareShare.objects.active``): a share counts through its ``until`` day
and stops at once when it is ended; ``is_active_on`` says the same for a share already read."""

from datetime import timedelta

import pytest
from django.utils import timezone

from patients.models import CareShare

pytestmark = pytest.mark.django_db


def test_a_share_counts_through_its_last_day_and_not_once_ended(world, clock):
    today = clock.today()
    share = CareShare.objects.create(
        patient=world.patient_a, colleague=world.therapist2, shared_by=world.therapist, until=today
    )
    for day, active in ((today - timedelta(days=1), True), (today, True), (today + timedelta(days=1), False)):
        assert CareShare.objects.active(on=day).filter(pk=share.pk).exists() is active
        assert share.is_active_on(day) is active
    assert list(CareShare.objects.active()) == [share]
    share.ended_at = timezone.now()
    share.save(update_fields=["ended_at"])
    assert not CareShare.objects.active(on=today).exists()
    assert not share.is_active_on(today)
