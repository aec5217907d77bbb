"""The manager's dashboard: aggregates of one clinic (or one team), never clinical content.

Every figure is a count, a share or a duration computed by the database; no patient is named,
no answer, diary, message or score is read. The same :class:`Dashboard` feeds the page, the
CSV exports and the clinic period report PDF, so the three always agree; its tables and charts
are drawn in ``therapists.dashboard_presentation``.

Cost: a fixed number of queries (about sixteen) whatever the number of patients, enrollments
and items; each is a GROUP BY or a correlated subquery.

Definitions (also shown on the page):

- *Active, paused, waiting*: enrollments of the therapist with that status now (waiting = invited,
  the patient has not started yet).
- *Pending items*: what waits for the therapist now, as on their worklist: patients' messages
  without an answer (per conversation), assignments and questionnaires not reviewed, diary
  weeks not reviewed (per patient and ISO week).
- *Overdue feedback*: active patients whose feedback day (by their cadence) passed more than
  ``ICBT_FEEDBACK_OVERDUE_WORKING_DAYS`` working days ago without feedback.
- *Median time to feedback*: from an assignment being handed in, or a diary entry being written,
  to it being reviewed (feedback attached to it, or marked as reviewed), for items reviewed in
  the period. On PostgreSQL the median is ``percentile_cont(0.5)`` in the database. On SQLite
  (development) it is computed in Python from a bounded list: each therapist's most recent
  ``MEDIAN_SAMPLE`` reviewed items of the period, chosen by a window function in the database.
- *Starts*: enrollments that started (the patient began) in the month; *completions*,
  *drop-outs* (stopped) and *step-ups* (stepped up to face-to-face care): enrollments that ended
  with that status in the month.
- *Module funnel*: of the enrollments that started in the period, how many reached each module
  (opened at least one of its steps), and how many completed the program.
- *Share of treatment contacts delivered online*: messages written by clinic staff in the
  program's message box (written feedback and other messages), divided by those messages plus
  the face-to-face intakes and the recorded sessions (face to face, group, phone and video call).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Count, Exists, F, FloatField, Func, Max, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from icbt.models import Clinic, StaffMember, Team
from icbt.roles import roles_of
from patients import figures, rhythm
from patients.models import (
    AssignmentAnswer,
    DailyFigure,
    DiaryEntry,
    Enrollment,
    Patient,
    TreatmentSession,
    WorkTally,
)
from patients.selectors import program_titles
from programs.models import Module

MEDIAN_SAMPLE = 1000
DEFAULT_MONTHS = 12
MAX_MONTHS = 60


# --- The period ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def start_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def end_before(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    @property
    def months(self) -> list[date]:
        months, month = [], self.start.replace(day=1)
        while month <= self.end:
            months.append(month)
            month = (month + timedelta(days=32)).replace(day=1)
        return months


def default_period(today: date | None = None) -> Period:
    """The last twelve months: from the first day of the month eleven months ago to today."""
    today = today or timezone.localdate()
    month = today.replace(day=1)
    for _step in range(DEFAULT_MONTHS - 1):
        month = (month - timedelta(days=1)).replace(day=1)
    return Period(start=month, end=today)


def _month_key(value) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        value = value.date()
    return value.replace(day=1)


def month_label(month: date) -> str:
    return date_format(month, "M Y")


# --- Seconds between two datetimes, in the database ------------------------------------------------


class SecondsBetween(Func):
    """``end - start`` in seconds, as a float, on PostgreSQL and SQLite."""

    output_field = FloatField()

    def __init__(self, end, start, **extra):
        super().__init__(end, start, **extra)

    def as_sql(self, compiler, connection, **extra_context):  # pragma: no cover - other databases
        raise NotImplementedError("SecondsBetween supports PostgreSQL and SQLite")

    def as_postgresql(self, compiler, connection, **extra_context):
        end_sql, end_params = compiler.compile(self.source_expressions[0])
        start_sql, start_params = compiler.compile(self.source_expressions[1])
        return f"EXTRACT(EPOCH FROM ({end_sql} - {start_sql}))::float", (*end_params, *start_params)

    def as_sqlite(self, compiler, connection, **extra_context):
        end_sql, end_params = compiler.compile(self.source_expressions[0])
        start_sql, start_params = compiler.compile(self.source_expressions[1])
        return f"((julianday({end_sql}) - julianday({start_sql})) * 86400.0)", (*end_params, *start_params)


# --- Results ---------------------------------------------------------------------------------------


@dataclass
class TherapistRow:
    staff_id: int
    name: str
    teams: list[str]
    team_ids: list[int]
    active: int = 0
    paused: int = 0
    invited: int = 0
    pending: int = 0
    overdue: int = 0
    median_hours: float | None = None
    reviewed: int = 0


@dataclass
class ProgramMonthRow:
    program: str
    month: date
    intake_requests: int = 0
    starts: int = 0
    completions: int = 0
    dropouts: int = 0
    step_ups: int = 0


@dataclass
class FunnelRow:
    program: str
    stage: str
    patients: int
    share: float | None  # of the enrollments that started


@dataclass
class ContactsRow:
    month: date
    feedback: int = 0
    other_messages: int = 0
    sessions: dict[str, int] = field(default_factory=dict)

    @property
    def online(self) -> int:
        return self.feedback + self.other_messages

    @property
    def in_person(self) -> int:
        return sum(self.sessions.values())

    @property
    def share_online(self) -> float | None:
        total = self.online + self.in_person
        return round(100 * self.online / total, 1) if total else None


@dataclass
class Dashboard:
    clinic: Clinic
    team: Team | None
    teams: list[Team]
    period: Period
    therapists: list[TherapistRow]
    program_months: list[ProgramMonthRow]
    funnel: list[FunnelRow]
    contacts: list[ContactsRow]
    session_kinds: list[tuple[str, str]]
    trained_idle: list[StaffMember]
    median_hours: float | None
    median_method: str
    # Per team id (None: treatments without a team): active, paused, invited, pending, overdue.
    team_counts: dict[int | None, dict[str, int]] = field(default_factory=dict)

    @property
    def totals(self) -> dict[str, int]:
        rows = self.therapists
        return {
            key: sum(getattr(r, key) for r in rows)
            for key in ("active", "paused", "invited", "pending", "overdue")
        }

    @property
    def contacts_total(self) -> ContactsRow:
        total = ContactsRow(month=self.period.start)
        for row in self.contacts:
            total.feedback += row.feedback
            total.other_messages += row.other_messages
            for kind, n in row.sessions.items():
                total.sessions[kind] = total.sessions.get(kind, 0) + n
        return total

    def team_rows(self) -> list[dict]:
        """Per team: the treatments that belong to it (``Enrollment.team``), each counted under
        one team only; then, in the clinic-wide view of a clinic with teams, the treatments without
        a team."""
        keys = ("active", "paused", "invited", "pending", "overdue")
        rows = []
        for team in self.teams if self.team is None else [self.team]:
            counts = self.team_counts.get(team.pk, {})
            rows.append(
                {
                    "team": team.name,
                    "therapists": sum(1 for r in self.therapists if team.pk in r.team_ids),
                    **{key: counts.get(key, 0) for key in keys},
                }
            )
        unassigned = self.team_counts.get(None)
        if self.team is None and self.teams and unassigned and any(unassigned.values()):
            rows.append(
                {
                    "team": str(_("No team chosen")),
                    "therapists": "",
                    **{key: unassigned.get(key, 0) for key in keys},
                }
            )
        return rows


# --- The selector ----------------------------------------------------------------------------------


def manager_clinic(fetched_by) -> StaffMember | None:
    staff = roles_of(fetched_by).staff
    if staff is None or not staff.is_manager:
        return None
    return staff


def clinic_dashboard(
    *,
    fetched_by,
    period: Period | None = None,
    team_id: int | None = None,
    today: date | None = None,
    teams: list[Team] | None = None,
) -> Dashboard | None:
    """The dashboard of the viewer's clinic (managers only; None for anyone else), for
    ``period`` (default: the last twelve months) and optionally one team of that clinic (a team
    of another clinic is ignored). ``teams``: the clinic's teams, when the caller has them."""
    staff = manager_clinic(fetched_by)
    if staff is None:
        return None
    today = today or timezone.localdate()
    period = period or default_period(today)
    clinic = staff.clinic
    if teams is None or any(t.clinic_id != clinic.pk for t in teams):
        teams = clinic_teams(clinic_id=clinic.pk)
    team = next((t for t in teams if t.pk == team_id), None)

    enrollments = Enrollment.objects.filter(clinic_id=clinic.pk)
    therapists_qs = StaffMember.objects.filter(clinic_id=clinic.pk, is_therapist=True)
    if team is not None:
        enrollments = enrollments.filter(team=team)
        therapists_qs = therapists_qs.filter(teams=team)
    open_enrollments = enrollments.filter(status__in=Enrollment.OPEN_STATUSES)

    rows, trained_idle, team_counts = _therapist_rows(
        therapists_qs, open_enrollments, clinic_id=clinic.pk, team=team, today=today
    )
    median_all, method = _medians(rows, enrollments, period)
    titles = program_titles(language=_language())
    program_months = _program_months(clinic, team, period, titles)
    funnel = _funnel(clinic, team, period, titles)
    contacts, kinds = _contacts(clinic, team, period)
    dashboard = Dashboard(
        clinic=clinic,
        team=team,
        teams=teams,
        period=period,
        therapists=rows,
        program_months=program_months,
        funnel=funnel,
        contacts=contacts,
        session_kinds=kinds,
        trained_idle=trained_idle,
        median_hours=median_all,
        median_method=method,
        team_counts=team_counts,
    )
    return dashboard


def _language() -> str:
    from django.utils import translation

    return translation.get_language() or "en"


def clinic_teams(*, clinic_id: int) -> list[Team]:
    return list(Team.objects.filter(clinic_id=clinic_id).order_by("name"))


def _therapist_rows(
    therapists_qs, open_enrollments, *, clinic_id: int, team: Team | None, today
) -> tuple[list[TherapistRow], list[StaffMember], dict[int | None, dict[str, int]]]:
    """Per therapist (``Enrollment.therapist``) and per team (``Enrollment.team``): open
    treatments by status and overdue feedback (one grouped count over the open enrollments, the
    overdue rule of ``patients.rhythm`` as a condition in the database), pending items (the
    open work items of ``messaging.pending.PATIENT_WORK_KINDS``, read from their tallies per
    therapist and team, ``patients.WorkTally``: a row per therapist and team, not a row per
    item); and the therapists with a training date who have no patient yet, by training date.
    Each treatment counts under one therapist and one team."""
    therapists = list(
        therapists_qs.select_related("user")
        .annotate(
            has_patients=Exists(Patient.objects.filter(therapist=OuterRef("pk")))
            | Exists(Enrollment.objects.filter(therapist=OuterRef("pk"))),
        )
        .order_by("user__last_name", "user__first_name", "pk")
    )
    trained_idle = sorted(
        (t for t in therapists if t.training_date is not None and not t.has_patients),
        key=lambda t: (t.training_date, t.user.last_name),
    )
    # The teams of every therapist as plain pairs in one query (a related manager per therapist
    # costs more than the query at a clinic's size), in the teams' own order.
    memberships: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for staff_id, team_id, name in (
        StaffMember.teams.through.objects.filter(staffmember_id__in=therapists_qs.values("pk"))
        .order_by("team__clinic_id", "team__name", "team_id")
        .values_list("staffmember_id", "team_id", "team__name")
    ):
        memberships[staff_id].append((team_id, name))
    rows = {
        t.pk: TherapistRow(
            staff_id=t.pk,
            name=t.user.get_full_name() or t.user.email,
            teams=[name for _id, name in memberships[t.pk]],
            team_ids=[team_id for team_id, _name in memberships[t.pk]],
        )
        for t in therapists
    }
    teams: dict[int | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    # The work items exist only where work waits (an ended treatment keeps only its unanswered
    # messages and urgent questionnaires): no filter of the enrollments is needed on top.
    tallies = WorkTally.objects.filter(clinic_id=clinic_id).exclude(n=0)
    if team is not None:
        tallies = tallies.filter(team_ref=team.pk)
    for therapist_id, team_ref, n in tallies.values_list("therapist_ref", "team_ref", "n"):
        team_id = team_ref or None
        if therapist_id in rows:
            rows[therapist_id].pending += n
        teams[team_id]["pending"] += n
    status_key = {
        Enrollment.Status.ACTIVE: "active",
        Enrollment.Status.PAUSED: "paused",
        Enrollment.Status.INVITED: "invited",
    }
    overdue = Q(status=Enrollment.Status.ACTIVE) & rhythm.feedback_overdue_q(today)
    for group in (
        open_enrollments.values("therapist_id", "team_id", "status")
        .annotate(n=Count("pk"), overdue=Count("pk", filter=overdue))
        .order_by()
    ):
        key, n = status_key[group["status"]], group["n"]
        row = rows.get(group["therapist_id"])
        if row is not None:
            setattr(row, key, getattr(row, key) + n)
            row.overdue += group["overdue"]
        counts = teams[group["team_id"]]
        counts[key] += n
        counts["overdue"] += group["overdue"]
    return list(rows.values()), trained_idle, {k: dict(v) for k, v in teams.items()}


def _review_durations_sql(enrollments, period: Period) -> tuple[str, list]:
    """One SQL text: (therapist, seconds, reviewed_at) of every assignment and diary entry
    reviewed in the period."""
    in_period = {"reviewed_at__gte": period.start_at, "reviewed_at__lt": period.end_before}
    answers = (
        AssignmentAnswer.objects.filter(enrollment__in=enrollments, submitted_at__isnull=False, **in_period)
        .annotate(
            t=F("enrollment__therapist_id"),
            s=SecondsBetween("reviewed_at", "submitted_at"),
            at=F("reviewed_at"),
        )
        .values_list("t", "s", "at")
        .order_by()
    )
    diaries = (
        DiaryEntry.objects.filter(enrollment__in=enrollments, **in_period)
        .annotate(
            t=F("enrollment__therapist_id"),
            s=SecondsBetween("reviewed_at", "created_at"),
            at=F("reviewed_at"),
        )
        .values_list("t", "s", "at")
        .order_by()
    )
    sql_a, params_a = answers.query.sql_with_params()
    sql_d, params_d = diaries.query.sql_with_params()
    return f"{sql_a} UNION ALL {sql_d}", [*params_a, *params_d]


def _medians(rows: list[TherapistRow], enrollments, period: Period) -> tuple[float | None, str]:
    """Median hours from hand-in to review per therapist (set on ``rows``) and for all of them.
    One query."""
    union, params = _review_durations_sql(enrollments, period)
    by_id = {r.staff_id: r for r in rows}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT d.t, percentile_cont(0.5) WITHIN GROUP (ORDER BY d.s), COUNT(*) "  # noqa: S608
                f"FROM ({union}) AS d(t, s, at) GROUP BY ROLLUP (d.t)",
                params,
            )
            overall = None
            for therapist_id, median, count in cursor.fetchall():
                hours = round(float(median) / 3600, 1) if median is not None else None
                if therapist_id is None:
                    overall = hours
                elif therapist_id in by_id:
                    by_id[therapist_id].median_hours, by_id[therapist_id].reviewed = hours, count
            return overall, "percentile_cont"
        cursor.execute(
            "SELECT t, s FROM (SELECT d.t AS t, d.s AS s, ROW_NUMBER() OVER "  # noqa: S608
            f"(PARTITION BY d.t ORDER BY d.at DESC) AS rn FROM ({union}) AS d) WHERE rn <= %s",
            [*params, MEDIAN_SAMPLE],
        )
        samples: dict[int, list[float]] = defaultdict(list)
        for therapist_id, seconds in cursor.fetchall():
            samples[therapist_id].append(float(seconds))
    for therapist_id, values in samples.items():
        if therapist_id in by_id:
            by_id[therapist_id].median_hours = round(statistics.median(values) / 3600, 1)
            by_id[therapist_id].reviewed = len(values)
    every = [v for values in samples.values() for v in values]
    return (round(statistics.median(every) / 3600, 1) if every else None), "sample"


def _figures(clinic, period: Period, kinds) -> QuerySet[DailyFigure]:
    return DailyFigure.objects.filter(
        clinic_id=clinic.pk, kind__in=kinds, day__gte=period.start, day__lte=period.end, n__gt=0
    )


def _program_months(clinic, team, period: Period, titles: dict[int, str]) -> list[ProgramMonthRow]:
    """Per program and month: intake requests (of the whole clinic), starts and endings by
    status (of the team's treatments when a team is chosen). One grouped sum over the clinic's
    daily figures (``patients.figures``)."""
    table: dict[tuple[int, date], ProgramMonthRow] = {}

    def row(program_id, month) -> ProgramMonthRow:
        key = (program_id, _month_key(month))
        if key not in table:
            table[key] = ProgramMonthRow(program=titles.get(program_id, str(program_id)), month=key[1])
        return table[key]

    rows = _figures(clinic, period, figures.FLOW_KINDS)
    if team is not None:
        rows = rows.filter(Q(kind=figures.REQUEST) | Q(team_ref=team.pk))
    attribute = {
        figures.REQUEST: "intake_requests",
        figures.START: "starts",
        Enrollment.Status.COMPLETED: "completions",
        Enrollment.Status.STOPPED: "dropouts",
        Enrollment.Status.STEPPED_UP: "step_ups",
    }
    for program_id, month, kind, n in (
        rows.values_list("program_ref", TruncMonth("day"), "kind").annotate(n=Sum("n")).order_by()
    ):
        setattr(row(program_id, month), attribute[kind], n)
    return sorted(table.values(), key=lambda r: (r.program.lower(), r.month))


def _funnel(clinic, team, period: Period, titles: dict[int, str]) -> list[FunnelRow]:
    """Of the enrollments that started in the period, per program: how many reached each module
    (the highest module with a step opened, from StepProgress) and how many completed. Two
    queries: the start cohorts of the daily figures grouped by program, module reached and
    completion (``patients.figures``), and the number of modules per program."""
    rows = _figures(clinic, period, [figures.COHORT])
    if team is not None:
        rows = rows.filter(team_ref=team.pk)
    groups = [
        {"version__program_id": program, "reached": reached, "completed": sub == figures.COMPLETED, "n": n}
        for program, reached, sub, n in rows.values_list("program_ref", "module", "sub")
        .annotate(n=Sum("n"))
        .order_by()
    ]
    per_program: dict[int, dict] = {}
    for g in groups:
        data = per_program.setdefault(
            g["version__program_id"], {"started": 0, "reached": defaultdict(int), "completed": 0}
        )
        data["started"] += g["n"]
        data["reached"][g["reached"] or 0] += g["n"]
        if g["completed"]:
            data["completed"] += g["n"]
    if not per_program:
        return []
    module_counts = dict(
        Module.objects.filter(version__program_id__in=list(per_program))
        .values("version__program_id")
        .annotate(n=Max("number"))
        .values_list("version__program_id", "n")
        .order_by()
    )
    rows = []
    for program_id, data in sorted(per_program.items(), key=lambda kv: titles.get(kv[0], "").lower()):
        program = titles.get(program_id, str(program_id))
        started = data["started"]
        rows.append(FunnelRow(program, str(_("Started the program")), started, 100.0))
        highest = max([module_counts.get(program_id, 0), *data["reached"].keys()])
        for number in range(1, highest + 1):
            n = sum(count for module, count in data["reached"].items() if module >= number)
            rows.append(
                FunnelRow(
                    program,
                    str(_("Reached module %(number)s")) % {"number": number},
                    n,
                    round(100 * n / started, 1) if started else None,
                )
            )
        rows.append(
            FunnelRow(
                program,
                str(_("Completed the program")),
                data["completed"],
                round(100 * data["completed"] / started, 1) if started else None,
            )
        )
    return rows


INTAKE = "intake"


def _contacts(clinic, team, period: Period) -> tuple[list[ContactsRow], list[tuple[str, str]]]:
    """Per month: messages from clinic staff (feedback and other), recorded sessions per kind,
    and intakes (always face to face; an intake that also has a face-to-face session recorded
    for that patient on that day counts once, as the session). One grouped sum over the daily
    figures (``patients.figures``)."""
    rows = _figures(clinic, period, figures.CONTACT_KINDS)
    if team is not None:
        # A contact within a treatment counts for the treatment's team; one outside a treatment
        # (an intake, a session recorded without one) for the teams of the therapist.
        members = StaffMember.teams.through.objects.filter(team_id=team.pk).values("staffmember_id")
        rows = rows.filter(
            Q(kind__in=(figures.FEEDBACK, figures.MESSAGE, figures.SESSION), team_ref=team.pk)
            | Q(kind=figures.SESSION, team_ref=0, therapist_ref__in=members)
            | Q(kind=figures.INTAKE, therapist_ref__in=members)
        )
    months = {m: ContactsRow(month=m) for m in period.months}
    for month, kind, sub, n in (
        rows.values_list(TruncMonth("day"), "kind", "sub").annotate(n=Sum("n")).order_by()
    ):
        row = months.setdefault(_month_key(month), ContactsRow(month=_month_key(month)))
        if kind == figures.FEEDBACK:
            row.feedback += n
        elif kind == figures.MESSAGE:
            row.other_messages += n
        else:
            session_kind = INTAKE if kind == figures.INTAKE else sub
            row.sessions[session_kind] = row.sessions.get(session_kind, 0) + n
    kinds = [(INTAKE, str(_("intake (face to face)")))]
    kinds += [(str(k.value), str(k.label)) for k in TreatmentSession.Kind]
    return [months[m] for m in sorted(months)], kinds
