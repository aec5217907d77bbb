"""The access idiom for patient records. Every view that shows patient data starts with one of:

- ``patient_for_staff(request, pk, ...)``: a page about one patient for staff (role check,
  covering rule, audit event, 404/403 in one call);
- ``own_patient(request)`` / ``own_enrollment(request)``: the patient's own pages;
- ``@audited(object_type, *roles)``: a staff page that lists, searches or exports, which
  records what it showed through ``request.audit``;
- ``intake_request_for_staff`` / ``referral_for_staff``: the clinic's queue and referrals.
"""

from dataclasses import dataclass, field
from functools import wraps

from django.core.exceptions import ImproperlyConfigured
from django.http import Http404

from icbt.access import refuse, require_staff_role
from icbt.audit import Action, audit_record, audit_record_shown
from icbt.roles import roles_of
from patients.models import CareShare, Enrollment, IntakeRequest, Patient, Referral
from patients.selectors import (
    ENROLLMENT_PAGE_RELATED,
    enrollment_for_patient,
    patient_with_current_enrollment,
)


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


def _staff_or_404(request):
    """Staff pages do not exist for anyone else (patients, platform operators): 404, no event."""
    staff = roles_of(request.user).staff
    if staff is None:
        raise Http404
    return staff


def patient_for_staff(
    request,
    pk,
    *,
    write: bool = False,
    purpose: str = "patient",
    object_id=None,
    action: str | None = None,
    covering: bool = True,
    with_enrollment: bool = False,
    audit: bool = True,
) -> Patient:
    """The patient ``pk`` for the staff member signed in, audited as ``purpose`` (the event's
    object type; ``object_id`` names the object when it is not the patient).

    - not staff: 404 (the page does not exist for them), no event;
    - the treating therapist: allowed, audited;
    - a colleague covering through an active CareShare: allowed as the therapist, audited with
      ``on_behalf_of`` the treating therapist (with ``covering=False``, for what only the
      treating therapist may do, refused as below); once the share has ended or expired, 403;
    - other staff of the same clinic (colleagues, managers, admins): 403, audited;
    - other clinics and unknown ids: 404, audited.

    With ``with_enrollment`` the patient's current enrollment comes in the same query (for a
    patient with an enrollment), as ``patient.current_enrollment`` (None before the first; see
    ``selectors.patient_with_current_enrollment``). It is read before the check, as the patient
    is, and reaches the caller only once the check has passed.

    With ``audit=False`` an allowed access writes no event here (refusals still do): for a form
    whose service records the change it makes, so that a change is one event; the view then
    calls ``patient_access_record`` for a page it shows instead (a refused form is a view).
    """
    staff = _staff_or_404(request)
    user = request.user
    action = action or (Action.CHANGE if write else Action.VIEW)
    audited_id = object_id if object_id is not None else pk
    if with_enrollment:
        patient, enrollment = patient_with_current_enrollment(pk=pk)
    else:
        patient = Patient.objects.select_related("user", "clinic", "therapist__user").filter(pk=pk).first()
    if patient is None:
        refuse(user=user, insider=False, action=action, object_type=purpose, object_id=pk)
    treats = staff_may_treat(staff, patient)
    on_behalf_of = None if treats or not covering else acting_on_behalf_of(staff, patient)
    if not treats and on_behalf_of is None:
        insider = staff.clinic_id == patient.clinic_id
        refuse(
            user=user,
            insider=insider,
            action=action,
            patient_id=patient.pk if insider else None,
            clinic_id=staff.clinic_id,
            object_type=purpose,
            object_id=audited_id,
        )
    if audit:
        audit_record(
            user=user,
            action=action,
            patient_id=patient.pk,
            clinic_id=patient.clinic_id,
            object_type=purpose,
            object_id=audited_id,
            on_behalf_of=on_behalf_of,
        )
    if with_enrollment:
        patient.current_enrollment = enrollment
    return patient


def patient_access_record(request, patient: Patient, *, purpose: str, action: str = Action.VIEW) -> None:
    """The event of an allowed access checked with ``patient_for_staff(..., audit=False)``."""
    staff = roles_of(request.user).staff
    audit_record(
        user=request.user,
        action=action,
        patient_id=patient.pk,
        clinic_id=patient.clinic_id,
        object_type=purpose,
        object_id=patient.pk,
        on_behalf_of=acting_on_behalf_of(staff, patient),
    )


def own_patient(request, *, export: str = "") -> Patient:
    """The signed-in patient; 404 for anyone else. With ``export`` (what kind of download), the
    patient's export of their own data is audited."""
    patient = roles_of(request.user).patient
    if patient is None:
        raise Http404
    if export:
        audit_record(
            user=request.user,
            action=Action.EXPORT,
            patient_id=patient.pk,
            clinic_id=patient.clinic_id,
            object_type="own_data",
            object_id=export,
        )
    return patient


def own_enrollment(
    request, *, required: bool = True, related=ENROLLMENT_PAGE_RELATED, locked: bool = False
) -> Enrollment | None:
    """The signed-in patient's enrollment (the open one, else the one that ended last). 404 for
    anyone who is not a patient, and with ``required`` for a patient not enrolled yet. ``related``:
    the rows read with it; ``locked``: an open one read under its lock, for a save
    (``selectors.enrollment_for_patient``)."""
    enrollment = enrollment_for_patient(fetched_by=request.user, related=related, locked=locked)
    if enrollment is None and required:
        raise Http404
    return enrollment


@dataclass
class PageAudit:
    """What an ``@audited`` page recorded. ``staff`` is the member signed in."""

    staff: object
    user: object
    object_type: str
    written: list = field(default_factory=list)

    def shown(self, *, patient_ids=(), object_ids=()) -> None:
        """The page listed these patients (or other rows, e.g. intake requests)."""
        audit_record_shown(
            user=self.user, object_type=self.object_type, patient_ids=patient_ids, object_ids=object_ids
        )
        self.written.append(Action.SEARCH)

    def record(self, action: str, *, object_id=None, clinic_id=None) -> None:
        """One event for the page: an export (``object_id`` says which) or a search."""
        audit_record(
            user=self.user,
            action=action,
            clinic_id=clinic_id,
            object_type=self.object_type,
            object_id=object_id,
        )
        self.written.append(action)


def audited(object_type: str, *roles: str, required: bool = True):
    """A staff page that lists, searches or exports patient data: the role check (404 for
    anyone who is not staff, 403 without one of ``roles``) and ``request.audit``, a
    ``PageAudit`` the view tells what it showed. A page answered 200 without its event is an
    error (``required=False`` for a page whose form may show nothing, e.g. an empty search)."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            staff = require_staff_role(request.user, *roles)
            request.audit = PageAudit(staff=staff, user=request.user, object_type=object_type)
            response = view(request, *args, **kwargs)
            if required and response.status_code == 200 and not request.audit.written:
                raise ImproperlyConfigured(f"{view.__name__} showed {object_type} without its audit event")
            return response

        return wrapper

    return decorate


def intake_request_for_staff(request, pk, *, write: bool = False) -> IntakeRequest:
    """An intake request of the clinic's queue. Therapists of that clinic may read and handle it
    (audited); other staff of the clinic get 403 (managers see figures, not requests);
    other clinics 404 (audited); anyone who is not staff 404."""
    staff = _staff_or_404(request)
    user = request.user
    action = Action.CHANGE if write else Action.VIEW
    intake_request = IntakeRequest.objects.select_related("program", "clinic").filter(pk=pk).first()
    if intake_request is None or staff.clinic_id != intake_request.clinic_id:
        refuse(user=user, insider=False, action=action, object_type="intake_request", object_id=pk)
    if not staff.is_therapist:
        refuse(
            user=user,
            insider=True,
            action=action,
            clinic_id=staff.clinic_id,
            object_type="intake_request",
            object_id=pk,
        )
    audit_record(
        user=user,
        action=action,
        clinic_id=intake_request.clinic_id,
        object_type="intake_request",
        object_id=intake_request.pk,
    )
    return intake_request


def referral_for_staff(request, pk, *, write: bool = False) -> Referral:
    """A referral, for the therapist who made it and the therapist it was made to (audited: it
    names a patient and carries a note about them). With ``write`` (answering it) only the
    receiving therapist. Other staff of the clinic get 403; other clinics 404 (both audited);
    anyone who is not staff 404."""
    staff = _staff_or_404(request)
    user = request.user
    action = Action.CHANGE if write else Action.VIEW
    referral = (
        Referral.objects.select_related("patient__user", "referred_by__user", "to_therapist__user", "program")
        .filter(pk=pk)
        .first()
    )
    if referral is None or staff.clinic_id != referral.clinic_id:
        refuse(user=user, insider=False, action=action, object_type="referral", object_id=pk)
    allowed = staff.pk == referral.to_therapist_id or (not write and staff.pk == referral.referred_by_id)
    if not allowed:
        refuse(
            user=user,
            insider=True,
            action=action,
            patient_id=referral.patient_id,
            clinic_id=staff.clinic_id,
            object_type="referral",
            object_id=pk,
        )
    audit_record(
        user=user,
        action=action,
        patient_id=referral.patient_id,
        clinic_id=referral.clinic_id,
        object_type="referral",
        object_id=referral.pk,
    )
    return referral
