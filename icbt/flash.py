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


class SessionBoundCookie:
    """A short-lived cookie that tells the next page something (its value: short tokens, never
    anything a person wrote or that names them), signed with the secret key and bound to the
    session it was made in: after a sign-out or another person's sign-in, and once older than
    ``seconds`` (``CONFIRMATION_SECONDS`` unless given; None: the session's own age), it reads
    as nothing. ``HttpOnly``, ``SameSite=Lax``, ``Secure`` as the session cookie. ``setting``
    names the setting that holds the cookie's name."""

    def __init__(self, setting: str, salt: str, *, seconds: int | None = CONFIRMATION_SECONDS):
        self.setting = setting
        self.salt = salt
        self._seconds = seconds

    @property
    def seconds(self) -> int:
        return self._seconds if self._seconds is not None else settings.SESSION_COOKIE_AGE

    @property
    def name(self) -> str:
        return getattr(settings, self.setting)

    def sent(self, request) -> str | None:
        """The cookie as the browser sent it (None: none; a deleted one may come back empty)."""
        return request.COOKIES.get(self.name) or None

    @staticmethod
    def _session_key(request) -> str | None:
        """The key of the session as it is now: loading it first, so that a session that has
        ended (its key no longer known) has none."""
        session = request.session
        session.get("_icbt_loaded")  # loads the session (a cached copy, usually)
        return session.session_key

    def _signer(self, session_key: str) -> signing.TimestampSigner:
        return signing.TimestampSigner(salt=f"{self.salt}:{session_key}")

    def read(self, request) -> list[str]:
        """The tokens of a valid cookie made in this session, at most ``seconds`` ago; [] for
        no cookie or one that is not valid (any more)."""
        value = self.sent(request)
        session_key = self._session_key(request) if value else None
        if not session_key:
            return []
        try:
            tokens = self._signer(session_key).unsign(value, max_age=self.seconds)
        except signing.BadSignature:  # also an expired one
            return []
        return [token for token in tokens.split(_SEPARATOR) if token]

    def write(self, request, response, tokens) -> bool:
        """Send ``tokens`` (letters and digits each) for the next page; False (nothing sent)
        without a session to bind them to."""
        session_key = request.session.session_key
        if not session_key:
            return False
        response.set_cookie(
            self.name,
            self._signer(session_key).sign(_SEPARATOR.join(dict.fromkeys(tokens))),
            max_age=self._seconds,  # None: gone when the browser closes, as the session
            path="/",
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
        return True

    def forget(self, response) -> None:
        response.delete_cookie(self.name, path="/", samesite="Lax")


CONFIRMATIONS = SessionBoundCookie("ICBT_CONFIRMATION_COOKIE_NAME", "icbt.flash.confirmation")


def cookie_name() -> str:
    return CONFIRMATIONS.name


class ConfirmationMessage(Message):
    def __init__(self, which: Confirmation):
        super().__init__(which.level, which.text)
        self.code = which.code


class ConfirmationStorage(SessionStorage):
    """``MESSAGE_STORAGE``: Django's session storage, with confirmations in a signed cookie
    (module docstring)."""

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self._cookie = CONFIRMATIONS.sent(request)
        self._cookie_codes: list[str] | None = None

    # Reading -------------------------------------------------------------------------------

    def _codes_from_cookie(self) -> list[str]:
        """The known codes of a valid cookie (``SessionBoundCookie.read``), read once."""
        if self._cookie_codes is None:
            self._cookie_codes = (
                [code for code in CONFIRMATIONS.read(self.request) if code in _REGISTERED]
                if self._cookie
                else []
            )
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
        others = [m for m in messages if not isinstance(m, ConfirmationMessage)]
        if response.status_code >= 500:
            # An error: this request's confirmations are dropped (what they confirm was rolled
            # back) and the cookie stays as the browser has it (a confirmation of an earlier
            # save still waits for its page), as the session middleware keeps no session.
            if not self._session_holds(others):
                super()._store(others, response, *args, **kwargs)
            return []
        codes = [m.code for m in messages if isinstance(m, ConfirmationMessage)]
        if codes and not CONFIRMATIONS.write(self.request, response, codes):
            # No session yet to bind the cookie to: kept as any message, its text made plain.
            for message in messages:
                message._prepare()
            others, codes = messages, []
        if not self._session_holds(others):
            super()._store(others, response, *args, **kwargs)
        if not codes and self._cookie is not None:
            CONFIRMATIONS.forget(response)
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
                CONFIRMATIONS.forget(response)
        return unstored
