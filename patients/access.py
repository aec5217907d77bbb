"""The one access helper for patient records. Every view that shows patient data calls it."""

from icbt.access import refuse
from icbt.audit import Action, audit_record
from icbt.roles import roles_of
from patients.models import Patient


def staff_may_treat(staff, patient: Patient) -> bool:
    """May this staff member see and change this patient's clinical data?"""
    return staff.is_therapist and staff.clinic_id == patient.clinic_id and patient.therapist_id == staff.pk


def patient_get_for_user(
    user, pk, *, request=None, write: bool = False, action: str | None = None, object_type: str = "patient",
    object_id=None,
) -> Patient:
    """The patient ``pk`` if ``user`` may see it (and change it, with ``write=True``).

    - the patient themself: allowed;
    - their treating therapist: allowed, and audited;
    - other staff of the same clinic (colleagues, managers, admins): 403, audited;
    - everyone else, including other clinics and other patients: 404 (audited when signed in).
    """
    action = action or (Action.CHANGE if write else Action.VIEW)
    patient = Patient.objects.select_related("user", "clinic", "therapist__user").filter(pk=pk).first()
    roles = roles_of(user)
    if patient is None:
        refuse(user=user, request=request, insider=False, action=action, object_type=object_type, object_id=pk)
    if roles.patient is not None and roles.patient.pk == patient.pk:
        return patient
    staff = roles.staff
    if staff is not None and staff_may_treat(staff, patient):
        audit_record(
            user=user, request=request, action=action, patient_id=patient.pk, clinic_id=patient.clinic_id,
            object_type=object_type, object_id=object_id if object_id is not None else patient.pk,
        )
        return patient
    insider = staff is not None and staff.clinic_id == patient.clinic_id
    refuse(
        user=user, request=request, insider=insider, action=action,
        patient_id=patient.pk if insider else None, clinic_id=staff.clinic_id if staff else None,
        object_type=object_type, object_id=object_id if object_id is not None else pk,
    )
