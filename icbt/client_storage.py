"""What the browser keeps on a device, and when it must forget it.

Patient forms keep a copy of what was typed in the browser's local storage until the server
confirms it (``static/js/drafts.js``), so that a lost connection or a database outage loses no
diary. On a shared device that copy must never reach the next person: every copy is keyed by
an opaque owner value of the signed-in user (``draft_owner``; never the e-mail address or a
name), the script drops copies of any other owner, and the server tells the browser to clear
its storage (``Clear-Site-Data: "storage"``) when a session ends:

- on the response to a sign-out (any call of ``django.contrib.auth.logout``: the sign-out
  button, an idle time-out), and on the page the browser is sent to next;
- on the first request that still carries the cookie of a session the server no longer has
  (expired, ended by an administrator, flushed after a password change).

A copy is confirmed when the form's POST carrying ``LOCAL_COPY_FIELD`` (added by the script at
submit) is answered with a redirect: the view saved and the request's transaction committed
(with ``ATOMIC_REQUESTS`` a failed commit raises before this middleware sees the response). The
copy's id, a random value made by the script, comes back on the next page in
``local_copies_saved``; the id holds nothing of what was typed. It travels to that page in a
cookie signed and bound to the session (``icbt.flash.SessionBoundCookie``: after a sign-out it
reads as nothing; gone when the browser closes), given out once: the page that gives the ids to
the script deletes it. So a save that redirects writes no session for it (a diary, many times a day).
"""

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver
from django.utils.crypto import salted_hmac

from icbt.flash import SessionBoundCookie

LOCAL_COPY_FIELD = "icbt_local_copy"
# Sessions of before the cookie (and a save without a session key) still hold them here.
SAVED_SESSION_KEY = "icbt_local_copies_saved"
# As long as the session may live: a page that comes late (a lost connection) still confirms
# the copy; the session's end ends it.
SAVED_COOKIE = SessionBoundCookie("ICBT_LOCAL_COPIES_COOKIE_NAME", "icbt.client_storage.saved", seconds=None)
CLEAR_SESSION_KEY = "icbt_clear_client_storage"
CLEAR_HEADER_VALUE = '"storage"'
_MAX_SAVED = 20
_MAX_ID_LENGTH = 64


def draft_owner(user) -> str:
    """The opaque value local copies of ``user`` are keyed by: stable for the user (a copy kept
    while offline comes back after signing in again), says nothing about who it is, and cannot
    be made for another user without the secret key."""
    return salted_hmac("icbt.client_storage.draft_owner", str(user.pk)).hexdigest()[:32]


def mark_clear(request) -> None:
    """This response must tell the browser to forget what it keeps for this site."""
    request.icbt_clear_client_storage = True


@receiver(user_logged_out, dispatch_uid="icbt.client_storage.logged_out")
def _on_logged_out(sender, request, user, **kwargs):
    if request is not None:
        mark_clear(request)


def _session_ended(request, had_cookie: bool) -> bool:
    """The browser sent a session cookie, and the server has no session for it (any more)."""
    session = getattr(request, "session", None)
    if not had_cookie or session is None:
        return False
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return False
    return session.session_key is None


class ClientStorageMiddleware:
    """Sends ``Clear-Site-Data: "storage"`` when a session ends, and records which local copies
    the server confirmed. Sits after the session and authentication middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        had_cookie = bool(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
        if had_cookie and request.session.pop(CLEAR_SESSION_KEY, False):
            mark_clear(request)
            if not request.session.keys():
                request.session.flush()  # it held only the flag: leave no empty session behind
        response = self.get_response(request)
        if response.status_code >= 500:
            return response  # the database may be the reason: ask nothing more of it
        written = False
        if getattr(request, "icbt_clear_client_storage", False) or _session_ended(request, had_cookie):
            response["Clear-Site-Data"] = CLEAR_HEADER_VALUE
            if 300 <= response.status_code < 400:
                # The page the browser is sent to (the sign-in page) clears once more, for a
                # browser that does not act on the header of a redirect.
                request.session[CLEAR_SESSION_KEY] = True
        elif request.method == "POST" and 300 <= response.status_code < 400:
            written = self._confirm(request, response)
        if not written and SAVED_COOKIE.sent(request) is not None and not _copies_waiting(request):
            SAVED_COOKIE.forget(response)  # given to the script, or not valid (any more)
        return response

    @staticmethod
    def _confirm(request, response) -> bool:
        """Keep the id of the copy this save confirms for the next page; True when the cookie
        was written."""
        copy_id = request.POST.get(LOCAL_COPY_FIELD, "")
        if not copy_id or len(copy_id) > _MAX_ID_LENGTH or not copy_id.isalnum():
            return False
        if not request.user.is_authenticated:
            return False
        saved = [value for value in _copies_waiting(request) if value != copy_id]
        saved = (saved + [copy_id])[-_MAX_SAVED:]
        if SAVED_COOKIE.write(request, response, saved):
            return True
        request.session[SAVED_SESSION_KEY] = saved
        return False


def _copies_waiting(request) -> list[str]:
    """The confirmed copies the next page has not given to the script yet (from a valid cookie;
    none once this request's page gave them)."""
    if getattr(request, "icbt_local_copies_given", False):
        return []
    if not hasattr(request, "icbt_local_copies_sent"):
        sent = SAVED_COOKIE.read(request) if SAVED_COOKIE.sent(request) is not None else []
        request.icbt_local_copies_sent = [
            value for value in sent if len(value) <= _MAX_ID_LENGTH and value.isalnum()
        ][-_MAX_SAVED:]
    return request.icbt_local_copies_sent


def client_storage(request):
    """For the base template: the owner value of the signed-in user's local copies, and the ids
    of copies the server confirmed since the last page (each given out once)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    saved = request.session.pop(SAVED_SESSION_KEY, []) if SAVED_SESSION_KEY in request.session else []
    saved = [*saved, *(value for value in _copies_waiting(request) if value not in saved)]
    request.icbt_local_copies_given = True  # the middleware deletes the cookie
    return {"draft_owner": draft_owner(user), "local_copies_saved": " ".join(saved)}
