"""Covering: a colleague's time-limited share in a patient's care."""

from datetime import date, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from icbt.audit import Action
from icbt.models import StaffMember, Team
from patients import selectors
from patients.access import staff_may_treat
from patients.models import CareShare, Patient, TimelineEvent
from patients.services.recording import record_change

SHARE_MAX_DAYS = 183


@transaction.atomic
def share_create(
    *,
    patient: Patient,
    shared_by: StaffMember,
    colleague: StaffMember,
    until: date,
) -> CareShare:
    """The treating therapist lets a colleague of their team cover for them until ``until``
    (inclusive). The colleague may then read and write as the therapist would; their accesses
    and messages are recorded on behalf of the therapist. Sharing again with the same colleague
    moves the end date of the active share instead of adding a second one. Audited, and a
    line in the patient's timeline."""
    if not staff_may_treat(shared_by, patient):
        raise PermissionDenied
    today = timezone.localdate()
    if colleague.pk == shared_by.pk or colleague.clinic_id != patient.clinic_id or not colleague.is_therapist:
        raise ValidationError(
            {"colleague": ValidationError(_("Choose a therapist of your own team."), code="colleague")}
        )
    if not Team.objects.filter(members=colleague).filter(members=shared_by).exists():
        raise ValidationError(
            {"colleague": ValidationError(_("Choose a therapist of your own team."), code="colleague")}
        )
    if until < today:
        raise ValidationError({"until": ValidationError(_("Choose today or a later date."), code="past")})
    if until > today + timedelta(days=SHARE_MAX_DAYS):
        raise ValidationError(
            {
                "until": ValidationError(
                    _("Share for at most %(days)s days at a time."),
                    code="too_long",
                    params={"days": SHARE_MAX_DAYS},
                )
            }
        )
    share = (
        CareShare.objects.select_for_update()
        .active(on=today)
        .filter(patient=patient, colleague=colleague)
        .first()
    )
    if share is None:
        share = CareShare(patient=patient, colleague=colleague, shared_by=shared_by, until=until)
        share.full_clean()
        share.save()
    else:
        share.until = until
        share.full_clean()
        share.save(update_fields=["until"])
    _share_recorded(
        share, patient=patient, staff=shared_by, action=Action.CREATE, detail={"until": until.isoformat()}
    )
    return share


@transaction.atomic
def share_end(*, share: CareShare, ended_by: StaffMember) -> CareShare:
    """End a share now (the therapist is back, or the colleague hands the patient back). From
    this moment the colleague gets 403 like any colleague. Safe to repeat."""
    patient = share.patient
    if not (staff_may_treat(ended_by, patient) or ended_by.pk in (share.colleague_id, share.shared_by_id)):
        raise PermissionDenied
    if ended_by.clinic_id != patient.clinic_id:
        raise PermissionDenied
    if share.ended_at is None:
        share.ended_at = timezone.now()
        share.save(update_fields=["ended_at"])
        _share_recorded(share, patient=patient, staff=ended_by, action=Action.CHANGE, detail={"ended": True})
    return share


def _share_recorded(
    share: CareShare, *, patient: Patient, staff: StaffMember, action: str, detail: dict
) -> None:
    record_change(
        staff=staff,
        action=action,
        object_type="care_share",
        object_id=share.pk,
        patient=patient,
        enrollment=selectors.open_enrollment(patient=patient),
        kind=TimelineEvent.Kind.SHARED,
        detail={"share": share.pk, "colleague": share.colleague_id, **detail},
    )
