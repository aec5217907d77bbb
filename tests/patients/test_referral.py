"""Internal referral: a therapist refers a patient to an ICBT-trained colleague of the clinic."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from patients import services
from patients.models import Patient, Referral, TimelineEvent
from tests.factories import make_staff
from tests.patients import staff_helpers as sh
from tests.work import settle

pytestmark = pytest.mark.django_db

REFERRALS = reverse("patients:staff_referral_list")
# User, staff role, patient role, TOTP check, savepoint, received, sent, audit, the
# navigation's unread-message count, release.
REFERRAL_LIST_QUERIES = 10


def _trained(staff):
    staff.training_date = datetime.date(2025, 1, 15)
    staff.save(update_fields=["training_date"])
    return staff


def test_a_therapist_refers_their_patient_with_a_note(world, client_for):
    _trained(world.therapist2)
    program = sh.tiny().program
    client = client_for(world.therapist.user)
    page = client.get(reverse("patients:staff_referral_create", args=[world.patient_a.pk])).content.decode()
    assert world.therapist2.user.get_full_name() in page
    response = client.post(
        reverse("patients:staff_referral_create", args=[world.patient_a.pk]),
        {
            "to_therapist": world.therapist2.pk,
            "program": program.pk,
            "note": "Would she suit the online program?",
        },
    )
    assert response.status_code == 302
    referral = Referral.objects.get()
    assert (referral.referred_by, referral.to_therapist, referral.status) == (
        world.therapist,
        world.therapist2,
        "pending",
    )
    assert "suit" not in sh.raw_column(Referral, "note", referral.pk)
    assert sh.audit_actions(object_type="referral", patient=world.patient_a) == ["create"]
    assert sh.timeline_kinds(world.patient_a) == [TimelineEvent.Kind.REFERRAL]


def test_only_trained_colleagues_of_the_clinic_can_receive(world):
    program = sh.tiny().program
    with pytest.raises(ValidationError) as exc:  # no training date
        services.referral_create(
            patient=world.patient_a,
            referred_by=world.therapist,
            to_therapist=world.therapist2,
            program=program,
        )
    assert "to_therapist" in exc.value.message_dict
    _trained(world.outsider)
    with pytest.raises(ValidationError):  # another clinic
        services.referral_create(
            patient=world.patient_a, referred_by=world.therapist, to_therapist=world.outsider, program=program
        )
    _trained(world.therapist2)
    with pytest.raises(ValidationError):  # not their patient
        services.referral_create(
            patient=world.patient_a,
            referred_by=world.therapist2,
            to_therapist=_trained(make_staff(world.clinic, "x@alpha.test", therapist=True)),
            program=program,
        )
    services.referral_create(
        patient=world.patient_a, referred_by=world.therapist, to_therapist=world.therapist2, program=program
    )
    with pytest.raises(ValidationError):  # one waiting referral at a time
        services.referral_create(
            patient=world.patient_a,
            referred_by=world.therapist,
            to_therapist=world.therapist2,
            program=program,
        )


def test_the_receiver_sees_it_in_a_list_and_accepts(world, client_for):
    referral = sh.referral(world)
    html = client_for(world.therapist2.user).get(REFERRALS).content.decode()
    assert reverse("patients:staff_referral_detail", args=[referral.pk]) in html
    detail = client_for(world.therapist2.user).get(
        reverse("patients:staff_referral_detail", args=[referral.pk])
    )
    assert "Would this patient suit the online program?" in detail.content.decode()
    enrollment = sh.enroll(world.patient_a)
    response = client_for(world.therapist2.user).post(
        reverse("patients:staff_referral_detail", args=[referral.pk]), {"decision": "accept", "reason": ""}
    )
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.status == Referral.Status.ACCEPTED and referral.decided_at is not None
    assert Patient.objects.get(pk=world.patient_a.pk).therapist == world.therapist2
    enrollment.refresh_from_db()
    assert enrollment.therapist == world.therapist2
    therapist_event = TimelineEvent.objects.get(patient=world.patient_a, kind=TimelineEvent.Kind.THERAPIST)
    assert therapist_event.detail == {
        "from": world.therapist.pk,
        "to": world.therapist2.pk,
        "referral": referral.pk,
    }
    assert "change" in sh.audit_actions(object_type="patient", patient=world.patient_a)
    # The new therapist now treats the patient; the old one no longer does.
    assert client_for(world.therapist2.user).get(response["Location"]).status_code == 200
    assert client_for(world.therapist.user).get(response["Location"]).status_code == 403


def test_declining_needs_a_reason_and_keeps_the_therapist(world, client_for):
    referral = sh.referral(world)
    url = reverse("patients:staff_referral_detail", args=[referral.pk])
    response = client_for(world.therapist2.user).post(url, {"decision": "decline", "reason": ""})
    assert response.status_code == 200
    assert 'id="id_reason_error"' in response.content.decode()
    response = client_for(world.therapist2.user).post(
        url, {"decision": "decline", "reason": "Full caseload until May"}
    )
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.status == Referral.Status.DECLINED
    assert referral.decision_reason == "Full caseload until May"
    assert Patient.objects.get(pk=world.patient_a.pk).therapist == world.therapist
    # The referring therapist reads the reason.
    assert "Full caseload until May" in client_for(world.therapist.user).get(url).content.decode()
    with pytest.raises(ValidationError):  # answered once
        services.referral_accept(referral=referral, staff=world.therapist2)


def test_only_the_receiver_answers(world):
    referral = sh.referral(world)
    with pytest.raises(ValidationError):
        services.referral_accept(referral=referral, staff=world.therapist)
    with pytest.raises(ValidationError):
        services.referral_decline(referral=referral, staff=world.therapist2, reason="  ")


def test_the_referral_list_query_count_is_pinned(world, client_for, django_assert_max_num_queries):
    sh.referral(world)
    client = client_for(world.therapist2.user)
    client.get(REFERRALS)
    with django_assert_max_num_queries(REFERRAL_LIST_QUERIES):
        assert client.get(REFERRALS).status_code == 200
    program = sh.tiny().program
    for patient in sh.add_patients(world.clinic, world.therapist, 15, prefix="referred"):
        Referral.objects.create(
            clinic=world.clinic,
            patient=patient,
            referred_by=world.therapist,
            to_therapist=world.therapist2,
            program=program,
        )
    settle()
    with django_assert_max_num_queries(REFERRAL_LIST_QUERIES):
        response = client.get(REFERRALS)
    assert response.content.decode().count("/staff/referrals/") >= 16
