"""Submitted once: an idempotency key per form render.

A double click, a browser that re-sends a POST after a time-out, going back and pressing *Send*
again, or a flaky connection retrying must not write a message, feedback, note, session or
intake request twice. A form that writes such a row carries a hidden ``submission_key`` (a
random UUID made when the form is rendered: ``{% include "includes/submission_key.html" %}``)
and its view is wrapped in :func:`submitted_once`.

How it holds, also for many copies of the same POST at once:

- Before the view runs, a :class:`~icbt.models.FormSubmission` row with the key is inserted in
  the request's transaction (``ATOMIC_REQUESTS``). The key is unique, so on PostgreSQL a second
  request with the same key waits on the index until the first commits; its insert then fails
  and it reads the first one's result. On SQLite writers are serialised anyway.
- When the view answers with a redirect (the form was handled), the redirect's target is kept
  as the result; a replay is redirected there too, with a short note, not an error.
- When the view answers otherwise (the form came back with errors), the row is deleted in the
  same transaction: the same render may be sent again, corrected.
- A request without a key (or with a malformed one) is handled as before, without protection;
  a key that belongs to another person or another form is ignored the same way, and so is a
  key sent again with *different* content (a page kept open after sending, then used for new
  text): what a person wrote is never dropped as a "replay".

Rows are deleted after ``RETENTION_DAYS`` by a daily task (``icbt.tasks``).
"""

import uuid
from datetime import timedelta
from functools import wraps

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from icbt.models import FormSubmission

FIELD = "submission_key"
RETENTION_DAYS = 7
REDIRECTS = (301, 302, 303)


def new_key() -> str:
    return str(uuid.uuid4())


def parse_key(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def key_for_render(request) -> str:
    """The key a form render carries: the posted one when the same form comes back with errors
    (it was not used: a used key answers with a redirect), a fresh one otherwise."""
    if request is not None and request.method == "POST":
        posted = parse_key(request.POST.get(FIELD))
        if posted is not None:
            return str(posted)
    return new_key()


def _owner(request) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return "anonymous"


def fingerprint(request) -> str:
    """A keyed hash of the posted fields (without the CSRF token and the key)."""
    items = sorted(
        (name, value)
        for name in request.POST
        if name not in ("csrfmiddlewaretoken", FIELD)
        for value in request.POST.getlist(name)
    )
    return salted_hmac("icbt.submissions", repr(items), algorithm="sha256").hexdigest()


def submission_claim(
    *, key: uuid.UUID, owner: str, scope: str, fingerprint: str
) -> tuple[FormSubmission | None, str]:
    """Claim ``key`` for this request, or find what an earlier request with it did.

    Returns ``(claim, "")`` when this request handles the form (the claim is ``None`` when the
    key was used by someone else, for another form or with other content: handle the form
    without protection), or ``(None, url)`` with the earlier result to show."""
    try:
        with transaction.atomic():
            claim = FormSubmission.objects.create(key=key, owner=owner, scope=scope, fingerprint=fingerprint)
            return claim, ""
    except IntegrityError:
        earlier = FormSubmission.objects.filter(key=key).first()
    if (
        earlier is None
        or (earlier.owner, earlier.scope, earlier.fingerprint) != (owner, scope, fingerprint)
        or not earlier.result_url
    ):
        return None, ""
    return None, earlier.result_url


def submitted_once(scope: str):
    """Wrap a view that handles a form once per render (see the module docstring)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            key = parse_key(request.POST.get(FIELD)) if request.method == "POST" else None
            if key is None:
                return view(request, *args, **kwargs)
            claim, earlier_url = submission_claim(
                key=key, owner=_owner(request), scope=scope, fingerprint=fingerprint(request)
            )
            if earlier_url:
                messages.info(request, _("This was sent already. It was saved once; here it is."))
                return redirect(earlier_url)
            response = view(request, *args, **kwargs)
            if claim is not None:
                location = response.get("Location", "") if response.status_code in REDIRECTS else ""
                if location and url_has_allowed_host_and_scheme(location, allowed_hosts={request.get_host()}):
                    claim.result_url = location[:500]
                    claim.save(update_fields=["result_url"])
                else:
                    claim.delete()
            return response

        return wrapper

    return decorator


def form_submissions_purge(*, now=None) -> int:
    """Delete keys older than the retention: a replay that late is no longer recognised."""
    cutoff = (now or timezone.now()) - timedelta(days=RETENTION_DAYS)
    deleted, _rows = FormSubmission.objects.filter(created_at__lt=cutoff).delete()
    return deleted
