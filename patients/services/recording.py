"""The end of every change a staff member makes, and the small helpers the topics share.

Every write a therapist makes on one patient's treatment, and the public intake request, writes
one audit event (what changed, never the content) and, where it concerns a patient, one timeline
event with structured facts only (ids, codes, numbers; never free text)."""

import json
from datetime import datetime

from django.utils import timezone

from icbt.audit import Action, audit_record
from icbt.models import StaffMember
from patients.access import acting_on_behalf_of
from patients.models import Enrollment, Patient, TimelineEvent


def _enrollment_lock(enrollment: Enrollment) -> None:
    Enrollment.objects.select_for_update().filter(pk=enrollment.pk).values_list("pk").first()


def _dump(answers: dict) -> str:
    return json.dumps(answers, ensure_ascii=False, sort_keys=True)


def timeline_record(
    *,
    patient_id: int,
    kind: str,
    actor_id: int | None,
    detail: dict,
    enrollment=None,
    clinic_id: int | None = None,
    at: datetime | None = None,
    session=None,
) -> TimelineEvent:
    """One line in the patient's timeline: structured facts only (ids, codes, numbers).
    ``clinic_id`` is the patient's clinic; it defaults to the enrollment's. ``session``: the
    recorded session a ``session`` line is about."""
    event = TimelineEvent(
        patient_id=patient_id,
        clinic_id=clinic_id or enrollment.clinic_id,
        enrollment=enrollment,
        kind=kind,
        actor_id=actor_id,
        detail=detail,
        at=at or timezone.now(),
        session=session,
    )
    event.full_clean(exclude=["patient", "enrollment", "actor", "session"])
    event.save()
    return event


def record_change(
    *,
    staff: StaffMember,
    action: str,
    object_type: str,
    object_id,
    patient: Patient | None = None,
    patient_id: int | None = None,
    enrollment: Enrollment | None = None,
    kind: str = "",
    detail: dict | None = None,
    at: datetime | None = None,
    session=None,
) -> None:
    """The end of every change a staff member makes: its timeline line (``kind`` and ``detail``,
    ``session`` for a recorded session; none without a ``kind``) and its audit event (what
    changed, never the content). The patient
    comes from ``patient``, else ``enrollment``; a colleague covering for the treating
    therapist acts on their behalf, which the event records. With only ``patient_id`` (or no
    patient at all) the event is written without asking that."""
    if patient is None and enrollment is not None:
        patient = enrollment.patient
    if patient is not None:
        patient_id = patient.pk
    if kind:
        timeline_record(
            patient_id=patient_id,
            clinic_id=staff.clinic_id,
            enrollment=enrollment,
            kind=kind,
            actor_id=staff.user_id,
            detail=detail or {},
            at=at,
            session=session,
        )
    audit_record(
        user=staff.user,
        action=action,
        patient_id=patient_id,
        clinic_id=staff.clinic_id,
        object_type=object_type,
        object_id=object_id,
        on_behalf_of=acting_on_behalf_of(staff, patient) if patient is not None else None,
    )


def record_created(
    row,
    *,
    staff: StaffMember,
    object_type: str,
    enrollment: Enrollment,
    kind: str = "",
    detail: dict | None = None,
    at: datetime | None = None,
):
    """Validate and save a new row a staff member made on one enrollment, then record it as
    ``record_change`` does (timeline line with ``kind`` and ``detail``, audit event)."""
    row.full_clean()
    row.save()
    record_change(
        staff=staff,
        action=Action.CREATE,
        object_type=object_type,
        object_id=row.pk,
        enrollment=enrollment,
        kind=kind,
        detail=detail,
        at=at,
    )
    return row
