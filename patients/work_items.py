"""The work-item table (``WorkItem``): how it is kept in step with what waits.

Each kind of waiting work has a *collector*: a function that reads the source tables and says
which items should be open (``Wanted``) for a set of enrollments, or for a set of clinics for the
clinic's requests. The collectors are the one definition of waiting work; the table is what they
said the last time an event touched it:

- a service that creates or closes work calls ``refresh(enrollment=..., kinds=...)`` (or
  ``refresh_requests``) in its own transaction, after its write: the kinds it may have changed
  are collected again for that one enrollment or clinic and the open rows brought in line;
- ``reconcile`` collects everything again, clinic by clinic, and reports (or repairs) what
  differs: the nightly check, and the way to fill the table for an existing database.

Collectors of this floor are registered here; the floors above register theirs
(``messaging.apps``): messages and each patient's feedback rhythm live up there, and a service
here may refresh every kind without importing them.

Rows are never deleted: a closed item keeps ``state="closed"`` and the moment it closed.

The navigation's count and the worklist's counts per kind read counters (``WorkCount``, one per
owner and kind) rather than the rows: ``_align`` moves
them with every row of a ``COUNTED_KINDS`` kind it opens, closes or gives another owner, in the
same transaction, and ``owner_follow`` with the rows it hands over; ``reconcile`` checks them
against the open rows (and repairs them) before it brings the rows in line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import chain
from types import SimpleNamespace

from django.db import connection, transaction
from django.db.models import Count, F, Min, Q, QuerySet
from django.db.models.functions import ExtractIsoYear, ExtractWeek
from django.utils import timezone

from icbt import shaped_sql
from icbt.models import Clinic
from patients import figures, measurement, selectors
from patients.models import (
    AssignmentAnswer,
    DiaryEntry,
    Enrollment,
    IntakeRequest,
    Patient,
    QuestionnaireResponse,
    Referral,
    WorkCount,
    WorkItem,
)

ENROLLMENT_KINDS = ("message", "answer", "diary", "questionnaire", "feedback", "quiet", "early_warning")
CLINIC_KINDS = ("intake_request", "referral")
REVIEW_KINDS = ("answer", "diary", "questionnaire")
# The kinds the navigation counts (``messaging.pending.KINDS``): kept per owner, and per clinic
# for its intake requests, in ``WorkCount``. Their rows are due from the moment they open.
COUNTED_KINDS = ("message", "answer", "diary", "questionnaire", "intake_request", "referral")
# The fields a refresh compares and writes (besides the key and the state).
FIELDS = (
    "kind",
    "clinic_id",
    "patient_id",
    "enrollment_id",
    "owner_id",
    "object_id",
    "ref",
    "since",
    "due",
    "overdue_at",
    "urgent",
    "flagged",
    "count",
    "detail",
)


@dataclass(frozen=True)
class Wanted:
    """An item that should be open, as a collector sees it. ``due`` defaults to ``since``."""

    key: str
    kind: str
    clinic_id: int
    object_id: int
    since: datetime
    patient_id: int | None = None
    enrollment_id: int | None = None
    owner_id: int | None = None
    ref: str = ""
    due: datetime | None = None
    overdue_at: datetime | None = None
    urgent: bool = False
    flagged: bool = False
    count: int = 1
    detail: dict = field(default_factory=dict, hash=False)

    def values(self) -> dict:
        values = {name: getattr(self, name) for name in FIELDS}
        values["due"] = self.due or self.since
        return values


# The enrollment's own columns the collectors of ``ROW_KINDS`` read (the patient's therapist is
# the owner of the items).
RHYTHM_FIELDS = (
    "pk",
    "status",
    "clinic_id",
    "patient_id",
    "patient__therapist_id",
    "start_date",
    "started_at",
    "last_feedback_at",
    "last_activity_at",
    "feedback_cadence",
    "feedback_weekday",
    "inactivity_days",
    # Whose work it is on the manager's dashboard (``figures.work_moved``).
    "therapist_id",
    "team_id",
)
# The kinds whose collectors read nothing but the enrollment's row (its rhythm): they take
# that row, read already (``rhythm_rows``, ``rhythm_locked``), in place of a query set.
ROW_KINDS = ("feedback", "quiet")


def rhythm_rows(enrollments: QuerySet[Enrollment]) -> list[SimpleNamespace]:
    """``enrollments`` as plain objects with the ``RHYTHM_FIELDS``."""
    rows = enrollments.order_by().values_list(*RHYTHM_FIELDS)
    return [SimpleNamespace(**dict(zip(RHYTHM_FIELDS, values, strict=True))) for values in rows]


_STAND_IN = shaped_sql.StandIn


def rhythm_locked(enrollment_id: int) -> SimpleNamespace | None:
    """Lock the enrollment's row (as ``services.recording._enrollment_lock``) and read its
    ``RHYTHM_FIELDS`` in the same query: what they are now, whatever a page read earlier. Pass
    it to ``refresh`` (``rhythm=``) after any change to those fields. Its SQL is built once per
    process."""
    locked = shaped_sql.shaped(
        ("rhythm_locked",),
        lambda: shaped_sql.of_queryset(
            Enrollment.objects.select_for_update(of=("self",))
            .filter(pk=_STAND_IN.enrollment)
            .order_by()
            .values_list(*RHYTHM_FIELDS)
        ),
    )
    rows = locked.rows(
        connection, shaped_sql.bound(connection, locked, {_STAND_IN.enrollment: enrollment_id})
    )
    return SimpleNamespace(**dict(zip(RHYTHM_FIELDS, rows[0], strict=True))) if rows else None


def rhythm_of(enrollment: Enrollment) -> SimpleNamespace:
    """``rhythm_locked``'s answer from an enrollment read under its lock in this transaction
    with its patient's therapist (``selectors.open_enrollment_locked``): no query."""
    values = {name: getattr(enrollment, name) for name in RHYTHM_FIELDS if name != "patient__therapist_id"}
    values["patient__therapist_id"] = enrollment.icbt_patient_therapist_id
    return SimpleNamespace(**{name: values[name] for name in RHYTHM_FIELDS})


EnrollmentScope = QuerySet[Enrollment] | list[SimpleNamespace]
EnrollmentCollector = Callable[[QuerySet[Enrollment]], Iterable[Wanted]]
ClinicCollector = Callable[[list[int]], Iterable[Wanted]]
COLLECTORS: dict[str, EnrollmentCollector | ClinicCollector] = {}


def register(kind: str, collector) -> None:
    """Make ``collector`` the definition of ``kind`` (one per kind; the last one wins, so that
    registering twice, as tests reloading an app do, is harmless)."""
    if kind not in WorkItem.KINDS:
        raise ValueError(f"unknown work-item kind {kind!r}")
    COLLECTORS[kind] = collector


# The columns every collector of an enrollment kind reads to say whose item it is.
WHOSE = (
    "enrollment_id",
    "enrollment__clinic_id",
    "enrollment__patient_id",
    "enrollment__patient__therapist_id",
)


def whose(enrollment_id, clinic_id, patient_id, owner_id) -> dict:
    """The keyword arguments of ``Wanted`` for the ``WHOSE`` columns."""
    return {
        "enrollment_id": enrollment_id,
        "clinic_id": clinic_id,
        "patient_id": patient_id,
        "owner_id": owner_id,
    }


# --- The collectors of this floor ----------------------------------------------------------------

OPEN = Q(enrollment__status__in=Enrollment.OPEN_STATUSES)


def answers_to_review(enrollments) -> QuerySet[AssignmentAnswer]:
    """Handed in and not reviewed, in an open treatment (no query by itself)."""
    return AssignmentAnswer.objects.filter(
        OPEN,
        enrollment__in=enrollments,
        status=AssignmentAnswer.Status.SUBMITTED,
        submitted_at__isnull=False,
        reviewed_at__isnull=True,
    ).order_by()


def diary_entries_to_review(enrollments) -> QuerySet[DiaryEntry]:
    """Not reviewed, in an open treatment."""
    return DiaryEntry.objects.filter(OPEN, enrollment__in=enrollments, reviewed_at__isnull=True).order_by()


def diary_weeks_to_review(enrollments) -> QuerySet:
    """Unreviewed diary entries grouped per enrollment and ISO week of the entry's date:
    ``enrollment_id, iso_year, iso_week, since`` (the first written), ``n``, ``first_id``."""
    return (
        diary_entries_to_review(enrollments)
        .annotate(iso_year=ExtractIsoYear("entry_date"), iso_week=ExtractWeek("entry_date"))
        .values("enrollment_id", "iso_year", "iso_week")
        .annotate(since=Min("created_at"), n=Count("id"), first_id=Min("id"))
        .order_by()
    )


def questionnaires_to_review(enrollments) -> QuerySet[QuestionnaireResponse]:
    """Completed by the patient and not reviewed (a score a therapist typed in needs no review),
    in an open treatment; after the end only those with the self-harm flag (``urgent``)."""
    return QuestionnaireResponse.objects.filter(
        OPEN | Q(urgent=True), enrollment__in=enrollments, reviewed_at__isnull=True, entered_by__isnull=True
    ).order_by()


def collect_answers(enrollments: QuerySet[Enrollment]) -> Iterator[Wanted]:
    rows = answers_to_review(enrollments).values_list(
        "pk", "submitted_at", "step__title", "step__module__number", *WHOSE
    )
    for pk, submitted_at, title, number, *who in rows:
        yield Wanted(
            key=f"answer:{pk}",
            kind="answer",
            object_id=pk,
            since=submitted_at,
            ref=f"answer:{pk}",
            detail={"module": number, "title": title},
            **whose(*who),
        )


def _diary_week(enrollment_id, year, week, since, n, first_id, who) -> Wanted:
    return Wanted(
        key=diary_week_key(enrollment_id, year, week),
        kind="diary",
        object_id=first_id,
        since=since,
        ref=f"week:{first_id}",
        count=n,
        detail={"year": year, "week": week},
        **whose(*who),
    )


def diary_week_key(enrollment_id: int, year: int, week: int) -> str:
    """The key of the item of an enrollment's ISO week (``year``, ``week``) of diary entries."""
    return f"diary:{enrollment_id}:{year}-W{week}"


def collect_diary_weeks(enrollments: QuerySet[Enrollment]) -> Iterator[Wanted]:
    """One item per enrollment and ISO week, since the first entry written."""
    rows = diary_weeks_to_review(enrollments).values(*WHOSE, "iso_year", "iso_week", "since", "n", "first_id")
    for row in rows:
        who = tuple(row[name] for name in WHOSE)
        yield _diary_week(
            row["enrollment_id"],
            row["iso_year"],
            row["iso_week"],
            row["since"],
            row["n"],
            row["first_id"],
            who,
        )


def collect_diary_week(
    enrollments: QuerySet[Enrollment], day: date, *, rhythm: SimpleNamespace | None = None
) -> Iterator[Wanted]:
    """``collect_diary_weeks`` for the one ISO week of ``day``: the entries of that week grouped
    per enrollment (no week to extract from each entry's date). With ``rhythm`` (the one
    enrollment's row as ``rhythm_locked`` read it) whether the treatment is open and whose item
    it is come from that row: the week's entries are counted without joining it."""
    monday = day - timedelta(days=day.weekday())
    year, week, _weekday = day.isocalendar()
    if rhythm is not None:
        if rhythm.status not in Enrollment.OPEN_STATUSES:
            return
        counted = shaped_sql.shaped(("diary_week_counted",), _diary_week_counted)
        params = shaped_sql.bound(
            connection,
            counted,
            {
                _STAND_IN.enrollment: rhythm.pk,
                _STAND_IN.day: monday,
                _STAND_IN.last_day: monday + timedelta(days=6),
            },
        )
        who = (rhythm.pk, rhythm.clinic_id, rhythm.patient_id, rhythm.patient__therapist_id)
        for since, n, first_id in counted.rows(connection, params):  # none without entries
            yield _diary_week(rhythm.pk, year, week, since, n, first_id, who)
        return
    rows = (
        diary_entries_to_review(enrollments)
        .filter(entry_date__range=(monday, monday + timedelta(days=6)))
        .values_list(*WHOSE)
        .annotate(since=Min("created_at"), n=Count("id"), first_id=Min("id"))
    )
    for *who, since, n, first_id in rows:
        yield _diary_week(who[0], year, week, since, n, first_id, who)


def _diary_week_counted() -> shaped_sql.Shaped:
    """The unreviewed entries of one enrollment's week (stand-ins: the enrollment, its Monday
    and Sunday): when the first was written, how many, the first one's id; no row without any."""
    return shaped_sql.of_queryset(
        DiaryEntry.objects.filter(
            enrollment_id=_STAND_IN.enrollment,
            reviewed_at__isnull=True,
            entry_date__range=(_STAND_IN.day, _STAND_IN.last_day),
        )
        .order_by()
        .values("enrollment_id")
        .annotate(since=Min("created_at"), n=Count("id"), first_id=Min("id"))
        .values_list("since", "n", "first_id")
    )


def collect_questionnaires(enrollments: QuerySet[Enrollment]) -> Iterator[Wanted]:
    rows = questionnaires_to_review(enrollments).values_list(
        "pk", "code", "completed_at", "urgent", "flagged", *WHOSE
    )
    for pk, code, completed_at, urgent, flagged, *who in rows:
        yield Wanted(
            key=f"questionnaire:{pk}",
            kind="questionnaire",
            object_id=pk,
            since=completed_at,
            ref=f"questionnaire:{pk}",
            urgent=urgent,
            flagged=flagged,
            detail={"code": code},
            **whose(*who),
        )


def collect_intake_requests(clinic_ids: list[int]) -> Iterator[Wanted]:
    """New intake requests: for every therapist of the clinic (no owner)."""
    rows = IntakeRequest.objects.filter(clinic_id__in=clinic_ids, status=IntakeRequest.Status.NEW)
    for pk, clinic_id, created_at, program_id in rows.values_list(
        "pk", "clinic_id", "created_at", "program_id"
    ):
        yield Wanted(
            key=f"intake_request:{pk}",
            kind="intake_request",
            clinic_id=clinic_id,
            object_id=pk,
            since=created_at,
            detail={"program": program_id},
        )


def collect_referrals(clinic_ids: list[int]) -> Iterator[Wanted]:
    """Pending referrals, for the colleague they are addressed to."""
    rows = Referral.objects.filter(clinic_id__in=clinic_ids, status=Referral.Status.PENDING).values_list(
        "pk", "clinic_id", "created_at", "patient_id", "to_therapist_id"
    )
    for pk, clinic_id, created_at, patient_id, to_therapist_id in rows:
        yield Wanted(
            key=f"referral:{pk}",
            kind="referral",
            clinic_id=clinic_id,
            object_id=pk,
            since=created_at,
            patient_id=patient_id,
            owner_id=to_therapist_id,
        )


def collect_early_warnings(enrollments: QuerySet[Enrollment]) -> Iterator[Wanted]:
    """One item per active treatment with a weekly check-in and no decision about its warning,
    when the warning shows or will show as days pass (``measurement.warning_span``): since the
    day it first fired, due that day. Never urgent (a self-harm answer has its own urgent
    questionnaire item); flagged."""
    histories = selectors.early_warning_histories(enrollments=enrollments.values("pk"))
    if not histories:
        return
    for pk, at in measurement.resumed_at_by_enrollment(list(histories)).items():
        histories[pk][0].resumed_at = at
    today = timezone.localdate()
    for pk, (enrollment, responses) in histories.items():
        span = measurement.warning_span(enrollment, responses, today)
        if span is None:
            continue
        since = timezone.make_aware(datetime.combine(span.since, time.min))
        yield Wanted(
            key=f"early_warning:{pk}",
            kind="early_warning",
            object_id=pk,
            since=since,
            flagged=True,
            detail=span.detail(enrollment.start_date),
            **whose(pk, enrollment.clinic_id, enrollment.patient_id, enrollment.therapist_id),
        )


register("answer", collect_answers)
register("diary", collect_diary_weeks)
register("questionnaire", collect_questionnaires)
register("early_warning", collect_early_warnings)
register("intake_request", collect_intake_requests)
register("referral", collect_referrals)


# --- Bringing the open rows in line ---------------------------------------------------------------


@dataclass
class Drift:
    """What differed between the open rows and the collectors: keys opened, closed, changed."""

    opened: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    # How the counters (``WorkCount``) move with these changes: {key: (clinic id, delta)}.
    counts: dict = field(default_factory=dict, repr=False)

    def __bool__(self) -> bool:
        return bool(self.opened or self.closed or self.changed)

    def extend(self, other: Drift) -> None:
        self.opened += other.opened
        self.closed += other.closed
        self.changed += other.changed


def drift_summary(drift: Drift) -> str:
    """``"2 missing, 1 stale, 0 changed"``: counts only."""
    return f"{len(drift.opened)} missing, {len(drift.closed)} stale, {len(drift.changed)} changed"


def _collect(kinds: Iterable[str], scope) -> Iterator[Wanted]:
    for kind in kinds:
        collector = COLLECTORS.get(kind)
        if collector is not None:
            yield from collector(scope)


def count_key(kind: str, clinic_id: int, owner_id: int | None) -> str | None:
    """The ``WorkCount`` an open item of ``kind`` counts in, or None: one counter per owner and
    kind, and one per clinic for its intake requests (``owner_keys``, ``clinic_key``)."""
    if kind not in COUNTED_KINDS:
        return None
    if kind == "intake_request":
        return clinic_key(clinic_id)
    return f"owner:{owner_id}:{kind}" if owner_id is not None else None


def owner_keys(owner_id: int) -> tuple[str, ...]:
    """The counters of one owner's items, one per counted kind (all but the intake requests)."""
    return tuple(f"owner:{owner_id}:{kind}" for kind in COUNTED_KINDS if kind != "intake_request")


def clinic_key(clinic_id: int) -> str:
    """The counter of the clinic's new intake requests."""
    return f"clinic:{clinic_id}:intake_request"


def _counted(drift: Drift, kind: str, clinic_id: int, owner_id: int | None, delta: int) -> None:
    key = count_key(kind, clinic_id, owner_id)
    if key is not None:
        before = drift.counts.get(key, (clinic_id, 0))[1]
        drift.counts[key] = (clinic_id, before + delta)


def bump(counts: dict) -> None:
    """Move the counters by ``counts`` (``{key: (clinic id, delta)}``): one UPDATE per counter that
    moves (a counter seen for the first time is created first)."""
    for key, (clinic_id, delta) in sorted(counts.items()):
        if not delta:
            continue
        if not WorkCount.objects.filter(key=key).update(n=F("n") + delta):
            WorkCount.objects.bulk_create([WorkCount(key=key, clinic_id=clinic_id)], ignore_conflicts=True)
            WorkCount.objects.filter(key=key).update(n=F("n") + delta)


# Up to this many changed rows are written one plain UPDATE each, more in one ``bulk_update``.
FEW_CHANGED = 3


def _align(
    rows: QuerySet[WorkItem] | list[WorkItem], wanted: Iterable[Wanted], *, repair: bool = True
) -> Drift:
    """Compare the open ``rows`` (a query set, or the open rows read already) with ``wanted``;
    with ``repair``, open, close and change rows so that they match, and move the counters with
    them. Only the rows and the fields that differ are written: nothing at all when nothing
    changed."""
    if isinstance(rows, QuerySet):
        rows = rows.filter(state=WorkItem.State.OPEN)
    current = {row.key: row for row in rows}
    wanted_by_key = {item.key: item for item in wanted}
    drift = Drift()
    opened, changed, differing = [], [], set()
    for key, item in wanted_by_key.items():
        values = item.values()
        row = current.get(key)
        if row is None:
            drift.opened.append(key)
            opened.append(WorkItem(key=key, **values))
            _counted(drift, item.kind, item.clinic_id, item.owner_id, +1)
            continue
        differ = tuple(name for name, value in values.items() if getattr(row, name) != value)
        if differ:
            drift.changed.append(key)
            _counted(drift, row.kind, row.clinic_id, row.owner_id, -1)
            for name in differ:
                setattr(row, name, values[name])
            _counted(drift, row.kind, row.clinic_id, row.owner_id, +1)
            changed.append((row, differ))
            differing.update(differ)
    closed = [row for key, row in current.items() if key not in wanted_by_key]
    drift.closed = [row.key for row in closed]
    for row in closed:
        _counted(drift, row.kind, row.clinic_id, row.owner_id, -1)
    if repair:
        if closed:
            WorkItem.objects.filter(pk__in=[row.pk for row in closed]).update(
                state=WorkItem.State.CLOSED, closed_at=timezone.now()
            )
        if opened:
            WorkItem.objects.bulk_create(opened)
        if len(changed) <= FEW_CHANGED:
            # An event's refresh: a plain UPDATE of each row's own changes costs a statement
            # each, where ``bulk_update`` builds a CASE per column and row (thousands of calls).
            for row, differ in changed:
                shaped_sql.update_row(
                    connection, WorkItem, row.pk, {name: getattr(row, name) for name in differ}
                )
        else:
            WorkItem.objects.bulk_update([row for row, _differ in changed], fields=sorted(differing))
        bump(drift.counts)
    return drift


def refresh(
    *,
    enrollment: Enrollment | int,
    kinds: Iterable[str] = ENROLLMENT_KINDS,
    diary_week: date | None = None,
    rhythm: SimpleNamespace | None = None,
    rhythm_was: SimpleNamespace | None = None,
) -> Drift:
    """Collect ``kinds`` again for one enrollment and bring its open rows in line. Call it in the
    transaction of the event that may have opened or closed work, after the event's writes (no
    savepoint of its own: if it fails, the event fails with it).

    ``diary_week``: a day of the only ISO week whose diary entries changed (a diary entry written
    or corrected keeps its date): its item alone is collected and compared, not every week's.
    ``rhythm``: the enrollment's row as it is now (``rhythm_locked``, with the event's changes),
    for the ``ROW_KINDS``, which then read nothing. ``rhythm_was``: that row as it was read,
    before the event's changes: the ``ROW_KINDS`` items it gives are the open rows as the last
    event left them, so those rows are written without being read (``_moved_with_rhythm``)."""
    kinds = tuple(kinds)
    pk = enrollment if isinstance(enrollment, int) else enrollment.pk
    from_row = tuple(kind for kind in kinds if kind in ROW_KINDS) if rhythm is not None else ()
    queried = tuple(kind for kind in kinds if kind not in from_row)
    moved = Drift()
    if rhythm_was is not None and from_row:
        from_row, moved = _moved_with_rhythm(from_row, rhythm_was, rhythm)
        kinds = tuple(kind for kind in kinds if kind in from_row or kind in queried)
    wanted = [_collect(from_row, [rhythm])]
    if not kinds:
        return moved  # every kind's rows were written from the rhythm alone
    enrollments = Enrollment.objects.filter(pk=pk)
    week_key = None
    if diary_week is not None and "diary" in queried and COLLECTORS.get("diary") is collect_diary_weeks:
        year, week, _weekday = diary_week.isocalendar()
        week_key = diary_week_key(pk, year, week)
        queried = tuple(kind for kind in queried if kind != "diary")
        wanted.append(collect_diary_week(enrollments, diary_week, rhythm=rhythm))
    wanted.append(_collect(queried, enrollments))
    read = tuple(kind for kind in kinds if kind != "diary") if week_key else kinds
    with transaction.atomic(savepoint=False):
        rows = _open_rows_locked(pk, read, week_key)
        drift = _align(rows, chain(*wanted))
        figures.work_moved(pk, drift, rhythm=rhythm)
        drift.extend(moved)
        return drift


def _moved_with_rhythm(
    kinds: tuple[str, ...], was: SimpleNamespace, now: SimpleNamespace
) -> tuple[tuple[str, ...], Drift]:
    """The ``ROW_KINDS`` items depend on the enrollment's row alone: those of the row as it was
    read (``was``) are the open rows as the last event left them. Where the same items are
    wanted before and after, with other values (a patient's activity moves the quiet spell),
    each changed row is updated by its key without being read first; a kind whose items open
    or close, or whose row is not there as expected (drift, which ``reconcile`` reports), is
    left to the caller to collect and compare as usual. Returns those kinds and what moved.

    Only what the event changes is written: a row that drifted in another column (a write
    around the services) stays so until ``reconcile`` repairs it, as the nightly run does."""
    left, moved = [], Drift()
    for kind in kinds:
        before = {item.key: item for item in _collect((kind,), [was])}
        after = {item.key: item for item in _collect((kind,), [now])}
        if before.keys() != after.keys() or kind in COUNTED_KINDS:
            left.append(kind)
            continue
        written = []
        for key, item in after.items():
            values, old = item.values(), before[key].values()
            differ = {name: value for name, value in values.items() if old[name] != value}
            if not differ:
                continue
            if differ.keys() & {"kind", "clinic_id", "patient_id", "enrollment_id", "owner_id"}:
                break  # whose item it is changed: compared with the row as usual
            if (
                shaped_sql.update_rows(
                    connection, WorkItem, {"key": key}, differ, constants={"state": WorkItem.State.OPEN}
                )
                != 1
            ):
                break  # the row is not there: collected and compared with the row as usual
            written.append(key)
        else:
            moved.changed += written
            continue
        left.append(kind)
    return tuple(left), moved


def _open_rows_locked(enrollment_id: int, kinds: tuple[str, ...], week_key: str | None) -> list[WorkItem]:
    """The enrollment's open rows of ``kinds`` (and with ``week_key``, that one diary week's row),
    locked. Its SQL is built once per process for each set of kinds."""

    def build():
        rows = WorkItem.objects.filter(enrollment_id=_STAND_IN.enrollment, state=WorkItem.State.OPEN)
        rows = (
            rows.filter(Q(kind__in=kinds) | Q(key=_STAND_IN.key))
            if week_key is not None
            else rows.filter(kind__in=kinds)
        )
        return shaped_sql.of_model_queryset(rows.select_for_update())

    locked = shaped_sql.shaped(("work_rows_locked", kinds, week_key is not None), build)
    values = {_STAND_IN.enrollment: enrollment_id}
    if week_key is not None:
        values[_STAND_IN.key] = week_key
    return locked.instances(connection, shaped_sql.bound(connection, locked, values))


def refresh_requests(*, clinic_id: int, kinds: Iterable[str] = CLINIC_KINDS) -> Drift:
    """As ``refresh``, for the clinic's intake requests and referrals."""
    kinds = tuple(kinds)
    with transaction.atomic(savepoint=False):
        return _align(
            WorkItem.objects.filter(clinic_id=clinic_id, kind__in=kinds).select_for_update(),
            _collect(kinds, [clinic_id]),
        )


def owner_follow(*, patient: Patient) -> None:
    """After the patient's therapist changed: their open items go to the new therapist
    (referrals stay with the colleague they are addressed to), and their counts with them."""
    # The rows are locked before they are counted, so that a row another request closes in
    # between is neither moved nor counted twice.
    moving = list(
        WorkItem.objects.filter(patient=patient, state=WorkItem.State.OPEN)
        .exclude(kind="referral")
        .exclude(owner_id=patient.therapist_id)
        .select_for_update()
        .values_list("pk", "kind", "owner_id")
    )
    if not moving:
        return
    WorkItem.objects.filter(pk__in=[pk for pk, _kind, _owner in moving]).update(owner_id=patient.therapist_id)
    drift = Drift()
    for _pk, kind, owner_id in moving:
        _counted(drift, kind, patient.clinic_id, owner_id, -1)
        _counted(drift, kind, patient.clinic_id, patient.therapist_id, +1)
    bump(drift.counts)


def counts_found(clinic_id: int) -> dict[str, int]:
    """What the counters of ``clinic_id`` should say, counted on its open rows: ``{key: n}``."""
    found: dict[str, int] = {}
    rows = (
        WorkItem.objects.filter(clinic_id=clinic_id, state=WorkItem.State.OPEN, kind__in=COUNTED_KINDS)
        .values_list("kind", "owner_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for kind, owner_id, n in rows:
        key = count_key(kind, clinic_id, owner_id)
        if key is not None:
            found[key] = found.get(key, 0) + n
    return found


def _check_counts(clinic_id: int, *, repair: bool) -> list[str]:
    """Compare the counters of ``clinic_id`` with its open rows; with ``repair``, set them right.
    The keys that differed, as ``count:<key>``."""
    # The counters are locked before the rows are counted: a service that moved one has
    # committed its rows by then, and one that has not yet moved it waits for this check.
    stored = dict(WorkCount.objects.filter(clinic_id=clinic_id).select_for_update().values_list("key", "n"))
    found = counts_found(clinic_id)
    wrong = sorted(key for key in found.keys() | stored.keys() if found.get(key, 0) != stored.get(key, 0))
    if repair:
        for key in wrong:
            WorkCount.objects.update_or_create(
                key=key, defaults={"clinic_id": clinic_id, "n": found.get(key, 0)}
            )
    return [f"count:{key}" for key in wrong]


def fill(*, enrollments: QuerySet[Enrollment]) -> Drift:
    """Bring the open rows of ``enrollments`` in line (every kind of an enrollment): for data
    written in bulk around the services (the bench's synthetic clinic)."""
    with transaction.atomic(savepoint=False):
        return _align(
            WorkItem.objects.filter(enrollment__in=enrollments, kind__in=ENROLLMENT_KINDS),
            _collect(ENROLLMENT_KINDS, enrollments),
        )


def reconcile(*, repair: bool = False, clinic_ids: Iterable[int] | None = None, progress=None) -> Drift:
    """Collect every kind again, clinic by clinic, and compare with the open rows (repairing
    them with ``repair``). ``progress(clinic_id, done, total, drift)`` is called after each
    clinic. Returns everything that differed."""
    ids = (
        list(clinic_ids)
        if clinic_ids is not None
        else list(Clinic.objects.order_by("pk").values_list("pk", flat=True))
    )
    drift = Drift()
    for done, clinic_id in enumerate(ids, start=1):
        with transaction.atomic():
            enrollments = Enrollment.objects.filter(clinic_id=clinic_id)
            # The rows first, then the counters: the order in which every service locks them
            # (a service locks its rows, then moves the counters), so that a reconcile and a
            # service never wait for each other in a circle. A repaired row moves its counter
            # as with any service; the counters are then checked against the rows as they are.
            found = _align(
                WorkItem.objects.filter(clinic_id=clinic_id, kind__in=ENROLLMENT_KINDS).select_for_update(),
                _collect(ENROLLMENT_KINDS, enrollments),
                repair=repair,
            )
            found.extend(
                _align(
                    WorkItem.objects.filter(clinic_id=clinic_id, kind__in=CLINIC_KINDS).select_for_update(),
                    _collect(CLINIC_KINDS, [clinic_id]),
                    repair=repair,
                )
            )
            found.changed += _check_counts(clinic_id, repair=repair)
        drift.extend(found)
        if progress is not None:
            progress(clinic_id, done, len(ids), found)
    return drift
