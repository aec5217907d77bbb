"""Staff pages of the programs app: program list and outline, preview as patient, the clinic's
defaults for optional steps, recordings and licensed questionnaire texts; and the access-checked
download of a clinic's recordings.

Program content is the same for every clinic and holds no patient data: these pages write no
audit events. Patients and people without a clinic role get 404 on every staff page.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from icbt.access import require_staff_role
from programs import selectors, services
from programs.forms import LicensedInstrumentUploadForm, StepMediaPartForm, StepMediaUploadForm
from programs.media import ranged_file_response
from programs.models import Step
from programs.presentation import step_page_context, studio_rows

VIEW_ROLES = ("therapist", "clinic_admin")


@login_required
def program_list(request):
    require_staff_role(request.user, *VIEW_ROLES)
    return render(
        request, "programs/program_list.html", {"programs": selectors.program_list(fetched_by=request.user)}
    )


@login_required
def program_detail(request, program_slug, language):
    staff = require_staff_role(request.user, *VIEW_ROLES)
    version = selectors.latest_version_get(program_slug=program_slug, language=language)
    setting = selectors.clinic_program_setting(clinic_id=staff.clinic_id, program=version.program)
    modules = selectors.version_outline(version=version)
    for module in modules:
        for step in module.steps.all():
            step.on_by_default = selectors.optional_step_is_on(step, setting)
    return render(request, "programs/program_detail.html", {"version": version, "modules": modules})


def _preview_url(step: Step) -> str:
    return reverse("programs:preview_step", args=[step.version_id, step.module.slug, step.slug])


@login_required
def preview_start(request, version_id):
    require_staff_role(request.user, *VIEW_ROLES)
    first = selectors.version_outline(version=selectors.version_get(pk=version_id))
    if not first or not first[0].steps.all():
        raise Http404
    return redirect("programs:preview_step", version_id, first[0].slug, first[0].steps.all()[0].slug)


@login_required
@require_http_methods(["GET", "POST"])
def preview_step(request, version_id, module_slug, step_slug):
    """A step exactly as a patient sees it. Submitting validates the form like the patient's
    page does, and then saves nothing: there is no patient here."""
    staff = require_staff_role(request.user, *VIEW_ROLES)
    version = selectors.version_get(pk=version_id)
    place = selectors.step_place(version=version, module_slug=module_slug, step_slug=step_slug)
    with translation.override(version.language):
        context = step_page_context(
            place,
            url_for=_preview_url,
            clinic_id=staff.clinic_id,
            preview=True,
            data=request.POST if request.method == "POST" else None,
        )
        form = context["form"]
        if request.method == "POST" and (form is None or form.is_valid()):
            messages.info(
                request, _("Preview: nothing was saved. A patient would now go on to the next step.")
            )
            return redirect(context["next_url"] or request.path)
        return render(request, "programs/preview_step.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def clinic_settings(request, program_slug):
    staff = require_staff_role(request.user, "clinic_admin")
    language = request.user.language if request.user.language in ("en", "nl") else "en"
    try:
        version = selectors.latest_version_get(program_slug=program_slug, language=language)
    except Http404:
        version = selectors.latest_version_get(program_slug=program_slug, language="en")
    setting = selectors.clinic_program_setting(clinic_id=staff.clinic_id, program=version.program)
    modules = selectors.version_outline(version=version)
    optional = [(m, s) for m in modules for s in m.steps.all() if s.optional]
    known = {f"{m.slug}/{s.slug}" for m, s in optional}
    if request.method == "POST":
        services.clinic_program_setting_update(
            clinic=staff.clinic,
            program=version.program,
            known_optional=known,
            updated_by=request.user,
            optional_steps_on={key for key in request.POST.getlist("on") if key in known},
        )
        messages.success(request, _("The defaults for new patients are saved."))
        return redirect("programs:clinic_settings", program_slug)
    rows = [
        {"module": m, "step": s, "key": f"{m.slug}/{s.slug}", "on": selectors.optional_step_is_on(s, setting)}
        for m, s in optional
    ]
    return render(request, "programs/clinic_settings.html", {"version": version, "rows": rows})


@login_required
def media_list(request):
    staff = require_staff_role(request.user, "clinic_admin")
    versions = list(selectors.latest_versions())
    steps = selectors.media_steps(versions=versions)
    uploaded = selectors.clinic_step_media(clinic_id=staff.clinic_id)
    rows = [{"step": s, "media": uploaded.get((s.key, s.version.language))} for s in steps]
    return render(request, "programs/media_list.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def media_upload(request, step_id):
    staff = require_staff_role(request.user, "clinic_admin")
    step = selectors.media_step_get(pk=step_id)
    form = StepMediaUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.step_media_upload(
                clinic=staff.clinic,
                step=step,
                language=step.version.language,
                uploaded_by=request.user,
                **form.cleaned_data,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("The recording is saved."))
            return redirect("programs:media_list")
    return render(request, "programs/media_upload.html", {"step": step, "form": form})


# The studio needs the microphone (and the camera for a video step) on this page only; every
# other page keeps both switched off (icbt.middleware.SecurityHeadersMiddleware).
STUDIO_PERMISSIONS = "camera=(self), microphone=(self), geolocation=(), payment=()"


def _studio(request, staff, step, *, form=None, failed=None, status=200):
    context = {
        "step": step,
        "failed": failed,
        "parts": studio_rows(step, selectors.studio_parts(clinic_id=staff.clinic_id, step=step)),
        "form": form or StepMediaPartForm(),
        "media": selectors.step_media_for(
            clinic_id=staff.clinic_id, step=step, language=step.version.language
        ),
    }
    response = render(request, "programs/media_studio.html", context, status=status)
    response["Permissions-Policy"] = STUDIO_PERMISSIONS
    # A take is heard from memory (a blob: URL) before it is kept.
    response["Content-Security-Policy"] = settings.ICBT_CSP.replace(
        "media-src 'self'", "media-src 'self' blob:"
    )
    return response


@login_required
def media_studio(request, step_id):
    """Record an exercise part by part in the browser (or upload a file per part), listen back,
    record a part again, and publish."""
    staff = require_staff_role(request.user, "clinic_admin")
    return _studio(request, staff, selectors.media_step_get(pk=step_id))


@login_required
@require_POST
def media_part_record(request, step_id, position):
    staff = require_staff_role(request.user, "clinic_admin")
    step = selectors.media_step_get(pk=step_id)
    if not 1 <= position <= services.script_part_count(step):
        raise Http404
    form = StepMediaPartForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.step_media_part_record(
                clinic=staff.clinic,
                step=step,
                language=step.version.language,
                position=position,
                file=form.cleaned_data["file"],
                recorded_by=request.user,
            )
        except ValidationError as exc:
            form.add_error("file", exc)
    if not form.is_valid():
        return _studio(request, staff, step, form=form, failed=position, status=400)
    messages.success(request, _("Part %(number)s is saved. Listen to it below.") % {"number": position})
    return redirect(f"{reverse('programs:media_studio', args=[step.pk])}#part-{position}")


@login_required
@require_POST
def media_publish(request, step_id):
    staff = require_staff_role(request.user, "clinic_admin")
    step = selectors.media_step_get(pk=step_id)
    try:
        services.step_media_parts_publish(
            clinic=staff.clinic, step=step, language=step.version.language, published_by=request.user
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("programs:media_studio", step.pk)
    messages.success(request, _("The recording is published. Patients now hear it on this step."))
    return redirect("programs:media_list")


@login_required
def media_part_file(request, part_id):
    """One recorded part: published parts for the clinic's staff and patients, drafts for its
    admins."""
    part = selectors.step_media_part_get_for_user(user=request.user, pk=part_id)
    return ranged_file_response(request, part.file)


@login_required
def media_file(request, media_id, part):
    """A clinic's recording or captions, for the staff and patients of that clinic only."""
    media = selectors.step_media_get_for_user(user=request.user, pk=media_id)
    field_file = {"file": media.file, "captions": media.captions}.get(part)
    if not field_file:
        raise Http404
    return ranged_file_response(request, field_file, content_type="text/vtt" if part == "captions" else None)


@login_required
@require_http_methods(["GET", "POST"])
def licensed_list(request):
    staff = require_staff_role(request.user, "clinic_admin")
    form = LicensedInstrumentUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            services.licensed_upload_create(
                clinic=staff.clinic, name=upload.name or "", data=upload.read(), uploaded_by=request.user
            )
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            messages.success(
                request, _("The file is being checked. Below you see whether it was loaded, in a moment.")
            )
            return redirect("programs:licensed_list")
    instruments = selectors.licensed_instrument_list(fetched_by=request.user)
    uploads = selectors.licensed_upload_list(fetched_by=request.user)
    return render(
        request,
        "programs/licensed_list.html",
        {"form": form, "instruments": instruments, "uploads": uploads},
    )
