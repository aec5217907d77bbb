"""Writing the audit trail (NEN 7513).

``audit_record`` (one access) and ``audit_record_shown`` (what a list page showed) are the only
ways rows get into ``AuditEvent``; ``AdminAuditMiddleware`` uses them for the Django admin. They
store who, which patient, what kind of object and the client address, never the content; the
database adds when and seals the row into its clinic's hash chain (``icbt.audit_chain``).

The client address comes from the request being served: ``AuditContextMiddleware``
(icbt.middleware) opens an ``audit_context`` for each request, so services and helpers never
need the request to record an event. Outside a request (Celery tasks, commands) there is no
address.

Refusals are written after the response, outside the request's transaction: with
``ATOMIC_REQUESTS`` a refused request raises (404/403), which would roll back an event written
inside the view. The request's ``audit_context`` writes them once the view has finished.
"""

import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.db import connections, router

from icbt.models import AuditEvent
from icbt.proxies import is_trusted_proxy
from icbt.roles import roles_of

Action = AuditEvent.Action
Outcome = AuditEvent.Outcome


@dataclass
class _RequestAudit:
    client_ip: str | None
    pending: list = field(default_factory=list)


_current: ContextVar[_RequestAudit | None] = ContextVar("icbt_audit_request", default=None)


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


@contextmanager
def audit_context(request):
    """While serving ``request``: events carry its client address, and refusals wait until the
    block ends (after the view's transaction), when they are written."""
    state = _RequestAudit(client_ip=client_ip(request))
    token = _current.set(state)
    try:
        yield state
    finally:
        _current.reset(token)
        if state.pending:
            AuditEvent.objects.bulk_create(state.pending)


def current_client_ip() -> str | None:
    """The address of the request being served; None outside a request (tasks, commands)."""
    state = _current.get()
    return state.client_ip if state is not None else None


def _build(*, user, action, patient_id, clinic_id, object_type, object_id, outcome, on_behalf_of):
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
        client_ip=current_client_ip(),
    )


def audit_record(
    *,
    user,
    action: str,
    patient_id: int | None = None,
    clinic_id: int | None = None,
    object_type: str = "",
    object_id=None,
    outcome: str = Outcome.OK,
    on_behalf_of=None,
) -> AuditEvent | None:
    """Record one access. Allowed accesses are written at once, in the caller's transaction
    (an access that is rolled back did not happen). Refusals made during a request wait for the
    end of its ``audit_context``, after the response."""
    event = _build(
        user=user,
        action=action,
        patient_id=patient_id,
        clinic_id=clinic_id,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        on_behalf_of=on_behalf_of,
    )
    state = _current.get()
    if outcome == Outcome.DENIED and state is not None:
        state.pending.append(event)
        return None
    event.save(force_insert=True)
    return event


def audit_record_shown(
    *,
    user,
    object_type: str,
    patient_ids=(),
    object_ids=(),
    clinic_id: int | None = None,
) -> int:
    """Record what a list page showed: one ``search`` event per patient on it (so the list
    appears in each of those patients' *Who looked at my file*), or per other row it listed
    (``object_ids``, e.g. intake requests, which have no patient yet). The events are written
    by one ``INSERT ... SELECT`` over an array of ids, so a page costs one query whatever the
    length of its list; the database seals each row as usual. A list that showed nothing still
    writes one event: the search itself happened. Returns the number of events written."""
    template = _build(
        user=user,
        action=Action.SEARCH,
        patient_id=None,
        clinic_id=clinic_id,
        object_type=object_type,
        object_id=None,
        outcome=Outcome.OK,
        on_behalf_of=None,
    )
    patient_ids = [int(pk) for pk in dict.fromkeys(patient_ids)]
    object_ids = [str(pk) for pk in dict.fromkeys(object_ids)]
    if not patient_ids and not object_ids:
        template.save(force_insert=True)
        return 1
    if patient_ids:
        _insert_for_each(template, "patient_id", patient_ids)
    if object_ids:
        _insert_for_each(template, "object_id", object_ids)
    return len(patient_ids) + len(object_ids)


_COPIED_FIELDS = (
    "action",
    "outcome",
    "user_id",
    "user_email",
    "role",
    "clinic_id",
    "object_type",
    "object_id",
)


def _insert_for_each(template: AuditEvent, column: str, values: list) -> None:
    """One event per value of ``column``, the other fields as in ``template``, in one statement."""
    connection = connections[router.db_for_write(AuditEvent)]
    quote = connection.ops.quote_name
    copied = [name for name in _COPIED_FIELDS if name != column]
    params = [getattr(template, name) for name in copied] + [template.client_ip]
    columns = ", ".join(quote(name) for name in [*copied, "client_ip", column])
    if connection.vendor == "postgresql":
        array_type = "bigint[]" if column == "patient_id" else "text[]"
        constants = ", ".join(["%s"] * len(copied) + ["%s::inet"])
        source = f"unnest(%s::{array_type}) WITH ORDINALITY AS v(value, position) ORDER BY position"
        params.append(values)
    else:
        constants = ", ".join(["%s"] * (len(copied) + 1))
        source = "json_each(%s) AS v ORDER BY v.key"
        params.append(json.dumps(values))
    table = quote(AuditEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {constants}, v.value FROM {source}",  # noqa: S608 (names only)
            params,
        )


_ADMIN_VIEWS = {
    "changelist": Action.SEARCH,
    "add": Action.CREATE,
    "change": Action.VIEW,
    "delete": Action.VIEW,
    "history": Action.VIEW,
}
_ADMIN_WRITES = {"add": Action.CREATE, "change": Action.CHANGE, "delete": Action.DELETE}


class AdminAuditMiddleware:
    """Audits platform operators' use of the Django admin: every page they open and every change
    they make, like any staff access. The event names the model and object
    (``admin:<app>.<model>``); when the object is a patient, belongs to one (a ``patient``
    field) or is a patient's account, the event carries that patient, so it shows in their *Who
    looked at my file*. A list records every patient on the page it showed. Written after the
    response, outside the admin view's transaction; a refused page (403/404) is a refusal."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path_info.startswith(_admin_prefix()):
            return response
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return response
        # No page without its event: if writing fails, the error replaces the page.
        self._record(request, response, user)
        return response

    def _record(self, request, response, user):
        from django.urls import Resolver404, resolve

        try:
            match = resolve(request.path_info)
        except Resolver404:
            return
        model, view = _admin_model_and_view(match)
        object_type = (
            f"admin:{model._meta.label_lower}" if model is not None else f"admin:{match.url_name or 'page'}"
        )
        object_id = match.kwargs.get("object_id")
        denied = response.status_code in (403, 404)
        if view == "changelist" and not denied:
            shown = getattr(getattr(response, "context_data", None) or {}, "get", lambda key: None)("cl")
            objects = list(shown.result_list) if shown is not None else []
            audit_record_shown(user=user, object_type=object_type, patient_ids=_patients_of(model, objects))
            return
        action = _ADMIN_VIEWS.get(view, Action.VIEW)
        if request.method == "POST" and response.status_code == 302 and view in _ADMIN_WRITES:
            action = _ADMIN_WRITES[view]
        patient_ids = _patients_of(model, [object_id]) if model is not None and object_id else []
        event = _build(
            user=user,
            action=action,
            patient_id=patient_ids[0] if patient_ids else None,
            clinic_id=None,
            object_type=object_type,
            object_id=object_id,
            outcome=Outcome.DENIED if denied else Outcome.OK,
            on_behalf_of=None,
        )
        event.save(force_insert=True)


def _admin_prefix() -> str:
    from django.urls import reverse

    return reverse("admin:index")


def _admin_model_and_view(match):
    """(model, view) for an admin URL such as ``admin:patients_patient_change``; (None, name) else."""
    from django.contrib import admin

    if match.app_name != "admin" or not match.url_name:
        return None, match.url_name or ""
    for model in admin.site._registry:
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        if match.url_name.startswith(prefix):
            return model, match.url_name[len(prefix) :]
    return None, match.url_name


def _patients_of(model, objects) -> list[int]:
    """The patient ids behind admin objects (instances or primary keys) of ``model``: the patient
    itself, a row's ``patient``, or the patient of a user account. One query at most."""
    if model is None or not objects:
        return []
    pks = [getattr(obj, "pk", obj) for obj in objects]
    opts = model._meta
    if opts.label_lower == "patients.patient":
        return [int(pk) for pk in pks if str(pk).isdigit()]
    names = {f.name: f for f in opts.get_fields()}
    field = names.get("patient")
    if field is None:
        return []
    try:
        if field.concrete:
            values = model._default_manager.filter(pk__in=pks).values_list("patient_id", flat=True)
        else:  # the reverse side, e.g. a user account's patient
            values = field.related_model._default_manager.filter(
                **{f"{field.field.name}__in": pks}
            ).values_list("pk", flat=True)
        return [pk for pk in values if pk is not None]
    except (ValueError, TypeError):
        return []
