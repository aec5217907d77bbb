import json
from datetime import date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from icbt.audit import Action, audit_record
from icbt.models import Clinic, Invitation, StaffMember, Team, User
from icbt.notifications import Kind as NotificationKind
from icbt.notifications import notify
from icbt.services import invitation_create, invitation_ensure
from patients import intake_criteria, measurement, selectors, stepped_care, work_items
from patients.access import acting_on_behalf_of, staff_may_treat
from patients.models import (
    AssignmentAnswer,
    CareShare,
    DiaryEntry,
    EarlyWarningDecision,
    Enrollment,
    Intake,
    IntakeRequest,
    ModuleState,
    Patient,
    QuestionnaireDraft,
    QuestionnaireResponse,
    Referral,
    StepOverride,
    SteppedCareDecision,
    StepProgress,
    TimelineEvent,
    TreatmentSession,
)
from programs import field_types, questionnaires
from programs.models import DiaryType, Program, ProgramVersion, Step


@transaction.atomic
def patient_invite(
    *,
    therapist: StaffMember,
    email: str,
    first_name: str,
    last_name: str,
    language: str = "en",
) -> Patient:
    """Create a patient account in the therapist's clinic, assigned to them, and send the
    invitation link. Audited as the creation of a patient record."""
    user = User(
        email=User.objects.normalize_email(email).lower(),
        first_name=first_name,
        last_name=last_name,
        language=language,
        is_active=False,
    )
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    patient = Patient(user=user, clinic_id=therapist.clinic_id, therapist=therapist)
    patient.full_clean()
    patient.save()
    invitation_create(user=user, kind=Invitation.Kind.PATIENT, created_by=therapist.user)
    record_change(
        staff=therapist, action=Action.CREATE, object_type="patient", object_id=patient.pk, patient=patient
    )
    return patient


# --- The patient's own work (the patient's side) -----------------------------------------
# Every write a patient makes. Each locks the enrollment row first, so two tabs or a late
# autosave cannot interleave with a submit; each refuses work on an enrollment that has ended.

DIARY_ENTRY_DAYS_BACK = 6  # today and the six days before: a missed day can still be filled in


def _enrollment_lock(enrollment: Enrollment) -> None:
    Enrollment.objects.select_for_update().filter(pk=enrollment.pk).values_list("pk").first()


def _require_open(enrollment: Enrollment) -> None:
    if not enrollment.is_open:
        raise ValidationError(
            _("Your program has ended. You can still read everything, but no longer change it.")
        )


def _require_step(enrollment: Enrollment, step: Step, kind: str) -> None:
    if step.version_id != enrollment.version_id or step.kind != kind:
        raise ValidationError(_("This step is not part of your program."))


def _enrollment_touch(
    enrollment: Enrollment, *, now: datetime, step: Step | None = None, work: tuple[str, ...] = ()
) -> None:
    """Record activity (and where the patient is). An invited enrollment becomes active on the
    patient's first step (``enrollment_activate``: the lifecycle and its timeline). The quiet
    spell starts again, and the work items of the kinds in ``work`` are brought in line."""
    if enrollment.status == Enrollment.Status.INVITED:
        enrollment_activate(enrollment=enrollment)
    fields = ["last_activity_at"]
    enrollment.last_activity_at = now
    if step is not None and enrollment.current_step_id != step.pk:
        enrollment.current_step = step
        fields.append("current_step")
    if enrollment.reminders_in_a_row:
        enrollment.reminders_in_a_row = 0
        fields.append("reminders_in_a_row")
    enrollment.save(update_fields=fields)
    work_items.refresh(enrollment=enrollment, kinds=("quiet", *work))


def _step_done(enrollment: Enrollment, step: Step, *, now: datetime) -> StepProgress:
    """Mark ``step`` done (once). When that completes its module, the timeline says so (once)."""
    row, created = StepProgress.objects.get_or_create(
        enrollment=enrollment, step=step, defaults={"first_seen_at": now, "completed_at": now}
    )
    if not created and row.completed_at is None:
        row.completed_at = now
        row.save(update_fields=["completed_at"])
        created = True
    if created:
        _module_completed_check(enrollment, step, now=now)
    return row


def _module_completed_check(enrollment: Enrollment, step: Step, *, now: datetime) -> None:
    from patients.progress import progress_for

    module = next(
        (m for m in progress_for(enrollment, with_diaries=False).modules if m.module.pk == step.module_id),
        None,
    )
    if module is None or not module.steps or not module.is_complete:
        return
    number = module.module.number
    completed = TimelineEvent.objects.filter(enrollment=enrollment, kind=TimelineEvent.Kind.MODULE_COMPLETED)
    if any(event.detail.get("module") == number for event in completed):  # detail is encrypted
        return
    TimelineEvent.objects.create(
        patient_id=enrollment.patient_id,
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        kind=TimelineEvent.Kind.MODULE_COMPLETED,
        at=now,
        actor_id=enrollment.patient.user_id,
        detail={"module": number},
    )


@transaction.atomic
def step_visit(*, enrollment: Enrollment, step: Step, complete: bool = False) -> StepProgress | None:
    """The patient is on ``step``: remember it (first visit, and the place to resume from) and,
    with ``complete``, that they finished it (pages, audio and video when they move on; a
    licensed questionnaire the therapist asks instead). Nothing is written for an enrollment
    that has ended. Safe to repeat."""
    if not enrollment.is_open:
        return None
    if step.version_id != enrollment.version_id:
        raise ValidationError(_("This step is not part of your program."))
    now = timezone.now()
    _enrollment_lock(enrollment)
    if complete:
        row = _step_done(enrollment, step, now=now)
    else:
        row, _created = StepProgress.objects.get_or_create(
            enrollment=enrollment, step=step, defaults={"first_seen_at": now}
        )
    _enrollment_touch(enrollment, now=now, step=step)
    return row


def _answer_locked(enrollment: Enrollment, step: Step) -> AssignmentAnswer:
    answer = AssignmentAnswer.objects.select_for_update().filter(enrollment=enrollment, step=step).first()
    if answer is None:
        answer = AssignmentAnswer(enrollment=enrollment, clinic_id=enrollment.clinic_id, step=step)
    return answer


def _dump(answers: dict) -> str:
    return json.dumps(answers, ensure_ascii=False, sort_keys=True)


def assignment_answers_check(*, step: Step, answers: dict) -> None:
    """Rules an answer must meet to be handed in, whatever sent it (the form checks them too,
    with the message next to the field): energy points may not exceed the budget."""
    errors = {}
    for d in step.fields:
        message = field_types.field_type(d).answer_error(d, answers.get(d["name"]))
        if message:
            errors[d["name"]] = message
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def assignment_draft_save(
    *, enrollment: Enrollment, step: Step, answers: dict, based_on: datetime | None = None
) -> tuple[AssignmentAnswer, bool]:
    """Save what the patient typed so far, valid or not (nothing a patient wrote is lost).
    Returns ``(answer, saved)``.

    Not saved (``saved`` False): a draft identical to the handed-in answer (opening a submitted
    answer does not turn it back into a draft), and a *stale* draft: one from a page loaded
    (``based_on``) before the answer was last handed in, such as an autosave still on its way
    when the patient pressed submit. Otherwise a handed-in answer becomes a draft again; its
    last submission stays in ``submitted_content`` for the therapist."""
    _require_open(enrollment)
    _require_step(enrollment, step, Step.Kind.ASSIGNMENT)
    now = timezone.now()
    _enrollment_lock(enrollment)
    answer = _answer_locked(enrollment, step)
    content = _dump(answers)
    if answer.status == AssignmentAnswer.Status.SUBMITTED:
        if based_on is not None and answer.submitted_at is not None and answer.submitted_at > based_on:
            return answer, False
        if content == answer.submitted_content:
            return answer, False
    answer.content = content
    answer.status = AssignmentAnswer.Status.DRAFT
    answer.draft_saved_at = now
    answer.full_clean()
    answer.save()
    _enrollment_touch(enrollment, now=now)
    return answer, True


@transaction.atomic
def assignment_submit(*, enrollment: Enrollment, step: Step, answers: dict) -> AssignmentAnswer:
    """Hand in an answer: it becomes the submitted version (also kept in ``submitted_content``),
    waits for the therapist's review again, and the step is done."""
    _require_open(enrollment)
    _require_step(enrollment, step, Step.Kind.ASSIGNMENT)
    assignment_answers_check(step=step, answers=answers)
    now = timezone.now()
    _enrollment_lock(enrollment)
    answer = _answer_locked(enrollment, step)
    content = _dump(answers)
    answer.content = content
    answer.submitted_content = content
    answer.status = AssignmentAnswer.Status.SUBMITTED
    answer.submitted_at = now
    answer.reviewed_at = None
    answer.reviewed_by = None
    answer.full_clean()
    answer.save()
    notify(
        recipient=enrollment.therapist.user,
        kind=NotificationKind.ASSIGNMENT_SUBMITTED,
        patient=enrollment.patient,
        object_type="assignment_answer",
        object_id=answer.pk,
    )
    _step_done(enrollment, step, now=now)
    _enrollment_touch(enrollment, now=now, step=step, work=("answer",))
    return answer


def diary_entry_editable(entry: DiaryEntry, *, today: date | None = None) -> bool:
    """An entry can be corrected on the day it was written, not later."""
    return timezone.localdate(entry.created_at) == (today or timezone.localdate())


@transaction.atomic
def diary_entry_save(
    *,
    enrollment: Enrollment,
    diary_type: DiaryType,
    entry_date: date,
    answers: dict,
    step: Step | None = None,
    today: date | None = None,
    entry_uid=None,
    shown: str | None = None,
) -> DiaryEntry:
    """Write (or correct) the entry of ``diary_type`` for ``entry_date``.

    ``entry_uid`` names the entry the patient chose to correct (it keeps its date). Without it,
    a one-per-day diary corrects that day's entry, and a per-moment diary always adds a new
    entry: nothing written earlier is replaced. ``shown`` is the entry the form showed (its uid,
    or "new"): when that day has a different entry (a second tab, a date changed to a day already
    filled in), the save is refused rather than replacing it.

    Numbers, choices and times go to ``values``, free text to ``text``; both are encrypted
    JSON. A day may be filled in up to six days later; an entry may be corrected only on the
    day it was written. A corrected entry waits for the therapist's review again. With
    ``step``, the diary step is done."""
    _require_open(enrollment)
    if diary_type.version_id != enrollment.version_id:
        raise ValidationError(_("This diary is not part of your program."))
    if step is not None:
        _require_step(enrollment, step, Step.Kind.DIARY)
    today = today or timezone.localdate()
    if entry_date > today:
        raise ValidationError({"entry_date": _("This day has not come yet. Choose today or an earlier day.")})
    if entry_date < today - timedelta(days=DIARY_ENTRY_DAYS_BACK):
        raise ValidationError({"entry_date": _("You can fill in today and the six days before.")})
    now = timezone.now()
    _enrollment_lock(enrollment)
    entries = DiaryEntry.objects.filter(enrollment=enrollment, diary_type=diary_type)
    if entry_uid:
        entry = entries.filter(uid=entry_uid).first()
        if entry is None:
            raise ValidationError(_("This entry is no longer there. Start a new entry instead."))
    elif diary_type.per_moment:
        entry = None
    else:
        entry = entries.filter(entry_date=entry_date, per_moment=False).first()
        if entry is not None and shown and shown != str(entry.uid):
            raise ValidationError(
                _(
                    "This day already has an entry. Open it from your diary to change it; "
                    "what you typed is still here."
                )
            )
    if entry is not None and not diary_entry_editable(entry, today=today):
        raise ValidationError(
            _(
                "You wrote this entry on an earlier day. It can no longer be changed; "
                "you can add a note in today's entry."
            )
        )
    if entry is None:
        entry = DiaryEntry(
            enrollment=enrollment,
            clinic_id=enrollment.clinic_id,
            diary_type=diary_type,
            entry_date=entry_date,
            per_moment=diary_type.per_moment,
            created_at=now,
        )
    text_names = field_types.text_names(diary_type.fields)
    texts = {k: v for k, v in answers.items() if k in text_names}
    entry.values = {k: v for k, v in answers.items() if k not in text_names}
    entry.text = _dump(texts) if texts else ""
    entry.updated_at = now
    entry.reviewed_at = None
    entry.reviewed_by = None
    # The enrollment and diary type are rows just read, the uid is the entry's own, and one entry
    # per day is checked above under the enrollment's lock (the database's constraint stays): no
    # query checks them again.
    entry.full_clean(exclude=["enrollment", "diary_type", "uid"], validate_constraints=False)
    is_new = entry.pk is None
    entry.save()
    if is_new:
        notify(
            recipient=enrollment.therapist.user,
            kind=NotificationKind.DIARY_ENTRY,
            patient=enrollment.patient,
            object_type="diary_entry",
            object_id=entry.pk,
        )
    if step is not None:
        _step_done(enrollment, step, now=now)
    _diary_steps_done(enrollment, diary_type, entry)
    _enrollment_touch(enrollment, now=now, step=step, work=("diary",))
    return entry


def _diary_steps_done(enrollment: Enrollment, diary_type: DiaryType, entry: DiaryEntry) -> None:
    """Every diary step of ``diary_type`` the patient opened before ``entry`` was first written,
    or on a day not after the day the entry is about, is done, whichever page the entry came
    from (the step itself or My diaries)."""
    next_midnight = timezone.make_aware(datetime.combine(entry.entry_date + timedelta(days=1), time.min))
    opened = StepProgress.objects.filter(
        Q(first_seen_at__lte=entry.created_at) | Q(first_seen_at__lt=next_midnight),
        enrollment=enrollment,
        step__diary_type=diary_type,
        completed_at__isnull=True,
    ).select_related("step")
    for row in opened:
        _step_done(enrollment, row.step, now=entry.updated_at)


@transaction.atomic
def diary_step_open(*, enrollment: Enrollment, step: Step, today: date | None = None) -> bool:
    """The patient opens a diary step of a diary they already kept today (from My diaries): the
    step is done, as it would have been had they opened it first. Returns whether it is done."""
    if not enrollment.is_open or step.kind != Step.Kind.DIARY or step.diary_type_id is None:
        return False
    today = today or timezone.localdate()
    if not DiaryEntry.objects.filter(
        enrollment=enrollment, diary_type_id=step.diary_type_id, entry_date__gte=today
    ).exists():
        return False
    _enrollment_lock(enrollment)
    _step_done(enrollment, step, now=timezone.now())
    return True


def diary_entry_answers(entry: DiaryEntry) -> dict:
    """The entry as form answers again (values and decrypted text together)."""
    answers = dict(entry.values)
    if entry.text:
        answers.update(json.loads(entry.text))
    return answers


def _carries_safety_flag(code: str, answers: dict, scoring_options: dict | None) -> bool:
    """Whether the answers carry a self-harm signal (PHQ-9 item 9 above 0, or the check-in's
    safety question); answers that cannot be scored (incomplete) carry none."""
    try:
        score = questionnaires.questionnaire_score(code, answers, **dict(scoring_options or {}))
    except (ValidationError, KeyError, TypeError, ValueError):
        return False
    return "self_harm" in {f.code for f in score.flags}


@transaction.atomic
def questionnaire_submit(
    *,
    enrollment: Enrollment,
    code: str,
    moment: str,
    answers: dict,
    step: Step | None = None,
    scoring_options: dict | None = None,
    due_on=None,
) -> QuestionnaireResponse:
    """Score and keep a questionnaire the patient filled in (programs.questionnaires scores it;
    incomplete answers are refused). ``flags`` keeps the scorer's flags, such as PHQ-9 item 9
    above 0, so the therapist's worklist shows it as urgent. A step is answered once; a start or
    end questionnaire without a step once per moment. An ended enrollment takes no answers, except
    one with a safety flag (a page opened before the end and sent after it): that one is kept and
    takes the urgent path."""
    if not enrollment.is_open and not _carries_safety_flag(code, answers, scoring_options):
        _require_open(enrollment)
    if moment not in QuestionnaireResponse.Moment.values:
        raise ValidationError(_("Unknown moment."))
    if step is not None:
        _require_step(enrollment, step, Step.Kind.QUESTIONNAIRE)
        if step.questionnaire != code:
            raise ValidationError(_("This questionnaire does not belong to this step."))
    scoring_options = dict(scoring_options or {})
    if code == questionnaires.CIS_FATIGUE:
        # The band uses the very number the stepped-care advice uses (programs.thresholds).
        scoring_options["severe_threshold"] = stepped_care.enrollment_thresholds(enrollment)[0].value
    score = questionnaires.questionnaire_score(code, answers, **scoring_options)
    now = timezone.now()
    _enrollment_lock(enrollment)
    earlier = QuestionnaireResponse.objects.filter(enrollment=enrollment, code=code)
    if step is not None:
        earlier = earlier.filter(step=step)
    else:
        earlier = earlier.filter(step__isnull=True, moment=moment)
    if moment != QuestionnaireResponse.Moment.MODULE or step is not None:
        # Answered once; but a second answer with a safety flag (item 9 above 0, from a second tab
        # or a page kept open) is kept and takes the urgent path: it is never thrown away.
        if earlier.exists() and "self_harm" not in {f.code for f in score.flags}:
            raise ValidationError(_("You have already filled in this questionnaire."))
    response = QuestionnaireResponse(
        enrollment=enrollment,
        clinic_id=enrollment.clinic_id,
        code=code,
        moment=moment,
        step=step,
        answers=[int(v) for _n, v in sorted((int(n), v) for n, v in answers.items())],
        total=str(score.total),
        band=score.band,
        flags=[f.code for f in score.flags],
        completed_at=now,
        due_on=due_on,
    )
    response.full_clean()
    response.save()
    # PHQ-9 item 9 (thoughts of self-harm) makes it urgent: it may reach the therapist within minutes.
    notify(
        recipient=enrollment.therapist.user,
        kind=NotificationKind.QUESTIONNAIRE_COMPLETED,
        patient=enrollment.patient,
        object_type="questionnaire_response",
        object_id=response.pk,
        urgent="self_harm" in response.flags,
    )
    TimelineEvent.objects.create(
        patient_id=enrollment.patient_id,
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        kind=TimelineEvent.Kind.QUESTIONNAIRE,
        at=now,
        actor_id=enrollment.patient.user_id,
        detail={"code": code, "moment": moment, "total": float(score.total), "flags": response.flags},
    )
    _questionnaire_drafts(enrollment=enrollment, code=code, moment=moment, step=step).delete()
    if step is not None:
        _step_done(enrollment, step, now=now)
    _enrollment_touch(enrollment, now=now, step=step, work=("questionnaire",))
    return response


def _questionnaire_drafts(*, enrollment: Enrollment, code: str, moment: str, step: Step | None):
    drafts = QuestionnaireDraft.objects.filter(enrollment=enrollment)
    if step is not None:
        return drafts.filter(step=step)
    return drafts.filter(step__isnull=True, code=code, moment=moment)


def questionnaire_draft_get(
    *, enrollment: Enrollment, code: str, moment: str, step: Step | None = None
) -> dict:
    """The answers saved so far (``{item number: value}``), empty when there is no draft."""
    draft = _questionnaire_drafts(enrollment=enrollment, code=code, moment=moment, step=step).first()
    return {int(n): v for n, v in draft.answers.items()} if draft is not None else {}


@transaction.atomic
def questionnaire_draft_save(
    *, enrollment: Enrollment, code: str, moment: str, answers: dict, step: Step | None = None
) -> QuestionnaireDraft | None:
    """Keep the answers given so far, so the patient can come back to the questionnaire. Saving
    no answers at all keeps an earlier draft as it is (an empty form never wipes one); sending
    the questionnaire removes the draft (``questionnaire_submit``)."""
    _require_open(enrollment)
    if moment not in QuestionnaireResponse.Moment.values:
        raise ValidationError(_("Unknown moment."))
    if step is not None:
        _require_step(enrollment, step, Step.Kind.QUESTIONNAIRE)
    _enrollment_lock(enrollment)
    draft = _questionnaire_drafts(enrollment=enrollment, code=code, moment=moment, step=step).first()
    if not answers:
        return draft
    if draft is None:
        draft = QuestionnaireDraft(
            enrollment=enrollment, clinic_id=enrollment.clinic_id, code=code, moment=moment, step=step
        )
    draft.answers = {str(int(n)): int(v) for n, v in answers.items()}
    draft.saved_at = timezone.now()
    draft.save()
    return draft


# The same check-in answers sent again within this time are a double click, not a new answer.
DOUBLE_SUBMIT_WINDOW = timedelta(minutes=10)


@transaction.atomic
def check_in_submit(*, enrollment: Enrollment, answers: dict, today=None) -> QuestionnaireResponse:
    """Keep the patient's weekly check-in for the feedback day that is due (a late one counts for
    that day; see patients.measurement). Kept even when the enrollment was paused after the page
    was opened, and a second, different answer for the same day is kept too: a safety answer
    (item 9 above 0) is never dropped and always takes the urgent path. An identical answer sent
    twice within ``DOUBLE_SUBMIT_WINDOW`` (a double click) is stored once, unless it is a safety
    answer the therapist has reviewed since: that one is stored and raised again."""
    code = measurement.check_in_code(enrollment.version)
    if not code:
        raise ValidationError(_("This program has no weekly check-in."))
    day = measurement.due_day(enrollment, today or timezone.localdate())
    if day is None:
        raise ValidationError(_("Your first check-in is on your first feedback day."))
    score = questionnaires.questionnaire_score(code, answers)
    _enrollment_lock(enrollment)
    stored = [int(v) for _n, v in sorted(score.item_scores.items())]
    latest = (
        QuestionnaireResponse.objects.filter(enrollment=enrollment, code=code, due_on=day)
        .order_by("-completed_at", "-pk")
        .first()
    )
    if (
        latest is not None
        and [int(v) for v in latest.answers] == stored
        and latest.completed_at >= timezone.now() - DOUBLE_SUBMIT_WINDOW
        # A safety answer the therapist already reviewed is not a double click when it comes
        # again: it is news, and takes the urgent path once more.
        and not (latest.urgent and latest.reviewed_at is not None)
    ):
        return latest
    return questionnaire_submit(
        enrollment=enrollment,
        code=code,
        moment=QuestionnaireResponse.Moment.MODULE,
        answers=answers,
        due_on=day,
    )


# --- Getting in, intake, enrollment, tailoring, sessions, end of program (staff side) ----
# Every write a therapist makes on one patient's treatment, and the public intake request. Each
# writes one audit event (what changed, never the content) and, where it concerns a patient, one
# timeline event with structured facts only (ids, codes, numbers; never free text).

TERMINAL_STATUSES = (Enrollment.Status.COMPLETED, Enrollment.Status.STOPPED, Enrollment.Status.STEPPED_UP)


def timeline_record(
    *,
    patient_id: int,
    kind: str,
    actor_id: int | None,
    detail: dict,
    enrollment=None,
    clinic_id: int | None = None,
    at: datetime | None = None,
) -> TimelineEvent:
    """One line in the patient's timeline: structured facts only (ids, codes, numbers).
    ``clinic_id`` is the patient's clinic; it defaults to the enrollment's."""
    event = TimelineEvent(
        patient_id=patient_id,
        clinic_id=clinic_id or enrollment.clinic_id,
        enrollment=enrollment,
        kind=kind,
        actor_id=actor_id,
        detail=detail,
        at=at or timezone.now(),
    )
    event.full_clean(exclude=["patient", "enrollment", "actor"])
    event.save()
    return event


def record_change(
    *,
    staff: StaffMember,
    action: str,
    object_type: str,
    object_id,
    patient: Patient | None = None,
    patient_id: int | None = None,
    enrollment: Enrollment | None = None,
    kind: str = "",
    detail: dict | None = None,
    at: datetime | None = None,
) -> None:
    """The end of every change a staff member makes: its timeline line (``kind`` and ``detail``;
    none without a ``kind``) and its audit event (what changed, never the content). The patient
    comes from ``patient``, else ``enrollment``; a colleague covering for the treating
    therapist acts on their behalf, which the event records. With only ``patient_id`` (or no
    patient at all) the event is written without asking that."""
    if patient is None and enrollment is not None:
        patient = enrollment.patient
    if patient is not None:
        patient_id = patient.pk
    if kind:
        timeline_record(
            patient_id=patient_id,
            clinic_id=staff.clinic_id,
            enrollment=enrollment,
            kind=kind,
            actor_id=staff.user_id,
            detail=detail or {},
            at=at,
        )
    audit_record(
        user=staff.user,
        action=action,
        patient_id=patient_id,
        clinic_id=staff.clinic_id,
        object_type=object_type,
        object_id=object_id,
        on_behalf_of=acting_on_behalf_of(staff, patient) if patient is not None else None,
    )


def items_mark_reviewed(*, model, enrollment: Enrollment, ids, reviewed_by, at: datetime) -> int:
    """Mark the enrollment's answers, diary entries or questionnaire results (``model``) with
    these ids as reviewed by ``reviewed_by`` at ``at``. Returns how many there were."""
    return model.objects.filter(enrollment=enrollment, pk__in=list(ids)).update(
        reviewed_at=at, reviewed_by=reviewed_by
    )


def enrollment_feedback_given(*, enrollment: Enrollment, at: datetime) -> None:
    """Feedback was sent: the next feedback day counts from ``at``."""
    enrollment.last_feedback_at = at
    enrollment.save(update_fields=["last_feedback_at"])


@transaction.atomic
def intake_request_create(
    *,
    clinic: Clinic,
    program: Program,
    name: str,
    email: str,
    phone: str = "",
    message: str = "",
    language: str = "en",
) -> IntakeRequest:
    """A request for an intake from a public program page: it lands in the clinic's queue with
    status *new*. No account is made and nothing is sent: the clinic contacts the person. The
    message is encrypted at rest."""
    intake_request = IntakeRequest(
        clinic=clinic,
        program=program,
        name=name.strip(),
        email=email.strip().lower(),
        phone=phone.strip(),
        message=message.strip(),
        language=language,
    )
    intake_request.full_clean()
    intake_request.save()
    work_items.refresh_requests(clinic_id=clinic.pk, kinds=("intake_request",))
    # Every therapist of the clinic hears of it (counts and a link only); once one of them has
    # handled it, the others' notifications are dropped at send time.
    for therapist in StaffMember.objects.filter(
        clinic=clinic, is_therapist=True, user__is_active=True
    ).select_related("user"):
        notify(
            recipient=therapist.user,
            kind=NotificationKind.INTAKE_REQUEST,
            clinic_id=clinic.pk,
            object_type="intake_request",
            object_id=intake_request.pk,
        )
    return intake_request


@transaction.atomic
def intake_request_status_set(
    *, intake_request: IntakeRequest, staff: StaffMember, status: str
) -> IntakeRequest:
    """Mark a request contacted, closed or new again (by a therapist of its clinic)."""
    if status not in (IntakeRequest.Status.NEW, IntakeRequest.Status.CONTACTED, IntakeRequest.Status.CLOSED):
        raise ValidationError(_("Choose contacted, closed or new."))
    intake_request.status = status
    intake_request.handled_by = staff
    intake_request.handled_at = timezone.now()
    intake_request.full_clean()
    intake_request.save(update_fields=["status", "handled_by", "handled_at"])
    work_items.refresh_requests(clinic_id=intake_request.clinic_id, kinds=("intake_request",))
    record_change(
        staff=staff,
        action=Action.CHANGE,
        object_type="intake_request",
        object_id=intake_request.pk,
    )
    return intake_request


@transaction.atomic
def intake_request_invite(
    *,
    intake_request: IntakeRequest,
    staff: StaffMember,
    first_name: str,
    last_name: str,
    email: str,
    language: str,
) -> Patient:
    """The therapist decided to see this person: create their patient account (assigned to the
    therapist, invitation sent; see ``patient_invite``) and mark the request *intake planned*."""
    if intake_request.status == IntakeRequest.Status.INVITED:
        raise ValidationError(_("This person has already been invited."))
    patient = patient_invite(
        therapist=staff,
        email=email,
        first_name=first_name,
        last_name=last_name,
        language=language,
    )
    intake_request.status = IntakeRequest.Status.INVITED
    intake_request.handled_by = staff
    intake_request.handled_at = timezone.now()
    intake_request.save(update_fields=["status", "handled_by", "handled_at"])
    work_items.refresh_requests(clinic_id=intake_request.clinic_id, kinds=("intake_request",))
    record_change(
        staff=staff,
        action=Action.CHANGE,
        object_type="intake_request",
        object_id=intake_request.pk,
        patient=patient,
    )
    return patient


# --- Referral ---------------------------------------------------------------------------------


@transaction.atomic
def referral_create(
    *,
    patient: Patient,
    referred_by: StaffMember,
    to_therapist: StaffMember,
    program: Program,
    note: str = "",
) -> Referral:
    """A therapist asks an ICBT-trained colleague of the same clinic to take on one of their
    patients for an online program. One open referral per patient at a time."""
    if patient.therapist_id != referred_by.pk:
        raise ValidationError(_("You can only refer your own patients."))
    targets = selectors.referral_targets(clinic_id=patient.clinic_id, exclude=referred_by)
    if not targets.filter(pk=to_therapist.pk).exists():
        raise ValidationError({"to_therapist": _("Choose an ICBT-trained therapist of your clinic.")})
    Patient.objects.select_for_update().filter(pk=patient.pk).values_list("pk").first()
    if Referral.objects.filter(patient=patient, status=Referral.Status.PENDING).exists():
        raise ValidationError(_("This patient already has a referral waiting for an answer."))
    referral = Referral(
        clinic_id=patient.clinic_id,
        patient=patient,
        referred_by=referred_by,
        to_therapist=to_therapist,
        program=program,
        note=note.strip(),
    )
    referral.full_clean()
    referral.save()
    work_items.refresh_requests(clinic_id=referral.clinic_id, kinds=("referral",))
    notify(
        recipient=to_therapist.user,
        kind=NotificationKind.REFERRAL,
        patient=patient,
        object_type="referral",
        object_id=referral.pk,
    )
    record_change(
        staff=referred_by,
        action=Action.CREATE,
        object_type="referral",
        object_id=referral.pk,
        patient=patient,
        kind=TimelineEvent.Kind.REFERRAL,
        detail={
            "referral": referral.pk,
            "event": "made",
            "from": referred_by.pk,
            "to": to_therapist.pk,
            "program": program.slug,
        },
    )
    return referral


def _referral_lock(referral: Referral, staff: StaffMember) -> Referral:
    locked = Referral.objects.select_for_update().select_related("patient").get(pk=referral.pk)
    if locked.to_therapist_id != staff.pk:
        raise ValidationError(_("Only the therapist this patient was referred to can answer."))
    if locked.status != Referral.Status.PENDING:
        raise ValidationError(_("This referral has already been answered."))
    return locked


@transaction.atomic
def referral_accept(*, referral: Referral, staff: StaffMember, reason: str = "") -> Referral:
    """The receiving therapist takes the patient on: they become the patient's therapist (and
    the therapist of an open enrollment), which the timeline and the audit trail record."""
    referral = _referral_lock(referral, staff)
    now = timezone.now()
    referral.status = Referral.Status.ACCEPTED
    referral.decision_reason = reason.strip()
    referral.decided_at = now
    referral.full_clean()
    referral.save(update_fields=["status", "decision_reason", "decided_at"])
    work_items.refresh_requests(clinic_id=referral.clinic_id, kinds=("referral",))
    patient = Patient.objects.select_for_update().get(pk=referral.patient_id)
    previous = patient.therapist_id
    patient.therapist = staff
    work_items.owner_follow(patient=patient)
    patient.full_clean()
    patient.save(update_fields=["therapist"])
    for enrollment in Enrollment.objects.select_for_update().filter(
        patient=patient, status__in=Enrollment.OPEN_STATUSES
    ):
        enrollment.therapist = staff
        enrollment.save(update_fields=["therapist"])
    timeline_record(
        patient_id=patient.pk,
        clinic_id=patient.clinic_id,
        kind=TimelineEvent.Kind.REFERRAL,
        actor_id=staff.user_id,
        at=now,
        detail={
            "referral": referral.pk,
            "event": "accepted",
            "from": referral.referred_by_id,
            "to": staff.pk,
        },
    )
    record_change(
        staff=staff,
        action=Action.CHANGE,
        object_type="referral",
        object_id=referral.pk,
        patient=patient,
        kind=TimelineEvent.Kind.THERAPIST,
        detail={"from": previous, "to": staff.pk, "referral": referral.pk},
        at=now,
    )
    record_change(
        staff=staff,
        action=Action.CHANGE,
        object_type="patient",
        object_id=patient.pk,
        patient=patient,
    )
    return referral


@transaction.atomic
def referral_decline(*, referral: Referral, staff: StaffMember, reason: str) -> Referral:
    """The receiving therapist declines, with a reason the referring colleague can read."""
    if not reason or not reason.strip():
        raise ValidationError({"reason": _("Say why you decline, so your colleague knows what to do next.")})
    referral = _referral_lock(referral, staff)
    referral.status = Referral.Status.DECLINED
    referral.decision_reason = reason.strip()
    referral.decided_at = timezone.now()
    referral.full_clean()
    referral.save(update_fields=["status", "decision_reason", "decided_at"])
    work_items.refresh_requests(clinic_id=referral.clinic_id, kinds=("referral",))
    record_change(
        staff=staff,
        action=Action.CHANGE,
        object_type="referral",
        object_id=referral.pk,
        patient_id=referral.patient_id,
        kind=TimelineEvent.Kind.REFERRAL,
        detail={
            "referral": referral.pk,
            "event": "declined",
            "from": referral.referred_by_id,
            "to": staff.pk,
        },
    )
    return referral


# --- Intake -----------------------------------------------------------------------------------


@transaction.atomic
def intake_record(
    *,
    patient: Patient,
    program: Program,
    therapist: StaffMember,
    held_on: date,
    answers: dict,
    decision: str,
    decision_reason: str = "",
    activity_pattern: str = "",
) -> Intake:
    """Keep the structured intake (encrypted JSON) and its decision. Pain intakes need at least
    one personal treatment goal; a decision other than *indicated* needs a reason. The summary
    shown as decision support is stored with the answers, as it was when the decision was made."""
    kind = intake_criteria.intake_kind(program.slug)
    goals = [g.strip() for g in answers.get("goals", []) if g and g.strip()]
    errors = {}
    if kind == intake_criteria.PAIN and not goals:
        errors["goal_1"] = _("Write at least one personal treatment goal: the pain program is built on them.")
    if decision != Intake.Decision.INDICATED and not decision_reason.strip():
        errors["decision_reason"] = _("Give the reason for this decision.")
    if held_on > timezone.localdate():
        errors["held_on"] = _("The intake cannot be in the future.")
    if errors:
        raise ValidationError(errors)
    stored = {**answers, "kind": kind, "goals": goals}
    stored["summary"] = intake_criteria.intake_summary(kind, stored).as_dict()
    intake = Intake(
        patient=patient,
        clinic_id=patient.clinic_id,
        program=program,
        therapist=therapist,
        held_on=held_on,
        answers=json.dumps(stored, ensure_ascii=False),
        activity_pattern=activity_pattern or "",
        decision=decision,
        decision_reason=decision_reason.strip(),
    )
    intake.full_clean()
    intake.save()
    record_change(
        staff=therapist,
        action=Action.CREATE,
        object_type="intake",
        object_id=intake.pk,
        patient=patient,
        kind=TimelineEvent.Kind.INTAKE,
        detail={
            "intake": intake.pk,
            "program": program.slug,
            "decision": decision,
            "held_on": held_on.isoformat(),
        },
    )
    return intake


def intake_answers(intake: Intake) -> dict:
    """The intake's structured answers (decrypted)."""
    return json.loads(intake.answers) if intake.answers else {}


# --- Enrollment -------------------------------------------------------------------------------


def goals_step(version: ProgramVersion) -> tuple[Step, dict] | None:
    """The program's goals assignment: the first assignment step (in program order) with a
    ``goal_list`` field, and that field's definition."""
    steps = Step.objects.filter(version=version, kind=Step.Kind.ASSIGNMENT).order_by(
        "module__number", "position"
    )
    for step in steps:
        field = next((f for f in step.fields if f.get("type") == "goal_list"), None)
        if field is not None:
            return step, field
    return None


def _goals_from_intake(enrollment: Enrollment, intake: Intake, *, now: datetime) -> AssignmentAnswer | None:
    """Put the goals set at the intake into the patient's goals assignment, as a draft they can
    change and hand in (marked ``from_intake``)."""
    goals = [g.strip() for g in intake_answers(intake).get("goals", []) if g and g.strip()]
    found = goals_step(enrollment.version)
    if not goals or found is None:
        return None
    step, field = found
    answer = AssignmentAnswer(
        enrollment=enrollment,
        clinic_id=enrollment.clinic_id,
        step=step,
        content=_dump({field["name"]: goals[: field.get("max_items", 5)]}),
        status=AssignmentAnswer.Status.DRAFT,
        draft_saved_at=now,
        from_intake=True,
    )
    answer.full_clean()
    answer.save()
    return answer


def _has_password(user: User) -> bool:
    return user.is_active and user.has_usable_password()


@transaction.atomic
def enrollment_create(
    *,
    patient: Patient,
    version: ProgramVersion,
    therapist: StaffMember,
    enrolled_by: StaffMember,
    start_date: date,
    feedback_cadence: str = Enrollment.Cadence.WEEKLY,
    feedback_weekday: int = 0,
    unlock_mode: str = Enrollment.Unlock.SEQUENTIAL,
    inactivity_days: int = 7,
    module_interval_days: int = 7,
    intake: Intake | None = None,
    team: Team | None = None,
) -> Enrollment:
    """Enroll the patient on ``version`` (kept for this patient: content edits make new versions).

    The treatment belongs to ``team`` (one of the clinic's teams), by default to the therapist's
    team when they are in exactly one: the dashboard counts each treatment under one team.

    The status is *invited* until the patient has set a password (then *active*). A patient who
    has not accepted an invitation yet gets one, unless a working one is on its way already (one
    invitation per person at a time; the e-mail goes out after commit and carries no health
    data). One open enrollment per patient: refused otherwise (the database constraint backs
    this up against two clicks at once)."""
    Patient.objects.select_for_update().filter(pk=patient.pk).values_list("pk").first()
    if Enrollment.objects.filter(patient=patient, status__in=Enrollment.OPEN_STATUSES).exists():
        raise ValidationError(_("This patient is already enrolled. End that enrollment first."))
    if therapist.clinic_id != patient.clinic_id or not therapist.is_therapist:
        raise ValidationError({"therapist": _("Choose a therapist of this clinic.")})
    if intake is not None and intake.patient_id != patient.pk:
        raise ValidationError(_("This intake belongs to another patient."))
    if team is not None and team.clinic_id != patient.clinic_id:
        raise ValidationError({"team": _("Choose a team of this clinic.")})
    if team is None:
        teams = list(therapist.teams.all()[:2])
        team = teams[0] if len(teams) == 1 else None
    now = timezone.now()
    active = _has_password(patient.user)
    enrollment = Enrollment(
        patient=patient,
        clinic_id=patient.clinic_id,
        version=version,
        therapist=therapist,
        team=team,
        intake=intake,
        # The pattern the therapist recorded at the intake, until they confirm another one.
        activity_route=intake.activity_pattern if intake and intake.program_id == version.program_id else "",
        status=Enrollment.Status.ACTIVE if active else Enrollment.Status.INVITED,
        feedback_cadence=feedback_cadence,
        feedback_weekday=feedback_weekday,
        start_date=start_date,
        unlock_mode=unlock_mode,
        inactivity_days=inactivity_days,
        module_interval_days=module_interval_days,
        created_at=now,
        started_at=now if active else None,
    )
    enrollment.full_clean()
    enrollment.save()
    if intake is not None:
        _goals_from_intake(enrollment, intake, now=now)
    invited = False
    if not active:
        invited = invitation_ensure(
            user=patient.user, kind=Invitation.Kind.PATIENT, created_by=enrolled_by.user
        )
    if patient.therapist_id != therapist.pk:
        previous = patient.therapist_id
        patient.therapist = therapist
        patient.save(update_fields=["therapist"])
        work_items.owner_follow(patient=patient)
        timeline_record(
            patient_id=patient.pk,
            clinic_id=patient.clinic_id,
            kind=TimelineEvent.Kind.THERAPIST,
            actor_id=enrolled_by.user_id,
            at=now,
            detail={"from": previous, "to": therapist.pk},
        )
    record_change(
        staff=enrolled_by,
        action=Action.CREATE,
        object_type="enrollment",
        object_id=enrollment.pk,
        patient=patient,
        enrollment=enrollment,
        kind=TimelineEvent.Kind.ENROLLED,
        detail={
            "program": version.program.slug,
            "version": version.number,
            "language": version.language,
            "status": enrollment.status,
            "cadence": feedback_cadence,
            "weekday": feedback_weekday,
            "unlock": unlock_mode,
            "start": start_date.isoformat(),
            "invited": invited,
            "pattern": enrollment.activity_route,
        },
        at=now,
    )
    work_items.refresh(enrollment=enrollment)
    return enrollment


# Allowed status changes: action -> (statuses it may start from, status it leads to).
ENROLLMENT_TRANSITIONS = {
    "activate": ((Enrollment.Status.INVITED,), Enrollment.Status.ACTIVE),
    "pause": ((Enrollment.Status.ACTIVE,), Enrollment.Status.PAUSED),
    "resume": ((Enrollment.Status.PAUSED,), Enrollment.Status.ACTIVE),
    "complete": ((Enrollment.Status.ACTIVE, Enrollment.Status.PAUSED), Enrollment.Status.COMPLETED),
    "stop": (
        (Enrollment.Status.INVITED, Enrollment.Status.ACTIVE, Enrollment.Status.PAUSED),
        Enrollment.Status.STOPPED,
    ),
    "step_up": ((Enrollment.Status.ACTIVE, Enrollment.Status.PAUSED), Enrollment.Status.STEPPED_UP),
}
REASON_REQUIRED = ("stop", "step_up")


def _enrollment_transition(
    *,
    enrollment: Enrollment,
    action: str,
    actor_user_id: int | None,
    reason: str = "",
    detail: dict | None = None,
) -> Enrollment:
    """Lock the row, check the change is allowed from the status it has *now*, and apply it."""
    sources, target = ENROLLMENT_TRANSITIONS[action]
    if action in REASON_REQUIRED and not reason.strip():
        raise ValidationError({"reason": _("Give the reason.")})
    locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    if locked.status not in sources:
        raise ValidationError(
            _("This is not possible while the enrollment is %(status)s.")
            % {"status": locked.get_status_display()}
        )
    now = timezone.now()
    previous = locked.status
    locked.status = target
    fields = ["status"]
    if reason.strip():
        locked.status_reason = reason.strip()
        fields.append("status_reason")
    if target == Enrollment.Status.ACTIVE and locked.started_at is None:
        locked.started_at = now
        fields.append("started_at")
    if target in TERMINAL_STATUSES:
        locked.ended_at = now
        fields.append("ended_at")
    locked.full_clean()
    locked.save(update_fields=fields)
    timeline_record(
        patient_id=locked.patient_id,
        enrollment=locked,
        kind=TimelineEvent.Kind.STATUS,
        actor_id=actor_user_id,
        at=now,
        detail={"from": previous, "to": target, **(detail or {})},
    )
    for name in fields:
        setattr(enrollment, name, getattr(locked, name))
    work_items.refresh(enrollment=enrollment)
    return enrollment


@transaction.atomic
def enrollment_activate(*, enrollment: Enrollment) -> Enrollment:
    """The patient signed in and opened the program: *invited* becomes *active* (once; calling
    it again, or on any other status, changes nothing). For the patient's side to call."""
    if enrollment.status != Enrollment.Status.INVITED:
        return enrollment
    locked = Enrollment.objects.select_for_update().only("status").get(pk=enrollment.pk)
    if locked.status != Enrollment.Status.INVITED:
        enrollment.status = locked.status
        return enrollment
    return _enrollment_transition(
        enrollment=enrollment, action="activate", actor_user_id=enrollment.patient.user_id
    )


@transaction.atomic
def enrollment_status_change(
    *, enrollment: Enrollment, staff: StaffMember, action: str, reason: str = ""
) -> Enrollment:
    """Pause, resume, complete, stop (reason required) or step up (reason required), by the
    patient's therapist. Audited and shown in the timeline."""
    if action not in ENROLLMENT_TRANSITIONS or action == "activate":
        raise ValidationError(_("Unknown change."))
    _enrollment_transition(enrollment=enrollment, action=action, actor_user_id=staff.user_id, reason=reason)
    record_change(
        staff=staff,
        action=Action.CHANGE,
        object_type="enrollment",
        object_id=enrollment.pk,
        patient=enrollment.patient,
    )
    return enrollment


def enrollment_complete(*, enrollment: Enrollment, staff: StaffMember, reason: str = "") -> Enrollment:
    return enrollment_status_change(enrollment=enrollment, staff=staff, action="complete", reason=reason)


# --- Tailoring --------------------------------------------------------------------------------


def _require_open_for_staff(enrollment: Enrollment) -> None:
    if not enrollment.is_open:
        raise ValidationError(_("This enrollment has ended; it can no longer be changed."))


@transaction.atomic
def enrollment_cadence_change(
    *,
    enrollment: Enrollment,
    staff: StaffMember,
    feedback_cadence: str,
    feedback_weekday: int,
    inactivity_days: int | None = None,
) -> Enrollment:
    """Change the feedback rhythm (weekly or every two weeks, on a weekday) and the number of
    quiet days after which the patient counts as inactive."""
    _require_open_for_staff(enrollment)
    locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    before = {
        "cadence": locked.feedback_cadence,
        "weekday": locked.feedback_weekday,
        "inactivity_days": locked.inactivity_days,
    }
    locked.feedback_cadence = feedback_cadence
    locked.feedback_weekday = feedback_weekday
    if inactivity_days is not None:
        locked.inactivity_days = inactivity_days
    after = {
        "cadence": locked.feedback_cadence,
        "weekday": locked.feedback_weekday,
        "inactivity_days": locked.inactivity_days,
    }
    locked.full_clean()
    if before == after:
        return enrollment
    locked.save(update_fields=["feedback_cadence", "feedback_weekday", "inactivity_days"])
    for name in ("feedback_cadence", "feedback_weekday", "inactivity_days"):
        setattr(enrollment, name, getattr(locked, name))
    work_items.refresh(enrollment=enrollment, kinds=("feedback", "quiet"))
    record_change(
        staff=staff,
        action=Action.CHANGE,
        object_type="enrollment",
        object_id=enrollment.pk,
        enrollment=enrollment,
        kind=TimelineEvent.Kind.CADENCE,
        detail={"before": before, "after": after},
    )
    return enrollment


@transaction.atomic
def enrollment_route_confirm(*, enrollment: Enrollment, staff: StaffMember, route: str) -> Enrollment:
    """The therapist confirms the patient's activity pattern (or takes it back with ``""``): the
    steps for another pattern are hidden from then on. ``route`` must be a pattern some step of
    the patient's version is written for."""
    _require_open_for_staff(enrollment)
    if route and not Step.objects.filter(version_id=enrollment.version_id, definition__route=route).exists():
        raise ValidationError(_("This activity pattern is not part of the patient's program."))
    locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    before = locked.activity_route
    if before == route:
        return enrollment
    locked.activity_route = enrollment.activity_route = route
    locked.save(update_fields=["activity_route"])
    record_change(
        staff=staff,
        action=Action.CHANGE,
        object_type="enrollment",
        object_id=enrollment.pk,
        enrollment=enrollment,
        kind=TimelineEvent.Kind.ROUTE,
        detail={"before": before, "after": route},
    )
    return enrollment


@transaction.atomic
def step_override_set(
    *, enrollment: Enrollment, staff: StaffMember, step_key: str, included: bool
) -> StepOverride:
    """Skip a step for this patient (``included=False``) or add one (an optional step the clinic
    switched off, or a step skipped earlier). ``step_key`` is ``module_slug/step_slug`` and must
    be a step of the patient's version."""
    _require_open_for_staff(enrollment)
    module_slug, _sep, step_slug = step_key.partition("/")
    steps = Step.objects.filter(version_id=enrollment.version_id, module__slug=module_slug, slug=step_slug)
    if not steps.exists():
        raise ValidationError(_("This step is not part of the patient's program."))
    _enrollment_lock(enrollment)
    override, _created = StepOverride.objects.update_or_create(
        enrollment=enrollment,
        step_key=step_key,
        defaults={"included": included, "changed_by": staff.user, "changed_at": timezone.now()},
    )
    record_change(
        staff=staff,
        action=Action.CHANGE,
        object_type="step_override",
        object_id=override.pk,
        enrollment=enrollment,
        kind=TimelineEvent.Kind.STEP_ADDED if included else TimelineEvent.Kind.STEP_SKIPPED,
        detail={"step": step_key},
    )
    return override


MODULE_DEFAULT = "default"


@transaction.atomic
def module_state_set(
    *, enrollment: Enrollment, staff: StaffMember, module_number: int, state: str
) -> ModuleState | None:
    """Open a module early (``opened``), hold it back (``held``), or give it back to the
    enrollment's unlock mode (``default``; the row is removed)."""
    _require_open_for_staff(enrollment)
    if state not in (ModuleState.State.OPENED, ModuleState.State.HELD, MODULE_DEFAULT):
        raise ValidationError(_("Choose open, hold or normal schedule."))
    if not enrollment.version.modules.filter(number=module_number).exists():
        raise ValidationError(_("This module is not part of the patient's program."))
    _enrollment_lock(enrollment)
    result = None
    if state == MODULE_DEFAULT:
        rows = ModuleState.objects.filter(enrollment=enrollment, module_number=module_number)
        deleted, _per_model = rows.delete()
        if not deleted:
            return None
        kind = TimelineEvent.Kind.MODULE_DEFAULT
    else:
        result, _created = ModuleState.objects.update_or_create(
            enrollment=enrollment,
            module_number=module_number,
            defaults={"state": state, "changed_by": staff.user, "changed_at": timezone.now()},
        )
        kind = (
            TimelineEvent.Kind.MODULE_OPENED
            if state == ModuleState.State.OPENED
            else TimelineEvent.Kind.MODULE_HELD
        )
    record_change(
        staff=staff,
        action=Action.CHANGE,
        object_type="module_state",
        object_id=f"{enrollment.pk}:{module_number}",
        enrollment=enrollment,
        kind=kind,
        detail={"module": module_number},
    )
    return result


# --- Sessions (blended care) -----------------------------------------------------------------


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
    )
    return session


# --- End of program ---------------------------------------------------------------------------


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
    response.full_clean()
    response.save()
    record_change(
        staff=staff,
        action=Action.CREATE,
        object_type="questionnaire_response",
        object_id=response.pk,
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
    record.full_clean()
    record.save()
    record_change(
        staff=staff,
        action=Action.CREATE,
        object_type="stepped_care_decision",
        object_id=record.pk,
        enrollment=enrollment,
        kind=TimelineEvent.Kind.STEPPED_CARE,
        detail={
            "decision": decision,
            "advice": advice.code,
            "cis_total": advice.cis_total,
            "pf_total": advice.pf_total,
        },
    )
    return record


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
    record_change(
        staff=staff,
        action=Action.CREATE,
        object_type="early_warning_decision",
        object_id=record.pk,
        patient=enrollment.patient,
    )
    return record


# --- Covering ---------------------------------------------------------------------------------

SHARE_MAX_DAYS = 183


@transaction.atomic
def share_create(
    *,
    patient: Patient,
    shared_by: StaffMember,
    colleague: StaffMember,
    until: date,
) -> CareShare:
    """The treating therapist lets a colleague of their team cover for them until ``until``
    (inclusive). The colleague may then read and write as the therapist would; their accesses
    and messages are recorded on behalf of the therapist. Sharing again with the same colleague
    moves the end date of the active share instead of adding a second one. Audited, and a
    line in the patient's timeline."""
    if not staff_may_treat(shared_by, patient):
        raise PermissionDenied
    today = timezone.localdate()
    if colleague.pk == shared_by.pk or colleague.clinic_id != patient.clinic_id or not colleague.is_therapist:
        raise ValidationError(
            {"colleague": ValidationError(_("Choose a therapist of your own team."), code="colleague")}
        )
    if not Team.objects.filter(members=colleague).filter(members=shared_by).exists():
        raise ValidationError(
            {"colleague": ValidationError(_("Choose a therapist of your own team."), code="colleague")}
        )
    if until < today:
        raise ValidationError({"until": ValidationError(_("Choose today or a later date."), code="past")})
    if until > today + timedelta(days=SHARE_MAX_DAYS):
        raise ValidationError(
            {
                "until": ValidationError(
                    _("Share for at most %(days)s days at a time."),
                    code="too_long",
                    params={"days": SHARE_MAX_DAYS},
                )
            }
        )
    share = (
        CareShare.objects.select_for_update()
        .active(on=today)
        .filter(patient=patient, colleague=colleague)
        .first()
    )
    if share is None:
        share = CareShare(patient=patient, colleague=colleague, shared_by=shared_by, until=until)
        share.full_clean()
        share.save()
    else:
        share.until = until
        share.full_clean()
        share.save(update_fields=["until"])
    _share_recorded(
        share, patient=patient, staff=shared_by, action=Action.CREATE, detail={"until": until.isoformat()}
    )
    return share


@transaction.atomic
def share_end(*, share: CareShare, ended_by: StaffMember) -> CareShare:
    """End a share now (the therapist is back, or the colleague hands the patient back). From
    this moment the colleague gets 403 like any colleague. Safe to repeat."""
    patient = share.patient
    if not (staff_may_treat(ended_by, patient) or ended_by.pk in (share.colleague_id, share.shared_by_id)):
        raise PermissionDenied
    if ended_by.clinic_id != patient.clinic_id:
        raise PermissionDenied
    if share.ended_at is None:
        share.ended_at = timezone.now()
        share.save(update_fields=["ended_at"])
        _share_recorded(share, patient=patient, staff=ended_by, action=Action.CHANGE, detail={"ended": True})
    return share


def _share_recorded(
    share: CareShare, *, patient: Patient, staff: StaffMember, action: str, detail: dict
) -> None:
    record_change(
        staff=staff,
        action=action,
        object_type="care_share",
        object_id=share.pk,
        patient=patient,
        enrollment=selectors.open_enrollment(patient=patient),
        kind=TimelineEvent.Kind.SHARED,
        detail={"share": share.pk, "colleague": share.colleague_id, **detail},
    )
