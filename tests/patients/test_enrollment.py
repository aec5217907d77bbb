"""Enrollment: creating it (and the invitation), its status changes, and the therapist's overview."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from icbt.models import Invitation
from patients import services
from patients.models import Enrollment, TimelineEvent
from tests.patients import staff_helpers as sh

pytestmark = pytest.mark.django_db


def _create(world, patient=None, **overrides):
    patient = patient or world.patient_a
    fields = {
        "patient": patient,
        "version": sh.tiny(),
        "therapist": world.therapist,
        "enrolled_by": world.therapist,
        "start_date": timezone.localdate(),
        "feedback_cadence": "fortnightly",
        "feedback_weekday": 3,
    }
    fields.update(overrides)
    return services.enrollment_create(**fields)


def _invited_patient(world):
    user = world.patient_a.user
    user.set_unusable_password()
    user.is_active = False
    user.save()
    return world.patient_a


# --- Creating ---------------------------------------------------------------------------------------


def test_enrolling_a_patient_without_password_invites_them(world, django_capture_on_commit_callbacks):
    patient = _invited_patient(world)
    with django_capture_on_commit_callbacks(execute=True):
        enrollment = _create(world, patient)
    assert enrollment.status == Enrollment.Status.INVITED
    assert (enrollment.feedback_cadence, enrollment.feedback_weekday) == ("fortnightly", 3)
    assert enrollment.version == sh.tiny()
    assert [m.to for m in mail.outbox] == [[patient.user.email]]
    assert "tiny" not in mail.outbox[0].body.lower()  # no program or health wording in the e-mail
    assert Invitation.objects.filter(user=patient.user, used_at__isnull=True).count() == 1
    event = TimelineEvent.objects.get(patient=patient, kind=TimelineEvent.Kind.ENROLLED)
    assert event.detail["invited"] is True and event.detail["program"] == "tiny-program"
    assert sh.audit_actions(object_type="enrollment", patient=patient) == ["create"]


def test_enrolling_a_patient_with_a_password_makes_it_active_and_sends_nothing(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        enrollment = _create(world)
    assert enrollment.status == Enrollment.Status.ACTIVE
    assert enrollment.started_at is not None
    assert mail.outbox == []


def test_one_open_enrollment_per_patient(world):
    _create(world)
    with pytest.raises(ValidationError):
        _create(world)
    with pytest.raises(IntegrityError), transaction.atomic():
        sh.enroll(world.patient_a)  # the database backs the rule up


def test_the_therapist_must_be_of_the_clinic(world):
    with pytest.raises(ValidationError):
        _create(world, therapist=world.outsider)


def test_the_enrollment_page_enrolls_and_keeps_input_on_errors(
    world, client_for, django_capture_on_commit_callbacks
):
    version = sh.tiny()
    client = client_for(world.therapist.user)
    url = reverse("patients:staff_enrollment_create", args=[world.patient_a.pk])
    page = client.get(url).content.decode()
    assert "Tiny Program" in page
    assert "No intake is recorded" in page
    data = {
        "version": version.pk,
        "therapist": world.therapist.pk,
        "start_date": "",
        "feedback_cadence": "weekly",
        "feedback_weekday": "4",
        "unlock_mode": "therapist",
        "module_interval_days": "7",
        "inactivity_days": "200",
    }
    response = client.post(url, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="id_start_date_error"' in html and 'id="id_inactivity_days_error"' in html
    assert '<option value="4" selected>' in html
    data.update(start_date=timezone.localdate().isoformat(), inactivity_days="10")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302
    enrollment = Enrollment.objects.get()
    assert (enrollment.unlock_mode, enrollment.inactivity_days, enrollment.feedback_weekday) == (
        "therapist",
        10,
        4,
    )


# --- Status --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action, start, end",
    [
        ("pause", "active", "paused"),
        ("resume", "paused", "active"),
        ("complete", "active", "completed"),
        ("stop", "invited", "stopped"),
        ("step_up", "paused", "stepped_up"),
    ],
)
def test_each_status_change_is_audited_and_in_the_timeline(world, action, start, end):
    enrollment = sh.enroll(world.patient_a, status=start)
    enrollment.patient = world.patient_a
    services.enrollment_status_change(
        enrollment=enrollment, staff=world.therapist, action=action, reason="Agreed with the patient"
    )
    enrollment.refresh_from_db()
    assert enrollment.status == end
    assert (enrollment.ended_at is not None) == (end in ("completed", "stopped", "stepped_up"))
    event = TimelineEvent.objects.get(enrollment=enrollment, kind=TimelineEvent.Kind.STATUS)
    assert event.detail == {"from": start, "to": end}
    assert event.actor == world.therapist.user
    assert "Agreed" not in str(event.detail)  # the reason stays encrypted, out of the timeline
    assert "Agreed" not in sh.raw_column(Enrollment, "status_reason", enrollment.pk)
    assert sh.audit_actions(object_type="enrollment", patient=world.patient_a) == ["change"]


@pytest.mark.parametrize(
    "action, start",
    [
        ("resume", "active"),
        ("pause", "paused"),
        ("complete", "invited"),
        ("pause", "completed"),
        ("stop", "stopped"),
    ],
)
def test_impossible_changes_are_refused(world, action, start):
    enrollment = sh.enroll(world.patient_a, status=start)
    with pytest.raises(ValidationError):
        services.enrollment_status_change(
            enrollment=enrollment, staff=world.therapist, action=action, reason="x"
        )
    assert not TimelineEvent.objects.exists()


def test_stopping_and_stepping_up_need_a_reason(world):
    enrollment = sh.enroll(world.patient_a)
    for action in ("stop", "step_up"):
        with pytest.raises(ValidationError):
            services.enrollment_status_change(
                enrollment=enrollment, staff=world.therapist, action=action, reason=" "
            )


def test_enrollment_activate_for_the_patient_side(world):
    enrollment = sh.enroll(world.patient_a, status="invited")
    enrollment.patient = world.patient_a
    services.enrollment_activate(enrollment=enrollment)
    services.enrollment_activate(enrollment=enrollment)  # twice is harmless
    enrollment.refresh_from_db()
    assert enrollment.status == "active" and enrollment.started_at is not None
    assert TimelineEvent.objects.filter(kind=TimelineEvent.Kind.STATUS).count() == 1


def test_the_stop_page_keeps_the_reason_form_and_stops(world, client_for):
    enrollment = sh.enroll(world.patient_a)
    client = client_for(world.therapist.user)
    url = reverse("patients:staff_enrollment_status", args=[world.patient_a.pk, enrollment.pk])
    assert client.get(url + "?action=stop").status_code == 200
    response = client.post(url, {"action": "stop", "reason": ""})
    assert response.status_code == 200
    assert 'id="id_reason_error"' in response.content.decode()
    assert client.post(url, {"action": "stop", "reason": "Moved abroad"}).status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.status == "stopped" and enrollment.status_reason == "Moved abroad"


def test_pause_from_the_overview_and_an_impossible_change_is_a_message(world, client_for):
    enrollment = sh.enroll(world.patient_a, status="paused")
    client = client_for(world.therapist.user)
    url = reverse("patients:staff_enrollment_status", args=[world.patient_a.pk, enrollment.pk])
    response = client.post(url, {"action": "pause"}, follow=True)
    assert "This is not possible while the enrollment is paused" in response.content.decode()
    assert client.post(url, {"action": "resume"}).status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.status == "active"


def test_another_patients_enrollment_is_not_found(world, client_for):
    enrollment = sh.enroll(world.patient_b)
    url = reverse("patients:staff_enrollment_status", args=[world.patient_a.pk, enrollment.pk])
    assert client_for(world.therapist.user).post(url, {"action": "pause"}).status_code == 404


# --- The overview ----------------------------------------------------------------------------------


# The user with their roles (the session comes from the cache: icbt/session_store.py), the patient
# with their enrollments (and the current one's early-warning decision), the audit event, the
# progress (the therapist's and clinic's choices with the patient's progress; the program's steps
# and newest versions come from the process's copy of the content, programs.content_cache), the
# timeline with its sessions, the intakes with the waiting referrals (one UNION ALL), the
# navigation's count (one indexed COUNT on the work-item table; outside a request transaction: the
# page only reads). The patient's open urgent items for the banner at the top (a self-harm answer
# is never hidden) come with the enrollments, as subqueries of that statement. None of them grows
# with the rows.
OVERVIEW_QUERIES = 7


def test_the_overview_shows_enrollment_modules_and_timeline(world, client_for):
    enrollment = _create(world)
    services.treatment_session_record(
        patient=world.patient_a,
        staff=world.therapist,
        held_on=timezone.localdate(),
        kind="phone",
        minutes=20,
        note="Talked about sleep times",
    )
    html = (
        client_for(world.therapist.user)
        .get(reverse("patients:staff_patient_detail", args=[world.patient_a.pk]))
        .content.decode()
    )
    assert "Tiny Program" in html
    assert "every two weeks, on Thursday" in html
    assert "The first module" in html and "<progress" in html
    assert "Enrolled in Tiny Program (version 1)" in html
    assert "Phone, 20 minutes" in html and "Talked about sleep times" in html
    assert reverse("patients:staff_enrollment_tailor", args=[world.patient_a.pk, enrollment.pk]) in html


def test_the_overview_query_count_is_pinned(world, client_for):
    enrollment = _create(world)
    services.treatment_session_record(
        patient=world.patient_a, staff=world.therapist, held_on=timezone.localdate(), kind="phone", minutes=15
    )
    client = client_for(world.therapist.user)
    url = reverse("patients:staff_patient_detail", args=[world.patient_a.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as short_history:
        assert client.get(url).status_code == 200
    for i in range(20):
        services.treatment_session_record(
            patient=world.patient_a,
            staff=world.therapist,
            held_on=timezone.localdate(),
            kind="video",
            minutes=30,
            note=f"Note {i}",
        )
        services.module_state_set(
            enrollment=enrollment, staff=world.therapist, module_number=2, state="held" if i % 2 else "opened"
        )
    with CaptureQueriesContext(connection) as long_history:
        response = client.get(url)
    assert response.content.decode().count("Note ") >= 20
    assert len(short_history) == len(long_history) == OVERVIEW_QUERIES
