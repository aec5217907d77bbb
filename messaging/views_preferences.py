"""The notification settings page and the one-click unsubscribe link of the digest e-mails."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from icbt.roles import roles_of
from messaging import preferences
from messaging.forms_preferences import NotificationPreferenceForm


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
    return render(request, "messaging/preferences.html", {"form": form, "is_patient": staff is None})


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
