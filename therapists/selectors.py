from django.db.models import Count, Q, QuerySet

from icbt.models import StaffMember
from icbt.roles import roles_of


def staff_list(*, fetched_by) -> QuerySet[StaffMember]:
    """Staff of the viewer's clinic, for its clinic admin and manager."""
    staff = roles_of(fetched_by).staff
    if staff is None or not (staff.is_clinic_admin or staff.is_manager):
        return StaffMember.objects.none()
    return (
        StaffMember.objects.filter(clinic_id=staff.clinic_id)
        .select_related("user")
        .prefetch_related("teams")
        .order_by("user__last_name", "user__first_name")
    )


def caseload_per_therapist(*, fetched_by) -> QuerySet[StaffMember]:
    """Aggregates only: how many patients each therapist of the manager's clinic has."""
    staff = roles_of(fetched_by).staff
    if staff is None or not staff.is_manager:
        return StaffMember.objects.none()
    return (
        StaffMember.objects.filter(clinic_id=staff.clinic_id, is_therapist=True)
        .select_related("user")
        .annotate(
            patient_count=Count("patients", distinct=True),
            active_patient_count=Count("patients", filter=Q(patients__user__is_active=True), distinct=True),
        )
        .order_by("user__last_name", "user__first_name")
    )
