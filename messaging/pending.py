"""Waiting work: the one definition of what waits for a person at the clinic.

The worklist, its count in the navigation, the manager's dashboard and the manager's weekly
figures e-mail all count with the counters of this module, so they cannot
disagree. Waiting work is, on the open enrollments (invited, active, paused) of the patients
concerned (``waiting_enrollments``; ending a treatment handles neither a patient's message
nor a self-harm answer, so an unanswered message and an unreviewed urgent questionnaire of an
ended treatment still wait, until a person handles them):

- *message*: a conversation whose latest patient message no message from the clinic followed
  yet (one item per conversation, however many messages wait in it);
- *answer*: an assignment handed in and not reviewed;
- *diary*: a diary week not reviewed: unreviewed entries grouped per enrollment and ISO week of
  the day they are about (one item per week, however many entries it holds);
- *questionnaire*: a questionnaire the patient completed and nobody reviewed (a score a
  therapist typed in is not waiting for anyone);

and, besides the patients' work, the requests for the clinic:

- *intake_request*: an intake request of the clinic nobody handled yet;
- *referral*: a referral that waits for the answer of the colleague it is addressed to.

Feedback due, feedback overdue and patients who went quiet are not waiting work: they follow
from each patient's rhythm (``therapists.worklist`` shows them as reminders, the dashboard
counts overdue feedback in its own column).

The work-item table (``patients.work_items``) keeps all of these as rows, so that the worklist
and the navigation's count read a few indexed rows: this module gives it the collectors of the
kinds that live on this floor (messages, and the feedback rhythm and quiet spells, which are
stored with the moment they will show). The counters read the table: ``pending_count`` for the
navigation (from the counters kept with the rows, ``patients.models.WorkCount``, one per owner
and kind), ``visible_counts`` and ``visible_parts`` for the worklist (the counters, and the rows
in parts that indexes serve in the worklist's order, with LIMIT), ``waiting_work``
and ``patient_work_per_therapist`` for the manager's dashboard and weekly e-mail (grouped counts
in the database, never the source tables).

Nothing here decrypts anything: only rows are counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    Expression,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.utils import timezone

from icbt import shaped_sql
from messaging.models import Message
from patients import rhythm, work_items
from patients.models import (
    Enrollment,
    IntakeRequest,
    QuestionnaireResponse,
    Referral,
    WorkCount,
    WorkItem,
)

PATIENT_WORK_KINDS = ("message", "answer", "diary", "questionnaire")
REQUEST_KINDS = ("intake_request", "referral")
KINDS = PATIENT_WORK_KINDS + REQUEST_KINDS


class SubqueryCount(Subquery):
    """``(SELECT COUNT(*) FROM (<subquery>))``: counts the rows of any queryset, grouped or
    distinct ones too, inside another query."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) _count)"
    output_field = IntegerField()


class AmongIds(Expression):
    """``column`` is one of the ids ``subquery`` selects, written so that an index on ``column``
    serves it inside an OR: ``column = ANY(ARRAY(subquery))`` on PostgreSQL (the subquery runs
    once, first, and the index is searched for its ids; ``IN (subquery)`` there becomes a
    filter that reads every row of the table), ``IN (subquery)`` elsewhere."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, column: str, subquery: QuerySet):
        super().__init__()
        self.column, self.subquery = F(column), Subquery(subquery.order_by())

    def get_source_expressions(self):
        return [self.column, self.subquery]

    def set_source_expressions(self, exprs):
        self.column, self.subquery = exprs

    def _compiled(self, compiler) -> tuple[str, str, tuple]:
        column, column_params = compiler.compile(self.column)
        ids, ids_params = compiler.compile(self.subquery)
        return column, ids, (*column_params, *ids_params)

    def as_sql(self, compiler, connection):
        column, ids, params = self._compiled(compiler)
        return f"{column} IN {ids}", params

    def as_postgresql(self, compiler, connection):
        column, ids, params = self._compiled(compiler)
        return f"{column} = ANY(ARRAY{ids})", params


# --- What waits, per kind (no query by themselves) -------------------------------------------------

Enrollments = QuerySet[Enrollment] | list[int]


def _unanswered(messages: QuerySet[Message]) -> QuerySet[Message]:
    later_reply = (
        Message.objects.filter(conversation=OuterRef("conversation"))
        .exclude(author_id=OuterRef("author_id"))
        .filter(
            Q(created_at__gt=OuterRef("created_at"))
            | Q(created_at=OuterRef("created_at"), pk__gt=OuterRef("pk"))
        )
    )
    return messages.filter(author__patient__isnull=False).filter(~Exists(later_reply)).order_by()


def unanswered_messages(enrollments: Enrollments) -> QuerySet[Message]:
    """The patients' messages in ``enrollments`` that no message from the clinic followed yet
    (whoever answered: the therapist or a covering colleague), open treatment or not."""
    return _unanswered(Message.objects.filter(conversation__enrollment__in=enrollments))


def urgent_questionnaires(responses: QuerySet[QuestionnaireResponse]) -> QuerySet[QuestionnaireResponse]:
    """The unreviewed, patient-completed responses among ``responses`` with the self-harm flag
    (the flags are encrypted; the derived ``urgent`` column carries that one)."""
    return responses.filter(reviewed_at__isnull=True, entered_by__isnull=True, urgent=True)


def waiting_enrollments(enrollments: QuerySet[Enrollment]) -> QuerySet[Enrollment]:
    """Of ``enrollments``: the open ones, and the ended ones that still have an unanswered
    message or an unreviewed urgent questionnaire (no query by itself)."""
    still_waiting = Exists(
        _unanswered(Message.objects.filter(conversation__enrollment=OuterRef("pk")))
    ) | Exists(urgent_questionnaires(QuestionnaireResponse.objects.filter(enrollment=OuterRef("pk"))))
    return enrollments.filter(Q(status__in=Enrollment.OPEN_STATUSES) | still_waiting)


def intake_requests_waiting(*, clinic_id: int) -> QuerySet[IntakeRequest]:
    return IntakeRequest.objects.filter(clinic_id=clinic_id, status=IntakeRequest.Status.NEW).order_by()


def referrals_waiting(*, clinic_id: int, to_therapist_id: int | None = None) -> QuerySet[Referral]:
    """Pending referrals of the clinic; only those addressed to ``to_therapist_id`` when given."""
    referrals = Referral.objects.filter(clinic_id=clinic_id, status=Referral.Status.PENDING)
    if to_therapist_id is not None:
        referrals = referrals.filter(to_therapist_id=to_therapist_id)
    return referrals.order_by()


# --- Counting ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitingWork:
    """How many items of each kind wait."""

    message: int = 0
    answer: int = 0
    diary: int = 0
    questionnaire: int = 0
    intake_request: int = 0
    referral: int = 0

    @property
    def patient_work(self) -> int:
        """The patients' messages and work that wait for a reply or a review."""
        return sum(getattr(self, kind) for kind in PATIENT_WORK_KINDS)

    @property
    def total(self) -> int:
        """Everything that waits, requests included: the count in the therapist's navigation
        and at the top of their worklist."""
        return self.patient_work + self.intake_request + self.referral


def _open_rows() -> QuerySet[WorkItem]:
    return WorkItem.objects.filter(state=WorkItem.State.OPEN).order_by()


def waiting_work(
    *, enrollments: Enrollments, clinic_id: int, to_therapist_id: int | None = None
) -> WaitingWork:
    """The waiting work on ``enrollments`` (open ones: the caller decides whose), with the
    clinic's new intake requests and its pending referrals (only those addressed to
    ``to_therapist_id`` when given). One grouped count on the work-item table (its indexes on
    enrollment and on clinic), whatever the size of the clinic."""
    referrals = Q(clinic_id=clinic_id, kind="referral")
    if to_therapist_id is not None:
        referrals &= Q(owner_id=to_therapist_id)
    rows = (
        _open_rows()
        .filter(
            Q(enrollment__in=enrollments, kind__in=PATIENT_WORK_KINDS)
            | Q(clinic_id=clinic_id, kind="intake_request")
            | referrals
        )
        .values("kind")
        .annotate(n=Count("pk"))
        .values_list("kind", "n")
    )
    return WaitingWork(**dict(rows))


def patient_work_per_therapist(enrollments: QuerySet[Enrollment]) -> dict[tuple[int, int | None], int]:
    """The patients' waiting work on ``enrollments`` (open ones: the caller decides which), per
    treating therapist and team of the treatment (``Enrollment.therapist``, ``Enrollment.team``):
    ``{(therapist_id, team_id): count}``, counted as ``WaitingWork.patient_work`` counts. One
    grouped count on the work-item table, whatever the size of the clinic."""
    rows = (
        _open_rows()
        .filter(enrollment__in=enrollments, kind__in=PATIENT_WORK_KINDS)
        .values_list("enrollment__therapist_id", "enrollment__team_id")
        .annotate(n=Count("pk"))
    )
    return {(therapist, team): n for therapist, team, n in rows}


def open_items_at_end(enrollment: Enrollment) -> tuple[int, int]:
    """What ending ``enrollment`` leaves waiting (``patients.ending.open_items`` asks this): its
    unreviewed urgent questionnaires and its unanswered messages."""
    urgent = urgent_questionnaires(QuestionnaireResponse.objects.filter(enrollment=enrollment)).count()
    return (urgent, unanswered_messages([enrollment.pk]).count())


# --- The work-item table: the collectors of this floor, and the count ---------------------------------


def collect_messages(enrollments: QuerySet[Enrollment]) -> Iterator[work_items.Wanted]:
    """One item per conversation whose latest patient message no message from the clinic
    followed yet, since the oldest unanswered one, open treatment or not."""
    rows = (
        unanswered_messages(enrollments)
        .values(*(f"conversation__{name}" for name in work_items.WHOSE), "conversation_id")
        .annotate(since=Min("created_at"), n=Count("id"))
        .values_list("conversation_id", "since", "n", *(f"conversation__{name}" for name in work_items.WHOSE))
    )
    for conversation_id, since, n, *who in rows:
        yield work_items.Wanted(
            key=f"message:{who[0]}",
            kind="message",
            object_id=conversation_id,
            since=since,
            count=n,
            **work_items.whose(*who),
        )


def _midnight(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _active(enrollments: work_items.EnrollmentScope):
    """The active enrollments among ``enrollments``, as plain objects with the rhythm's fields
    (``work_items.RHYTHM_FIELDS``): read, or the rows a service read already."""
    if isinstance(enrollments, QuerySet):
        enrollments = work_items.rhythm_rows(enrollments.filter(status=Enrollment.Status.ACTIVE))
    return [row for row in enrollments if row.status == Enrollment.Status.ACTIVE]


def collect_feedback(enrollments: work_items.EnrollmentScope) -> Iterator[work_items.Wanted]:
    """Each active treatment's next feedback: it shows from the day it is due
    (``patients.rhythm``) and is overdue
    ``ICBT_FEEDBACK_OVERDUE_WORKING_DAYS`` working days later (the digests' rule)."""
    for enrollment in _active(enrollments):
        due_on = rhythm.feedback_due_on(enrollment)
        overdue_on = rhythm.feedback_overdue_on(due_on)
        yield work_items.Wanted(
            key=f"feedback:{enrollment.pk}",
            kind="feedback",
            object_id=enrollment.pk,
            since=_midnight(due_on),
            overdue_at=_midnight(overdue_on),
            detail={"due_on": due_on.isoformat()},
            **work_items.whose(
                enrollment.pk, enrollment.clinic_id, enrollment.patient_id, enrollment.patient__therapist_id
            ),
        )


def collect_quiet(enrollments: work_items.EnrollmentScope) -> Iterator[work_items.Wanted]:
    """Each active treatment's quiet spell: it shows ``inactivity_days`` after the last activity."""
    for enrollment in _active(enrollments):
        last = rhythm.last_activity(enrollment)
        yield work_items.Wanted(
            key=f"quiet:{enrollment.pk}",
            kind="quiet",
            object_id=enrollment.pk,
            since=last,
            due=last + timedelta(days=enrollment.inactivity_days),
            **work_items.whose(
                enrollment.pk, enrollment.clinic_id, enrollment.patient_id, enrollment.patient__therapist_id
            ),
        )


def register_collectors() -> None:
    work_items.register("message", collect_messages)
    work_items.register("feedback", collect_feedback)
    work_items.register("quiet", collect_quiet)


def _shared_with(staff, day: date) -> QuerySet:
    """The ids of the patients a colleague shares with ``staff`` on ``day`` (``patients.access``:
    the same cover rule), as a subquery."""
    from patients.models import CareShare

    return CareShare.objects.active(on=day).filter(colleague=staff).values("patient_id")


def _arms(staff, day: date, *, joined: bool = False) -> tuple[Q, Q, Q]:
    """What ``staff`` sees, in three parts that never overlap, each served by an index: their
    patients' items and the referrals addressed to them (``owner``), the items of the patients
    shared with them (``patient``), and the clinic's new intake requests (``clinic, kind``).
    ``joined``: the parts will be joined with OR, where only ``AmongIds`` lets the index serve
    the shared patients (so that the worklist of a small caseload reads its own rows, not the
    clinic's); alone, ``IN (subquery)`` is served as well."""
    mine = Q(owner=staff) & ~Q(kind="intake_request")
    shared = _shared_with(staff, day)
    covered = (
        (Q(AmongIds("patient_id", shared)) if joined else Q(patient_id__in=shared))
        & ~Q(kind__in=("referral", "intake_request"))
        & ~Q(owner=staff)
    )
    requests = Q(clinic_id=staff.clinic_id, kind="intake_request")
    return mine, covered, requests


def visible_items(*, staff, now: datetime, day: date | None = None) -> QuerySet[WorkItem]:
    """The open rows ``staff`` sees at ``now`` (``_arms``; ``day``: the local day of ``now``),
    no query by itself."""
    mine, covered, requests = _arms(staff, day or timezone.localdate(now), joined=True)
    return WorkItem.objects.filter(
        mine | covered | requests, state=WorkItem.State.OPEN, due__lte=now
    ).order_by()


# The parts of ``visible_parts``.
URGENT, MINE, SHARED, REQUESTS = "urgent", "mine", "shared", "requests"


def visible_parts(*, staff, now: datetime, day: date | None = None) -> dict[str, QuerySet[WorkItem]]:
    """``visible_items`` in four parts that never overlap and together are all of it, each read
    in the worklist's order (urgent first, then by age) by walking one index with LIMIT: the
    viewer's own urgent rows (``URGENT``) and the others (``MINE``, both on the owner's index in
    that order), the shared patients' rows (``SHARED``, a few patients: on the patient index)
    and the clinic's intake requests (``REQUESTS``). No query by itself."""
    mine, shared, requests = visible_arms(staff=staff, now=now, day=day)
    return {
        URGENT: mine.filter(urgent=True),
        MINE: mine.filter(urgent=False),
        SHARED: shared,
        REQUESTS: requests,
    }


def visible_arms(*, staff, now: datetime, day: date | None = None) -> tuple[QuerySet[WorkItem], ...]:
    """``visible_items`` in its three parts (``_arms``): the viewer's own rows, the shared
    patients' rows, the clinic's intake requests. No query by itself."""
    rows = WorkItem.objects.filter(state=WorkItem.State.OPEN, due__lte=now).order_by()
    return tuple(rows.filter(arm) for arm in _arms(staff, day or timezone.localdate(now)))


# The parts whose rows are all urgent or all not: read in the order of age alone (the urgency
# of their rows is known, and the owner's index serves that order).
ONE_URGENCY = (URGENT, MINE)


def parts_for(kind: str = "", patient_id: int | None = None) -> tuple[str, ...]:
    """The parts of ``visible_parts`` that can hold rows of ``kind`` (a row kind, or every kind
    when empty) and of the patient ``patient_id`` (when given): what ``_arms`` lets each part hold."""
    parts = []
    if kind != "intake_request":
        parts += [URGENT, MINE]
        if kind != "referral":
            parts.append(SHARED)
    if kind in ("", "intake_request") and not patient_id:
        parts.append(REQUESTS)
    return tuple(parts)


def union_all(parts: list[QuerySet | tuple[str, list]]) -> tuple[str, list]:
    """``SELECT * FROM (<part>) UNION ALL ...``: the ORM's own SQL of each part (ordered and
    limited, or grouped, as each one is), with its parameters, as one query. A part may be
    given as SQL and parameters (``_counted_as``)."""
    sqls, params = [], []
    for i, part in enumerate(parts):
        sql, part_params = part if isinstance(part, tuple) else part.query.sql_with_params()
        sqls.append(f"SELECT * FROM ({sql}) _part{i}")  # noqa: S608 - the ORM's SQL, its parameters
        params += part_params
    return " UNION ALL ".join(sqls), params


def _counted_as(label: str, rows: QuerySet[WorkItem]) -> tuple[str, list]:
    """``SELECT <label>, COUNT(*)`` of ``rows``: one count, no grouping (an index that holds the
    rows' columns counts them alone)."""
    sql, params = rows.values("kind").query.sql_with_params()
    return f"SELECT %s AS label, COUNT(*) AS n FROM ({sql}) _rows", [label, *params]  # noqa: S608


# The kinds counted from the rows rather than from the counters: those that show from a day on.
ROW_COUNTED_KINDS = tuple(kind for kind in WorkItem.KINDS if kind not in work_items.COUNTED_KINDS)
_SELECTED = "selected"


def visible_counts(
    *, staff, now: datetime, kind: str = "", patient_id: int | None = None
) -> tuple[dict[str, int], int | None]:
    """How many rows of ``visible_items`` there are of each kind (``{kind: n}``, kinds with rows
    only), and with ``patient_id`` how many of them are that patient's (of ``kind``, a row kind,
    when given; None without ``patient_id``). One query, without reading the caseload's rows:
    the viewer's counters per kind and the clinic's (``WorkCount``: the kinds that are due from
    the moment they open), the viewer's rows of the kinds that show from a day on that are due
    (``ROW_COUNTED_KINDS``, on the owner's index by kind and day), the shared patients' rows (a
    few patients), and with ``patient_id`` the patient's rows (their few rows).

    Its SQL is built once per process for each shape (with or without a patient, with or
    without a kind: ``icbt.shaped_sql``), the viewer's values bound to it."""
    from django.db import connection

    by_patient, by_kind = bool(patient_id), bool(patient_id) and bool(kind)
    counted = shaped_sql.shaped(
        ("visible_counts", by_patient, by_kind), lambda: _visible_counts_sql(by_patient, by_kind)
    )
    params = shaped_sql.bind(
        connection,
        counted,
        derived=dict(zip(_counter_keys(_StandIn), _counter_keys(staff), strict=True)),
        staff=staff.pk,
        clinic=staff.clinic_id,
        now=now,
        day=timezone.localdate(now),
        **({"patient": patient_id} if by_patient else {}),
        **({"kind": kind} if by_kind else {}),
    )
    counts: dict[str, int] = {}
    n_selected = 0 if by_patient else None
    for label, n in counted.rows(connection, params):
        if label == _SELECTED:
            n_selected = int(n)
            continue
        row_kind = label.rsplit(":", 1)[-1]  # a counter's key ends with its kind
        counts[row_kind] = counts.get(row_kind, 0) + int(n)
    return counts, n_selected


def _visible_counts_sql(by_patient: bool, by_kind: bool) -> shaped_sql.Shaped:
    """The SQL of ``visible_counts`` with stand-in values (``icbt.shaped_sql.StandIn``)."""
    staff = stand_in_staff()
    stand_in = shaped_sql.StandIn
    mine, covered, _requests = _arms(staff, stand_in.day)
    rows = WorkItem.objects.filter(state=WorkItem.State.OPEN, due__lte=stand_in.now).order_by()
    parts = [
        WorkCount.objects.filter(key__in=_counter_keys(_StandIn)).order_by().values_list("key", "n"),
        # One count per kind, each on the index alone (grouping its many rows costs more).
        *(_counted_as(kind, rows.filter(mine, kind=kind)) for kind in ROW_COUNTED_KINDS),
        rows.filter(covered).values("kind").annotate(n=Count("pk")).values_list("kind", "n"),
    ]
    if by_patient:
        selected = Q(patient_id=stand_in.patient)
        if by_kind:
            selected &= Q(kind=stand_in.kind)
        visible = visible_items(staff=staff, now=stand_in.now, day=stand_in.day)
        parts.append(_counted_as(_SELECTED, visible.filter(selected)))
    sql, params = union_all(parts)
    return shaped_sql.Shaped(sql=sql, params=tuple(params), derived=_counter_keys(_StandIn))


def stand_in_staff():
    """A staff member with stand-in values (``icbt.shaped_sql.StandIn``), never saved: the
    viewer of SQL built once per shape."""
    from icbt.models import StaffMember

    return StaffMember(pk=shaped_sql.StandIn.staff, clinic_id=shaped_sql.StandIn.clinic)


# The navigation's count runs on every staff page: its SQL is built by the ORM once per process,
# with stand-in values (``_STAND_IN``) that each call swaps for the viewer's own.
_STAND_IN_STAFF, _STAND_IN_CLINIC, _STAND_IN_DAY = (
    shaped_sql.StandIn.staff,
    shaped_sql.StandIn.clinic,
    shaped_sql.StandIn.day,
)
_count_sql: dict[str, tuple[str, list]] = {}


class _StandIn:
    pk, clinic_id = _STAND_IN_STAFF, _STAND_IN_CLINIC


def _pending_count_sql(connection) -> tuple[str, list]:
    """``SELECT (the counters' sum), (the shared patients' rows)`` with the stand-in values."""
    if connection.alias not in _count_sql:
        from icbt.models import StaffMember

        staff = StaffMember(pk=_StandIn.pk, clinic_id=_StandIn.clinic_id)
        counters = WorkCount.objects.filter(key__in=_counter_keys(_StandIn)).order_by().values("n")
        _mine, covered, _requests = _arms(staff, _STAND_IN_DAY)
        shared = WorkItem.objects.filter(covered, state=WorkItem.State.OPEN, kind__in=KINDS).order_by()
        counters_sql, counters_params = counters.query.sql_with_params()
        shared_sql, shared_params = shared.values("pk").query.sql_with_params()
        _count_sql[connection.alias] = (
            # Both parts are the ORM's own SQL, with its parameters: nothing else goes in.
            f"SELECT (SELECT COALESCE(SUM(n), 0) FROM ({counters_sql}) _counters), "  # noqa: S608
            f"(SELECT COUNT(*) FROM ({shared_sql}) _shared)",
            [*counters_params, *shared_params],
        )
    return _count_sql[connection.alias]


def _counter_keys(staff) -> tuple[str, ...]:
    return (*work_items.owner_keys(staff.pk), work_items.clinic_key(staff.clinic_id))


def pending_count(*, staff, now: datetime | None = None) -> int:
    """The navigation's count: what waits for ``staff`` (``KINDS``), without the reminders of
    feedback due and quiet patients. One query, whatever the size of the caseload: their own
    counter and the clinic's (``WorkCount``, kept with the rows), and the rows of the patients
    a colleague shares with them today (``_arms``), counted on the patient index (a share covers
    a few patients). The kinds counted are due from the moment they open: no ``due`` needed."""
    from django.db import connection

    now = now or timezone.now()
    sql, params = _pending_count_sql(connection)
    adapt = connection.ops.adapt_datefield_value
    mine = dict(zip(_counter_keys(_StandIn), _counter_keys(staff), strict=True))
    mine.update(
        {
            _STAND_IN_STAFF: staff.pk,
            _STAND_IN_CLINIC: staff.clinic_id,
            adapt(_STAND_IN_DAY): adapt(timezone.localdate(now)),
        }
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [mine.get(param, param) for param in params])
        counted, shared = cursor.fetchone()
    return int(counted) + int(shared)
