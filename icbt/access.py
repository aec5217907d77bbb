"""Shared pieces of the access helpers (one helper per object type lives in each app).

The rules, for every helper:
- an *outsider* (another clinic, another patient, anonymous) gets 404: the object's existence
  stays hidden;
- a *read-only insider* (same clinic, no right to this object or this action) gets 403;
- every staff access, allowed or refused, writes one audit event.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from icbt.audit import Action, Outcome, audit_record
from icbt.roles import roles_of


def refuse(
    *,
    user,
    insider: bool,
    action: str = Action.VIEW,
    patient_id=None,
    clinic_id=None,
    object_type: str = "",
    object_id=None,
):
    """Record the refusal and raise 403 (insider) or 404 (outsider)."""
    if user is not None and user.is_authenticated:
        audit_record(
            user=user,
            action=action,
            outcome=Outcome.DENIED,
            patient_id=patient_id,
            clinic_id=roles_of(user).clinic_id if clinic_id is None else clinic_id,
            object_type=object_type,
            object_id=object_id,
        )
    if insider:
        raise PermissionDenied
    raise Http404


def require_staff_role(user, *roles: str):
    """The StaffMember of ``user`` if they hold one of ``roles``; 404 for non-staff (the page
    does not exist for them), 403 for staff without the role."""
    staff = roles_of(user).staff
    if staff is None:
        raise Http404
    if roles and not any(role in staff.roles for role in roles):
        raise PermissionDenied
    return staff
