from django.db.models import QuerySet

from icbt.models import AuditEvent
from icbt.roles import roles_of

AUDIT_PAGE_SIZE = 100


def audit_events_for_patient(*, patient_id: int, fetched_by) -> QuerySet[AuditEvent]:
    """Staff accesses to one patient's record, for that patient to see. Refusals by people who
    had no access are left out: they did not see anything."""
    patient = roles_of(fetched_by).patient
    if patient is None or patient.pk != patient_id:
        return AuditEvent.objects.none()
    return (
        AuditEvent.objects.filter(patient_id=patient_id, outcome=AuditEvent.Outcome.OK)
        .exclude(user_id=fetched_by.pk)
        .exclude(user__isnull=True)
        .select_related("user")
        .order_by("-at", "-id")[:AUDIT_PAGE_SIZE]
    )


def audit_event_search(
    *,
    fetched_by,
    user_email: str = "",
    patient_id: int | None = None,
    action: str = "",
    date_from=None,
    date_to=None,
) -> QuerySet[AuditEvent]:
    """The audit trail of the viewer's own clinic, for a clinic admin. Never crosses clinics."""
    staff = roles_of(fetched_by).staff
    if staff is None or not staff.is_clinic_admin:
        return AuditEvent.objects.none()
    qs = AuditEvent.objects.filter(clinic_id=staff.clinic_id)
    if user_email:
        qs = qs.filter(user_email__icontains=user_email)
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    if action:
        qs = qs.filter(action=action)
    if date_from:
        qs = qs.filter(at__date__gte=date_from)
    if date_to:
        qs = qs.filter(at__date__lte=date_to)
    return qs.order_by("-at", "-id")
