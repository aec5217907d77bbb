"""Care beside the program: treatment sessions (blended care), scores entered by staff, and the
end-of-program decisions (stepped care, early warning)."""

from datetime import date, datetime, time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from icbt.audit import Action
from icbt.models import StaffMember
from patients import figures, measurement, stepped_care, work_items
from patients.models import (
    EarlyWarningDecision,
    Enrollment,
    Patient,
    QuestionnaireResponse,
    SteppedCareDecision,
    TimelineEvent,
    TreatmentSession,
)
from patients.services.enrollment import _enrollment_transition
from patients.services.recording import _enrollment_lock, record_change, record_created
from programs import questionnaires


@transaction.atomic
def treatment_session_record(
    *,
    patient: Patient,
    staff: StaffMember,
    held_on: date,
    kind: str,
    minutes: int,
    note: str = "",
) -> TreatmentSession:
    """Record a face-to-face, phone, video or group session in the patient's timeline. The note
    is encrypted; the timeline keeps only the kind and the minutes."""
    today = timezone.localdate()
    if held_on > today:
        raise ValidationError({"held_on": _("A session can only be recorded once it has taken place.")})
    enrollment = (
        Enrollment.objects.filter(patient=patient, status__in=Enrollment.OPEN_STATUSES).first()
        or Enrollment.objects.filter(patient=patient).order_by("-created_at").first()
    )
    session = TreatmentSession(
        patient=patient,
        clinic_id=patient.clinic_id,
        enrollment=enrollment,
        held_on=held_on,
        kind=kind,
        minutes=minutes,
        note=note.strip(),
        recorded_by=staff,
    )
    session.full_clean()
    session.save()
    figures.session_added(session)
    at = timezone.now() if held_on == today else timezone.make_aware(datetime.combine(held_on, time(12, 0)))
    record_change(
        staff=staff,
        action=Action.CREATE,
        object_type="treatment_session",
        object_id=session.pk,
        patient=patient,
        enrollment=enrollment,
        kind=TimelineEvent.Kind.SESSION,
        detail={"session": session.pk, "kind": kind, "minutes": minutes, "held_on": held_on.isoformat()},
        at=at,
        session=session,
    )
    return session


@transaction.atomic
def questionnaire_score_enter(
    *,
    enrollment: Enrollment,
    staff: StaffMember,
    code: str,
    moment: str,
    total,
    end_without_start: bool = False,
) -> QuestionnaireResponse:
    """Keep a total the therapist entered (a paper form, or a licensed questionnaire whose texts
    the clinic has not loaded), validated and interpreted by the programs app's scoring. One
    score per questionnaire and moment (start, end, or the mid-treatment measurement the schedule
    asks after a module). An end score of a questionnaire that
    also has a start moment, filed while that start score is missing, is refused unless
    ``end_without_start`` confirms it (a start score filed as the end is easily done)."""
    version = enrollment.version
    if moment == QuestionnaireResponse.Moment.MODULE:
        # The mid-treatment measurement of the schedule (after module N), for a paper form or a
        # licensed questionnaire whose texts the clinic has not loaded.
        codes = [c for wanted in measurement.after_module(version).values() for c in wanted]
    elif moment in (QuestionnaireResponse.Moment.START, QuestionnaireResponse.Moment.END):
        codes = (
            version.questionnaires_start
            if moment == QuestionnaireResponse.Moment.START
            else version.questionnaires_end
        )
    else:
        raise ValidationError({"moment": _("Choose start or end.")})
    if code not in codes:
        raise ValidationError({"code": _("This questionnaire is not asked at that moment in this program.")})
    threshold = None
    if code == questionnaires.CIS_FATIGUE:
        threshold = stepped_care.enrollment_thresholds(enrollment)[0].value
    try:
        score = questionnaires.questionnaire_score_entered(code=code, total=total, severe_threshold=threshold)
    except ValidationError as exc:
        raise ValidationError({"total": exc.messages}) from None
    _enrollment_lock(enrollment)
    if QuestionnaireResponse.objects.filter(enrollment=enrollment, code=code, moment=moment).exists():
        raise ValidationError({"code": _("This questionnaire already has a score at that moment.")})
    if (
        moment == QuestionnaireResponse.Moment.END
        and code in version.questionnaires_start
        and not end_without_start
        and not QuestionnaireResponse.objects.filter(
            enrollment=enrollment, code=code, moment=QuestionnaireResponse.Moment.START
        ).exists()
    ):
        raise ValidationError(
            {
                "end_without_start": _(
                    "There is no start score of this questionnaire yet. If this score is from the "
                    "start, choose start. If it really is the end score, tick the box to confirm."
                )
            },
            code="end_without_start",
        )
    now = timezone.now()
    response = QuestionnaireResponse(
        enrollment=enrollment,
        clinic_id=enrollment.clinic_id,
        code=code,
        moment=moment,
        answers=[],
        total=str(score.total),
        band=score.band,
        flags=[f.code for f in score.flags],
        entered_by=staff.user,
        completed_at=now,
    )
    record_created(
        response,
        staff=staff,
        object_type="questionnaire_response",
        enrollment=enrollment,
        kind=TimelineEvent.Kind.QUESTIONNAIRE,
        detail={
            "code": code,
            "moment": moment,
            "total": float(score.total),
            "flags": response.flags,
            "entered": True,
        },
        at=now,
    )
    # A start score on the check-in's scale is the early warning's baseline.
    work_items.refresh(enrollment=enrollment, kinds=("early_warning",))
    return response


@transaction.atomic
def stepped_care_decide(
    *, enrollment: Enrollment, staff: StaffMember, decision: str, reason: str
) -> SteppedCareDecision:
    """Record the end-of-program decision for a stepped-care program (Master your Fatigue):
    finish (the enrollment becomes *completed*) or step up to face-to-face CBT (*stepped up*),
    with a required reason. The advice computed from the end scores at this moment is stored
    with the decision, whichever way the decision went."""
    if not stepped_care.applies_to(enrollment.version.program.slug):
        raise ValidationError(_("This program has no stepped-care decision."))
    if decision not in SteppedCareDecision.Decision.values:
        raise ValidationError({"decision": _("Choose finish or step up.")})
    if not reason or not reason.strip():
        raise ValidationError({"reason": _("Give the reason for this decision.")})
    _enrollment_lock(enrollment)
    if SteppedCareDecision.objects.filter(enrollment=enrollment).exists():
        raise ValidationError(_("The decision for this enrollment has already been recorded."))
    advice = stepped_care.advice_for_enrollment(
        enrollment,
        QuestionnaireResponse.objects.filter(enrollment=enrollment, moment=QuestionnaireResponse.Moment.END),
    )
    action = "step_up" if decision == SteppedCareDecision.Decision.STEP_UP else "complete"
    _enrollment_transition(
        enrollment=enrollment,
        action=action,
        actor_user_id=staff.user_id,
        reason=reason,
        detail={"stepped_care": decision},
    )
    record = SteppedCareDecision(
        enrollment=enrollment,
        clinic_id=enrollment.clinic_id,
        advice=advice.as_dict(),
        decision=decision,
        reason=reason.strip(),
        decided_by=staff,
    )
    return record_created(
        record,
        staff=staff,
        object_type="stepped_care_decision",
        enrollment=enrollment,
        kind=TimelineEvent.Kind.STEPPED_CARE,
        detail={
            "decision": decision,
            "advice": advice.code,
            "cis_total": advice.cis_total,
            "pf_total": advice.pf_total,
        },
    )


@transaction.atomic
def early_warning_decide(
    *, enrollment: Enrollment, staff: StaffMember, decision: str, today=None
) -> EarlyWarningDecision:
    """Record what the therapist decided about the early warning that shows now (call, adapt the
    plan, step up early, carry on), with its figures as shown; from then on the warning no longer
    shows for this enrollment. Refused when no warning shows (a second tab, a stale page)."""
    if decision not in EarlyWarningDecision.Decision.values:
        raise ValidationError({"decision": _("Choose what you decided.")})
    _enrollment_lock(enrollment)
    if EarlyWarningDecision.objects.filter(enrollment=enrollment).exists():
        raise ValidationError(_("A decision about this warning has already been recorded."))
    warning = measurement.early_warning(
        enrollment,
        QuestionnaireResponse.objects.filter(enrollment=enrollment),
        today or timezone.localdate(),
    )
    if warning is None:
        raise ValidationError(_("There is no early warning for this patient now."))
    record = EarlyWarningDecision(
        enrollment=enrollment,
        clinic_id=enrollment.clinic_id,
        kind=warning.kind,
        decision=decision,
        figures=warning.as_dict(),
        decided_by=staff,
    )
    record.full_clean()
    record.save()
    work_items.refresh(enrollment=enrollment, kinds=("early_warning",))
    record_change(
        staff=staff,
        action=Action.CREATE,
        object_type="early_warning_decision",
        object_id=record.pk,
        patient=enrollment.patient,
    )
    return record
