"""The notification settings page and the one-click unsubscribe link of the digest e-mails."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from icbt.roles import roles_of
from messaging.notifications import preferences
from messaging.notifications.forms import FirstChoiceForm, NotificationPreferenceForm


@login_required
@require_http_methods(["GET", "POST"])
def notification_preferences(request):
    """Everyone's own e-mail preferences (no one else's: the page takes no id)."""
    user = request.user
    staff = roles_of(user).staff
    preference = preferences.preference_for_user(user)
    kinds = preferences.kinds_for_user(user)
    form = NotificationPreferenceForm(
        request.POST or None, preference=preference, kinds=kinds, show_urgent=staff is not None
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        preferences.preference_update(
            user=user,
            email_enabled=data["email_enabled"],
            frequency=data["frequency"],
            hour=data["hour"],
            weekday=data["weekday"],
            urgent_soon=data.get("urgent_soon", preference.urgent_soon),
            kinds_on=data.get("kinds", []),
        )
        messages.success(request, _("Your e-mail settings are saved."))
        return redirect(preferences.url_name("preferences"))
    context = {"form": form, "is_patient": staff is None, "email_on": preference.email_enabled}
    return render(request, "messaging/preferences.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def notification_first_choice(request):
    """Asked once, after a patient's first sign-in: e-mail about new feedback, or not.

    Staff, and patients who have chosen already, go on to where they were going."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    # A path, never a view name: redirect() would look a bare word ("foo") up as one.
    next_url = next_url or resolve_url(settings.LOGIN_REDIRECT_URL)
    if not preferences.needs_first_choice(request.user):
        return HttpResponseRedirect(next_url)
    # The daily e-mail's hour that choosing e-mail stores: the page promises that hour.
    hour = preferences.preference_for_user(request.user).hour
    form = FirstChoiceForm(request.POST or None, hour=hour)
    if request.method == "POST" and form.is_valid():
        email_enabled = form.cleaned_data["choice"] == FirstChoiceForm.EMAIL
        saved = preferences.preference_first_choice(user=request.user, email_enabled=email_enabled)
        if email_enabled:
            messages.success(
                request,
                _("We will send you one short e-mail a day, at %(time)s, when something new is waiting.")
                % {"time": f"{saved.hour:02d}:00"},
            )
        else:
            messages.success(request, _("We will not send you e-mails. You can change this in Settings."))
        return HttpResponseRedirect(next_url)
    context = {"form": form, "next": next_url, "time": f"{hour:02d}:00"}
    return render(request, "messaging/first_choice.html", context)


@csrf_exempt  # RFC 8058: mail providers POST "List-Unsubscribe=One-Click" without a CSRF token.
@require_http_methods(["GET", "POST"])
def notification_unsubscribe(request, token):
    """Turn e-mail off for the person the signed token names, without signing in.

    GET only shows a button (link scanners open links and must not unsubscribe anyone);
    POST, from that button or from the mail program's one-click, turns e-mail off.
    """
    user = preferences.unsubscribe_user(token)
    if user is None:
        return render(request, "messaging/unsubscribe.html", {"invalid": True}, status=404)
    if request.method == "POST":
        preferences.preference_email_off(user=user)
        return render(request, "messaging/unsubscribe.html", {"done": True})
    return render(request, "messaging/unsubscribe.html", {"token": token})
