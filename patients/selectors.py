"""Reads of patient data that cross a permission line. Each takes the viewer."""

from django.db.models import QuerySet

from icbt.roles import roles_of
from patients.models import Patient


def patient_list(*, fetched_by) -> QuerySet[Patient]:
    """The patients ``fetched_by`` treats. Managers and admins get none: they see aggregates."""
    staff = roles_of(fetched_by).staff
    if staff is None or not staff.is_therapist:
        return Patient.objects.none()
    return (
        Patient.objects.filter(clinic_id=staff.clinic_id, therapist=staff)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "pk")
    )
