"""Writing the audit trail (NEN 7513).

``audit_record`` is the only way rows get into ``AuditEvent``. It stores who, when, which
patient, what kind of object and the client address; it never receives the content itself.

Refusals are written after the response, outside the request's transaction: with
``ATOMIC_REQUESTS`` a refused request raises (404/403), which would roll back an event written
inside the view. ``AuditFlushMiddleware`` writes them once the view has finished.
"""

from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address

from icbt.models import AuditEvent
from icbt.proxies import is_trusted_proxy
from icbt.roles import roles_of

Action = AuditEvent.Action
Outcome = AuditEvent.Outcome

_PENDING_ATTR = "_icbt_pending_audit"


def client_ip(request) -> str | None:
    """The client's address. When the request came through one of our TLS proxies
    (DJANGO_TRUSTED_PROXIES), the last entry of X-Forwarded-For: the one the proxy appended.
    Earlier entries come from the client, and so does the whole header when the request did
    not come through our proxy: both could be forged, which an audit trail must not record."""
    if request is None:
        return None
    address = request.META.get("REMOTE_ADDR", "")
    if is_trusted_proxy(address):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            address = forwarded.split(",")[-1].strip()
    # The column is an IP address (inet on PostgreSQL): anything else would fail the write.
    try:
        validate_ipv46_address(address)
    except ValidationError:
        return None
    return address


def _build(*, user, action, request, patient_id, clinic_id, object_type, object_id, outcome, on_behalf_of):
    roles = roles_of(user) if user is not None else None
    if clinic_id is None and roles is not None:
        clinic_id = roles.clinic_id
    authenticated = user is not None and user.is_authenticated
    return AuditEvent(
        action=action,
        outcome=outcome,
        user=user if authenticated else None,
        user_email=user.email if authenticated else "",
        role=roles.label if roles is not None else "",
        on_behalf_of=on_behalf_of,
        clinic_id=clinic_id,
        patient_id=patient_id,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else "",
        client_ip=client_ip(request),
    )


def audit_record(
    *,
    user,
    action: str,
    request=None,
    patient_id: int | None = None,
    clinic_id: int | None = None,
    object_type: str = "",
    object_id=None,
    outcome: str = Outcome.OK,
    on_behalf_of=None,
) -> AuditEvent | None:
    """Record one access. Allowed accesses are written at once, in the caller's transaction
    (an access that is rolled back did not happen). Refusals made during a request are queued
    on the request and written by ``AuditFlushMiddleware`` after the response."""
    event = _build(
        user=user,
        action=action,
        request=request,
        patient_id=patient_id,
        clinic_id=clinic_id,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        on_behalf_of=on_behalf_of,
    )
    if outcome == Outcome.DENIED and request is not None:
        getattr_list = getattr(request, _PENDING_ATTR, None)
        if getattr_list is None:
            getattr_list = []
            setattr(request, _PENDING_ATTR, getattr_list)
        getattr_list.append(event)
        return None
    event.save(force_insert=True)
    return event


class AuditFlushMiddleware:
    """Writes the refusals queued during a request, after the view's transaction has ended."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        pending = getattr(request, _PENDING_ATTR, None)
        if pending:
            AuditEvent.objects.bulk_create(pending)
            setattr(request, _PENDING_ATTR, [])
        return response
