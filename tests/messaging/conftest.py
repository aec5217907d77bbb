import pytest

from tests.messaging.helpers import enroll


@pytest.fixture
def enrollment(world):
    """Patient A enrolled (active, weekly feedback) on the tiny program, treated by world.therapist."""
    return enroll(world.patient_a)
