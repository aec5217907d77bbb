"""Public pages, no account needed: what each program is, and a short form to ask for an intake.

Which clinic: the form offers a choice of clinics when the installation has more than one (a
single-clinic installation shows none). A clinic's own website can link to
``/programs/<slug>/?clinic=<id>`` to preselect itself; the person still sees which clinic it is.

Abuse: a honeypot field (``website``) that people never see and bots fill in (such a request is
dropped, and the bot is shown the normal confirmation), and a rate limit per client address on
the cache (``ICBT_INTAKE_REQUESTS_PER_HOUR``, default 5): on PostgreSQL/Redis installs this is
the shared Redis cache, so it holds across workers.
"""

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from icbt.audit import client_ip
from icbt.submissions import submitted_once
from patients import selectors, services
from patients.forms_intake import IntakeRequestForm

RATE_WINDOW_SECONDS = 3600


def _language() -> str:
    return (get_language() or settings.LANGUAGE_CODE).split("-")[0]


def _rate_limit_hit(request) -> bool:
    """Count one request for this client address; True when it is over the hourly limit."""
    limit = int(getattr(settings, "ICBT_INTAKE_REQUESTS_PER_HOUR", 5))
    key = f"icbt:intake-request:{client_ip(request) or 'unknown'}"
    cache.add(key, 0, timeout=RATE_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=RATE_WINDOW_SECONDS)
        count = 1
    return count > limit


@require_GET
def public_program_list(request):
    versions = selectors.public_program_versions(language=_language())
    return render(request, "patients/public/program_list.html", {"versions": versions})


@require_http_methods(["GET", "POST"])
@submitted_once("intake_request")
def public_program(request, program_slug):
    version = selectors.public_program_version(program_slug=program_slug, language=_language())
    clinics = list(selectors.public_clinics())
    initial = {}
    preselected = request.GET.get("clinic", "")
    if preselected.isdigit() and any(clinic.pk == int(preselected) for clinic in clinics):
        initial["clinic"] = int(preselected)
    form = IntakeRequestForm(request.POST or None, clinics=clinics, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_bot:
            _rate_limit_hit(request)
            return redirect("patients:public_intake_sent", program_slug=program_slug)
        if form.is_valid():
            if _rate_limit_hit(request):
                form.add_error(
                    None,
                    _(
                        "We have received several requests from your connection in the past hour. "
                        "Please try again later, or call the clinic."
                    ),
                )
                status = 429
            else:
                data = form.cleaned_data
                services.intake_request_create(
                    clinic=data["clinic"],
                    program=version.program,
                    name=data["name"],
                    email=data["email"],
                    phone=data["phone"],
                    message=data["message"],
                    language=_language(),
                )
                return redirect("patients:public_intake_sent", program_slug=program_slug)
    return render(request, "patients/public/program.html", {"version": version, "form": form}, status=status)


@require_GET
def public_intake_sent(request, program_slug):
    version = selectors.public_program_version(program_slug=program_slug, language=_language())
    return render(request, "patients/public/intake_sent.html", {"version": version})
