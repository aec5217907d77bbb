"""A platform operator who gives a patient another therapist in the Django admin hands the
patient over as an accepted referral does: the open treatment, the waiting work and the counts
in both therapists' navigation go with the patient, and the timeline records it."""

import pytest
from django.urls import reverse
from django.utils import timezone

from icbt.models import User
from messaging import pending
from patients import services, work_items
from patients.models import Enrollment, TimelineEvent, WorkItem
from tests.factories import give_totp
from tests.messaging.digest_helpers import Treated

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(world):
    """A platform operator, signed in to the Django admin with a second factor."""
    user = User.objects.create_superuser(email="op@platform.test", password="an-operator-passw0rd")
    give_totp(user)
    return user


def test_a_new_therapist_set_in_the_admin_takes_the_work_and_the_counts(clock, world, operator, client_for):
    t = Treated(world)
    services.diary_entry_save(
        enrollment=t.enrollment_a, diary_type=t.mood, entry_date=timezone.localdate(), answers={"mood": 4}
    )
    patient = world.patient_a
    waiting = WorkItem.objects.filter(patient=patient, state="open", kind="diary")
    assert waiting.get().owner == world.therapist
    before_alice = pending.pending_count(staff=world.therapist)
    before_tom = pending.pending_count(staff=world.therapist2)

    response = client_for(operator).post(
        reverse("admin:patients_patient_change", args=[patient.pk]),
        {"user": patient.user_id, "therapist": world.therapist2.pk},
    )

    assert response.status_code == 302, response.content[:500]
    patient.refresh_from_db()
    assert patient.therapist == world.therapist2
    assert Enrollment.objects.get(pk=t.enrollment_a.pk).therapist == world.therapist2
    assert waiting.get().owner == world.therapist2
    assert pending.pending_count(staff=world.therapist) == before_alice - 1
    assert pending.pending_count(staff=world.therapist2) == before_tom + 1
    assert not work_items.reconcile()
    event = TimelineEvent.objects.filter(patient=patient, kind=TimelineEvent.Kind.THERAPIST).get()
    assert event.detail == {"from": world.therapist.pk, "to": world.therapist2.pk}
    assert event.actor_id == operator.pk


def test_other_changes_in_the_admin_leave_the_therapist_and_the_timeline_alone(
    clock, world, operator, client_for
):
    patient = world.patient_a
    response = client_for(operator).post(
        reverse("admin:patients_patient_change", args=[patient.pk]),
        {"user": patient.user_id, "therapist": world.therapist.pk},
    )
    assert response.status_code == 302, response.content[:500]
    patient.refresh_from_db()
    assert patient.therapist == world.therapist
    assert not TimelineEvent.objects.filter(patient=patient, kind=TimelineEvent.Kind.THERAPIST).exists()


def test_the_admin_offers_only_the_patients_own_clinics_therapists(clock, world, operator, client_for):
    t = Treated(world)
    patient = world.patient_a
    admin = client_for(operator)
    url = reverse("admin:patients_patient_change", args=[patient.pk])
    response = admin.post(url, {"user": patient.user_id, "therapist": world.outsider.pk})
    assert response.status_code == 200  # the form again, with its error
    assert response.context["adminform"].form.errors["therapist"]
    patient.refresh_from_db()
    assert patient.therapist == world.therapist
    assert Enrollment.objects.get(pk=t.enrollment_a.pk).therapist == world.therapist
    assert not WorkItem.objects.filter(owner=world.outsider).exists()
    # The service refuses it too, whoever calls it.
    from django.core.exceptions import ValidationError

    from patients.services.referrals import therapist_hand_over

    with pytest.raises(ValidationError):
        therapist_hand_over(patient_id=patient.pk, therapist=world.outsider)


def test_the_admin_does_not_leave_a_patient_in_treatment_without_a_therapist(
    clock, world, operator, client_for
):
    t = Treated(world)
    patient = world.patient_a
    response = client_for(operator).post(
        reverse("admin:patients_patient_change", args=[patient.pk]),
        {"user": patient.user_id, "therapist": ""},
    )
    assert response.status_code == 200
    assert "in treatment" in str(response.context["adminform"].form.errors["therapist"])
    assert Enrollment.objects.get(pk=t.enrollment_a.pk).therapist == world.therapist
