from django.db.models import Q, QuerySet

from icbt.models import AuditEvent, StaffMember
from icbt.roles import roles_of

AUDIT_PAGE_SIZE = 100


# Events that change nothing of the patient's file: the autosave of a staff member's own unsent
# message. Until it is sent it is their own note; the staff-side trail keeps the event.
NOT_SHOWN_TO_THE_PATIENT = ("message_draft",)


def audit_events_for_patient(*, patient_id: int, fetched_by) -> QuerySet[AuditEvent]:
    """Staff accesses to one patient's record, for that patient to see. Refusals by people who
    had no access are left out: they did not see anything; so are the saves of a staff member's
    unsent drafts (``NOT_SHOWN_TO_THE_PATIENT``)."""
    patient = roles_of(fetched_by).patient
    if patient is None or patient.pk != patient_id:
        return AuditEvent.objects.none()
    return (
        AuditEvent.objects.filter(patient_id=patient_id, outcome=AuditEvent.Outcome.OK)
        .exclude(user_id=fetched_by.pk)
        .exclude(user__isnull=True)
        .exclude(object_type__in=NOT_SHOWN_TO_THE_PATIENT)
        .select_related("user")
        .order_by("-at", "-id")[:AUDIT_PAGE_SIZE]
    )


def audit_event_search(
    *,
    fetched_by,
    staff_member: str = "",
    patient_ids=None,
    action: str = "",
    date_from=None,
    date_to=None,
) -> QuerySet[AuditEvent]:
    """The audit trail of the viewer's own clinic, for a clinic admin. Never crosses clinics.
    ``staff_member``: part of a staff member's e-mail address or words of their name;
    ``patient_ids``: ids (or a subquery of ids) of the patients the events are about."""
    staff = roles_of(fetched_by).staff
    if staff is None or not staff.is_clinic_admin:
        return AuditEvent.objects.none()
    qs = AuditEvent.objects.filter(clinic_id=staff.clinic_id).select_related("user")
    if staff_member:
        named = _staff_named(staff_member, staff)
        qs = qs.filter(Q(user_email__icontains=staff_member) | Q(user_id__in=named))
    if patient_ids is not None:
        qs = qs.filter(patient_id__in=patient_ids)
    if action:
        qs = qs.filter(action=action)
    if date_from:
        qs = qs.filter(at__date__gte=date_from)
    if date_to:
        qs = qs.filter(at__date__lte=date_to)
    return qs.order_by("-at", "-id")


def _staff_named(text: str, staff) -> QuerySet:
    """The user ids of the clinic's staff whose name holds every word of ``text``."""
    members = StaffMember.objects.filter(clinic_id=staff.clinic_id)
    for word in text.split():
        members = members.filter(Q(user__first_name__icontains=word) | Q(user__last_name__icontains=word))
    return members.values("user_id")
