"""Flash messages: in the session, and fixed confirmations in a short-lived cookie.

Django's ``SessionStorage`` keeps a flash message in the session, so a page that only says
"saved" and redirects (the diary, many times a day) writes the session twice: once to keep the
message, once more when the next page has shown it. Each write is a statement with a commit
of its own (and a copy in the cache). A *confirmation* is a message whose text is fixed in the
code ("Your diary is saved ..."): it travels in a cookie instead, holding only its code, never
the text or anything the patient wrote, and costs the server nothing to keep.

The cookie keeps the session storage's guarantees:

- shown once: the response of the page that shows it deletes it (as the session storage forgets
  a message it showed); a page that shows no messages (a redirect) leaves it for the next page;
- only to whom it was meant for: it is signed with the secret key and bound to the session it
  was made in. After a sign-out (the session ends) or on another person's sign-in (a new
  session key) it is no longer valid, shows nothing and is deleted; a copied or altered cookie
  likewise;
- short-lived: ``CONFIRMATION_SECONDS`` (the browser follows a redirect at once), for the
  browser as for the signature;
- kept on the server's terms: ``HttpOnly``, ``SameSite=Lax``, ``Secure`` and the ``__Host-``
  prefix in production as the session cookie; nothing is written when the response is an
  error (as the session middleware saves no session on a 5xx).

Every other message (one that may name the patient: "Welcome back, Anna") stays in the session.
Codes are registered by the app that says them (``confirmation``); an unknown code shows
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.messages.storage.base import Message
from django.contrib.messages.storage.session import SessionStorage
from django.core import signing

CONFIRMATION_SECONDS = 300
_SEPARATOR = "."
_REGISTERED: dict[str, Confirmation] = {}


@dataclass(frozen=True)
class Confirmation:
    """A fixed message, known by ``code`` (letters and digits: what the cookie carries)."""

    code: str
    text: object  # a lazy translation: shown in the language of the page that shows it
    level: int = messages.SUCCESS


def confirmation(code: str, text, *, level: int = messages.SUCCESS) -> Confirmation:
    """Register the confirmation ``code`` (once per process; registering it again with the same
    text is harmless, as a module imported twice in tests does)."""
    if not code.isalnum():
        raise ValueError(f"a confirmation code is letters and digits only, not {code!r}")
    known = _REGISTERED.get(code)
    if known is not None and str(known.text) != str(text):
        raise ValueError(f"confirmation code {code!r} is taken by another text")
    _REGISTERED[code] = Confirmation(code, text, level)
    return _REGISTERED[code]


def confirm(request, which: Confirmation) -> None:
    """Show ``which`` on the next page this browser opens in this session (as
    ``messages.add_message``). With another message storage (tests may set one) it is an
    ordinary message."""
    storage = getattr(request, "_messages", None)
    if isinstance(storage, ConfirmationStorage):
        storage.add_confirmation(which)
    else:
        messages.add_message(request, which.level, which.text)


def cookie_name() -> str:
    return settings.ICBT_CONFIRMATION_COOKIE_NAME


class ConfirmationMessage(Message):
    def __init__(self, which: Confirmation):
        super().__init__(which.level, which.text)
        self.code = which.code


class ConfirmationStorage(SessionStorage):
    """``MESSAGE_STORAGE``: Django's session storage, with confirmations in a signed cookie
    (module docstring)."""

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self._cookie = request.COOKIES.get(cookie_name()) or None  # a deleted one may come back empty
        self._cookie_codes: list[str] | None = None

    # Reading -------------------------------------------------------------------------------

    def _session_key(self) -> str | None:
        """The key of the session as it is now: loading it first, so that a session that has
        ended (its key no longer known) has none."""
        session = self.request.session
        session.get("_icbt_loaded")  # loads the session (a cached copy, usually)
        return session.session_key

    @staticmethod
    def _signer(session_key: str) -> signing.TimestampSigner:
        return signing.TimestampSigner(salt=f"icbt.flash.confirmation:{session_key}")

    def _codes_from_cookie(self) -> list[str]:
        """The codes of a valid cookie made in this session, at most ``CONFIRMATION_SECONDS``
        ago; [] for no cookie or one that is not (any more)."""
        if self._cookie_codes is None:
            self._cookie_codes = []
            session_key = self._session_key() if self._cookie else None
            if session_key:
                try:
                    value = self._signer(session_key).unsign(self._cookie, max_age=CONFIRMATION_SECONDS)
                except signing.BadSignature:  # also an expired one
                    value = ""
                self._cookie_codes = [code for code in value.split(_SEPARATOR) if code in _REGISTERED]
        return self._cookie_codes

    def _get(self, *args, **kwargs):
        stored, all_retrieved = super()._get(*args, **kwargs)
        self._from_session = list(stored or [])
        confirmations = [ConfirmationMessage(_REGISTERED[code]) for code in self._codes_from_cookie()]
        if confirmations:
            stored = [*(stored or []), *confirmations]
        return stored, all_retrieved

    # Writing -------------------------------------------------------------------------------

    def add_confirmation(self, which: Confirmation) -> None:
        if which.level < self.level:
            return
        self.added_new = True
        self._queued_messages.append(ConfirmationMessage(which))

    def _store(self, messages, response, *args, **kwargs):
        codes = [m.code for m in messages if isinstance(m, ConfirmationMessage)]
        session_key = self.request.session.session_key if codes else None
        if codes and (not session_key or response.status_code >= 500):
            # No session yet to bind the cookie to (or nothing may be kept): as any message.
            others, codes = messages, []
        else:
            others = [m for m in messages if not isinstance(m, ConfirmationMessage)]
        if not self._session_holds(others):
            super()._store(others, response, *args, **kwargs)
        if codes:
            response.set_cookie(
                cookie_name(),
                self._signer(session_key).sign(_SEPARATOR.join(dict.fromkeys(codes))),
                max_age=CONFIRMATION_SECONDS,
                path="/",
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        elif self._cookie is not None:
            self._forget(response)
        return []

    def _session_holds(self, others) -> bool:
        """The session holds these very messages already (read, not shown, none added): writing
        them again would cost a session write for nothing."""
        kept = getattr(self, "_from_session", None)
        return (
            kept is not None
            and len(others) == len(kept)
            and all(a is b for a, b in zip(others, kept, strict=True))
        )

    def update(self, response):
        unstored = super().update(response)
        if self._cookie is not None and not self.used and not self.added_new:
            # Nothing shown and nothing new: a cookie that is not valid here goes; a valid one
            # waits for the page that shows it.
            if not self._codes_from_cookie():
                self._forget(response)
        return unstored

    @staticmethod
    def _forget(response) -> None:
        response.delete_cookie(cookie_name(), path="/", samesite="Lax")
