"""Reads of patient data that cross a permission line. Each takes the viewer."""

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import (
    CharField,
    Count,
    DateField,
    DateTimeField,
    Exists,
    F,
    Min,
    OuterRef,
    QuerySet,
    Subquery,
    TextField,
    Value,
)
from django.db.models.functions import Cast
from django.http import Http404
from django.utils import timezone

from icbt import shaped_sql
from icbt.models import Clinic, StaffMember, Team, User
from icbt.roles import roles_of
from patients.feedback_links import link_item
from patients.models import (
    AssignmentAnswer,
    DiaryEntry,
    EarlyWarningDecision,
    Enrollment,
    Intake,
    IntakeRequest,
    ModuleState,
    Patient,
    QuestionnaireResponse,
    Referral,
    StepOverride,
    SteppedCareDecision,
    StepProgress,
    TimelineEvent,
    WorkItem,
)
from programs import content_cache, questionnaires
from programs import selectors as programs_selectors
from programs.models import DiaryType, LicensedInstrument, Module, Program, ProgramVersion, Step


def patient_list(*, fetched_by) -> QuerySet[Patient]:
    """The patients ``fetched_by`` treats. Managers and admins get none: they see aggregates."""
    staff = roles_of(fetched_by).staff
    if staff is None or not staff.is_therapist:
        return Patient.objects.none()
    return (
        Patient.objects.filter(clinic_id=staff.clinic_id, therapist=staff)
        .select_related("user")
        .annotate(has_urgent=has_urgent_work())
        .order_by("user__last_name", "user__first_name", "pk")
    )


def _urgent_work() -> QuerySet[WorkItem]:
    """Open urgent work items: a questionnaire whose self-harm item was answered above 0 that
    nobody has handled yet (the work-item table keeps them, also after the treatment ended)."""
    return WorkItem.objects.filter(state=WorkItem.State.OPEN, urgent=True).order_by()


def has_urgent_work(patient_ref="pk") -> Exists:
    """For a list of patients (``annotate(has_urgent=...)``): whether the patient has an open
    urgent item. Part of the list's own query (the patient index of the work-item table), so a
    list marks every urgent patient at no query more."""
    return Exists(_urgent_work().filter(patient_id=OuterRef(patient_ref)))


def _urgent_fields() -> dict:
    """Per enrollment row, the patient's open urgent items (what the overview's banner names):
    how many, and the oldest one's reference, moment and questionnaire. Subqueries of the
    enrollment's own statement, on the patient index of the work-item table: no query more."""
    of_patient = _urgent_work().filter(patient_id=OuterRef("patient_id"))
    oldest = of_patient.order_by("since", "pk")
    return {
        "urgent_n": Subquery(of_patient.values("patient_id").annotate(n=Count("pk")).values("n")[:1]),
        "urgent_ref": Subquery(oldest.values("ref")[:1]),
        "urgent_since": Subquery(oldest.values("since")[:1]),
        "urgent_detail": Subquery(oldest.values("detail")[:1]),
    }


# --- The patient's own treatment (the patient's side) -----------------------------------
# Every read below starts from the enrollment returned by ``enrollment_for_patient``, so a patient
# can only ever reach their own rows: an id from another enrollment is simply not found (404).

FEEDBACK_PREFETCH = ("feedback_links__message__conversation__enrollment", "feedback_links__message__author")


def _with_feedback(queryset):
    """Prefetch the feedback written about each item (messaging.FeedbackLink, reached through
    its reverse relation so this app does not import messaging). Five queries, whatever the
    number of items; nothing when messaging is not installed."""
    if hasattr(queryset.model, "feedback_links"):
        return queryset.prefetch_related(*FEEDBACK_PREFETCH)
    return queryset


# What a patient's page shows with the enrollment: the program, the clinic, the therapist.
ENROLLMENT_PAGE_RELATED = ("version__program", "clinic", "therapist__user")


def enrollment_for_patient(*, fetched_by, related=ENROLLMENT_PAGE_RELATED, locked=False) -> Enrollment | None:
    """The signed-in patient's enrollment: the open one, else the one that ended last; None when
    the therapist has not enrolled them yet. 404 for anyone who is not a patient (staff have
    their own pages). One query, with the ``related`` rows (a save that only redirects needs
    fewer than a page); every patient page runs it, so its SQL is built once per process for
    each ``related`` (``icbt.shaped_sql``).

    With ``locked`` (inside the request's transaction, for a save): the open enrollment is read
    under its row lock, as it is once the lock is held (``open_enrollment_locked``), so the save
    need not lock and read it again; its ``icbt_locked`` names the transaction that holds the
    lock (None when not locked). A treatment that has ended
    (also while this request waited for the lock) is read as without it, not locked."""
    patient = roles_of(fetched_by).patient
    if patient is None:
        raise Http404
    related = tuple(related)
    if locked:
        held = open_enrollment_locked(patient, related)
        if held is not None:
            return held
    own = shaped_sql.shaped(
        ("enrollment_for_patient", related),
        # A patient has a few enrollments: sorted here, newest first. An ORDER BY would cost
        # more to build (Django compares it with each of the many columns selected) than the sort.
        lambda: shaped_sql.of_model_queryset(
            Enrollment.objects.filter(patient_id=shaped_sql.StandIn.patient)
            .select_related(*related)
            .order_by()
        ),
    )
    enrollments = sorted(
        own.instances(connection, shaped_sql.bind(connection, own, patient=patient.pk)),
        key=lambda e: (e.created_at, e.pk),
        reverse=True,
    )
    chosen = next((e for e in enrollments if e.is_open), enrollments[0] if enrollments else None)
    if chosen is not None:
        chosen.patient = patient
        chosen.icbt_locked = None
    return chosen


def open_enrollment_locked(patient, related=()) -> Enrollment | None:
    """The patient's open enrollment (one at most: a constraint) with its ``related`` rows,
    locked (``FOR UPDATE`` of the enrollment's row only) and read as it is once the lock is
    held, with the patient's therapist (``icbt_patient_therapist_id``): what
    ``work_items.rhythm_of`` needs. None when there is none, also when it ended while this
    waited for the lock (PostgreSQL checks the row again after the wait). Inside a
    transaction. Its SQL is built once per process for each ``related``."""
    related = tuple(related)
    held = shaped_sql.shaped(
        ("open_enrollment_locked", related),
        lambda: shaped_sql.of_model_queryset(
            Enrollment.objects.select_for_update(of=("self",))
            .filter(patient_id=shaped_sql.StandIn.patient, status__in=Enrollment.OPEN_STATUSES)
            .select_related(*related)
            .annotate(icbt_patient_therapist_id=F("patient__therapist_id"))
            .order_by()
        ),
    )
    rows = held.instances(connection, shaped_sql.bind(connection, held, patient=patient.pk))
    if not rows:
        return None
    [enrollment] = rows
    enrollment.patient = patient
    # The transaction that holds the lock (its outermost block): the service trusts the lock
    # only inside that same transaction.
    enrollment.icbt_locked = connection.atomic_blocks[0]
    return enrollment


def assignment_answer_for(*, enrollment: Enrollment, step) -> AssignmentAnswer | None:
    answer = _with_feedback(AssignmentAnswer.objects.filter(enrollment=enrollment, step=step)).first()
    return answer


def diary_entries_for(
    *, enrollment: Enrollment, diary_type=None, since=None, until=None, with_feedback: bool = True
) -> list[DiaryEntry]:
    """The enrollment's entries, newest first: one query, plus five for the feedback on them."""
    entries = DiaryEntry.objects.filter(enrollment=enrollment).select_related("diary_type")
    if diary_type is not None:
        entries = entries.filter(diary_type=diary_type)
    if since is not None:
        entries = entries.filter(entry_date__gte=since)
    if until is not None:
        entries = entries.filter(entry_date__lte=until)
    entries = entries.order_by("-entry_date", "-pk")
    return list(_with_feedback(entries) if with_feedback else entries)


def diary_entry_get(*, enrollment: Enrollment, uid) -> DiaryEntry:
    entries = DiaryEntry.objects.filter(enrollment=enrollment, uid=uid).select_related("diary_type")
    entry = _with_feedback(entries).first()
    if entry is None:
        raise Http404
    return entry


def diary_type_get(*, enrollment: Enrollment, slug: str):
    """The diary type ``slug`` of the enrollment's program version, else 404. With the version
    read already (``related``), from the program content kept in the process
    (``programs.content_cache``: no query). Otherwise one query; the slug is unique within a
    version: no ORDER BY (the model's ordering would join the version for nothing)."""
    if Enrollment.version.is_cached(enrollment):
        found = content_cache.diary_type(enrollment.version, slug)
        if found is None:
            raise Http404
        return found
    found = list(DiaryType.objects.filter(version_id=enrollment.version_id, slug=slug).order_by()[:1])
    if not found:
        raise Http404
    return found[0]


def _chart_number(value) -> float | None:
    """A diary value as a number for a chart: None when it is missing or not a number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def clock_number(value) -> float | None:
    """A diary time ("23:30") as hours after noon (11.5), so a night reads as one rising line:
    going to bed at 23:00 (11) comes before falling asleep at 00:30 (12.5) and getting up at 07:00
    (19). None when it is not a time."""
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        return None
    try:
        hours, minutes = int(value[:2]), int(value[3:])
    except ValueError:
        return None
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        return None
    return (hours - 12) % 24 + minutes / 60


def _chart_values(*, enrollment: Enrollment, diary_type, fields: list[str], since, until) -> tuple[int, list]:
    """The number of entries written for the days ``since``..``until`` and every chartable value
    as ``(day, index of the field, number)``. A field asked about yesterday (``day: previous``)
    counts on the day before its entry, so the next morning's entry is read too; a time counts as
    hours after noon. The values are encrypted, so they are decrypted here rather than read by the
    database. One query."""
    definitions = {d.get("name"): d for d in diary_type.fields if isinstance(d, dict)}
    shifts = [1 if definitions.get(name, {}).get("day") == "previous" else 0 for name in fields]
    readers = [
        clock_number if definitions.get(name, {}).get("type") == "time" else _chart_number for name in fields
    ]
    entries = DiaryEntry.objects.filter(
        enrollment=enrollment,
        diary_type=diary_type,
        entry_date__gte=since,
        entry_date__lte=until + timedelta(days=max(shifts, default=0)),
    ).order_by("entry_date", "pk")
    count, values = 0, []
    for entry in entries:
        count += entry.entry_date <= until
        stored = entry.values or {}
        for index, name in enumerate(fields):
            day = entry.entry_date - timedelta(days=shifts[index])
            number = readers[index](stored.get(name))
            if number is not None and since <= day <= until:
                values.append((day, index, number))
    return count, values


def _average(numbers: list[float]) -> float | None:
    return sum(numbers) / len(numbers) if numbers else None


def diary_chart_rows(*, enrollment: Enrollment, diary_type, fields: list[str], since, until) -> list[tuple]:
    """``(day, value of each field...)`` per day between ``since`` and ``until`` that has a value
    (a missing value is None; a day of a per-moment diary shows the average of its entries; a
    field about yesterday shows on yesterday). One query; one row per day, in date order."""
    days: dict = {}
    _count, values = _chart_values(
        enrollment=enrollment, diary_type=diary_type, fields=fields, since=since, until=until
    )
    for day, index, number in values:
        days.setdefault(day, [[] for _ in fields])[index].append(number)
    return [(day, *(_average(column) for column in days[day])) for day in sorted(days)]


def diary_chart_summary(*, enrollment: Enrollment, diary_type, fields: list[str], since, until) -> dict:
    """Average, lowest and highest of each field over the period, and the number of entries, in
    one query: ``{"count": n, field: {"avg", "min", "max"}}`` (None without numbers)."""
    count, values = _chart_values(
        enrollment=enrollment, diary_type=diary_type, fields=fields, since=since, until=until
    )
    result = {"count": count}
    for i, name in enumerate(fields):
        numbers = [number for _day, index, number in values if index == i]
        result[name] = {
            "avg": _average(numbers),
            "min": min(numbers) if numbers else None,
            "max": max(numbers) if numbers else None,
        }
    return result


def questionnaire_responses_for(*, enrollment: Enrollment) -> QuerySet[QuestionnaireResponse]:
    responses = QuestionnaireResponse.objects.filter(enrollment=enrollment).order_by("completed_at", "pk")
    return _with_feedback(responses)


def measured_responses_for(*, enrollment: Enrollment) -> list[QuestionnaireResponse]:
    """The enrollment's questionnaire responses in order, without the feedback about them (what
    the early warning and the score chart read). One query."""
    return list(QuestionnaireResponse.objects.filter(enrollment=enrollment).order_by("completed_at", "pk"))


def questionnaire_response_for_step(*, enrollment: Enrollment, step) -> QuestionnaireResponse | None:
    return (
        _with_feedback(QuestionnaireResponse.objects.filter(enrollment=enrollment, step=step))
        .order_by("-completed_at")
        .first()
    )


def _unread_feedback(enrollment: Enrollment):
    """Unread feedback messages of the enrollment's conversation, reached through the reverse
    relations (None when messaging has no conversation for it yet)."""
    if not hasattr(Enrollment, "conversation"):
        return None
    try:
        conversation = enrollment.conversation
    except Enrollment.conversation.RelatedObjectDoesNotExist:
        return None
    return conversation.messages.filter(is_feedback=True, read_at__isnull=True).exclude(
        author_id=enrollment.patient.user_id
    )


def unread_feedback_count(*, enrollment: Enrollment) -> int:
    """Two queries (the conversation, then the count)."""
    messages = _unread_feedback(enrollment)
    return messages.count() if messages is not None else 0


def unread_feedback_first_link(*, enrollment: Enrollment):
    """The item (answer, diary entry or questionnaire response) the oldest unread feedback is
    about, as ``(kind, object)`` in the kinds of ``patients.feedback_links``; ``(None, None)`` for
    feedback about a module or nothing."""
    messages = _unread_feedback(enrollment)
    if messages is None:
        return None, None
    message = (
        messages.order_by("created_at", "pk")
        .prefetch_related("links__answer__step__module", "links__diary_entry", "links__questionnaire")
        .first()
    )
    if message is None:
        return None, None
    for link in message.links.all():
        kind, target = link_item(link)
        if kind != "module" and target.enrollment_id == enrollment.pk:
            return kind, target
    return None, None


def step_for_enrollment(*, enrollment: Enrollment, pk: int):
    """A step of the enrollment's own version with everything a step page shows. One query."""
    step = Step.objects.filter(pk=pk, version=enrollment.version).select_related("module", "diary_type")
    step = step.first()
    if step is None:
        raise Http404
    step.version = enrollment.version
    step.module.version = enrollment.version
    return step


def diary_entry_on(*, enrollment: Enrollment, diary_type, day) -> DiaryEntry | None:
    return DiaryEntry.objects.filter(enrollment=enrollment, diary_type=diary_type, entry_date=day).first()


def diary_entry_today(*, enrollment: Enrollment, diary_type, today) -> DiaryEntry | None:
    return diary_entry_on(enrollment=enrollment, diary_type=diary_type, day=today)


# --- The therapist's side (staff side) ------------------------------------------------
# Queues and lists take the viewer; reads of one patient's treatment take a patient that the view
# already fetched through patients.access.patient_for_staff (which checked and audited).

INTAKE_QUEUE_OPEN = (IntakeRequest.Status.NEW, IntakeRequest.Status.CONTACTED)


def intake_request_list(*, fetched_by, show: str = "open") -> QuerySet[IntakeRequest]:
    """The intake queue of the viewer's clinic, oldest waiting request first (``show="open"``:
    new and contacted) or everything, newest first (``show="all"``). Therapists only; one query."""
    staff = roles_of(fetched_by).staff
    if staff is None or not staff.is_therapist:
        return IntakeRequest.objects.none()
    requests = IntakeRequest.objects.filter(clinic_id=staff.clinic_id).select_related(
        "program", "handled_by__user"
    )
    if show == "open":
        return requests.filter(status__in=INTAKE_QUEUE_OPEN).order_by("created_at", "pk")
    return requests.order_by("-created_at", "-pk")


def program_titles(*, language: str) -> dict[int, str]:
    """``{program id: title}`` from the newest version in ``language`` (else in English, else
    the slug). One query, whatever the number of programs."""
    titles: dict[int, str] = {}
    for version in programs_selectors.latest_versions():
        if version.language == language or (version.language == "en" and version.program_id not in titles):
            titles[version.program_id] = version.title
    return titles


def program_version_for(*, program: Program, language: str) -> ProgramVersion | None:
    """The newest version of ``program`` in ``language``, else in English; None if there is none."""
    versions = ProgramVersion.objects.select_related("program").filter(program=program)
    return (
        versions.filter(language=language).order_by("-number").first()
        or versions.filter(language="en").order_by("-number").first()
    )


def enrollable_programs(*, language: str) -> list[ProgramVersion]:
    """Per program, the version a new enrollment in ``language`` gets (English when the program
    has no version in that language yet). No query while the process's copy of the newest
    versions is current (``programs.content_cache``), else one."""
    chosen: dict[int, ProgramVersion] = {}
    for version in content_cache.latest_versions():
        if version.language == language or (version.language == "en" and version.program_id not in chosen):
            chosen[version.program_id] = version
    return sorted(chosen.values(), key=lambda v: v.title)


def referral_targets(*, clinic_id: int, exclude=None) -> QuerySet[StaffMember]:
    """The ICBT-trained therapists of a clinic (a training date is set), who take referrals."""
    targets = StaffMember.objects.filter(
        clinic_id=clinic_id, is_therapist=True, training_date__isnull=False, user__is_active=True
    )
    if exclude is not None:
        targets = targets.exclude(pk=exclude.pk)
    return targets.select_related("user").order_by("user__last_name", "user__first_name", "pk")


def clinic_therapists(*, clinic_id: int) -> QuerySet[StaffMember]:
    return (
        StaffMember.objects.filter(clinic_id=clinic_id, is_therapist=True, user__is_active=True)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "pk")
    )


def clinic_teams(*, clinic_id: int) -> QuerySet[Team]:
    return Team.objects.filter(clinic_id=clinic_id).order_by("name")


def referral_lists(*, fetched_by) -> dict[str, list[Referral]]:
    """Referrals the viewer received (waiting ones first) and made. Two queries."""
    staff = roles_of(fetched_by).staff
    if staff is None or not staff.is_therapist:
        return {"received": [], "sent": []}
    base = Referral.objects.filter(clinic_id=staff.clinic_id).select_related(
        "patient__user", "referred_by__user", "to_therapist__user", "program"
    )
    received = sorted(
        base.filter(to_therapist=staff),
        key=lambda r: (r.status != Referral.Status.PENDING, -r.created_at.timestamp()),
    )
    sent = list(base.filter(referred_by=staff).order_by("-created_at", "-pk"))
    return {"received": received, "sent": sent}


def pending_referrals_for(*, patient: Patient) -> list[Referral]:
    return list(
        Referral.objects.filter(patient=patient, status=Referral.Status.PENDING).select_related(
            "to_therapist__user", "referred_by__user", "program"
        )
    )


def getting_in_for(*, patient: Patient) -> tuple[list[Intake], list[Referral]]:
    """The patient's intakes (newest first) and waiting referrals (newest first), as the
    overview lists them, in one query (a UNION ALL of the two tables). The rows carry what the
    overview shows and links to: an intake's id, date and decision; a referral's id, date and
    the name of the therapist it was made to. Other fields are not loaded (use ``intakes_for``
    and ``pending_referrals_for`` for whole rows)."""
    text, day, moment = TextField(), DateField(), DateTimeField()

    def null(output_field):
        return Cast(Value(None), output_field)

    def kind(letter):
        return Value(letter, output_field=CharField())

    intakes = (
        Intake.objects.filter(patient=patient)
        .order_by()
        .values_list(
            kind("i"),
            "pk",
            "held_on",
            Cast("decision", text),
            null(moment),
            null(text),
            null(text),
            null(text),
        )
    )
    referrals = Referral.objects.filter(patient=patient, status=Referral.Status.PENDING).order_by()
    referrals = referrals.values_list(
        kind("r"),
        "pk",
        null(day),
        null(text),
        "created_at",
        Cast("to_therapist__user__first_name", text),
        Cast("to_therapist__user__last_name", text),
        Cast("to_therapist__user__email", text),
    )
    found_intakes, found_referrals = [], []
    for letter, pk, held_on, decision, created_at, first, last, email in intakes.union(referrals, all=True):
        if letter == "i":
            found_intakes.append(
                Intake(
                    pk=pk, clinic_id=patient.clinic_id, patient=patient, held_on=held_on, decision=decision
                )
            )
        else:
            user = User(first_name=first or "", last_name=last or "", email=email or "")
            found_referrals.append(
                Referral(
                    pk=pk,
                    clinic_id=patient.clinic_id,
                    patient=patient,
                    created_at=created_at,
                    status=Referral.Status.PENDING,
                    to_therapist=StaffMember(clinic_id=patient.clinic_id, user=user),
                )
            )
    found_intakes.sort(key=lambda i: (i.held_on, i.pk), reverse=True)
    found_referrals.sort(key=lambda r: (r.created_at, r.pk), reverse=True)
    return found_intakes, found_referrals


def intakes_for(*, patient: Patient) -> list[Intake]:
    return list(Intake.objects.filter(patient=patient).select_related("program", "therapist__user"))


def intake_get(*, patient: Patient, pk: int) -> Intake:
    intake = Intake.objects.filter(patient=patient, pk=pk).select_related("program", "therapist__user")
    intake = intake.first()
    if intake is None:
        raise Http404
    return intake


def _current_of(enrollments: list[Enrollment]) -> Enrollment | None:
    """The open enrollment among ``enrollments`` (newest first), else the one made last."""
    return next((e for e in enrollments if e.is_open), enrollments[0] if enrollments else None)


def patient_with_current_enrollment(*, pk) -> tuple[Patient | None, Enrollment | None]:
    """The patient ``pk`` (user, clinic and therapist loaded, as ``patients.access`` reads them)
    and their current enrollment as ``enrollment_current(..., with_early_warning_decision=True)``
    gives it, in one query when the patient has an enrollment (the patient comes with the
    enrollment rows), two when not. For ``patient_for_staff(..., with_enrollment=True)`` only:
    nothing is checked here."""
    enrollments = list(
        Enrollment.objects.filter(patient_id=pk)
        .select_related("patient__user", "patient__clinic", "patient__therapist__user")
        .select_related("version__program", "therapist__user")
        .annotate(**_last_decision_fields(), **_urgent_fields())
        .order_by("-created_at", "-pk")
    )
    chosen = _current_of(enrollments)
    if chosen is None:
        # No enrollment, no questionnaire: nothing urgent.
        patient = Patient.objects.select_related("user", "clinic", "therapist__user").filter(pk=pk).first()
        if patient is not None:
            patient.urgent_open = UrgentOpen()
        return patient, None
    chosen.early_warning_decision = _last_decision_of(chosen)
    chosen.patient.urgent_open = UrgentOpen(
        count=chosen.urgent_n or 0,
        ref=chosen.urgent_ref or "",
        since=chosen.urgent_since,
        detail=chosen.urgent_detail or {},
    )
    return chosen.patient, chosen


@dataclass(frozen=True)
class UrgentOpen:
    """The patient's open urgent items as ``patient_with_current_enrollment`` reads them: how
    many, and the oldest one (its work item's reference, moment and detail)."""

    count: int = 0
    ref: str = ""
    since: datetime | None = None
    detail: dict = field(default_factory=dict)


def enrollment_current(*, patient: Patient, with_early_warning_decision: bool = False) -> Enrollment | None:
    """The patient's open enrollment, else the one made last; None before the first. One query.
    ``with_early_warning_decision``: the last early-warning decision about it comes in the same
    query, as ``enrollment.early_warning_decision`` (what ``early_warning_decision_for`` reads;
    None when nothing was decided)."""
    enrollments = Enrollment.objects.filter(patient=patient).select_related(
        "version__program", "therapist__user"
    )
    if with_early_warning_decision:
        enrollments = enrollments.annotate(**_last_decision_fields())
    chosen = _current_of(list(enrollments.order_by("-created_at", "-pk")))
    if chosen is not None:
        chosen.patient = patient
        if with_early_warning_decision:
            chosen.early_warning_decision = _last_decision_of(chosen)
    return chosen


_DECISION_FIELDS = {
    "pk": "id",
    "kind": "kind",
    "decision": "decision",
    "decided_at": "decided_at",
    "decided_by_id": "decided_by_id",
    "first_name": "decided_by__user__first_name",
    "last_name": "decided_by__user__last_name",
    "email": "decided_by__user__email",
}


def _last_decision_fields() -> dict:
    """Per enrollment, the fields of its last early-warning decision that the page shows (one
    indexed subquery each, for the patient's few enrollments)."""
    last = EarlyWarningDecision.objects.filter(enrollment=OuterRef("pk")).order_by("-decided_at", "-pk")
    return {f"ew_{name}": Subquery(last.values(path)[:1]) for name, path in _DECISION_FIELDS.items()}


def _last_decision_of(enrollment: Enrollment) -> EarlyWarningDecision | None:
    if enrollment.ew_pk is None:
        return None
    user = User(
        first_name=enrollment.ew_first_name, last_name=enrollment.ew_last_name, email=enrollment.ew_email
    )
    return EarlyWarningDecision(
        pk=enrollment.ew_pk,
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        kind=enrollment.ew_kind,
        decision=enrollment.ew_decision,
        decided_at=enrollment.ew_decided_at,
        decided_by=StaffMember(pk=enrollment.ew_decided_by_id, clinic_id=enrollment.clinic_id, user=user),
    )


def open_enrollment(*, patient: Patient) -> Enrollment | None:
    enrollment = (
        Enrollment.objects.filter(patient=patient, status__in=Enrollment.OPEN_STATUSES)
        .select_related("version__program", "therapist__user")
        .first()
    )
    if enrollment is not None:
        enrollment.patient = patient
    return enrollment


def enrollment_get(*, patient: Patient, pk: int) -> Enrollment:
    """An enrollment of this patient (404 for an id of anyone else's)."""
    enrollment = (
        Enrollment.objects.filter(patient=patient, pk=pk)
        .select_related("version__program", "therapist__user")
        .first()
    )
    if enrollment is None:
        raise Http404
    enrollment.patient = patient
    return enrollment


TIMELINE_LIMIT = 100


def timeline_for(*, patient: Patient, limit: int = TIMELINE_LIMIT) -> list[TimelineEvent]:
    """The newest ``limit`` timeline events, each with ``actor`` and, for sessions, the
    ``session`` loaded (its note is decrypted only when shown). One query, whatever the length."""
    return list(
        TimelineEvent.objects.filter(patient=patient)
        .select_related("actor", "session")
        .order_by("-at", "-pk")[:limit]
    )


def staff_names(*, clinic_id: int, ids=None) -> dict[int, str]:
    """``{staff id: full name}`` of a clinic (only of ``ids`` when given: no query when it is
    empty), to name therapists in the timeline. One query."""
    staff = StaffMember.objects.filter(clinic_id=clinic_id)
    if ids is not None:
        ids = {i for i in ids if isinstance(i, int)}
        if not ids:
            return {}
        staff = staff.filter(pk__in=ids)
    return {
        pk: f"{first} {last}".strip() or email
        for pk, first, last, email in staff.values_list(
            "pk", "user__first_name", "user__last_name", "user__email"
        )
    }


def end_questionnaires(*, enrollment: Enrollment) -> list[dict]:
    """Per questionnaire of the version's end (and start) lists: the start and the end score, if
    any, and whether the clinic has loaded the texts of a licensed one. Two queries."""
    responses = list(
        QuestionnaireResponse.objects.filter(enrollment=enrollment).order_by("completed_at", "pk")
    )
    licensed = set(
        LicensedInstrument.objects.filter(clinic_id=enrollment.clinic_id).values_list("code", flat=True)
    )
    version = enrollment.version
    codes = list(dict.fromkeys([*version.questionnaires_end, *version.questionnaires_start]))
    rows = []
    for code in codes:
        instrument = questionnaires.INSTRUMENTS.get(code)
        start = [r for r in responses if r.code == code and r.moment == QuestionnaireResponse.Moment.START]
        end = [r for r in responses if r.code == code and r.moment == QuestionnaireResponse.Moment.END]
        rows.append(
            {
                "code": code,
                "name": instrument.short_name if instrument else code,
                "in_start": code in version.questionnaires_start,
                "in_end": code in version.questionnaires_end,
                "start": start[-1] if start else None,
                "end": end[-1] if end else None,
                "texts_available": instrument is None or instrument.texts_shipped or code in licensed,
            }
        )
    return rows


def module_starts(*, enrollment: Enrollment) -> dict[int, date]:
    """{module number: the day the patient first opened a step of it}. One query."""
    rows = (
        StepProgress.objects.filter(enrollment=enrollment)
        .values("step__module__number")
        .annotate(first=Min("first_seen_at"))
    )
    return {row["step__module__number"]: timezone.localtime(row["first"]).date() for row in rows}


def mid_treatment_responses(*, enrollment: Enrollment, codes) -> list[QuestionnaireResponse]:
    """The responses of ``codes`` measured during the program (not at start or end). One query."""
    return list(
        QuestionnaireResponse.objects.filter(
            enrollment=enrollment, moment=QuestionnaireResponse.Moment.MODULE, code__in=list(codes)
        ).order_by("completed_at", "pk")
    )


def mid_treatment_of(responses, *, codes) -> list[QuestionnaireResponse]:
    """``mid_treatment_responses`` picked from the enrollment's responses already read (in order)."""
    codes = set(codes)
    return [r for r in responses if r.moment == QuestionnaireResponse.Moment.MODULE and r.code in codes]


def tailoring_outline(*, enrollment: Enrollment) -> list[Module]:
    """The version's modules and every step, each step annotated with ``key``, ``shown`` (what
    the patient sees now), ``default_shown`` (without this patient's override) and ``override``
    (True, False or None) and ``route`` (the activity pattern it is for, or ""); each module with
    ``override_state`` (opened, held or None). Five queries, whatever the size of the program."""
    from patients.progress import step_is_shown

    modules = programs_selectors.version_outline(version=enrollment.version)
    overrides = dict(StepOverride.objects.filter(enrollment=enrollment).values_list("step_key", "included"))
    states = dict(ModuleState.objects.filter(enrollment=enrollment).values_list("module_number", "state"))
    setting = programs_selectors.clinic_program_setting(
        clinic_id=enrollment.clinic_id, program=enrollment.version.program
    )
    optional_off = set(setting.optional_steps_off) if setting else set()
    route_labels = dict(Intake.ActivityPattern.choices)
    for module in modules:
        module.override_state = states.get(module.number)
        for step in module.steps.all():
            step.tailor_key = f"{module.slug}/{step.slug}"
            step.override = overrides.get(step.tailor_key)
            step.route = programs_selectors.step_route(step)
            step.route_label = route_labels.get(step.route, "")
            step.default_shown = step_is_shown(
                module_slug=module.slug,
                step=step,
                overrides={},
                optional_off=optional_off,
                route=enrollment.activity_route,
            )
            step.shown = step.default_shown if step.override is None else step.override
    return modules


def stepped_care_decision_for(*, enrollment: Enrollment) -> SteppedCareDecision | None:
    decision = (
        SteppedCareDecision.objects.filter(enrollment=enrollment).select_related("decided_by__user").first()
    )
    return decision


def program_choices(*, language: str) -> list[tuple[Program, str]]:
    """``[(Program, title)]`` of every program with content, titled in ``language`` (else English)."""
    return [(version.program, version.title) for version in enrollable_programs(language=language)]


def program_get(*, slug: str) -> Program:
    program = Program.objects.filter(slug=slug).first()
    if program is None:
        raise Http404
    return program


# Public pages (no viewer: only published program content and clinic names).


def public_program_versions(*, language: str) -> list[ProgramVersion]:
    return enrollable_programs(language=language)


def public_program_version(*, program_slug: str, language: str) -> ProgramVersion:
    """The newest version of a program in ``language`` (else English); 404 if there is none."""
    program = program_get(slug=program_slug)
    version = program_version_for(program=program, language=language)
    if version is None:
        raise Http404
    return version


def public_clinics() -> QuerySet[Clinic]:
    """The clinics a person can ask for an intake at."""
    return Clinic.objects.order_by("name")


def early_warning_decision_for(*, enrollment: Enrollment) -> EarlyWarningDecision | None:
    return (
        EarlyWarningDecision.objects.filter(enrollment=enrollment)
        .select_related("decided_by__user")
        .order_by("-decided_at", "-pk")
        .first()
    )


def early_warnings_for(*, enrollments, today: date) -> list[tuple[int, int, object]]:
    """``(enrollment id, patient id, EarlyWarning)`` for the active ``enrollments`` (ids or a
    queryset) whose program has a weekly check-in, that show a warning today and have no decision
    recorded. One query: each enrollment with its check-ins and start symptom scores joined."""
    from patients import measurement

    by_enrollment = early_warning_histories(enrollments=enrollments)
    warnings = {
        pk: measurement.early_warning(enrollment, responses, today)
        for pk, (enrollment, responses) in by_enrollment.items()
    }
    # Went quiet: feedback days before the last resume after a pause do not count (one more
    # query, only when some enrollment went quiet).
    quiet = [pk for pk, w in warnings.items() if w is not None and w.kind == measurement.WENT_QUIET]
    if quiet:
        for pk, at in measurement.resumed_at_by_enrollment(quiet).items():
            enrollment, responses = by_enrollment[pk]
            enrollment.resumed_at = at
            warnings[pk] = measurement.early_warning(enrollment, responses, today)
    return [
        (pk, by_enrollment[pk][0].patient_id, warning)
        for pk, warning in warnings.items()
        if warning is not None
    ]


def early_warning_histories(*, enrollments) -> dict[int, tuple[object, list]]:
    """``{enrollment id: (enrollment, responses)}`` of the active ``enrollments`` (ids or a
    queryset) whose program has a weekly check-in and that have no decision recorded: what
    ``measurement.early_warning`` reads, as plain objects (``resumed_at`` None: the caller reads
    it when it matters). One query, and one for the check-ins' answers when there are any."""
    from types import SimpleNamespace

    from django.db.models import Exists, FilteredRelation, OuterRef, Q

    codes = list(questionnaires.CHECK_IN_CODES) + list(questionnaires.CHECK_IN_SYMPTOM_SCALE.values())
    rows = (
        Enrollment.objects.filter(pk__in=enrollments, status=Enrollment.Status.ACTIVE)
        .exclude(version__measurement_schedule={})
        .annotate(
            decided=Exists(EarlyWarningDecision.objects.filter(enrollment=OuterRef("pk"))),
            measured=FilteredRelation("questionnaires", condition=Q(questionnaires__code__in=codes)),
        )
        .filter(decided=False)
        .order_by("pk", "measured__completed_at", "measured__pk")
        .values_list(
            "pk",
            "patient_id",
            "clinic_id",
            "patient__therapist_id",
            "start_date",
            "feedback_weekday",
            "version__measurement_schedule",
            "measured__pk",
            "measured__code",
            "measured__moment",
            "measured__due_on",
            "measured__total",
            "measured__completed_at",
        )
    )
    rows = list(rows)
    # The item answers are encrypted (bound to their row): read through the model, in one query,
    # and only those of the weekly check-ins (their PHQ-2 and safety question).
    check_in_codes = set(questionnaires.CHECK_IN_CODES)
    check_in_pks = [row[7] for row in rows if row[7] is not None and row[8] in check_in_codes]
    answers_by_pk = {}
    if check_in_pks:
        answers_by_pk = {
            response.pk: response.answers
            for response in QuestionnaireResponse.objects.filter(pk__in=check_in_pks)
            .select_related("enrollment")
            .only("pk", "uid", "answers", "enrollment__clinic_id")
        }
    by_enrollment: dict[int, tuple[object, list]] = {}
    for pk, patient_id, clinic_id, therapist_id, start, weekday, schedule, *response in rows:
        r_pk, code, moment, due_on, total, at = response
        if pk not in by_enrollment:
            enrollment = SimpleNamespace(
                pk=pk,
                patient_id=patient_id,
                clinic_id=clinic_id,
                therapist_id=therapist_id,
                start_date=start,
                feedback_weekday=weekday,
                resumed_at=None,
                status=Enrollment.Status.ACTIVE,
                version=SimpleNamespace(measurement_schedule=schedule or {}),
            )
            by_enrollment[pk] = (enrollment, [])
        if r_pk is not None:
            by_enrollment[pk][1].append(
                SimpleNamespace(
                    pk=r_pk,
                    code=code,
                    moment=moment,
                    due_on=due_on,
                    total=total,
                    answers=answers_by_pk.get(r_pk, []),
                    completed_at=at,
                )
            )
    return by_enrollment
