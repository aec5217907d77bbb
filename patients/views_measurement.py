"""The patient's weekly check-in (patients.measurement holds the rules)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from patients import charts_measurement, measurement, selectors, services
from patients.access import own_enrollment
from patients.forms_checkin import CheckInForm
from patients.progress import progress_for
from patients.views_patient import T, _form_error
from programs import questionnaires


@login_required
@require_http_methods(["GET", "POST"])
def check_in(request):
    """The check-in that is due (a late one counts for its feedback day), the answer just given
    (with the crisis lines when the safety question was answered above 0), and the weeks so far
    as a graph in plain words."""
    enrollment = own_enrollment(request)
    code = measurement.check_in_code(enrollment.version)
    if not code:
        raise Http404
    language = enrollment.version.language
    form = CheckInForm(request.POST or None, code=code, language=language)
    if request.method == "POST" and form.is_valid():
        try:
            response = services.check_in_submit(enrollment=enrollment, answers=form.answers())
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            return redirect(f"{reverse('patients:check_in')}?done={response.uid}")
    responses = list(selectors.questionnaire_responses_for(enrollment=enrollment))
    done = None
    if request.GET.get("done"):
        done = next((r for r in responses if str(r.uid) == request.GET["done"]), None)
    progress = progress_for(enrollment)
    due = progress.check_in_due()
    state, state_day = measurement.check_in_state(enrollment, progress.today, progress.check_in_days)
    instrument = questionnaires.get_instrument(code)
    return render(
        request,
        T + "check_in.html",
        {
            "enrollment": enrollment,
            "form": form if (due or request.method == "POST") and done is None else None,
            "due": due,
            "done": done,
            "state": state,
            "state_day": state_day,
            "period": instrument.periods.get(language, ""),
            "instructions": instrument.instructions.get(language, ""),
            # The crisis lines also when the answer could not be kept (or is not yet valid).
            "crisis": (done is not None and "self_harm" in (done.flags or []))
            or (request.method == "POST" and questionnaires.posted_safety_answer(code, request.POST)),
            "crisis_instructions": enrollment.clinic.crisis_instructions,
            "weekly": charts_measurement.patient_weekly(enrollment, responses),
        },
    )
