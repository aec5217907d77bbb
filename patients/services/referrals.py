"""Referrals: a patient handed on to a colleague or team, accepted or declined."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from icbt.audit import Action
from icbt.models import StaffMember
from icbt.notifications import Kind as NotificationKind
from icbt.notifications import notify
from patients import figures, selectors, work_items
from patients.models import Enrollment, Patient, Referral, TimelineEvent
from patients.services.recording import record_change, timeline_record
from programs.models import Program


@transaction.atomic
def referral_create(
    *,
    patient: Patient,
    referred_by: StaffMember,
    to_therapist: StaffMember,
    program: Program,
    note: str = "",
) -> Referral:
    """A therapist asks an ICBT-trained colleague of the same clinic to take on one of their
    patients for an online program. One open referral per patient at a time."""
    if patient.therapist_id != referred_by.pk:
        raise ValidationError(_("You can only refer your own patients."))
    targets = selectors.referral_targets(clinic_id=patient.clinic_id, exclude=referred_by)
    if not targets.filter(pk=to_therapist.pk).exists():
        raise ValidationError({"to_therapist": _("Choose an ICBT-trained therapist of your clinic.")})
    Patient.objects.select_for_update().filter(pk=patient.pk).values_list("pk").first()
    if Referral.objects.filter(patient=patient, status=Referral.Status.PENDING).exists():
        raise ValidationError(_("This patient already has a referral waiting for an answer."))
    referral = Referral(
        clinic_id=patient.clinic_id,
        patient=patient,
        referred_by=referred_by,
        to_therapist=to_therapist,
        program=program,
        note=note.strip(),
    )
    referral.full_clean()
    referral.save()
    work_items.refresh_requests(clinic_id=referral.clinic_id, kinds=("referral",))
    notify(
        recipient=to_therapist.user,
        kind=NotificationKind.REFERRAL,
        patient=patient,
        object_type="referral",
        object_id=referral.pk,
    )
    record_change(
        staff=referred_by,
        action=Action.CREATE,
        object_type="referral",
        object_id=referral.pk,
        patient=patient,
        kind=TimelineEvent.Kind.REFERRAL,
        detail={
            "referral": referral.pk,
            "event": "made",
            "from": referred_by.pk,
            "to": to_therapist.pk,
            "program": program.slug,
        },
    )
    return referral


def _referral_lock(referral: Referral, staff: StaffMember) -> Referral:
    locked = Referral.objects.select_for_update().select_related("patient").get(pk=referral.pk)
    if locked.to_therapist_id != staff.pk:
        raise ValidationError(_("Only the therapist this patient was referred to can answer."))
    if locked.status != Referral.Status.PENDING:
        raise ValidationError(_("This referral has already been answered."))
    return locked


def therapist_hand_over(*, patient_id: int, therapist: StaffMember | None) -> tuple[Patient, int | None]:
    """``therapist`` becomes the patient's therapist and the therapist of their open treatments;
    the patient's waiting work and its counts go with them (``work_items.owner_follow``). The
    caller records why (a referral, the admin) in the timeline and the audit trail. Returns the
    locked patient and the previous therapist's id. Inside the caller's transaction.

    Refused (``ValidationError``): a therapist of another clinic, and no therapist while a
    treatment is open. Locks in the services' order: the patient, then their open treatments,
    then the work items (a diary save holds its treatment before it locks the work items)."""
    patient = Patient.objects.select_for_update().get(pk=patient_id)
    if therapist is not None and therapist.clinic_id != patient.clinic_id:
        raise ValidationError(_("The therapist must work at the patient's clinic."))
    open_treatments = list(
        Enrollment.objects.select_for_update()
        .filter(patient=patient, status__in=Enrollment.OPEN_STATUSES)
        .order_by("pk")
    )
    if therapist is None and open_treatments:
        raise ValidationError(_("This patient is in treatment: choose the therapist who takes over."))
    previous = patient.therapist_id
    patient.therapist = therapist
    work_items.owner_follow(patient=patient)
    patient.full_clean()
    patient.save(update_fields=["therapist"])
    figures.patient_therapist_changed(patient, previous_id=previous)
    for enrollment in open_treatments:
        treated_by = enrollment.therapist_id
        enrollment.therapist = therapist
        enrollment.save(update_fields=["therapist"])
        figures.enrollment_therapist_changed(enrollment, previous_id=treated_by)
    return patient, previous


@transaction.atomic
def referral_accept(*, referral: Referral, staff: StaffMember, reason: str = "") -> Referral:
    """The receiving therapist takes the patient on: they become the patient's therapist (and
    the therapist of an open enrollment), which the timeline and the audit trail record."""
    referral = _referral_lock(referral, staff)
    now = timezone.now()
    referral.status = Referral.Status.ACCEPTED
    referral.decision_reason = reason.strip()
    referral.decided_at = now
    referral.full_clean()
    referral.save(update_fields=["status", "decision_reason", "decided_at"])
    work_items.refresh_requests(clinic_id=referral.clinic_id, kinds=("referral",))
    patient, previous = therapist_hand_over(patient_id=referral.patient_id, therapist=staff)
    timeline_record(
        patient_id=patient.pk,
        clinic_id=patient.clinic_id,
        kind=TimelineEvent.Kind.REFERRAL,
        actor_id=staff.user_id,
        at=now,
        detail={
            "referral": referral.pk,
            "event": "accepted",
            "from": referral.referred_by_id,
            "to": staff.pk,
        },
    )
    record_change(
        staff=staff,
        action=Action.CHANGE,
        object_type="referral",
        object_id=referral.pk,
        patient=patient,
        kind=TimelineEvent.Kind.THERAPIST,
        detail={"from": previous, "to": staff.pk, "referral": referral.pk},
        at=now,
    )
    record_change(
        staff=staff,
        action=Action.CHANGE,
        object_type="patient",
        object_id=patient.pk,
        patient=patient,
    )
    return referral


@transaction.atomic
def referral_decline(*, referral: Referral, staff: StaffMember, reason: str) -> Referral:
    """The receiving therapist declines, with a reason the referring colleague can read."""
    if not reason or not reason.strip():
        raise ValidationError({"reason": _("Say why you decline, so your colleague knows what to do next.")})
    referral = _referral_lock(referral, staff)
    referral.status = Referral.Status.DECLINED
    referral.decision_reason = reason.strip()
    referral.decided_at = timezone.now()
    referral.full_clean()
    referral.save(update_fields=["status", "decision_reason", "decided_at"])
    work_items.refresh_requests(clinic_id=referral.clinic_id, kinds=("referral",))
    record_change(
        staff=staff,
        action=Action.CHANGE,
        object_type="referral",
        object_id=referral.pk,
        patient_id=referral.patient_id,
        kind=TimelineEvent.Kind.REFERRAL,
        detail={
            "referral": referral.pk,
            "event": "declined",
            "from": referral.referred_by_id,
            "to": staff.pk,
        },
    )
    return referral
