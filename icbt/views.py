import sys
import time
from urllib.parse import urlsplit

from allauth.account import app_settings
from allauth.account.internal.flows.login import record_authentication
from allauth.account.utils import perform_login
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, connection, transaction
from django.http import (
    Http404,
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.template import loader
from django.templatetags.static import static
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import defaults, i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from icbt import services
from icbt.access import require_staff_role
from icbt.client_storage import LOCAL_COPY_FIELD
from icbt.forms import EmailChangeForm, PersonalSettingsForm, SetPasswordForm, StyleguideForm
from icbt.middleware import IdleTimeoutMiddleware
from icbt.models import SignIn
from icbt.roles import roles_of
from icbt.signin import device_in_words


def home(request):
    """Sends everyone to their own start page."""
    if not request.user.is_authenticated:
        return render(request, "icbt/landing.html")
    roles = roles_of(request.user)
    if roles.patient is not None:
        return redirect("patients:home")
    if roles.staff is not None:
        # Where the work is: a therapist's worklist first (also when they are manager or admin),
        # a manager's dashboard, a clinic admin's staff page.
        if roles.staff.is_therapist:
            return redirect("therapists:worklist")
        if roles.staff.is_manager:
            return redirect("therapists:dashboard")
        return redirect("therapists:staff_list")
    if request.user.is_staff:
        return redirect("admin:index")
    return render(request, "icbt/no_role.html")


@require_safe
def crisis_help(request):
    """ "Need help now?": the national crisis lines, always, and for a patient their clinic's own
    crisis text below them. Open to everyone, signed in or not: it is linked from every page."""
    roles = roles_of(request.user)
    clinic_text = roles.patient.clinic.crisis_instructions if roles.patient is not None else ""
    return render(request, "icbt/crisis_help.html", {"clinic_text": clinic_text})


@require_safe
@never_cache
@transaction.non_atomic_requests
def healthz(request):
    """Reports the database and the broker. 200 when both answer, 503 otherwise.

    Not wrapped in the request transaction (ATOMIC_REQUESTS): opening it needs the database,
    and an unreachable database must give this 503 answer, not a 500 error page."""
    status = {"database": "ok", "broker": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        status["database"] = "error"
    try:
        from icbt.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        cache.get("healthz")
    except Exception:  # noqa: BLE001
        status["broker"] = "error"
    healthy = all(value == "ok" for value in status.values())
    return JsonResponse({"status": "ok" if healthy else "error", **status}, status=200 if healthy else 503)


@transaction.non_atomic_requests
@require_safe
def favicon(request):
    """The icon's hashed static address, looked up per request (the manifest exists only after
    collectstatic, not when the URLs are imported)."""
    return HttpResponsePermanentRedirect(static("img/favicon.ico"))


def _invitation_invalid(request, token):
    context = {"reason": services.invitation_refusal(token=token), "days": settings.ICBT_INVITATION_DAYS}
    return render(request, "icbt/invitation_invalid.html", context, status=404)


def invitation_accept(request, token):
    """Set a password from an invitation and sign in at once.

    The sign-in goes through allauth's own login flow, so everything a sign-in does happens here
    too: the second-factor step for someone who has one, the audit event, the first-sign-in
    question about e-mail (``icbt.adapters``), and the start page of their role."""
    invitation = services.invitation_get(token=token)
    if invitation is None:
        return _invitation_invalid(request, token)
    form = SetPasswordForm(request.POST or None, user=invitation.user)
    if request.method == "POST" and form.is_valid():
        user = services.invitation_accept(token=token, password=form.cleaned_data["password1"])
        if user is None:
            return _invitation_invalid(request, token)
        if request.user.is_authenticated:
            logout(request)
        messages.success(request, _("Your password is set."))
        # The password was typed just now: that counts as a password sign-in, also for allauth's
        # "confirm your password" step before a second factor is set up.
        record_authentication(request, user, method="password", email=user.email, reauthenticated=True)
        return perform_login(request, user, email_verification=app_settings.EmailVerificationMethod.NONE)
    return render(request, "icbt/invitation_accept.html", {"form": form, "email": invitation.user.email})


@login_required
def personal_settings(request):
    form = PersonalSettingsForm(request.POST or None, initial={"language": request.user.language})
    if request.method == "POST" and form.is_valid():
        services.user_update_language(user=request.user, language=form.cleaned_data["language"])
        with translation.override(form.cleaned_data["language"]):
            messages.success(request, _("Your settings are saved."))
        return redirect("personal_settings")
    return render(request, "icbt/settings.html", {"form": form})


@require_POST
def set_language(request):
    """The language switch in the footer: Django's ``set_language`` (a cookie, for visitors), and
    for a signed-in person also their saved choice, which ``UserLanguageMiddleware`` would
    otherwise put back on the next page."""
    response = i18n.set_language(request)
    language = request.POST.get("language")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        services.user_update_language(user=request.user, language=language)
    return response


def server_error(request):
    """The error page (``handler500``). A database that cannot be reached, or that dropped the
    connection, is an outage rather than a fault: the answer is 503, with a page that says what
    happened to what the person was sending (the patient forms keep a copy on the device until
    the server confirms it). Rendered without the request's context processors, which would
    ask the database again."""
    exc = sys.exc_info()[1]
    if isinstance(exc, OperationalError | InterfaceError):
        sent = request.method == "POST"
        try:
            kept = sent and bool(request.POST.get(LOCAL_COPY_FIELD))
        except Exception:  # noqa: BLE001 - an unreadable body: promise nothing
            kept = False
        context = {"path": request.path, "sent": sent, "kept": kept}
        response = HttpResponse(loader.render_to_string("503.html", context), status=503)
        response["Retry-After"] = "120"
        return response
    return defaults.server_error(request)


def csrf_failure(request, reason=""):
    """``CSRF_FAILURE_VIEW``: a form that was open from an earlier sign-in (the token changes
    at every sign-in), or a cookie the browser lost. Not a URL of its own, so not in the
    authorization matrix: Django calls it instead of the view that was asked for, and nothing
    was saved or changed.

    The page is the normal layout in the person's language, with the crisis lines, plain words
    and a way back to the page (the Referer's path when it is this site) and to sign in. Django's
    ``reason`` stays in its own security log, never on the page. It does not sign anyone out and
    sends no ``Clear-Site-Data``: the copy that ``static/js/drafts.js`` keeps of what was typed
    stays on the device, unconfirmed, and is put back when the form's page opens again. A script
    that saves in the background (the autosave) gets the same words as JSON."""
    if "application/json" in request.headers.get("Accept", ""):
        message = _("This page was open from an earlier sign-in, so it was not saved. Reload the page.")
        return JsonResponse({"error": message}, status=403)
    try:
        kept = bool(request.POST.get(LOCAL_COPY_FIELD))
    except Exception:  # noqa: BLE001 - an unreadable body: promise nothing
        kept = False
    context = {"back_url": _same_site_referer_path(request), "kept": kept}
    return render(request, "icbt/csrf_failure.html", context, status=403)


def _same_site_referer_path(request) -> str:
    """The path (and query) of the page the form was sent from, when that page is on this site;
    otherwise an empty string."""
    referer = request.headers.get("Referer", "")
    if not referer or not url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return ""
    parts = urlsplit(referer)
    # "//host/..." or "/\host/..." as a path would leave the site when used as a link.
    if not parts.netloc or not parts.path.startswith("/") or parts.path[1:2] in ("/", "\\"):
        return ""
    return parts.path + (f"?{parts.query}" if parts.query else "")


_EMAIL_CHANGE_TRIES = 5
_EMAIL_CHANGE_LINKS_PER_HOUR = 3


@login_required
def email_change(request):
    """Change one's own address: a link goes to the new address, which replaces the old one
    only when it is opened. Whether the address is in use is never said (the same words either
    way). Replaces allauth's address management, which let anyone add other people's addresses."""
    tries_key = f"icbt:email-change-tries:{request.user.pk}"
    sent_key = f"icbt:email-change-sent:{request.user.pk}"
    form = EmailChangeForm(request.POST or None, user=request.user)
    lock_out = None
    if request.method == "POST":
        if cache.get(tries_key, 0) >= _EMAIL_CHANGE_TRIES:
            # The password is not even checked: the page must not tell a right guess from a wrong one.
            form = EmailChangeForm(initial={"email": request.POST.get("email", "")[:254]}, user=request.user)
            lock_out = _("Too many attempts. Please wait a quarter of an hour and try again.")
        elif form.is_valid() and cache.get(sent_key, 0) >= _EMAIL_CHANGE_LINKS_PER_HOUR:
            form.add_error(
                None, _("You asked for several links in a short time. Please wait an hour and try again.")
            )
        elif form.is_valid():
            # Counted whether or not a link goes out, so the limit says nothing about the address.
            cache.set(sent_key, cache.get(sent_key, 0) + 1, 60 * 60)
            services.email_change_request(user=request.user, new_email=form.cleaned_data["email"])
            messages.success(
                request,
                _(
                    "If this address can be used, we sent a link to it. Your address changes when you "
                    "open that link. Until then you keep signing in with your current address."
                ),
            )
            return redirect("personal_settings")
        elif "password" in form.errors:
            # add + incr: parallel requests cannot overwrite each other's count.
            cache.add(tries_key, 0, 15 * 60)
            try:
                cache.incr(tries_key)
            except ValueError:  # expired between the two calls
                cache.add(tries_key, 1, 15 * 60)
    return render(
        request, "icbt/email_change.html", {"form": form, "current": request.user.email, "lock_out": lock_out}
    )


def email_change_confirm(request, token):
    """The link from the confirmation e-mail: a button (link scanners open links and must not
    change anything), then the change. Works whether or not the person is signed in."""
    pending = services.email_change_pending(token=token)
    if pending is None:
        return render(request, "icbt/email_change_invalid.html", status=404)
    if request.method == "POST":
        user = services.email_change_confirm(token=token)
        if user is None:
            return render(request, "icbt/email_change_invalid.html", status=404)
        messages.success(
            request, _("Your e-mail address is changed. Sign in with the new address from now on.")
        )
        return redirect("personal_settings" if request.user.is_authenticated else "account_login")
    return render(request, "icbt/email_change_confirm.html", {"new_email": pending[1]})


def retired_email_confirmation(request, key):
    """allauth's e-mail confirmation links: addresses are no longer added that way."""
    raise Http404


@login_required
def sign_in_history(request):
    """The person's own recent sign-ins: when (in the installation's time zone), with which
    browser, from which address. Only their own: the page takes no id."""
    rows = SignIn.objects.filter(user=request.user).only("at", "client_ip", "user_agent")[:20]
    sign_ins = [
        {"at": row.at, "device": device_in_words(row.user_agent), "address": row.client_ip} for row in rows
    ]
    return render(request, "icbt/sign_ins.html", {"sign_ins": sign_ins})


@login_required
@require_POST
def session_keep_alive(request):
    """ "Stay signed in" from the idle warning: counts as activity (204 for the page's script;
    a redirect back for a browser without it)."""
    request.session[IdleTimeoutMiddleware.SESSION_KEY] = int(time.time())
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return HttpResponse(status=204)
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect("home")
    # Not redirect(): that would look a bare word ("foo") up as a view name.
    return HttpResponseRedirect(next_url)


def styleguide(request):
    """Every component of the design system with its states, for staff on a development server.
    It does not exist in production (DEBUG off), whoever asks."""
    if not settings.DEBUG:
        raise Http404
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    require_staff_role(request.user)
    form = StyleguideForm(data={"name": "", "choice": "b", "choices": ["x"], "agree": "on"})
    form.is_valid()
    context = {
        "form": form,
        "colour_tokens": ["text", "muted", "accent", "ok", "warn", "error", "soft"],
        "sample_rows": [("C-AB12CD", 2), ("C-EF34GH", 1)],
    }
    return render(request, "icbt/styleguide.html", context)
