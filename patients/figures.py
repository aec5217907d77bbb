"""The manager dashboard's figures, kept as counts (``DailyFigure``, ``WorkTally``) by the services
in the transaction of each event, so that the dashboard reads a few hundred rows per year whatever
the size of the clinic.

What is counted, per clinic and local day (``TIME_ZONE``), with the dimensions the dashboard
filters and groups by (``therapists.dashboard`` reads them):

- ``request``: intake requests, by program (the day they came in);
- ``start``: treatments that started, by program and team (``Enrollment.team``, 0 for none);
- ``completed``, ``stopped``, ``stepped_up``: treatments that ended with that status, by program
  and team (the day they ended);
- ``cohort``: treatments by the day they started, program, team, the highest module with a step
  opened (``module``, 0 for none) and whether they completed (``sub="completed"``): the funnel;
- ``feedback``, ``message``: messages written by clinic staff, by the team of the treatment;
- ``session``: recorded sessions by kind (``sub``): within a treatment by its team; outside one by
  the patient's therapist (``therapist_ref``), whose teams count it;
- ``intake``: face-to-face intakes by the therapist who held them, unless a face-to-face
  session was recorded for that patient on that day (then the session counts, once).

``WorkTally``: the open work items of the patients' kinds per treating therapist and team.

Events move the counts by deltas (``UPDATE ... SET n = n + d``: concurrent events do not lose
each other's change; a key seen for the first time is inserted first). ``reconcile`` counts
everything again from the source tables, clinic by clinic, reports the keys that differ and with
``repair`` sets them right: ``manage.py figures_reconcile``, nightly after the work items
(``patients.tasks.figures_reconcile``), and after data written around the services (the demo
seed, the bench, tests through ``tests.work.settle``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from typing import NamedTuple

from django.db import transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from icbt.models import Clinic
from patients.models import (
    DailyFigure,
    Enrollment,
    Intake,
    IntakeRequest,
    StepProgress,
    TreatmentSession,
    WorkItem,
    WorkTally,
)

REQUEST = "request"
START = "start"
COHORT = "cohort"
FEEDBACK = "feedback"
MESSAGE = "message"
SESSION = "session"
INTAKE = "intake"
COMPLETED = "completed"
ENDINGS = (Enrollment.Status.COMPLETED, Enrollment.Status.STOPPED, Enrollment.Status.STEPPED_UP)
FLOW_KINDS = (REQUEST, START, *(str(s) for s in ENDINGS))
CONTACT_KINDS = (FEEDBACK, MESSAGE, SESSION, INTAKE)
FACE_TO_FACE = TreatmentSession.Kind.FACE_TO_FACE
# The patients' kinds of waiting work (``messaging.pending.PATIENT_WORK_KINDS``, which a test holds
# equal to this): every row of these kinds belongs to a treatment.
WORK_KINDS = ("message", "answer", "diary", "questionnaire")
# The counts whose source tables live on a higher floor (the staff messages: ``messaging``),
# registered by that floor when it loads: ``{name: function(clinic_id) -> iterable of (Key, n)}``.
SOURCES: dict = {}


def register_source(name: str, source) -> None:
    """Make ``source`` the count of ``name`` for ``reconcile`` (registering twice is harmless)."""
    SOURCES[name] = source


class Key(NamedTuple):
    clinic_id: int
    day: date
    kind: str
    sub: str = ""
    program_ref: int = 0
    team_ref: int = 0
    therapist_ref: int = 0
    module: int = 0

    def __str__(self) -> str:
        return f"figure:{':'.join(str(part) for part in self)}"


class TallyKey(NamedTuple):
    clinic_id: int
    therapist_ref: int
    team_ref: int = 0

    def __str__(self) -> str:
        return f"tally:{self.clinic_id}:{self.therapist_ref}:{self.team_ref}"


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date() if timezone.is_aware(moment) else moment.date()


# --- Moving the counts ---------------------------------------------------------------------------


def apply(deltas: dict[Key, int]) -> None:
    """Move the figures by ``deltas``: one UPDATE per key that moves (in a fixed order, so two
    events never wait for each other in a circle)."""
    for key, delta in sorted(deltas.items()):
        if not delta:
            continue
        rows = DailyFigure.objects.filter(**key._asdict())
        if not rows.update(n=F("n") + delta):
            DailyFigure.objects.bulk_create([DailyFigure(**key._asdict())], ignore_conflicts=True)
            rows.update(n=F("n") + delta)


def _tally(deltas: dict[TallyKey, int]) -> None:
    for key, delta in sorted(deltas.items()):
        if not delta:
            continue
        rows = WorkTally.objects.filter(**key._asdict())
        if not rows.update(n=F("n") + delta):
            WorkTally.objects.bulk_create([WorkTally(**key._asdict())], ignore_conflicts=True)
            rows.update(n=F("n") + delta)


def _difference(before: Counter, after: Counter) -> dict[Key, int]:
    return {key: after.get(key, 0) - before.get(key, 0) for key in before.keys() | after.keys()}


# --- Treatments: starts, endings, the funnel -----------------------------------------------------


def reached_module(enrollment_id: int, *, without_step_id: int | None = None) -> int:
    """The highest module number with a step opened in the treatment (0: none)."""
    rows = StepProgress.objects.filter(enrollment_id=enrollment_id)
    if without_step_id is not None:
        rows = rows.exclude(step_id=without_step_id)
    return rows.aggregate(m=Max("step__module__number"))["m"] or 0


def _program_of(enrollment: Enrollment) -> int:
    return enrollment.version.program_id


def enrollment_keys(enrollment: Enrollment, *, reached: int | None = None) -> Counter:
    """What ``enrollment`` counts in, as it is now."""
    keys: Counter = Counter()
    program, team = _program_of(enrollment), enrollment.team_id or 0
    if enrollment.started_at is not None:
        day = local_day(enrollment.started_at)
        keys[Key(enrollment.clinic_id, day, START, "", program, team)] += 1
        if reached is None:
            reached = reached_module(enrollment.pk)
        sub = COMPLETED if enrollment.status == Enrollment.Status.COMPLETED else ""
        keys[Key(enrollment.clinic_id, day, COHORT, sub, program, team, 0, reached)] += 1
    if enrollment.status in ENDINGS and enrollment.ended_at is not None:
        day = local_day(enrollment.ended_at)
        keys[Key(enrollment.clinic_id, day, str(enrollment.status), "", program, team)] += 1
    return keys


def enrollment_changed(before: Counter, enrollment: Enrollment) -> None:
    """After a treatment was created or changed status: ``before`` is ``enrollment_keys`` of it
    before the change (empty for a new one)."""
    apply(_difference(before, enrollment_keys(enrollment)))


def step_opened(enrollment: Enrollment, step) -> None:
    """A step of ``enrollment`` was opened for the first time (its ``StepProgress`` was just
    written, in the transaction that holds the treatment's row lock): the treatment moves up the
    funnel when the step's module is higher than any opened before. One query when it does not."""
    if enrollment.started_at is None:
        return
    reached = StepProgress.objects.filter(enrollment_id=enrollment.pk).aggregate(
        before=Max("step__module__number", filter=~Q(step_id=step.pk)),
        now=Max("step__module__number"),
    )
    before, now = reached["before"] or 0, reached["now"] or 0
    if now <= before:
        return
    program, team = _program_of(enrollment), enrollment.team_id or 0
    sub = COMPLETED if enrollment.status == Enrollment.Status.COMPLETED else ""
    day = local_day(enrollment.started_at)
    apply(
        {
            Key(enrollment.clinic_id, day, COHORT, sub, program, team, 0, before): -1,
            Key(enrollment.clinic_id, day, COHORT, sub, program, team, 0, now): +1,
        }
    )


# --- Requests, messages, sessions and intakes ----------------------------------------------------


def request_added(request: IntakeRequest) -> None:
    apply({Key(request.clinic_id, local_day(request.created_at), REQUEST, "", request.program_id): 1})


def message_added(message, *, enrollment: Enrollment) -> None:
    """A message written by clinic staff in the treatment's message box (the caller knows the
    author is staff)."""
    kind = FEEDBACK if message.is_feedback else MESSAGE
    day = local_day(message.created_at)
    apply({Key(enrollment.clinic_id, day, kind, "", 0, enrollment.team_id or 0): 1})


def _session_key(clinic_id: int, day: date, kind: str, *, team_id, therapist_id, in_treatment: bool) -> Key:
    if in_treatment:
        return Key(clinic_id, day, SESSION, kind, 0, team_id or 0, 0)
    return Key(clinic_id, day, SESSION, kind, 0, 0, therapist_id or 0)


def session_added(session: TreatmentSession) -> None:
    """A recorded session; a first face-to-face one on a day takes the place of that day's
    face-to-face intakes of the patient (a contact counts once)."""
    patient = session.patient
    enrollment = session.enrollment
    deltas: Counter = Counter()
    deltas[
        _session_key(
            patient.clinic_id,
            session.held_on,
            session.kind,
            team_id=enrollment.team_id if enrollment is not None else None,
            therapist_id=patient.therapist_id,
            in_treatment=enrollment is not None,
        )
    ] += 1
    if session.kind == FACE_TO_FACE and not (
        TreatmentSession.objects.filter(patient_id=patient.pk, held_on=session.held_on, kind=FACE_TO_FACE)
        .exclude(pk=session.pk)
        .exists()
    ):
        for therapist_id, n in (
            Intake.objects.filter(patient_id=patient.pk, held_on=session.held_on)
            .values_list("therapist_id")
            .annotate(n=Count("pk"))
            .order_by()
        ):
            deltas[Key(patient.clinic_id, session.held_on, INTAKE, "", 0, 0, therapist_id)] -= n
    apply(deltas)


def intake_added(intake: Intake) -> None:
    face_to_face = TreatmentSession.objects.filter(
        patient_id=intake.patient_id, held_on=intake.held_on, kind=FACE_TO_FACE
    ).exists()
    if not face_to_face:
        apply({Key(intake.patient.clinic_id, intake.held_on, INTAKE, "", 0, 0, intake.therapist_id): 1})


def patient_therapist_changed(patient, *, previous_id: int | None) -> None:
    """The patient's therapist changed: their sessions outside a treatment count for the new
    one's teams."""
    if previous_id == patient.therapist_id:
        return
    deltas: Counter = Counter()
    for held_on, kind, n in (
        TreatmentSession.objects.filter(patient_id=patient.pk, enrollment__isnull=True)
        .values_list("held_on", "kind")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        deltas[Key(patient.clinic_id, held_on, SESSION, kind, 0, 0, previous_id or 0)] -= n
        deltas[Key(patient.clinic_id, held_on, SESSION, kind, 0, 0, patient.therapist_id or 0)] += n
    apply(deltas)


# --- Waiting work per therapist and team ----------------------------------------------------------


def _work_kind(key: str) -> bool:
    return key.split(":", 1)[0] in WORK_KINDS


def work_moved(enrollment_id: int, drift, *, rhythm=None) -> None:
    """After ``work_items.refresh`` of one treatment brought its rows in line (``drift``: the
    keys it opened and closed): its therapist's and team's tally moves with them. ``rhythm``:
    the treatment's row as read under its lock (``work_items.rhythm_locked``), when the caller
    has it; else it is read here."""
    opened = sum(1 for key in drift.opened if _work_kind(key))
    delta = opened - sum(1 for key in drift.closed if _work_kind(key))
    if not delta:
        return
    if rhythm is not None:
        clinic_id, therapist_id, team_id = rhythm.clinic_id, rhythm.therapist_id, rhythm.team_id
    else:
        treatment = Enrollment.objects.values_list("clinic_id", "therapist_id", "team_id")
        clinic_id, therapist_id, team_id = treatment.get(pk=enrollment_id)
    _tally({TallyKey(clinic_id, therapist_id, team_id or 0): delta})


def enrollment_therapist_changed(enrollment: Enrollment, *, previous_id: int) -> None:
    """The treatment went to another therapist: its open work goes with it."""
    if previous_id == enrollment.therapist_id:
        return
    n = WorkItem.objects.filter(
        enrollment_id=enrollment.pk, state=WorkItem.State.OPEN, kind__in=WORK_KINDS
    ).count()
    if n:
        team = enrollment.team_id or 0
        _tally(
            {
                TallyKey(enrollment.clinic_id, previous_id, team): -n,
                TallyKey(enrollment.clinic_id, enrollment.therapist_id, team): n,
            }
        )


# --- Counting again: reconcile --------------------------------------------------------------------


def figures_found(clinic_id: int) -> Counter:
    """Every ``DailyFigure`` of the clinic as the source tables say it should be."""
    tz = timezone.get_current_timezone()
    found: Counter = Counter()
    for program, day, n in (
        IntakeRequest.objects.filter(clinic_id=clinic_id)
        .values_list("program_id", TruncDate("created_at", tzinfo=tz))
        .annotate(n=Count("pk"))
        .order_by()
    ):
        found[Key(clinic_id, day, REQUEST, "", program)] += n
    enrollments = Enrollment.objects.filter(clinic_id=clinic_id)
    for _pk, program, team, status, day, reached in (
        enrollments.filter(started_at__isnull=False)
        .values("pk", "version__program_id", "team_id", "status", day=TruncDate("started_at", tzinfo=tz))
        .annotate(r=Max("progress__step__module__number"))
        .values_list("pk", "version__program_id", "team_id", "status", "day", "r")
        .order_by()
    ):
        sub = COMPLETED if status == Enrollment.Status.COMPLETED else ""
        found[Key(clinic_id, day, START, "", program, team or 0)] += 1
        found[Key(clinic_id, day, COHORT, sub, program, team or 0, 0, reached or 0)] += 1
    for program, team, status, day, n in (
        enrollments.filter(status__in=ENDINGS, ended_at__isnull=False)
        .values_list("version__program_id", "team_id", "status", TruncDate("ended_at", tzinfo=tz))
        .annotate(n=Count("pk"))
        .order_by()
    ):
        found[Key(clinic_id, day, str(status), "", program, team or 0)] += n
    for source in SOURCES.values():
        for key, n in source(clinic_id):
            found[key] += n
    sessions = TreatmentSession.objects.filter(patient__clinic_id=clinic_id)
    for day, kind, enrollment_id, team, therapist, n in (
        sessions.values_list(
            "held_on", "kind", "enrollment_id", "enrollment__team_id", "patient__therapist_id"
        )
        .annotate(n=Count("pk"))
        .order_by()
    ):
        key = _session_key(
            clinic_id, day, kind, team_id=team, therapist_id=therapist, in_treatment=enrollment_id is not None
        )
        found[key] += n
    for day, therapist, n in (
        Intake.objects.filter(patient__clinic_id=clinic_id)
        .exclude(
            Exists(
                TreatmentSession.objects.filter(
                    patient=OuterRef("patient"), held_on=OuterRef("held_on"), kind=FACE_TO_FACE
                )
            )
        )
        .values_list("held_on", "therapist_id")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        found[Key(clinic_id, day, INTAKE, "", 0, 0, therapist)] += n
    return found


def tallies_found(clinic_id: int) -> Counter:
    found: Counter = Counter()
    for therapist, team, n in (
        WorkItem.objects.filter(
            enrollment__clinic_id=clinic_id, state=WorkItem.State.OPEN, kind__in=WORK_KINDS
        )
        .values_list("enrollment__therapist_id", "enrollment__team_id")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        found[TallyKey(clinic_id, therapist, team or 0)] += n
    return found


def _compare(stored: dict, found: Counter) -> list:
    return sorted(key for key in stored.keys() | found.keys() if stored.get(key, 0) != found.get(key, 0))


def _without_new_rows(wrong: list, stored: dict, model, fields: list[str], key_type, clinic_id: int) -> list:
    """``wrong`` without the keys that had no row at the lock and have one now (one query, only
    when such keys exist)."""
    fresh = [key for key in wrong if key not in stored]
    if not fresh:
        return wrong
    now_stored = {
        key_type(clinic_id, *values)
        for values in model.objects.filter(clinic_id=clinic_id).values_list(*fields)
    }
    return [key for key in wrong if key in stored or key not in now_stored]


def _check_clinic(clinic_id: int, *, repair: bool) -> list[str]:
    # The stored rows are locked before the sources are counted: an event that moved one has
    # committed its source rows by then; one that has not yet moved it waits for this check.
    fields = list(Key._fields[1:])
    stored = {
        Key(clinic_id, *values[:-1]): values[-1]
        for values in DailyFigure.objects.filter(clinic_id=clinic_id)
        .select_for_update()
        .values_list(*fields, "n")
    }
    tallied = {
        TallyKey(clinic_id, therapist, team): n
        for therapist, team, n in WorkTally.objects.filter(clinic_id=clinic_id)
        .select_for_update()
        .values_list("therapist_ref", "team_ref", "n")
    }
    found, found_tallies = figures_found(clinic_id), tallies_found(clinic_id)
    wrong = _compare(stored, found)
    wrong_tallies = _compare(tallied, found_tallies)
    # A key that had no row when the rows were locked may have been written since by an event
    # that committed while this check counted (its first figure of a day, say): the event wrote
    # its row itself, so that is not drift, and its row must not be created a second time.
    wrong = _without_new_rows(wrong, stored, DailyFigure, fields, Key, clinic_id)
    wrong_tallies = _without_new_rows(
        wrong_tallies, tallied, WorkTally, ["therapist_ref", "team_ref"], TallyKey, clinic_id
    )
    if repair:
        for key in wrong:
            values = key._asdict()
            if key in stored:
                DailyFigure.objects.filter(**values).update(n=found.get(key, 0))
            else:
                DailyFigure.objects.bulk_create([DailyFigure(**values, n=found[key])], ignore_conflicts=True)
        for key in wrong_tallies:
            values = key._asdict()
            if key in tallied:
                WorkTally.objects.filter(**values).update(n=found_tallies.get(key, 0))
            else:
                WorkTally.objects.bulk_create(
                    [WorkTally(**values, n=found_tallies[key])], ignore_conflicts=True
                )
    return [str(key) for key in (*wrong, *wrong_tallies)]


def reconcile(*, repair: bool = False, clinic_ids: Iterable[int] | None = None, progress=None) -> list[str]:
    """Count every figure and tally again, clinic by clinic, and compare with the stored ones
    (setting them right with ``repair``). ``progress(clinic_id, done, total, wrong)`` after each
    clinic. Returns the keys that differed (``figure:...``, ``tally:...``): counts and ids only."""
    ids = (
        list(clinic_ids)
        if clinic_ids is not None
        else list(Clinic.objects.order_by("pk").values_list("pk", flat=True))
    )
    wrong: list[str] = []
    for done, clinic_id in enumerate(ids, start=1):
        with transaction.atomic():
            found = _check_clinic(clinic_id, repair=repair)
        wrong += found
        if progress is not None:
            progress(clinic_id, done, len(ids), found)
    return wrong
