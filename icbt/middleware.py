import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.middleware.gzip import GZipMiddleware
from django.shortcuts import redirect
from django.utils import translation
from django.utils.translation import gettext as _

from icbt.audit import audit_context
from icbt.proxies import is_trusted_proxy
from icbt.roles import needs_mfa, roles_of


def _is_static(path: str) -> bool:
    return path.startswith(settings.STATIC_URL) or path.startswith(settings.MEDIA_URL)


class TrustedProxyMiddleware:
    """Forwarded headers count only when they come from our own proxy.

    ``X-Forwarded-For`` / ``-Proto`` / ``-Host`` decide the client address written into the audit
    trail and whether a request counts as HTTPS. From any address outside
    ``DJANGO_TRUSTED_PROXIES`` they are removed before anything reads them, so a client that
    reaches the application server directly cannot choose the address it is recorded under."""

    HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_X_REAL_IP")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not is_trusted_proxy(request.META.get("REMOTE_ADDR", "")):
            for header in self.HEADERS:
                request.META.pop(header, None)
        return self.get_response(request)


class AuditContextMiddleware:
    """Every audit event written while a request is served carries its client address (read
    once, after ``TrustedProxyMiddleware``), so services take no request. Refusals queued
    during the request are written when it ends, outside the view's transaction. The context
    is reset after the response; Celery tasks and commands run without one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with audit_context(request):
            return self.get_response(request)


class SecurityHeadersMiddleware:
    """Content-Security-Policy and friends on every response, and ``Cache-Control: no-store``
    on every page that is not a static file: pages may hold patient data and must not stay
    in a shared or browser cache."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.ICBT_CSP)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"
        )
        if not _is_static(request.path):
            response.headers["Cache-Control"] = "no-store"
            response.headers.pop("Expires", None)
        return response


class PageCompressionMiddleware(GZipMiddleware):
    """Pages, JSON and other text gzipped for browsers that accept it. Audio, video, images and
    PDFs pass untouched: they are compressed already, and a gzipped byte range would break
    seeking. Django pads each compressed response with random bytes against BREACH-style
    length guessing."""

    COMPRESSIBLE = ("text/", "application/json", "application/javascript", "image/svg+xml")

    def process_response(self, request, response):
        content_type = response.get("Content-Type", "")
        if response.status_code == 206 or not content_type.startswith(self.COMPRESSIBLE):
            return response
        return super().process_response(request, response)


class UserLanguageMiddleware:
    """A signed-in person sees the language they chose in their settings."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        return self.get_response(request)


def idle_minutes(user) -> int | None:
    """How long this person's session may stay idle: staff (and platform operators) and
    patients each have their own setting; None for anyone else."""
    if not user.is_authenticated:
        return None
    if needs_mfa(user):
        return settings.ICBT_STAFF_IDLE_MINUTES
    if roles_of(user).patient is not None:
        return settings.ICBT_PATIENT_IDLE_MINUTES
    return None


class IdleTimeoutMiddleware:
    """Ends a session after its idle time without a request (``idle_minutes``).

    The sign-out is Django's ordinary ``logout`` (so ``user_logged_out`` is sent, the audit
    trail records it and anything that cleans up after a sign-out runs), marked on the request
    as ``request.icbt_idle_signed_out``. Patients' pages count down in the browser and warn
    before the end (static/js/idle.js); "Stay signed in" posts to ``session_keep_alive``."""

    SESSION_KEY = "icbt_last_seen"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        minutes = idle_minutes(user)
        if minutes is not None and not _is_static(request.path):
            now = int(time.time())
            last_seen = request.session.get(self.SESSION_KEY)
            if last_seen is not None and now - int(last_seen) > minutes * 60:
                request.icbt_idle_signed_out = True
                logout(request)
                messages.info(request, _("You were signed out after a period without activity."))
                return redirect_to_login(request.get_full_path())
            # Write at most once a minute, so that every request does not rewrite the session.
            if last_seen is None or now - int(last_seen) >= 60:
                request.session[self.SESSION_KEY] = now
        return self.get_response(request)


# The old name, for anything that still refers to it.
StaffIdleTimeoutMiddleware = IdleTimeoutMiddleware


class StaffMFARequiredMiddleware:
    """Staff and platform operators cannot reach any page but the sign-in and two-factor set-up
    pages until they have a TOTP authenticator (allauth has no setting for this).

    Once an authenticator exists, allauth asks for its code at every sign-in, so a signed-in
    staff member has always passed the second factor.
    """

    ALLOWED_PREFIXES = ("/accounts/", "/healthz", "/i18n/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        path = request.path
        if (
            user.is_authenticated
            and needs_mfa(user)
            and not _is_static(path)
            and not path.startswith(self.ALLOWED_PREFIXES)
            and not has_totp(user)
        ):
            messages.warning(
                request,
                _("Set up two-factor authentication before you continue. It protects your patients' data."),
            )
            return redirect("mfa_activate_totp")
        return self.get_response(request)


def has_totp(user) -> bool:
    """Whether ``user`` has a TOTP authenticator: read from the user's own query when the
    authentication backend loaded it (``icbt.backends``), else one query, kept for the request."""
    from allauth.mfa.models import Authenticator

    loaded = getattr(user, "icbt_has_totp", None)
    if loaded is not None:
        return loaded
    cached = getattr(user, "_icbt_has_totp", None)
    if cached is None:
        cached = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
        user._icbt_has_totp = cached
    return cached
