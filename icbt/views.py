import sys

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, connection, transaction
from django.http import HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.templatetags.static import static
from django.utils import translation
from django.utils.translation import gettext as _
from django.views import defaults, i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from icbt import services
from icbt.client_storage import LOCAL_COPY_FIELD
from icbt.forms import PersonalSettingsForm, SetPasswordForm
from icbt.roles import roles_of


def home(request):
    """Sends everyone to their own start page."""
    if not request.user.is_authenticated:
        return render(request, "icbt/landing.html")
    roles = roles_of(request.user)
    if roles.patient is not None:
        return redirect("patients:home")
    if roles.staff is not None:
        if roles.staff.is_therapist:
            return redirect("patients:staff_patient_list")
        if roles.staff.is_manager:
            return redirect("therapists:clinic_overview")
        return redirect("therapists:staff_list")
    if request.user.is_staff:
        return redirect("admin:index")
    return render(request, "icbt/no_role.html")


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


def invitation_accept(request, token):
    invitation = services.invitation_get(token=token)
    if invitation is None:
        return render(request, "icbt/invitation_invalid.html", status=404)
    form = SetPasswordForm(request.POST or None, user=invitation.user)
    if request.method == "POST" and form.is_valid():
        user = services.invitation_accept(token=token, password=form.cleaned_data["password1"])
        if user is None:
            return render(request, "icbt/invitation_invalid.html", status=404)
        messages.success(request, _("Your password is set. You can sign in now."))
        return redirect("account_login")
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
