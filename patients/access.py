"""The one access helper for patient records. Every view that shows patient data calls it."""

from icbt.access import refuse
from icbt.audit import Action, audit_record
from icbt.roles import roles_of
from patients.models import CareShare, IntakeRequest, Patient, Referral


def staff_may_treat(staff, patient: Patient) -> bool:
    """May this staff member see and change this patient's clinical data?"""
    return staff.is_therapist and staff.clinic_id == patient.clinic_id and patient.therapist_id == staff.pk


def covering_share(staff, patient: Patient) -> CareShare | None:
    """The share through which ``staff`` covers for ``patient``'s therapist today, or None.

    A share counts through the whole of its ``until`` day (local time) and stops at once when it
    is ended. Only a therapist of the patient's own clinic can cover; a share that somehow names
    anyone else gives nothing.
    """
    if not staff.is_therapist or staff.clinic_id != patient.clinic_id:
        return None
    return (
        CareShare.objects.active()
        .filter(patient=patient, colleague=staff)
        .select_related("shared_by__user")
        .order_by("-until")
        .first()
    )


def acting_on_behalf_of(staff, patient: Patient):
    """The treating therapist's user when ``staff`` acts as cover for them; None when ``staff``
    treats the patient themself or has no active share. Used for audit events and messages."""
    if staff is None or staff_may_treat(staff, patient):
        return None
    share = covering_share(staff, patient)
    if share is None:
        return None
    return patient.therapist.user if patient.therapist_id else share.shared_by.user


def patient_get_for_user(
    user,
    pk,
    *,
    request=None,
    write: bool = False,
    action: str | None = None,
    object_type: str = "patient",
    object_id=None,
) -> Patient:
    """The patient ``pk`` if ``user`` may see it (and change it, with ``write=True``).

    - the patient themself: allowed;
    - their treating therapist: allowed, and audited;
    - a colleague covering through an active CareShare: allowed as the therapist, audited with
      ``on_behalf_of`` the treating therapist; once the share has ended or expired, 403 as below;
    - other staff of the same clinic (colleagues, managers, admins): 403, audited;
    - everyone else, including other clinics and other patients: 404 (audited when signed in).
    """
    action = action or (Action.CHANGE if write else Action.VIEW)
    patient = Patient.objects.select_related("user", "clinic", "therapist__user").filter(pk=pk).first()
    roles = roles_of(user)
    if patient is None:
        refuse(
            user=user, request=request, insider=False, action=action, object_type=object_type, object_id=pk
        )
    if roles.patient is not None and roles.patient.pk == patient.pk:
        return patient
    staff = roles.staff
    treats = staff is not None and staff_may_treat(staff, patient)
    on_behalf_of = None if treats or staff is None else acting_on_behalf_of(staff, patient)
    if treats or on_behalf_of is not None:
        audit_record(
            user=user,
            request=request,
            action=action,
            patient_id=patient.pk,
            clinic_id=patient.clinic_id,
            object_type=object_type,
            object_id=object_id if object_id is not None else patient.pk,
            on_behalf_of=on_behalf_of,
        )
        return patient
    insider = staff is not None and staff.clinic_id == patient.clinic_id
    refuse(
        user=user,
        request=request,
        insider=insider,
        action=action,
        patient_id=patient.pk if insider else None,
        clinic_id=staff.clinic_id if staff else None,
        object_type=object_type,
        object_id=object_id if object_id is not None else pk,
    )


def intake_request_get_for_user(user, pk, *, request=None, write: bool = False) -> IntakeRequest:
    """An intake request of the clinic's queue. Therapists of that clinic may read and handle it
    (audited); other staff of the clinic get 403 (managers see figures, not requests);
    everyone else 404."""
    action = Action.CHANGE if write else Action.VIEW
    intake_request = IntakeRequest.objects.select_related("program", "clinic").filter(pk=pk).first()
    staff = roles_of(user).staff
    if intake_request is None or staff is None or staff.clinic_id != intake_request.clinic_id:
        refuse(
            user=user,
            request=request,
            insider=False,
            action=action,
            object_type="intake_request",
            object_id=pk,
        )
    if not staff.is_therapist:
        refuse(
            user=user,
            request=request,
            insider=True,
            action=action,
            clinic_id=staff.clinic_id,
            object_type="intake_request",
            object_id=pk,
        )
    audit_record(
        user=user,
        request=request,
        action=action,
        clinic_id=intake_request.clinic_id,
        object_type="intake_request",
        object_id=intake_request.pk,
    )
    return intake_request


def referral_get_for_user(user, pk, *, request=None, write: bool = False) -> Referral:
    """A referral, for the therapist who made it and the therapist it was made to (audited: it
    names a patient and carries a note about them). With ``write`` (answering it) only the
    receiving therapist. Other staff of the clinic get 403; everyone else 404."""
    action = Action.CHANGE if write else Action.VIEW
    referral = (
        Referral.objects.select_related("patient__user", "referred_by__user", "to_therapist__user", "program")
        .filter(pk=pk)
        .first()
    )
    staff = roles_of(user).staff
    if referral is None or staff is None or staff.clinic_id != referral.clinic_id:
        refuse(user=user, request=request, insider=False, action=action, object_type="referral", object_id=pk)
    allowed = staff.pk == referral.to_therapist_id or (not write and staff.pk == referral.referred_by_id)
    if not allowed:
        refuse(
            user=user,
            request=request,
            insider=True,
            action=action,
            patient_id=referral.patient_id,
            clinic_id=staff.clinic_id,
            object_type="referral",
            object_id=pk,
        )
    audit_record(
        user=user,
        request=request,
        action=action,
        patient_id=referral.patient_id,
        clinic_id=referral.clinic_id,
        object_type="referral",
        object_id=referral.pk,
    )
    return referral
