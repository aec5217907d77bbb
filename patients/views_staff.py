"""The therapist's side of getting in and of one patient's treatment: the intake queue, referrals,
the intake, enrollment and its status, tailoring, sessions and the end of the program.

Every view is thin: the access helper (role check and audit), a form, one service call, a
redirect or a template. Pages about one patient go through ``patient_for_staff`` (outsiders
404, colleagues 403); the queue and referrals through their own helpers in patients.access.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from icbt.roles import roles_of
from icbt.submissions import submitted_once
from patients import (
    charts_measurement,
    intake_criteria,
    measurement,
    selectors,
    services,
    stepped_care,
    timeline,
)
from patients.access import audited, intake_request_for_staff, patient_for_staff, referral_for_staff
from patients.ending import open_items
from patients.forms import PatientInviteForm
from patients.forms_intake import (
    IntakeRequestStatusForm,
    ReferralDecisionForm,
    ReferralForm,
    intake_form_class,
)
from patients.forms_staff import (
    ActivityRouteForm,
    CadenceForm,
    CompleteForm,
    EarlyWarningDecisionForm,
    EnrollmentForm,
    EnrollmentStatusForm,
    ModuleStateForm,
    QuestionnaireEntryForm,
    StepOverrideForm,
    SteppedCareDecisionForm,
    TreatmentSessionForm,
)
from patients.models import Enrollment, Intake, IntakeRequest, Referral
from patients.progress import progress_for
from programs import questionnaires


def _language() -> str:
    return (get_language() or "en").split("-")[0]


def form_errors_from(form, exc: ValidationError) -> None:
    """Put a service's ValidationError next to the fields it names (or above the form)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _patient(request, pk, *, write=False, purpose="patient", object_id=None):
    """The staff member and the patient (``patient_for_staff``: checked and audited)."""
    patient = patient_for_staff(request, pk, write=write, purpose=purpose, object_id=object_id)
    return roles_of(request.user).staff, patient


def _detail(patient):
    return redirect("patients:staff_patient_detail", pk=patient.pk)


# --- The intake queue -----------------------------------------------------------------------------


@login_required
@require_GET
@audited("intake_request_list", "therapist")
def staff_intake_request_list(request):
    show = "all" if request.GET.get("show") == "all" else "open"
    intake_requests = list(selectors.intake_request_list(fetched_by=request.user, show=show))
    titles = selectors.program_titles(language=_language())
    for item in intake_requests:
        item.program_title = titles.get(item.program_id, item.program.slug)
    request.audit.shown(object_ids=[item.pk for item in intake_requests])
    return render(
        request, "patients/staff/intake_request_list.html", {"intake_requests": intake_requests, "show": show}
    )


def _intake_request_page(request, intake_request, *, invite_form=None, status_form=None, status=200):
    first, _space, last = intake_request.name.partition(" ")
    invite_form = invite_form or PatientInviteForm(
        initial={
            "first_name": first,
            "last_name": last,
            "email": intake_request.email,
            "language": intake_request.language,
        }
    )
    titles = selectors.program_titles(language=_language())
    return render(
        request,
        "patients/staff/intake_request_detail.html",
        {
            "intake_request": intake_request,
            "invite_form": invite_form,
            # Preset to the current status: saving without a choice changes nothing.
            "status_form": status_form or IntakeRequestStatusForm(initial={"status": intake_request.status}),
            "program_title": titles.get(intake_request.program_id, intake_request.program.slug),
        },
        status=status,
    )


@login_required
@require_GET
def staff_intake_request_detail(request, pk):
    intake_request = intake_request_for_staff(request, pk)
    return _intake_request_page(request, intake_request)


@login_required
@require_POST
def staff_intake_request_status(request, pk):
    intake_request = intake_request_for_staff(request, pk, write=True)
    staff = roles_of(request.user).staff
    form = IntakeRequestStatusForm(request.POST)
    if form.is_valid():
        services.intake_request_status_set(
            intake_request=intake_request, staff=staff, status=form.cleaned_data["status"]
        )
        messages.success(
            request, _("The request is marked %(status)s.") % {"status": intake_request.get_status_display()}
        )
        return redirect("patients:staff_intake_request_list")
    return _intake_request_page(request, intake_request, status_form=form)


@login_required
@require_POST
def staff_intake_request_invite(request, pk):
    intake_request = intake_request_for_staff(request, pk, write=True)
    staff = roles_of(request.user).staff
    if intake_request.status == IntakeRequest.Status.INVITED:
        # The page no longer shows the form (a second tab, a double click): say why, do not re-render.
        messages.error(request, _("This person has already been invited."))
        return redirect("patients:staff_intake_request_detail", pk=intake_request.pk)
    form = PatientInviteForm(request.POST)
    if form.is_valid():
        try:
            patient = services.intake_request_invite(
                intake_request=intake_request, staff=staff, **form.cleaned_data
            )
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(
                request,
                _(
                    "The account is made and the invitation is on its way. Record the intake "
                    "after you have met."
                ),
            )
            return _detail(patient)
    return _intake_request_page(request, intake_request, invite_form=form)


# --- Referrals ------------------------------------------------------------------------------------


@login_required
@require_GET
@audited("referral_list", "therapist")
def staff_referral_list(request):
    lists = selectors.referral_lists(fetched_by=request.user)
    request.audit.shown(patient_ids=[r.patient_id for r in (*lists["received"], *lists["sent"])])
    return render(request, "patients/staff/referral_list.html", lists)


@login_required
@require_http_methods(["GET", "POST"])
def staff_referral_create(request, pk):
    staff, patient = _patient(request, pk, write=request.method == "POST")
    targets = selectors.referral_targets(clinic_id=patient.clinic_id, exclude=staff)
    form = ReferralForm(
        request.POST or None, targets=targets, programs=selectors.program_choices(language=_language())
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.referral_create(patient=patient, referred_by=staff, **form.cleaned_data)
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(
                request,
                _("Your colleague has been asked. You stay this patient's therapist until they accept."),
            )
            return _detail(patient)
    return render(request, "patients/staff/referral_create.html", {"patient": patient, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def staff_referral_detail(request, pk):
    referral = referral_for_staff(request, pk, write=request.method == "POST")
    staff = roles_of(request.user).staff
    can_answer = referral.to_therapist_id == staff.pk and referral.status == Referral.Status.PENDING
    form = ReferralDecisionForm(request.POST or None) if can_answer else None
    if request.method == "POST" and form is None:
        messages.error(request, _("This referral has already been answered."))
        return redirect("patients:staff_referral_detail", pk=referral.pk)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["decision"] == ReferralDecisionForm.ACCEPT:
                services.referral_accept(referral=referral, staff=staff, reason=data["reason"])
                messages.success(request, _("You are now this patient's therapist."))
                return redirect("patients:staff_patient_detail", pk=referral.patient_id)
            services.referral_decline(referral=referral, staff=staff, reason=data["reason"])
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, _("You declined the referral. Your colleague can read your reason."))
            return redirect("patients:staff_referral_list")
    titles = selectors.program_titles(language=_language())
    return render(
        request,
        "patients/staff/referral_detail.html",
        {
            "referral": referral,
            "form": form,
            "program_title": titles.get(referral.program_id, referral.program.slug),
        },
    )


# --- Intake ---------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def staff_intake_create(request, pk, program_slug):
    staff, patient = _patient(request, pk, write=request.method == "POST")
    program = selectors.program_get(slug=program_slug)
    checking = request.method == "POST" and "check" in request.POST
    form = intake_form_class(program_slug)(request.POST or None, checking=checking)
    summary = None
    if request.method == "POST":
        valid = form.is_valid()
        summary = form.summary()
        if valid and not checking:
            data = form.cleaned_data
            try:
                intake = services.intake_record(
                    patient=patient,
                    program=program,
                    therapist=staff,
                    held_on=data["held_on"],
                    answers=form.answers(),
                    decision=data["decision"],
                    decision_reason=data["decision_reason"],
                    activity_pattern=data.get("activity_pattern", ""),
                )
            except ValidationError as exc:
                form_errors_from(form, exc)
            else:
                messages.success(request, _("The intake is recorded."))
                return redirect("patients:staff_intake_detail", pk=patient.pk, intake_id=intake.pk)
    version = selectors.program_version_for(program=program, language=_language())
    return render(
        request,
        "patients/staff/intake_form.html",
        {
            "patient": patient,
            "program": program,
            "program_title": version.title if version else program.slug,
            "form": form,
            "summary": summary,
            "kind": form.kind,
        },
    )


@login_required
@require_GET
def staff_intake_detail(request, pk, intake_id):
    _staff, patient = _patient(request, pk, purpose="intake", object_id=intake_id)
    intake = selectors.intake_get(patient=patient, pk=intake_id)
    answers = services.intake_answers(intake)
    kind = answers.get("kind", intake_criteria.intake_kind(intake.program.slug))
    version = selectors.program_version_for(program=intake.program, language=_language())
    return render(
        request,
        "patients/staff/intake_detail.html",
        {
            "patient": patient,
            "intake": intake,
            "answers": answers,
            "kind": kind,
            "summary": intake_criteria.intake_summary(kind, answers),
            "program_title": version.title if version else intake.program.slug,
            "can_enroll": intake.decision == Intake.Decision.INDICATED
            and selectors.open_enrollment(patient=patient) is None,
            "criteria": [
                (label, answers.get("criteria", {}).get(code))
                for code, label in intake_criteria.CDC_MAIN_CRITERIA
            ],
            "symptoms": intake_criteria.labels_for(intake_criteria.CDC_SYMPTOMS, answers.get("symptoms")),
            "exclusions": intake_criteria.labels_for(
                intake_criteria.CDC_EXCLUSIONS, answers.get("exclusions")
            ),
            "locations": intake_criteria.labels_for(intake_criteria.PAIN_LOCATIONS, answers.get("locations")),
        },
    )


# --- Enrollment -----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def staff_enrollment_create(request, pk):
    staff, patient = _patient(request, pk, write=request.method == "POST")
    current = selectors.open_enrollment(patient=patient)
    if current is not None:
        messages.info(request, _("This patient is already enrolled."))
        return _detail(patient)
    versions = selectors.enrollable_programs(language=patient.user.language)
    intakes = selectors.intakes_for(patient=patient)
    indicated = next((i for i in intakes if i.decision == Intake.Decision.INDICATED), None)
    initial = {"therapist": patient.therapist_id}
    if indicated is not None:
        initial["version"] = next((v.pk for v in versions if v.program_id == indicated.program_id), None)
    form = EnrollmentForm(
        request.POST or None,
        versions=versions,
        initial=initial,
        therapists=selectors.clinic_therapists(clinic_id=patient.clinic_id),
        teams=selectors.clinic_teams(clinic_id=patient.clinic_id),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        intake = next(
            (
                i
                for i in intakes
                if i.program_id == data["version"].program_id and i.decision == Intake.Decision.INDICATED
            ),
            None,
        )
        try:
            enrollment = services.enrollment_create(patient=patient, enrolled_by=staff, intake=intake, **data)
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            if enrollment.status == Enrollment.Status.INVITED:
                messages.success(
                    request, _("The patient is enrolled. The invitation to set a password is on its way.")
                )
            else:
                messages.success(request, _("The patient is enrolled and can start at once."))
            if enrollment.therapist_id != staff.pk:
                return redirect("patients:staff_patient_list")
            return _detail(patient)
    return render(
        request,
        "patients/staff/enrollment_form.html",
        {"patient": patient, "form": form, "indicated": indicated, "has_intake": bool(intakes)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def staff_enrollment_status(request, pk, enrollment_id):
    """GET: a small page to give the reason for stopping, stepping up, completing or pausing.
    POST: the change itself (pause and resume come straight from the overview's buttons)."""
    staff, patient = _patient(
        request, pk, write=request.method == "POST", purpose="enrollment", object_id=enrollment_id
    )
    enrollment = selectors.enrollment_get(patient=patient, pk=enrollment_id)
    action = request.POST.get("action") if request.method == "POST" else request.GET.get("action", "stop")
    if action not in dict(EnrollmentStatusForm.ACTIONS):
        raise Http404
    form = EnrollmentStatusForm(
        request.POST or None,
        initial={"action": action},
        open_items=open_items(enrollment) if action in EnrollmentStatusForm.ENDING else (0, 0),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.enrollment_status_change(
                enrollment=enrollment,
                staff=staff,
                action=form.cleaned_data["action"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            if action in ("pause", "resume") and "reason" not in getattr(exc, "error_dict", {}):
                messages.error(request, " ".join(exc.messages))
                return _detail(patient)
            form_errors_from(form, exc)
        else:
            messages.success(
                request, _("The treatment is now %(status)s.") % {"status": enrollment.get_status_display()}
            )
            return _detail(patient)
    return render(
        request,
        "patients/staff/enrollment_status.html",
        {
            "patient": patient,
            "enrollment": enrollment,
            "form": form,
            "action": action,
            "action_label": dict(EnrollmentStatusForm.ACTIONS)[action],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def staff_enrollment_cadence(request, pk, enrollment_id):
    staff, patient = _patient(
        request, pk, write=request.method == "POST", purpose="enrollment", object_id=enrollment_id
    )
    enrollment = selectors.enrollment_get(patient=patient, pk=enrollment_id)
    form = CadenceForm(
        request.POST or None,
        initial={
            "feedback_cadence": enrollment.feedback_cadence,
            "feedback_weekday": enrollment.feedback_weekday,
            "inactivity_days": enrollment.inactivity_days,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.enrollment_cadence_change(enrollment=enrollment, staff=staff, **form.cleaned_data)
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, _("The feedback rhythm is saved."))
            return _detail(patient)
    return render(
        request,
        "patients/staff/enrollment_cadence.html",
        {"patient": patient, "enrollment": enrollment, "form": form},
    )


# --- Tailoring ------------------------------------------------------------------------------------


@login_required
@require_GET
def staff_enrollment_tailor(request, pk, enrollment_id):
    _staff, patient = _patient(request, pk, purpose="enrollment", object_id=enrollment_id)
    enrollment = selectors.enrollment_get(patient=patient, pk=enrollment_id)
    progress = progress_for(enrollment, with_diaries=False)
    states = {m.module.number: m for m in progress.modules}
    modules = selectors.tailoring_outline(enrollment=enrollment)
    for module in modules:
        module.progress = states.get(module.number)
    routes = _routes(modules)
    route_form = (
        ActivityRouteForm(routes=routes, initial={"route": enrollment.activity_route}) if routes else None
    )
    return render(
        request,
        "patients/staff/tailor.html",
        {"patient": patient, "enrollment": enrollment, "modules": modules, "route_form": route_form},
    )


def _routes(modules) -> list[str]:
    """The activity patterns the program has steps for, in the order the steps come."""
    return list(dict.fromkeys(step.route for module in modules for step in module.steps.all() if step.route))


@login_required
@require_POST
def staff_enrollment_route(request, pk, enrollment_id):
    staff, patient = _patient(request, pk, write=True, purpose="enrollment", object_id=enrollment_id)
    enrollment = selectors.enrollment_get(patient=patient, pk=enrollment_id)
    form = ActivityRouteForm(request.POST, routes=list(Intake.ActivityPattern.values))
    if not form.is_valid():
        messages.error(request, _("That change could not be made. Please try again."))
        return _tailor_redirect(patient, enrollment)
    try:
        services.enrollment_route_confirm(
            enrollment=enrollment, staff=staff, route=form.cleaned_data["route"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Saved: the patient now sees the steps that fit this activity pattern."))
    return _tailor_redirect(patient, enrollment, "activity-pattern")


def _tailor_redirect(patient, enrollment, anchor=""):
    url = reverse("patients:staff_enrollment_tailor", args=[patient.pk, enrollment.pk])
    return redirect(f"{url}#{anchor}" if anchor else url)


@login_required
@require_POST
def staff_step_override(request, pk, enrollment_id):
    staff, patient = _patient(request, pk, write=True, purpose="enrollment", object_id=enrollment_id)
    enrollment = selectors.enrollment_get(patient=patient, pk=enrollment_id)
    form = StepOverrideForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("That change could not be made. Please try again."))
        return _tailor_redirect(patient, enrollment)
    try:
        services.step_override_set(enrollment=enrollment, staff=staff, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Saved: the step is now %(state)s for this patient.")
            % {"state": _("included") if form.cleaned_data["included"] else _("skipped")},
        )
    return _tailor_redirect(patient, enrollment, "module-" + form.cleaned_data["step_key"].split("/")[0])


@login_required
@require_POST
def staff_module_state(request, pk, enrollment_id):
    staff, patient = _patient(request, pk, write=True, purpose="enrollment", object_id=enrollment_id)
    enrollment = selectors.enrollment_get(patient=patient, pk=enrollment_id)
    form = ModuleStateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("That change could not be made. Please try again."))
        return _tailor_redirect(patient, enrollment)
    try:
        services.module_state_set(enrollment=enrollment, staff=staff, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, _("Module %(number)s is saved.") % {"number": form.cleaned_data["module_number"]}
        )
    return _tailor_redirect(patient, enrollment)


# --- Sessions -------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@submitted_once("treatment_session")
def staff_session_create(request, pk):
    staff, patient = _patient(request, pk, write=request.method == "POST")
    form = TreatmentSessionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.treatment_session_record(patient=patient, staff=staff, **form.cleaned_data)
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, _("The session is in the timeline."))
            return _detail(patient)
    return render(request, "patients/staff/session_form.html", {"patient": patient, "form": form})


# --- End of program -------------------------------------------------------------------------------


def _end_page(
    request, patient, enrollment, *, entry_form=None, decision_form=None, complete_form=None, status=200
):
    program_slug = enrollment.version.program.slug
    rows = selectors.end_questionnaires(enrollment=enrollment)
    codes = [r["code"] for r in rows]
    context = {
        "patient": patient,
        "enrollment": enrollment,
        "rows": rows,
        "entry_form": entry_form
        or QuestionnaireEntryForm(
            codes=codes, mid_treatment=bool(measurement.after_module(enrollment.version))
        ),
        "stepped_care": stepped_care.applies_to(program_slug),
        "decision": selectors.stepped_care_decision_for(enrollment=enrollment),
    }
    if context["stepped_care"]:
        context["advice"] = stepped_care.advice_for_enrollment(
            enrollment, [r["end"] for r in rows if r["end"] is not None]
        )
        context["decision_form"] = decision_form or SteppedCareDecisionForm(open_items=open_items(enrollment))
        context["mid_advice"] = _mid_advice(enrollment)
    else:
        context["complete_form"] = complete_form or CompleteForm(open_items=open_items(enrollment))
    return render(request, "patients/staff/enrollment_end.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def staff_enrollment_end(request, pk, enrollment_id):
    """The end questionnaires, and for stepped-care programs the advice and the decision; for
    other programs a button to complete."""
    staff, patient = _patient(
        request, pk, write=request.method == "POST", purpose="enrollment", object_id=enrollment_id
    )
    enrollment = selectors.enrollment_get(patient=patient, pk=enrollment_id)
    if request.method == "GET":
        return _end_page(request, patient, enrollment)
    stepped = stepped_care.applies_to(enrollment.version.program.slug)
    if not enrollment.is_open or (stepped and selectors.stepped_care_decision_for(enrollment=enrollment)):
        # The page no longer shows these forms (a second tab, a double click): say why.
        messages.error(
            request,
            _("The decision for this enrollment has already been recorded.")
            if stepped and enrollment.is_open
            else _("This enrollment has ended; it can no longer be changed."),
        )
        return redirect("patients:staff_enrollment_end", pk=patient.pk, enrollment_id=enrollment.pk)
    if stepped:
        form = SteppedCareDecisionForm(request.POST, open_items=open_items(enrollment))
        if form.is_valid():
            try:
                services.stepped_care_decide(
                    enrollment=enrollment,
                    staff=staff,
                    decision=form.cleaned_data["decision"],
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as exc:
                form_errors_from(form, exc)
            else:
                messages.success(request, _("The decision is recorded."))
                return _detail(patient)
        return _end_page(request, patient, enrollment, decision_form=form)
    form = CompleteForm(request.POST, open_items=open_items(enrollment))
    if form.is_valid():
        try:
            services.enrollment_complete(
                enrollment=enrollment, staff=staff, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, _("The program is completed."))
            return _detail(patient)
    return _end_page(request, patient, enrollment, complete_form=form)


@login_required
@require_POST
def staff_questionnaire_enter(request, pk, enrollment_id):
    staff, patient = _patient(request, pk, write=True, purpose="enrollment", object_id=enrollment_id)
    enrollment = selectors.enrollment_get(patient=patient, pk=enrollment_id)
    codes = list(
        dict.fromkeys([*enrollment.version.questionnaires_end, *enrollment.version.questionnaires_start])
    )
    form = QuestionnaireEntryForm(
        request.POST, codes=codes, mid_treatment=bool(measurement.after_module(enrollment.version))
    )
    if form.is_valid():
        try:
            services.questionnaire_score_enter(enrollment=enrollment, staff=staff, **form.cleaned_data)
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, _("The score is saved."))
            return redirect("patients:staff_enrollment_end", pk=patient.pk, enrollment_id=enrollment.pk)
    return _end_page(request, patient, enrollment, entry_form=form)


# --- The overview (on the foundation's patient page) -----------------------------------------------


def _mid_advice(enrollment, responses=None, progress=None):
    """The stepped-care rule on the mid-treatment CIS / RAND-36 scores, when there are any.
    ``responses``: the enrollment's questionnaire responses when already read (in order, as
    ``selectors.measured_responses_for`` gives them); ``progress``: the enrollment's progress,
    which carries the clinic's licensed thresholds. Without them, a query each."""
    if enrollment is None or not stepped_care.applies_to(enrollment.version.program.slug):
        return None
    if responses is None:
        mid = selectors.mid_treatment_responses(enrollment=enrollment, codes=stepped_care.OUTCOME_CODES)
    else:
        mid = selectors.mid_treatment_of(responses, codes=stepped_care.OUTCOME_CODES)
    if not mid:
        return None
    licensed = progress.licensed_thresholds if progress is not None else None
    return stepped_care.advice_for_enrollment(enrollment, mid, moment="module", licensed=licensed)


def _early_warning(enrollment, responses):
    """The early warning that shows now for ``enrollment`` (None when none, or when decided), and
    the decision recorded about it (loaded with the enrollment: ``enrollment_current(...,
    with_early_warning_decision=True)``). ``responses``: the enrollment's questionnaire
    responses."""
    if responses is None:
        return None, None
    decision = enrollment.early_warning_decision
    if decision is not None:
        return None, decision
    return measurement.early_warning(enrollment, responses, timezone.localdate()), None


def _measured_responses(enrollment):
    """The questionnaire responses the early warning and the score chart share (one query), or
    None when the enrollment's version measures nothing."""
    if enrollment is None or not enrollment.version.measurement_schedule:
        return None
    return selectors.measured_responses_for(enrollment=enrollment)


@login_required
@require_POST
def staff_early_warning_decide(request, pk, enrollment_id):
    """Record what the therapist decided about the early warning (see patients.measurement)."""
    staff, patient = _patient(request, pk, write=True, purpose="enrollment", object_id=enrollment_id)
    enrollment = selectors.enrollment_get(patient=patient, pk=enrollment_id)
    form = EarlyWarningDecisionForm(request.POST)
    if form.is_valid():
        try:
            services.early_warning_decide(
                enrollment=enrollment, staff=staff, decision=form.cleaned_data["decision"]
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Your decision is recorded. The warning no longer shows."))
    else:
        messages.error(request, _("Choose what you decided."))
    return redirect(reverse("patients:staff_patient_detail", kwargs={"pk": patient.pk}) + "#early-warning")


def _urgent_items(patient) -> tuple[list[dict], int]:
    """What the overview's urgent banner names: the oldest open urgent item (a self-harm answer)
    with its questionnaire's name, when it came and the link that opens it in the composer, and
    how many more there are (the composer lists them first). Read with the patient
    (``selectors.patient_with_current_enrollment``): no query of its own."""
    urgent = getattr(patient, "urgent_open", None)
    if urgent is None or not urgent.count:
        return [], 0
    composer = reverse("messaging:staff_conversation", args=[patient.pk])
    code = urgent.detail.get("code", "")
    instrument = questionnaires.INSTRUMENTS.get(code)
    item = {
        "name": instrument.short_name if instrument else code,
        "since": urgent.since,
        "url": f"{composer}?attach={urgent.ref}#item-{urgent.ref.replace(':', '')}",
    }
    return [item], urgent.count - 1


def overview_context(request, patient) -> dict:
    """Everything the therapist's page of one patient shows besides the account facts: the
    enrollment and its modules, intakes, waiting referrals and the timeline. A fixed number of
    queries, whatever the length of the timeline. ``patient`` comes from
    ``patient_for_staff(..., with_enrollment=True)`` (its current enrollment read with it)."""
    enrollment = patient.current_enrollment
    progress = None
    if enrollment is not None:
        progress = progress_for(enrollment, with_diaries=False, with_diary_types=False)
    language = _language()
    versions = selectors.enrollable_programs(language=language)
    programs = {v.program.slug: v.title for v in versions}
    steps = progress.step_titles() if progress is not None else {}
    events = selectors.timeline_for(patient=patient)
    names = selectors.staff_names(clinic_id=patient.clinic_id, ids=timeline.staff_ids(events))
    for event in events:
        event.text = timeline.describe(event, names=names, programs=programs, steps=steps)
    intakes, referrals = selectors.getting_in_for(patient=patient)
    if enrollment is not None:
        # The early warning's "went quiet" needs the last resume after a pause: from the timeline
        # just read when it holds the answer (no query of its own).
        known, resumed_at = measurement.resumed_at_from_timeline(
            events, enrollment_id=enrollment.pk, complete=len(events) < selectors.TIMELINE_LIMIT
        )
        if known:
            enrollment.resumed_at = resumed_at
    responses = _measured_responses(enrollment)
    warning, warning_decision = _early_warning(enrollment, responses)
    urgent_items, urgent_more = _urgent_items(patient)
    return {
        "urgent_items": urgent_items,
        "urgent_more": urgent_more,
        "urgent_composer_url": reverse("messaging:staff_conversation", args=[patient.pk]),
        "enrollment": enrollment,
        "progress": progress,
        "intakes": intakes,
        "indicated_intake": next((i for i in intakes if i.decision == Intake.Decision.INDICATED), None),
        "referrals": referrals,
        "events": events,
        "intake_programs": versions,
        "rhythm": timeline.rhythm(enrollment.feedback_cadence, enrollment.feedback_weekday)
        if enrollment
        else "",
        "stepped_care": stepped_care.applies_to(enrollment.version.program.slug) if enrollment else False,
        "mid_advice": _mid_advice(enrollment, responses, progress),
        "scores_chart": charts_measurement.staff_scores_for(
            enrollment,
            only_measured=True,
            responses=responses,
            module_starts=progress.module_starts() if progress is not None else None,
        ),
        "early_warning": warning,
        "early_warning_decision": warning_decision,
        "early_warning_form": EarlyWarningDecisionForm(),
    }
