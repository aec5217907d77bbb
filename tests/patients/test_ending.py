"""The open items before an end: patients asks messaging's count (registered at start-up) and
refuses to answer without it, never showing zero for a safety signal it cannot count."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from messaging.pending import open_items_at_end
from patients import ending
from patients.models import Enrollment
from tests.messaging.helpers import enroll
from tests.patients.test_end_with_open_items import _patient_message, _urgent_phq9
from tests.work import settle

pytestmark = pytest.mark.django_db


def test_messaging_counts_the_open_items_of_an_open_treatment(world):
    enrollment = enroll(world.patient_a, weekday=timezone.localdate().weekday())
    _urgent_phq9(enrollment)
    _patient_message(enrollment)
    assert ending._counter is open_items_at_end
    assert ending.open_items(enrollment) == (1, 1)
    Enrollment.objects.filter(pk=enrollment.pk).update(status=Enrollment.Status.STOPPED)
    settle()
    enrollment.refresh_from_db()
    assert ending.open_items(enrollment) == (0, 0)


def test_without_a_counter_it_refuses_to_answer(world, monkeypatch):
    enrollment = enroll(world.patient_a, weekday=timezone.localdate().weekday())
    monkeypatch.setattr(ending, "_counter", None)
    with pytest.raises(ImproperlyConfigured):
        ending.open_items(enrollment)
