"""The patient's pages: home, modules and steps, assignments, diaries and questionnaires.

Every view starts from ``selectors.enrollment_for_patient`` (the signed-in patient's own
enrollment; 404 for staff and for anyone else), so objects of another patient are never found.
Every write goes through a service in ``patients.services``.
"""

import uuid
from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import time_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from icbt import flash
from icbt.fields import decode_json_text
from patients import charts, charts_measurement, confirmations, selectors, services
from patients.access import own_enrollment, own_patient
from patients.feedback_links import item_url_for_patient
from patients.forms_patient import PatientAssignmentForm, PatientDiaryForm
from patients.models import AssignmentAnswer
from patients.progress import next_action, progress_for, questionnaire_moment
from programs import questionnaires
from programs.field_types import field_type
from programs.forms import QuestionnaireForm
from programs.models import Step
from programs.presentation import questionnaire_presentation_for, step_page_context
from programs.selectors import StepPlace, licensed_instrument_for

T = "patients/patient/"
# The rows a diary save reads with the enrollment: the therapist, told of a new entry, and the
# program version, whose diary type then comes from the content kept in the process.
DIARY_SAVE_RELATED = ("therapist__user", "version")


def step_url(state_or_step) -> str:
    step = getattr(state_or_step, "step", state_or_step)
    return reverse("patients:step", args=[step.module.slug, step.slug])


def _form_error(form, exc: ValidationError) -> None:
    """Put a service's refusal next to the field it is about (or on top of the form)."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


# --- Home ------------------------------------------------------------------------------------------


def _messages_url() -> str:
    """The patient's conversation (messaging marks feedback read there)."""
    return reverse("messaging:patient_conversation")


def _feedback_item_url(enrollment) -> str:
    """The page of the work the oldest unread feedback is about ('' for feedback on a module)."""
    kind, target = selectors.unread_feedback_first_link(enrollment=enrollment)
    return item_url_for_patient(kind=kind, obj=target) if kind is not None else ""


@login_required
def home(request):
    """The one thing to do next, progress per module, feedback waiting, diaries due today."""
    enrollment = own_enrollment(request, required=False)
    if enrollment is None:
        return render(request, T + "home_waiting.html", {"patient": own_patient(request)})
    progress = progress_for(enrollment)
    unread = selectors.unread_feedback_count(enrollment=enrollment)
    action = next_action(progress, unread_feedback=unread)
    action_url = feedback_item_url = ""
    if action.kind == "checkin":
        action_url = reverse("patients:check_in")
    elif action.kind == "feedback":
        action_url = _messages_url()
        feedback_item_url = _feedback_item_url(enrollment)
    elif action.kind == "diary":
        action_url = reverse("patients:diary_write", args=[action.diary_type.slug])
    elif action.kind == "questionnaire":
        action_url = reverse("patients:questionnaire_fill", args=[action.moment, action.code])
    elif action.step is not None:
        action_url = step_url(action.step)
    return render(
        request,
        T + "home.html",
        {
            "enrollment": enrollment,
            "progress": progress,
            "action": action,
            "action_url": action_url,
            "unread": unread,
            "messages_url": _messages_url(),
            "feedback_item_url": feedback_item_url,
            "diaries": progress.diaries_today(),
            "resume": progress.resume_step(),
        },
    )


# --- Modules and steps ---------------------------------------------------------------------------


def _module_or_404(progress, module_slug):
    module = progress.module(module_slug)
    if module is None:
        raise Http404
    return module


def _step_or_404(progress, module_slug, step_slug):
    """The step's module and state in the patient's progress: ``(module, state)``."""
    found = progress.find(module_slug, step_slug)
    if found is None:
        raise Http404
    return found


def _not_open(request, enrollment, module):
    return render(request, T + "not_open.html", {"enrollment": enrollment, "module": module}, status=403)


@login_required
def module_detail(request, module_slug):
    enrollment = own_enrollment(request)
    progress = progress_for(enrollment, with_diaries=False)
    module = _module_or_404(progress, module_slug)
    if not module.is_open:
        return _not_open(request, enrollment, module)
    resume = next((s for s in module.steps if not s.done), None)
    return render(
        request,
        T + "module.html",
        {
            "enrollment": enrollment,
            "progress": progress,
            "module": module,
            "resume": resume,
            "module_count": len(progress.modules),
        },
    )


def _place(progress, module, state, step) -> StepPlace:
    """'Module x of n, step y of m' and the neighbours, counting only the steps shown to this
    patient (programs.selectors.step_place counts every step of the version)."""
    previous, following = progress.neighbours(state)
    return StepPlace(
        step=step,
        module=module.module,
        module_count=len(progress.modules),
        step_number=module.steps.index(state) + 1,
        step_count=len(module.steps),
        previous=previous.step if previous else None,
        next=following.step if following else None,
    )


@login_required
@require_http_methods(["GET", "POST"])
def step(request, module_slug, step_slug):
    """One step. GET shows it and records the visit (the place to resume from); POST hands in
    the assignment, diary entry or questionnaire of the step."""
    enrollment = own_enrollment(request)
    progress = progress_for(enrollment, with_diaries=False)
    module, state = _step_or_404(progress, module_slug, step_slug)
    if not module.is_open:
        return _not_open(request, enrollment, module)
    current = selectors.step_for_enrollment(enrollment=enrollment, pk=state.step.pk)
    # A questionnaire sent after the end goes on: a safety answer in it is kept (the service
    # refuses the rest), and the crisis lines are shown whenever item 9 was answered above 0.
    if request.method == "POST" and not enrollment.is_open and current.kind != Step.Kind.QUESTIONNAIRE:
        messages.info(
            request, _("Your program has ended. You can still read everything, but no longer change it.")
        )
        return redirect(request.path)
    place = _place(progress, module, state, current)
    handler = {
        Step.Kind.ASSIGNMENT: _assignment_step,
        Step.Kind.DIARY: _diary_step,
        Step.Kind.QUESTIONNAIRE: _questionnaire_step,
    }.get(current.kind, _page_step)
    # The page speaks the patient's own language; the step's content is in the language of
    # their program version and carries that lang attribute (programs/step.html).
    return handler(request, enrollment, progress, place, state)


def _render_step(request, enrollment, place, state, *, form=None, extra=None, status=200):
    context = step_page_context(place, url_for=step_url, clinic_id=enrollment.clinic_id, form=form)
    if form is None:
        context["form"] = None
    context.update(
        {
            "enrollment": enrollment,
            "state": state,
            "module_url": reverse("patients:module", args=[place.module.slug]),
            "done_url": reverse("patients:step_done", args=[place.module.slug, place.step.slug]),
            "editable": enrollment.is_open,
        }
    )
    context.update(extra or {})
    return render(request, T + "step.html", context, status=status)


def _page_step(request, enrollment, progress, place, state):
    if request.method == "POST":
        return redirect(step_url(place.step))
    services.step_visit(enrollment=enrollment, step=place.step)
    return _render_step(request, enrollment, place, state, extra={"move_on_marks_done": True})


@login_required
@require_POST
def step_done(request, module_slug, step_slug):
    """'Next' on a page, audio or video step: the step is done, on to the next open step (or
    back to the module when this was its last)."""
    enrollment = own_enrollment(request)
    progress = progress_for(enrollment, with_diaries=False)
    module, state = _step_or_404(progress, module_slug, step_slug)
    if not module.is_open:
        return _not_open(request, enrollment, module)
    services.step_visit(enrollment=enrollment, step=state.step, complete=True)
    _previous, following = progress_for(enrollment, with_diaries=False).neighbours(state)
    if following is not None:
        return redirect(step_url(following))
    return redirect("patients:module", module.module.slug)


# Assignments -------------------------------------------------------------------------------------


def _answers_of(answer: AssignmentAnswer | None) -> dict:
    """The stored answer as form answers. Text that is not JSON goes into the step's first free-text
    field, so the patient sees what they wrote instead of an empty form or an error."""
    content = decode_json_text(answer.content if answer is not None else "", empty={})
    if isinstance(content, dict):
        return content
    names = [d["name"] for d in answer.step.fields if field_type(d).is_text]
    return {names[0]: content} if names else {}


def _assignment_step(request, enrollment, progress, place, state):
    step = place.step
    answer = selectors.assignment_answer_for(enrollment=enrollment, step=step)
    if request.method == "POST":
        form = PatientAssignmentForm(request.POST, step=step)
        if request.POST.get("action") == "draft":
            services.assignment_draft_save(enrollment=enrollment, step=step, answers=form.draft_answers())
            messages.success(request, _("Your answer is saved as a draft. You can go on later."))
            return redirect(step_url(step))
        if form.is_valid():
            try:
                services.assignment_submit(enrollment=enrollment, step=step, answers=form.answers())
            except ValidationError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("Thank you. Your answer is sent to your therapist."))
                return redirect(step_url(step))
        # Nothing typed is lost: the invalid answer is kept as a draft, and shown again as typed.
        answer, _saved = services.assignment_draft_save(
            enrollment=enrollment, step=step, answers=form.draft_answers()
        )
        return _render_assignment(request, enrollment, place, state, answer, form)
    services.step_visit(enrollment=enrollment, step=step)
    editing = (
        request.GET.get("edit") == "1" or answer is None or answer.status == AssignmentAnswer.Status.DRAFT
    )
    form = (
        PatientAssignmentForm(step=step, answers=_answers_of(answer))
        if editing and enrollment.is_open
        else None
    )
    return _render_assignment(request, enrollment, place, state, answer, form)


def _render_assignment(request, enrollment, place, state, answer, form):
    saved_at = ""
    if answer is not None and answer.pk:
        stamps = [t for t in (answer.draft_saved_at, answer.submitted_at) if t is not None]
        saved_at = max(stamps, default=timezone.now()).isoformat()  # the server's last save
    return _render_step(
        request,
        enrollment,
        place,
        state,
        form=form,
        extra={
            "answer": answer if answer is not None and answer.pk else None,
            "answers": _answers_of(answer),
            "draft_url": reverse("patients:assignment_draft", args=[place.module.slug, place.step.slug]),
            "server_saved_at": saved_at,
            "loaded_at": timezone.now().isoformat(),
            "form_buttons_template": T + "includes/assignment_buttons.html",
        },
    )


@login_required
@require_POST
def assignment_draft(request, module_slug, step_slug):
    """The autosave endpoint: saves the form as a draft, valid or not, and answers in JSON
    ``{"status": "saved" | "unchanged", "saved_at": iso, "saved_at_display": "14:02"}``."""
    enrollment = own_enrollment(request)
    progress = progress_for(enrollment, with_diaries=False)
    module, state = _step_or_404(progress, module_slug, step_slug)
    if state.step.kind != Step.Kind.ASSIGNMENT:
        raise Http404
    if not module.is_open:
        raise Http404
    current = selectors.step_for_enrollment(enrollment=enrollment, pk=state.step.pk)
    form = PatientAssignmentForm(request.POST, step=current)
    based_on = parse_datetime(request.POST.get("loaded_at", "") or "")
    try:
        answer, saved = services.assignment_draft_save(
            enrollment=enrollment, step=current, answers=form.draft_answers(), based_on=based_on
        )
    except ValidationError as exc:
        return JsonResponse({"status": "refused", "message": " ".join(exc.messages)}, status=409)
    stamp = answer.draft_saved_at if saved else (answer.draft_saved_at or answer.submitted_at)
    return JsonResponse(
        {
            "status": "saved" if saved else "unchanged",
            "saved_at": stamp.isoformat() if stamp else "",
            "saved_at_display": time_format(timezone.localtime(stamp), "H:i") if stamp else "",
        }
    )


# Diary steps ----------------------------------------------------------------------------------------


def _diary_saved(form, *, enrollment, diary_type, today, entry_date=None, **where):
    """The entry a valid diary ``form`` saved (on ``entry_date``, or the day the form names), or
    None with the form's errors or the service's refusal on the form."""
    if not form.is_valid():
        return None
    try:
        return services.diary_entry_save(
            enrollment=enrollment,
            diary_type=diary_type,
            entry_date=entry_date or form.cleaned_data["entry_date"],
            answers=form.answers(),
            today=today,
            shown=form.cleaned_data.get("shown_entry") or None,
            version=form.cleaned_data.get("shown_version") or None,
            **where,
        )
    except services.DiaryEntryChanged as exc:
        form.add_error(None, exc)
        form.changed_elsewhere(exc.entry)
        return None
    except ValidationError as exc:
        _form_error(form, exc)
        return None


def _diary_step(request, enrollment, progress, place, state):
    step = place.step
    today = timezone.localdate()
    entry = selectors.diary_entry_today(enrollment=enrollment, diary_type=step.diary_type, today=today)
    kept_today = entry is not None
    if step.diary_type.per_moment:
        # Each moment is a new entry: the form starts empty; earlier ones are kept and listed
        # under My diaries.
        entry = None
    editable = entry is None or services.diary_entry_editable(entry, today=today)
    answers = services.diary_entry_answers(entry) if entry is not None else None
    if request.method == "POST":
        form = PatientDiaryForm(request.POST, diary_type=step.diary_type, today=today, date_hidden=True)
        saved = _diary_saved(
            form, enrollment=enrollment, diary_type=step.diary_type, today=today, entry_date=today, step=step
        )
        if saved is not None:
            flash.confirm(
                request,
                confirmations.MOMENT_SAVED if step.diary_type.per_moment else confirmations.DIARY_STEP_SAVED,
            )
            return redirect(step_url(step))
    else:
        services.step_visit(enrollment=enrollment, step=step)
        if kept_today and not state.done:
            # Kept today from My diaries before opening the step: that counts.
            state.done = services.diary_step_open(enrollment=enrollment, step=step, today=today)
        form = (
            PatientDiaryForm(
                diary_type=step.diary_type, answers=answers, today=today, date_hidden=True, shown=entry
            )
            if editable and enrollment.is_open
            else None
        )
    return _render_step(
        request,
        enrollment,
        place,
        state,
        form=form,
        extra={"entry": entry, "form_buttons_template": T + "includes/diary_buttons.html"},
    )


# Questionnaire steps -----------------------------------------------------------------------------


def _questionnaire_step(request, enrollment, progress, place, state):
    step = place.step
    response = selectors.questionnaire_response_for_step(enrollment=enrollment, step=step)
    presentation = questionnaire_presentation_for(step, clinic_id=enrollment.clinic_id)
    form = None
    if response is None and presentation.available:
        where = {"code": step.questionnaire, "moment": questionnaire_moment(progress, step), "step": step}
        if request.method == "POST":
            form = QuestionnaireForm(request.POST, presentation=presentation)
            action = request.POST.get("action", "")
            if action in ("draft", "next"):
                saved = _questionnaire_draft_save(request, enrollment, form, where)
                if action == "next" and saved:
                    return redirect(_following_url(enrollment, place))
                return redirect(step_url(step))
            if form.is_valid():
                try:
                    response = services.questionnaire_submit(
                        enrollment=enrollment,
                        answers=form.answers(),
                        scoring_options=dict(presentation.scoring_options),
                        **where,
                    )
                except ValidationError as exc:
                    _form_error(form, exc)
                else:
                    return redirect(step_url(step))
            if response is None:
                # Not sent: what was answered stays as a draft, and is shown again as given.
                _questionnaire_draft_save(request, enrollment, form, where, quiet=True)
        else:
            form = QuestionnaireForm(
                presentation=presentation,
                answers=services.questionnaire_draft_get(enrollment=enrollment, **where),
            )
    if response is not None and request.method == "POST" and presentation.available:
        if _keep_safety_answer(
            request, enrollment, presentation, step.questionnaire, questionnaire_moment(progress, step), step
        ):
            return redirect(step_url(step))
    if request.method == "GET":
        # A licensed questionnaire whose texts the clinic has not loaded: the therapist asks it,
        # and for the patient the step is done.
        services.step_visit(enrollment=enrollment, step=step, complete=not presentation.available)
    return _render_step(
        request,
        enrollment,
        place,
        state,
        form=form,
        extra=_result_context(enrollment, response, request, step.questionnaire)
        | {
            "move_on_marks_done": not presentation.available and response is None,
            "form_buttons_template": T + "includes/questionnaire_buttons.html",
        },
    )


def _keep_safety_answer(request, enrollment, presentation, code, moment, step):
    """A questionnaire answered again (a second tab, a page kept open): the new answers are kept
    only when they carry a safety flag (item 9 above 0), so that answer takes the urgent path and
    is never lost; otherwise the first answer stands. Returns the kept response or None."""
    form = QuestionnaireForm(request.POST, presentation=presentation)
    if not form.is_valid() or "self_harm" not in form.score().flag_codes:
        return None
    try:
        return services.questionnaire_submit(
            enrollment=enrollment,
            code=code,
            moment=moment,
            answers=form.answers(),
            step=step,
            scoring_options=dict(presentation.scoring_options),
        )
    except ValidationError:
        return None


def _result_context(enrollment, response, request=None, code: str = "") -> dict:
    """The result of a questionnaire, with the crisis lines when it carries a safety flag or when
    the form just posted answers the safety item above 0 (kept or not)."""
    posted = (
        request is not None
        and request.method == "POST"
        and questionnaires.posted_safety_answer(code, request.POST)
    )
    if response is None:
        return {
            "response": None,
            "crisis": posted,
            "crisis_instructions": enrollment.clinic.crisis_instructions,
        }
    instrument = questionnaires.get_instrument(response.code)
    return {
        "response": response,
        "explanation": charts.score_explanation(response.code),
        "instrument": instrument,
        "band_label": questionnaires.band_label(response.code, response.band) if response.band else "",
        "crisis": response.urgent or posted,
        "crisis_instructions": enrollment.clinic.crisis_instructions,
    }


def _questionnaire_draft_save(request, enrollment, form, where, *, quiet=False) -> bool:
    """Keep the answers given so far (see ``services.questionnaire_draft_save``)."""
    try:
        services.questionnaire_draft_save(enrollment=enrollment, answers=form.draft_answers(), **where)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return False
    if not quiet:
        messages.success(request, _("Your answers so far are saved. You can finish the questionnaire later."))
    return True


def _following_url(enrollment, place) -> str:
    """Where "Next" leads from a step: the next step, or the module when it was the last."""
    if place.next is not None:
        return step_url(place.next)
    return reverse("patients:module", args=[place.module.slug])


# --- Questionnaires without a step (start/end of the version), and scores over time -------------------


@login_required
@require_http_methods(["GET", "POST"])
def questionnaire_fill(request, moment, code):
    enrollment = own_enrollment(request)
    try:
        questionnaires.get_instrument(code)
    except ValidationError:
        raise Http404 from None
    if (moment, code) not in progress_for(enrollment).questionnaires_due():
        return _questionnaire_not_due(request, enrollment, moment, code)
    return _questionnaire_form_page(request, enrollment, moment, code)


def _own_presentation(enrollment, code):
    language = enrollment.version.language
    licensed = licensed_instrument_for(clinic_id=enrollment.clinic_id, code=code, language=language)
    return questionnaires.questionnaire_presentation(code, language, licensed=licensed)


def _questionnaire_result(request, enrollment, code, response):
    return render(
        request,
        T + "questionnaire_fill.html",
        {"enrollment": enrollment, "code": code, **_result_context(enrollment, response, request, code)},
    )


def _questionnaire_not_due(request, enrollment, moment, code):
    """A questionnaire that is not due: its earlier result, or the crisis lines for a safety answer."""
    if request.method == "POST":
        presentation = _own_presentation(enrollment, code)
        if presentation.available:
            kept = _keep_safety_answer(request, enrollment, presentation, code, moment, None)
            if kept is not None:
                return _questionnaire_result(request, enrollment, code, kept)
    answered = next(
        (
            r
            for r in selectors.questionnaire_responses_for(enrollment=enrollment)
            if r.code == code and r.moment == moment and r.step_id is None
        ),
        None,
    )
    if answered is not None:
        return _questionnaire_result(request, enrollment, code, answered)
    if request.method == "POST" and questionnaires.posted_safety_answer(code, request.POST):
        # Not kept (the program ended and the answers are incomplete): still the crisis lines.
        return _questionnaire_result(request, enrollment, code, None)
    raise Http404


def _questionnaire_form_page(request, enrollment, moment, code):
    presentation = _own_presentation(enrollment, code)
    where = {"code": code, "moment": moment, "step": None}
    form = None
    if presentation.available:
        form = QuestionnaireForm(
            request.POST or None,
            presentation=presentation,
            answers=services.questionnaire_draft_get(enrollment=enrollment, **where),
        )
    if request.method == "POST" and form is not None:
        if request.POST.get("action") == "draft":
            _questionnaire_draft_save(request, enrollment, form, where)
            return redirect(request.path)
        response = _questionnaire_finish(enrollment, form, presentation, where)
        if response is not None:
            return _questionnaire_result(request, enrollment, code, response)
        _questionnaire_draft_save(request, enrollment, form, where, quiet=True)
    return render(
        request,
        T + "questionnaire_fill.html",
        {
            "enrollment": enrollment,
            "code": code,
            "questionnaire": presentation,
            "form": form,
            "form_action": request.path,
            **_result_context(enrollment, None, request, code),
            "form_buttons_template": T + "includes/questionnaire_buttons.html",
        },
    )


def _questionnaire_finish(enrollment, form, presentation, where):
    """Score and store valid answers; None (with the errors on the form) when they cannot be."""
    if not form.is_valid():
        return None
    try:
        return services.questionnaire_submit(
            enrollment=enrollment,
            code=where["code"],
            moment=where["moment"],
            answers=form.answers(),
            scoring_options=dict(presentation.scoring_options),
        )
    except ValidationError as exc:
        _form_error(form, exc)
        return None


@login_required
def questionnaire_list(request):
    """The patient's scores over time, with a plain explanation per questionnaire."""
    enrollment = own_enrollment(request)
    responses = list(selectors.questionnaire_responses_for(enrollment=enrollment))
    flagged = any(r.urgent for r in responses)
    return render(
        request,
        T + "questionnaires.html",
        {
            "enrollment": enrollment,
            "groups": charts.questionnaire_charts(responses),
            "weekly": charts_measurement.patient_weekly(enrollment, responses),
            "crisis": flagged,
            "crisis_instructions": enrollment.clinic.crisis_instructions,
            "due": progress_for(enrollment).questionnaires_due(),
        },
    )


# --- Diaries -------------------------------------------------------------------------------------------


@login_required
def diary_list(request):
    """The diaries the patient keeps, what is due today, and the entries of the last weeks."""
    enrollment = own_enrollment(request)
    progress = progress_for(enrollment)
    entries = selectors.diary_entries_for(
        enrollment=enrollment, since=timezone.localdate() - timedelta(days=27)
    )
    by_type: dict[int, list] = {}
    for entry in entries:
        by_type.setdefault(entry.diary_type_id, []).append(entry)
    diaries = [{"due": d, "entries": by_type.get(d.diary_type.pk, [])} for d in progress.diaries_today()]
    active = {d.diary_type.pk for d in progress.diaries_today()}
    others = [t for t in enrollment.version.diary_types.all() if t.pk in by_type and t.pk not in active]
    return render(
        request,
        T + "diary_list.html",
        {
            "enrollment": enrollment,
            "diaries": diaries,
            "others": [{"diary_type": t, "entries": by_type[t.pk]} for t in others],
        },
    )


@login_required
def diary_detail(request, diary_slug):
    """One diary: the graph per week or month (``?period=week|month&date=YYYY-MM-DD``) and its
    entries in that period."""
    enrollment = own_enrollment(request)
    diary_type = selectors.diary_type_get(enrollment=enrollment, slug=diary_slug)
    period = "month" if request.GET.get("period") == "month" else "week"
    try:
        anchor = date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        anchor = timezone.localdate()
    start, end = charts.period_bounds(period, anchor)
    fields = list(diary_type.chart_fields)
    rows = selectors.diary_chart_rows(
        enrollment=enrollment, diary_type=diary_type, fields=fields, since=start, until=end
    )
    summary = selectors.diary_chart_summary(
        enrollment=enrollment, diary_type=diary_type, fields=fields, since=start, until=end
    )
    entries = selectors.diary_entries_for(
        enrollment=enrollment, diary_type=diary_type, since=start, until=end
    )
    return render(
        request,
        T + "diary_detail.html",
        {
            "enrollment": enrollment,
            "diary_type": diary_type,
            "period": period,
            "start": start,
            "end": end,
            "charts": charts.diary_charts(
                diary_type=diary_type, period=period, start=start, end=end, rows=rows, summary=summary
            ),
            "entries": entries,
            "previous": charts.period_bounds(period, start - timedelta(days=1))[0],
            "next": end + timedelta(days=1),
            "today": timezone.localdate(),
            "kept_today": selectors.diary_entry_on(
                enrollment=enrollment, diary_type=diary_type, day=timezone.localdate()
            ),
        },
    )


def _uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except (ValueError, TypeError, AttributeError):
        return None


@login_required
@require_http_methods(["GET", "POST"])
def diary_write(request, diary_slug):
    """Write today's entry (or a missed day's, or correct today's): big targets, one minute."""
    # A save redirects: of the related rows it needs only the therapist (told of a new entry) and
    # the version (the diary type). A form sent back with errors does not show the program or
    # clinic either (the same queries).
    related = DIARY_SAVE_RELATED if request.method == "POST" else selectors.ENROLLMENT_PAGE_RELATED
    # A save reads the open enrollment under its lock once (the service does not read it again).
    enrollment = own_enrollment(request, related=related, locked=request.method == "POST")
    diary_type = selectors.diary_type_get(enrollment=enrollment, slug=diary_slug)
    today = timezone.localdate()
    try:
        day = date.fromisoformat(request.GET.get("date", "")) if request.method == "GET" else today
    except ValueError:
        day = today
    chosen = _uuid(request.POST.get("entry") if request.method == "POST" else request.GET.get("entry"))
    if chosen is not None:
        entry = selectors.diary_entry_get(enrollment=enrollment, uid=chosen)
        if entry.diary_type_id != diary_type.pk:
            raise Http404
        day = entry.entry_date
    elif diary_type.per_moment or request.method == "POST":
        # A new moment: what was written before stays as it is. A post is saved without it (the
        # service reads the day's entry under its lock); it is read only to show the form again.
        entry = None
    else:
        entry = selectors.diary_entry_on(enrollment=enrollment, diary_type=diary_type, day=day)
    if (
        request.method == "GET"
        and entry is not None
        and not services.diary_entry_editable(entry, today=today)
    ):
        return redirect("patients:diary_entry", entry.uid)
    if request.method == "POST":
        form = PatientDiaryForm(request.POST, diary_type=diary_type, today=today)
        saved = _diary_saved(
            form,
            enrollment=enrollment,
            diary_type=diary_type,
            today=today,
            entry_uid=chosen,
            locked=enrollment.icbt_locked is not None,
        )
        if saved is not None:
            flash.confirm(request, confirmations.DIARY_SAVED)
            return redirect(
                reverse("patients:diary_detail", args=[diary_type.slug]) + f"?date={saved.entry_date}"
            )
        if chosen is None and not diary_type.per_moment:
            entry = selectors.diary_entry_on(enrollment=enrollment, diary_type=diary_type, day=day)
    else:
        answers = services.diary_entry_answers(entry) if entry is not None else None
        form = PatientDiaryForm(diary_type=diary_type, answers=answers, today=today, day=day, shown=entry)
    return render(
        request,
        T + "diary_write.html",
        {
            "enrollment": enrollment,
            "diary_type": diary_type,
            "form": form,
            "entry": entry,
            "chosen": chosen,
            # A refused save shows the form again with why and what was typed, also when the
            # treatment ended (before this request, or while it waited for the lock).
            "editable": enrollment.is_open or request.method == "POST",
        },
    )


@login_required
def diary_entry(request, uid):
    """One entry, read-only, with the therapist's feedback next to it."""
    enrollment = own_enrollment(request)
    entry = selectors.diary_entry_get(enrollment=enrollment, uid=uid)
    return render(
        request,
        T + "diary_entry.html",
        {
            "enrollment": enrollment,
            "entry": entry,
            "answers": services.diary_entry_answers(entry),
            "editable": enrollment.is_open and services.diary_entry_editable(entry),
        },
    )
