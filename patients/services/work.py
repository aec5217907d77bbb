"""The patient's own work: step visits, assignments, diaries, questionnaires and their drafts,
the check-in, and the reviewed mark a therapist puts on them.

Every write a patient makes locks the enrollment row first, so two tabs or a late autosave cannot
interleave with a submit; each refuses work on an enrollment that has ended."""

import json
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from icbt import shaped_sql
from icbt.notifications import Kind as NotificationKind
from icbt.notifications import notify
from patients import figures, measurement, stepped_care, work_items
from patients.models import (
    AssignmentAnswer,
    DiaryEntry,
    Enrollment,
    QuestionnaireDraft,
    QuestionnaireResponse,
    StepProgress,
    TimelineEvent,
)
from patients.services.enrollment import enrollment_activate
from patients.services.recording import _dump, _enrollment_lock
from programs import field_types, questionnaires
from programs.models import DiaryType, Step

DIARY_ENTRY_DAYS_BACK = 6  # today and the six days before: a missed day can still be filled in
_STAND_IN = shaped_sql.StandIn  # of the SQL built once per process


def _require_open(enrollment: Enrollment) -> None:
    if not enrollment.is_open:
        raise ValidationError(
            _("Your program has ended. You can still read everything, but no longer change it.")
        )


def _require_step(enrollment: Enrollment, step: Step, kind: str) -> None:
    if step.version_id != enrollment.version_id or step.kind != kind:
        raise ValidationError(_("This step is not part of your program."))


def _enrollment_touch(
    enrollment: Enrollment,
    *,
    now: datetime,
    step: Step | None = None,
    work: tuple[str, ...] = (),
    diary_week: date | None = None,
    rhythm=None,
) -> None:
    """Record activity (and where the patient is). An invited enrollment becomes active on the
    patient's first step (``enrollment_activate``: the lifecycle and its timeline). The quiet
    spell starts again, and the work items of the kinds in ``work`` are brought in line (of the
    diary, only the ISO week of ``diary_week`` when given: ``work_items.refresh``). ``rhythm`` is
    the enrollment's row read under its lock (``work_items.rhythm_locked``), if the caller has it."""
    if enrollment.status == Enrollment.Status.INVITED:
        enrollment_activate(enrollment=enrollment)
        rhythm = None  # its status and start changed: read again
    changes = {"last_activity_at": now}
    enrollment.last_activity_at = now
    if step is not None and enrollment.current_step_id != step.pk:
        enrollment.current_step = step
        changes["current_step_id"] = step.pk
    if enrollment.reminders_in_a_row:
        enrollment.reminders_in_a_row = 0
        changes["reminders_in_a_row"] = 0
    # Plain columns: the UPDATE ``save(update_fields=...)`` sends, without building it (every
    # step, answer and entry runs it).
    if shaped_sql.update_row(connection, Enrollment, enrollment.pk, changes) != 1:
        raise DatabaseError("Save with update_fields did not affect any rows.")  # as Model.save
    was = None
    if rhythm is not None:
        # As read under the lock: the quiet spell's row as the last event left it, written
        # without being read again (``work_items.refresh``).
        was = SimpleNamespace(**vars(rhythm))
        rhythm.last_activity_at = now
    work_items.refresh(
        enrollment=enrollment,
        kinds=("quiet", *work),
        diary_week=diary_week,
        rhythm=rhythm,
        rhythm_was=was,
    )


def _step_done(enrollment: Enrollment, step: Step, *, now: datetime) -> StepProgress:
    """Mark ``step`` done (once). When that completes its module, the timeline says so (once)."""
    row, created = StepProgress.objects.get_or_create(
        enrollment=enrollment, step=step, defaults={"first_seen_at": now, "completed_at": now}
    )
    if created:
        figures.step_opened(enrollment, step)
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
        row, created = StepProgress.objects.get_or_create(
            enrollment=enrollment, step=step, defaults={"first_seen_at": now}
        )
        if created:
            figures.step_opened(enrollment, step)
    _enrollment_touch(enrollment, now=now, step=step)
    return row


def _answer_locked(enrollment: Enrollment, step: Step) -> AssignmentAnswer:
    answer = AssignmentAnswer.objects.select_for_update().filter(enrollment=enrollment, step=step).first()
    if answer is None:
        answer = AssignmentAnswer(enrollment=enrollment, clinic_id=enrollment.clinic_id, step=step)
    return answer


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
    handed_in = answer.status == AssignmentAnswer.Status.SUBMITTED
    if handed_in:
        if based_on is not None and answer.submitted_at is not None and answer.submitted_at > based_on:
            return answer, False
        if content == answer.submitted_content:
            return answer, False
    answer.content = content
    answer.status = AssignmentAnswer.Status.DRAFT
    answer.draft_saved_at = now
    answer.full_clean()
    answer.save()
    # A handed-in answer that becomes a draft again no longer waits for the therapist's review.
    _enrollment_touch(enrollment, now=now, work=("answer",) if handed_in else ())
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


# The columns a correction of a diary entry changes (``diary_entry_save``).
DIARY_ENTRY_CORRECTED = ("values", "text", "updated_at", "reviewed_at", "reviewed_by")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def diary_entry_version(entry: DiaryEntry | None) -> str:
    """An opaque token of the entry as it is stored now: its last save, in microseconds (the
    same whichever time zone the moment was read in). "" for no entry. A form carries it, so
    that a save can tell whether the entry changed since the form was opened."""
    if entry is None or entry.updated_at is None:
        return ""
    return str((entry.updated_at - _EPOCH) // timedelta(microseconds=1))


class DiaryEntryChanged(ValidationError):
    """A correction refused because the entry was saved elsewhere (another tab or device) after
    the form was opened. ``entry`` is the entry as it is stored now (read under its lock)."""

    def __init__(self, entry: DiaryEntry):
        super().__init__(
            _(
                "This entry was changed somewhere else (perhaps in another window) after you "
                "opened it. Below is what is saved now; what you typed is still in the form. "
                "Save your version to replace it, or keep the saved one."
            ),
            code="changed_elsewhere",
        )
        self.entry = entry


def diary_entry_editable(entry: DiaryEntry, *, today: date | None = None) -> bool:
    """An entry can be corrected on the day it was written, not later."""
    return timezone.localdate(entry.created_at) == (today or timezone.localdate())


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
    version: str | None = None,
    locked: bool = False,
) -> DiaryEntry:
    """Write (or correct) the entry of ``diary_type`` for ``entry_date``.

    ``entry_uid`` names the entry the patient chose to correct (it keeps its date). Without it,
    a one-per-day diary corrects that day's entry, and a per-moment diary always adds a new
    entry: nothing written earlier is replaced. ``shown`` is the entry the form showed (its uid,
    or "new"): when that day has a different entry (a second tab, a date changed to a day already
    filled in), the save is refused rather than replacing it. ``version`` is the entry's
    ``diary_entry_version`` when the form was opened: a correction of an entry saved again since
    (another tab) is refused with ``DiaryEntryChanged``, unless what is stored is exactly what is
    sent (a double click, a resent form): nothing would be lost. Without ``version`` (a form
    from before it was carried) the entry is corrected as before. The check compares the row
    already read under its lock: no statement of its own.

    Numbers, choices and times go to ``values``, free text to ``text``; both are encrypted
    JSON. A day may be filled in up to six days later; an entry may be corrected only on the
    day it was written. A corrected entry waits for the therapist's review again. With
    ``step``, the diary step is done. ``locked``: the caller read ``enrollment`` under its lock
    in this transaction (``access.own_enrollment(..., locked=True)``, which says so in its
    ``icbt_locked``), so it is not locked and read again.

    Atomic, without a savepoint of its own (two statements less on every entry): every refusal
    (``ValidationError``) is made before the first write and leaves a caller's transaction as it
    was (the page shows the form again, with what was typed); a database error fails the
    caller's transaction with it. Only the entry that starts an invited treatment, whose checks
    come after the first writes, has a savepoint."""
    refused = None
    with transaction.atomic(savepoint=False):
        try:
            entry, rhythm, now, waiting = _diary_entry_checked(
                enrollment=enrollment,
                diary_type=diary_type,
                entry_date=entry_date,
                answers=answers,
                step=step,
                today=today,
                entry_uid=entry_uid,
                shown=shown,
                version=version,
                locked=locked,
            )
        except ValidationError as exc:
            refused = exc  # nothing written: raised outside, the transaction stays usable
        else:
            if enrollment.status != Enrollment.Status.INVITED:
                _diary_entry_write(
                    enrollment, diary_type, entry, step=step, rhythm=rhythm, now=now, waiting=waiting
                )
                return entry
            # The first entry also starts the treatment, whose own checks come after the entry's
            # writes: a refusal there undoes them (a savepoint, once per treatment) and the form
            # comes back with what was typed, the caller's transaction still usable.
            try:
                with transaction.atomic():
                    _diary_entry_write(
                        enrollment, diary_type, entry, step=step, rhythm=rhythm, now=now, waiting=waiting
                    )
            except ValidationError as exc:
                refused = exc
            else:
                return entry
    raise refused


def _diary_entry_checked(
    *, enrollment, diary_type, entry_date, answers, step, today, entry_uid, shown, version, locked
) -> tuple[DiaryEntry, object, datetime, bool]:
    """``diary_entry_save``'s reads and checks, under the enrollment's lock: the entry as it
    will be saved (validated), the enrollment's rhythm row, the moment, and whether the entry
    is a correction of one that waits for the therapist's review already. Writes nothing."""
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
    # The lock, and the rhythm's fields as they are now (the quiet spell's item needs no query):
    # taken by the caller's read of the enrollment, or here.
    rhythm = (
        work_items.rhythm_of(enrollment)
        if locked and _locked_in_this_transaction(enrollment)
        else work_items.rhythm_locked(enrollment.pk)
    )
    if rhythm.status not in Enrollment.OPEN_STATUSES:
        # Ended while this request waited for the lock: refused as before, the form keeps the text.
        _require_open(Enrollment(status=rhythm.status))
    if entry_uid:
        entry = _diary_entry_of(enrollment, diary_type, uid=entry_uid)
        if entry is None:
            raise ValidationError(_("This entry is no longer there. Start a new entry instead."))
    elif diary_type.per_moment:
        entry = None
    else:
        entry = _diary_entry_of(enrollment, diary_type, day=entry_date)
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
    if entry is not None and version and version != diary_entry_version(entry):
        if diary_entry_answers(entry) != _dump_round_trip(answers):
            raise DiaryEntryChanged(entry)
    if entry is None:
        entry = DiaryEntry(
            enrollment=enrollment,
            clinic_id=enrollment.clinic_id,
            diary_type=diary_type,
            entry_date=entry_date,
            per_moment=diary_type.per_moment,
            created_at=now,
        )
    # A correction of an entry still waiting for review leaves its week's item as it is: the
    # week's first entry, count and first moment stay.
    waiting = entry.pk is not None and entry.reviewed_at is None
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
    return entry, rhythm, now, waiting


def _diary_entry_write(enrollment, diary_type, entry, *, step, rhythm, now, waiting=False) -> None:
    is_new = entry.pk is None
    if is_new:
        entry.save()
    else:
        _diary_entry_corrected(entry)
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
    _enrollment_touch(
        enrollment,
        now=now,
        step=step,
        work=() if waiting else ("diary",),
        diary_week=entry.entry_date,
        rhythm=rhythm,
    )


def _diary_entry_corrected(entry: DiaryEntry) -> None:
    """A correction writes what it changes (``DIARY_ENTRY_CORRECTED``); the entry's other
    columns stay as they were read. The UPDATE ``save(update_fields=...)`` sends (each field's
    ``pre_save``: the encrypted columns' new tokens, or the same token for an unchanged text),
    without building it: the one-a-day diary's usual second save."""
    fields = [DiaryEntry._meta.get_field(name) for name in DIARY_ENTRY_CORRECTED]
    values = {field.attname: field.pre_save(entry, False) for field in fields}
    if shaped_sql.update_row(connection, DiaryEntry, entry.pk, values) != 1:
        raise DatabaseError("Save with update_fields did not affect any rows.")  # as Model.save


def _diary_entry_of(enrollment: Enrollment, diary_type: DiaryType, *, uid=None, day: date | None = None):
    """The entry ``uid`` of ``diary_type``, or without it the one-per-day entry of ``day``; None
    when there is none. Its SQL is built once per process (``icbt.shaped_sql``).

    The entry's row is locked (``FOR UPDATE`` of the entry alone): the therapist marks entries
    reviewed without the enrollment's lock, and a correction decides from ``reviewed_at`` as read
    here whether its week's work item changes; with the row locked, a review either came before
    (and is read) or waits until the correction is committed."""
    by_uid = uid is not None
    if by_uid and not isinstance(uid, UUID):
        try:
            uid = UUID(str(uid))
        except ValueError:
            return None

    def build():
        entries = DiaryEntry.objects.filter(enrollment_id=_STAND_IN.enrollment, diary_type_id=_STAND_IN.row)
        if by_uid:
            entries = entries.filter(uid=_STAND_IN.uid)
        else:
            entries = entries.filter(entry_date=_STAND_IN.day, per_moment=False)
        # A unique key: no ORDER BY (the model's ordering costs building and says nothing here).
        return shaped_sql.of_model_queryset(entries.select_for_update(of=("self",)).order_by()[:1])

    found = shaped_sql.shaped(("diary_entry_of_locked", by_uid), build)
    values = {_STAND_IN.enrollment: enrollment.pk, _STAND_IN.row: diary_type.pk}
    values[_STAND_IN.uid if by_uid else _STAND_IN.day] = uid if by_uid else day
    rows = found.instances(connection, shaped_sql.bound(connection, found, values))
    return rows[0] if rows else None


def _diary_steps_done(enrollment: Enrollment, diary_type: DiaryType, entry: DiaryEntry) -> None:
    """Every diary step of ``diary_type`` the patient opened before ``entry`` was first written,
    or on a day not after the day the entry is about, is done, whichever page the entry came
    from (the step itself or My diaries)."""
    next_midnight = timezone.make_aware(datetime.combine(entry.entry_date + timedelta(days=1), time.min))
    # Usually none: the step ids alone (SQL built once per process), and the steps read only
    # when there are some.
    opened = shaped_sql.shaped(("diary_steps_opened",), _diary_steps_opened)
    values = {
        _STAND_IN.enrollment: enrollment.pk,
        _STAND_IN.row: diary_type.pk,
        _STAND_IN.now: entry.created_at,
        _STAND_IN.later: next_midnight,
    }
    step_ids = [
        step_id for (step_id,) in opened.rows(connection, shaped_sql.bound(connection, opened, values))
    ]
    if step_ids:
        for step in Step.objects.filter(pk__in=step_ids):  # in the program's order
            _step_done(enrollment, step, now=entry.updated_at)


def _diary_steps_opened() -> shaped_sql.Shaped:
    return shaped_sql.of_queryset(
        StepProgress.objects.filter(
            Q(first_seen_at__lte=_STAND_IN.now) | Q(first_seen_at__lt=_STAND_IN.later),
            enrollment_id=_STAND_IN.enrollment,
            step__diary_type_id=_STAND_IN.row,
            completed_at__isnull=True,
        ).values_list("step_id")
    )


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


def _dump_round_trip(answers: dict) -> dict:
    """``answers`` as they read back once stored (JSON: a tuple becomes a list, and so on)."""
    return json.loads(_dump(answers))


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
    _enrollment_touch(enrollment, now=now, step=step, work=("questionnaire", "early_warning"))
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


def items_mark_reviewed(*, model, enrollment: Enrollment, ids, reviewed_by, at: datetime) -> int:
    """Mark the enrollment's answers, diary entries or questionnaire results (``model``) with
    these ids as reviewed by ``reviewed_by`` at ``at``. Returns how many there were."""
    return model.objects.filter(enrollment=enrollment, pk__in=list(ids)).update(
        reviewed_at=at, reviewed_by=reviewed_by
    )


def _locked_in_this_transaction(enrollment) -> bool:
    """The enrollment was read under its row lock in the transaction that runs now
    (``selectors.open_enrollment_locked`` records which): a lock of an earlier transaction
    was released with it."""
    held = getattr(enrollment, "icbt_locked", None)
    return held is not None and connection.in_atomic_block and connection.atomic_blocks[0] is held
