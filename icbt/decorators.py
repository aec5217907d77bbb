"""View decorators shared by the apps."""

from django.db import transaction
from django.views.decorators.http import require_safe


def read_only_page(view):
    """A page that only reads (besides its audit event): GET and HEAD only, and outside the
    request transaction that ``ATOMIC_REQUESTS`` gives every other view.

    Reading needs no transaction of its own: under PostgreSQL's READ COMMITTED each statement
    takes its own snapshot either way, and the audit event is one INSERT that commits by itself.
    Leaving it out saves the BEGIN and COMMIT round trips on busy pages (the worklist, the
    patient overview, the dashboard) and, on SQLite, the write lock an IMMEDIATE transaction
    holds for the whole request. A page that changes anything else must not use this.
    """
    return require_safe(transaction.non_atomic_requests(view))
