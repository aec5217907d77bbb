"""The therapist's worklist and caseload: everything that waits for them, across their patients.

*Caseload* means the patients the therapist treats (``Patient.therapist``) plus those a colleague
shares with them through an active ``CareShare`` (not ended, ``until`` today or later): the same
rule as ``patients.access.covering_share``, so every link on the worklist opens for them.

Cost: a fixed number of queries whatever the size of the caseload (seven for the worklist, two
for the caseload, one for the count in the navigation). Everything that can be grouped is grouped
by the database (diary entries per ISO week, unanswered messages per conversation); only the
feedback rhythm and the quiet spell are computed in Python, from the columns of the one query
that reads the open enrollments, because they depend on each patient's cadence and weekday.

Nothing here decrypts anything: items are described by kind, program content titles, dates and
counts, never by what the patient wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, Exists, IntegerField, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import ExtractIsoYear, ExtractWeek
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from icbt.roles import roles_of
from messaging.models import Message
from messaging.scans import add_working_days
from messaging.selectors import feedback_due_on
from patients.models import (
    AssignmentAnswer,
    CareShare,
    DiaryEntry,
    Enrollment,
    IntakeRequest,
    Patient,
    QuestionnaireResponse,
    Referral,
)
from patients.selectors import program_titles
from programs import questionnaires
from programs.models import Module
from therapists.models import StaffMember

KINDS = {
    "message": _("Unanswered message"),
    "answer": _("Assignment to review"),
    "diary": _("Diary week to review"),
    "questionnaire": _("Questionnaire to review"),
    "feedback_overdue": _("Feedback overdue"),
    "feedback_due": _("Feedback due"),
    "quiet": _("Went quiet"),
    "intake_request": _("Intake request"),
    "referral": _("Referral to you"),
}
# The kinds a therapist can filter on; "feedback" covers due and overdue.
FILTER_KINDS = {
    "message": _("Unanswered messages"),
    "answer": _("Assignments"),
    "diary": _("Diary weeks"),
    "questionnaire": _("Questionnaires"),
    "feedback": _("Feedback due or overdue"),
    "quiet": _("Went quiet"),
    "intake_request": _("Intake requests"),
    "referral": _("Referrals"),
}
ORDERS = ("oldest", "newest")
# Items that come from each patient's rhythm rather than from something waiting; the count in
# the navigation leaves them out (see ``pending_count``).
RHYTHM_KINDS = frozenset({"feedback_due", "feedback_overdue", "quiet"})


class SubqueryCount(Subquery):
    """``(SELECT COUNT(*) FROM (<subquery>))``: counts the rows of any queryset, grouped or
    distinct ones too, inside another query."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) _count)"
    output_field = IntegerField()


class _LazyText:
    """A label formatted when first turned into text."""

    __slots__ = ("_make", "_text")

    def __init__(self, make):
        self._make, self._text = make, None

    def __str__(self) -> str:
        if self._text is None:
            self._text = str(self._make())
        return self._text

    def __bool__(self) -> bool:
        return bool(str(self))

    def __eq__(self, other) -> bool:
        return str(self) == other

    def __hash__(self) -> int:
        return hash(str(self))

    def __contains__(self, part) -> bool:
        return part in str(self)


@dataclass
class WorkItem:
    """One pending item. ``label`` may be given as a function of no arguments: it is then
    formatted only when the item is shown (a page shows 100 of a caseload's thousands)."""

    kind: str
    since: datetime
    url: str
    label: str | Callable[[], str]
    patient_id: int | None = None
    patient_name: str = ""
    case_reference: str = ""
    urgent: bool = False
    flagged: bool = False
    count: int = 1
    now: datetime | None = None

    def __post_init__(self):
        if callable(self.label):
            make = self.label
            self.label = _LazyText(make)

    @property
    def kind_label(self) -> str:
        return str(KINDS[self.kind])

    @property
    def filter_kind(self) -> str:
        return "feedback" if self.kind.startswith("feedback") else self.kind

    @property
    def age(self) -> timedelta:
        return max((self.now or timezone.now()) - self.since, timedelta(0))

    @property
    def age_days(self) -> int:
        return self.age.days

    @property
    def age_hours(self) -> int:
        return int(self.age.total_seconds() // 3600)


@dataclass
class Worklist:
    items: list[WorkItem]
    total: int
    counts: dict[str, int]
    patients: list[tuple[int, str]]
    waiting: int = 0  # what ``pending_count`` counts, for the navigation
    kind: str = ""
    patient_id: int | None = None
    order: str = "oldest"
    kinds: dict = field(default_factory=lambda: FILTER_KINDS)

    @property
    def kind_counts(self) -> list[tuple[str, str, int]]:
        return [(key, str(label), self.counts.get(key, 0)) for key, label in self.kinds.items()]


# --- The caseload ----------------------------------------------------------------------------------


def _therapist(fetched_by) -> StaffMember | None:
    staff = roles_of(fetched_by).staff
    if staff is None or not staff.is_therapist:
        return None
    return staff


def caseload_patients(*, staff: StaffMember, today: date | None = None) -> QuerySet[Patient]:
    """The patients ``staff`` treats, and those shared with them today (no query by itself:
    usable as a subquery)."""
    today = today or timezone.localdate()
    shared = CareShare.objects.filter(
        patient=OuterRef("pk"), colleague=staff, ended_at__isnull=True, until__gte=today
    )
    return Patient.objects.filter(clinic_id=staff.clinic_id).filter(Q(therapist=staff) | Q(Exists(shared)))


def _open_enrollments(staff: StaffMember, today: date) -> QuerySet[Enrollment]:
    return Enrollment.objects.filter(
        status__in=Enrollment.OPEN_STATUSES,
        patient__in=caseload_patients(staff=staff, today=today).values("pk"),
    )


def unanswered_messages(enrollments: QuerySet[Enrollment]) -> QuerySet[Message]:
    """The patients' messages in ``enrollments`` that no message from the clinic followed yet
    (whoever answered: the therapist or a covering colleague). No query by itself."""
    later_reply = (
        Message.objects.filter(conversation=OuterRef("conversation"))
        .exclude(author_id=OuterRef("author_id"))
        .filter(
            Q(created_at__gt=OuterRef("created_at"))
            | Q(created_at=OuterRef("created_at"), pk__gt=OuterRef("pk"))
        )
    )
    return (
        Message.objects.filter(conversation__enrollment__in=enrollments, author__patient__isnull=False)
        .filter(~Exists(later_reply))
        .order_by()
    )


def answers_to_review(enrollments: QuerySet[Enrollment]) -> QuerySet[AssignmentAnswer]:
    return AssignmentAnswer.objects.filter(
        enrollment__in=enrollments,
        status=AssignmentAnswer.Status.SUBMITTED,
        submitted_at__isnull=False,
        reviewed_at__isnull=True,
    ).order_by()


def diary_weeks_to_review(enrollments: QuerySet[Enrollment]) -> QuerySet:
    """Unreviewed diary entries grouped per enrollment and ISO week of the entry's date:
    ``enrollment_id, iso_year, iso_week, since`` (the first written), ``n``, ``first_id``."""
    return (
        DiaryEntry.objects.filter(enrollment__in=enrollments, reviewed_at__isnull=True)
        .annotate(iso_year=ExtractIsoYear("entry_date"), iso_week=ExtractWeek("entry_date"))
        .values("enrollment_id", "iso_year", "iso_week")
        .annotate(since=Min("created_at"), n=Count("id"), first_id=Min("id"))
        .order_by()
    )


def questionnaires_to_review(enrollments: QuerySet[Enrollment]) -> QuerySet[QuestionnaireResponse]:
    """Completed by the patient and not reviewed (a score a therapist typed in needs no review)."""
    return QuestionnaireResponse.objects.filter(
        enrollment__in=enrollments, reviewed_at__isnull=True, entered_by__isnull=True
    ).order_by()


def _last_activity(enrollment: Enrollment) -> datetime:
    """As the inactivity notices count it (messaging.scans): the last activity, else the start."""
    if enrollment.last_activity_at:
        return enrollment.last_activity_at
    if enrollment.started_at:
        return enrollment.started_at
    return timezone.make_aware(datetime.combine(enrollment.start_date, time.min))


@dataclass
class FeedbackState:
    due_on: date
    overdue_on: date
    is_due: bool
    is_overdue: bool


def feedback_state(enrollment: Enrollment, today: date) -> FeedbackState:
    """When the next feedback is due (the day the composer shows, ``messaging.selectors.
    feedback_due_on``), and whether it is overdue: ``ICBT_FEEDBACK_OVERDUE_WORKING_DAYS``
    working days after that day, the rule the digests use (``messaging.scans``)."""
    due_on = feedback_due_on(enrollment=enrollment)
    overdue_on = add_working_days(due_on, settings.ICBT_FEEDBACK_OVERDUE_WORKING_DAYS)
    return FeedbackState(
        due_on=due_on, overdue_on=overdue_on, is_due=today >= due_on, is_overdue=today >= overdue_on
    )


# --- The worklist ----------------------------------------------------------------------------------


class _Composer:
    """Links to the composer of a patient's conversation, with an item attached: reverse() once
    per worklist, not once per item (a large caseload has thousands of items)."""

    def __init__(self):
        self.base = reverse("messaging:staff_conversation", kwargs={"pk": 0})
        self.head, self.tail = self.base.rsplit("/0/", 1)

    def __call__(self, patient_id: int, ref: str = "") -> str:
        url = f"{self.head}/{int(patient_id)}/{self.tail}"
        return f"{url}?attach={ref}#composer" if ref else f"{url}#composer"


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def worklist(
    *,
    fetched_by,
    kind: str = "",
    patient_id: int | None = None,
    order: str = "oldest",
    now: datetime | None = None,
) -> Worklist:
    """Every pending item of the viewer's caseload, urgent questionnaires first, then by age
    (oldest first, or newest with ``order="newest"``), filtered by ``kind`` (a key of
    ``FILTER_KINDS``) and ``patient_id``. Therapists only (anyone else gets an empty list).

    Seven queries (nine when there are intake requests: the program titles), whatever the
    number of patients and items.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    staff = _therapist(fetched_by)
    if staff is None:
        return Worklist(items=[], total=0, counts={}, patients=[])
    open_enrollments = _open_enrollments(staff, today)
    items: list[WorkItem] = []
    _composer = _Composer()

    # 1. The open enrollments of the caseload: names for every other item, the feedback rhythm
    # and quiet spells.
    enrollments = {e.pk: e for e in open_enrollments.select_related("patient__user").defer("status_reason")}

    def item(kind_, since, url, label, enrollment_id, **extra) -> WorkItem | None:
        enrollment = enrollments.get(enrollment_id)
        if enrollment is None:
            return None
        patient = enrollment.patient
        return WorkItem(
            kind=kind_,
            since=since,
            url=url,
            label=label,
            patient_id=patient.pk,
            patient_name=patient.user.get_full_name(),
            case_reference=patient.case_reference,
            now=now,
            **extra,
        )

    for enrollment in enrollments.values():
        if enrollment.status != Enrollment.Status.ACTIVE:
            continue
        state = feedback_state(enrollment, today)
        if state.is_due:
            items.append(
                item(
                    "feedback_overdue" if state.is_overdue else "feedback_due",
                    _local_midnight(state.due_on),
                    _composer(enrollment.patient.pk),
                    lambda day=state.due_on: (
                        _("Feedback was due on %(day)s") % {"day": date_format(day, "D j M")}
                    ),
                    enrollment.pk,
                    urgent=False,
                    flagged=state.is_overdue,
                )
            )
        last = _last_activity(enrollment)
        if now - last >= timedelta(days=enrollment.inactivity_days):
            items.append(
                item(
                    "quiet",
                    last,
                    _composer(enrollment.patient.pk),
                    lambda days=(now - last).days: _("No activity for %(days)s days") % {"days": days},
                    enrollment.pk,
                )
            )

    # 2. Unanswered messages, grouped per conversation.
    waiting = (
        unanswered_messages(open_enrollments)
        .values("conversation__enrollment_id")
        .annotate(since=Min("created_at"), n=Count("id"))
    )
    for row in waiting:
        enrollment = enrollments.get(row["conversation__enrollment_id"])
        if enrollment is not None:

            def text(n=row["n"]):
                return _("%(count)s message(s) waiting for an answer") % {"count": n}

            items.append(
                item(
                    "message",
                    row["since"],
                    _composer(enrollment.patient.pk),
                    text,
                    enrollment.pk,
                    count=row["n"],
                )
            )

    # 3. Assignments handed in and not reviewed.
    answers = answers_to_review(open_enrollments).values(
        "pk", "enrollment_id", "submitted_at", "step__title", "step__module__number"
    )
    for row in answers:
        enrollment = enrollments.get(row["enrollment_id"])
        if enrollment is not None:

            def label(row=row):
                return _("Module %(number)s: %(title)s") % {
                    "number": row["step__module__number"],
                    "title": row["step__title"],
                }

            url = _composer(enrollment.patient.pk, f"answer:{row['pk']}")
            items.append(item("answer", row["submitted_at"], url, label, enrollment.pk))

    # 4. Diary entries not reviewed, one item per patient and ISO week.
    for row in diary_weeks_to_review(open_enrollments):
        enrollment = enrollments.get(row["enrollment_id"])
        if enrollment is not None:

            def label(row=row):
                return _("Week %(week)s of %(year)s: %(count)s entries") % {
                    "week": row["iso_week"],
                    "year": row["iso_year"],
                    "count": row["n"],
                }

            url = _composer(enrollment.patient.pk, f"diary:{row['first_id']}")
            items.append(item("diary", row["since"], url, label, enrollment.pk, count=row["n"]))

    # 5. Questionnaires the patient completed, not reviewed (scores a therapist typed in need no
    # review). The PHQ-9 self-harm flag makes an item urgent; other flags mark it.
    responses = questionnaires_to_review(open_enrollments).values(
        "pk", "enrollment_id", "code", "moment", "completed_at", "flags"
    )
    for row in responses:
        enrollment = enrollments.get(row["enrollment_id"])
        if enrollment is None:
            continue
        flags = row["flags"] or []
        name = (
            str(questionnaires.get_instrument(row["code"]).short_name)
            if row["code"] in questionnaires.INSTRUMENTS
            else row["code"]
        )
        label = name
        if "self_harm" in flags:
            label = str(_("%(name)s: item 9 answered above 0, contact the patient soon")) % {"name": name}
        elif flags:
            label = str(_("%(name)s: flagged score")) % {"name": name}
        items.append(
            item(
                "questionnaire",
                row["completed_at"],
                _composer(enrollment.patient.pk, f"questionnaire:{row['pk']}"),
                label,
                enrollment.pk,
                urgent="self_harm" in flags,
                flagged=bool(flags),
            )
        )

    # 6. The clinic's new intake requests (names stay on the request's own, audited page).
    requests = list(
        IntakeRequest.objects.filter(clinic_id=staff.clinic_id, status=IntakeRequest.Status.NEW)
        .values("pk", "created_at", "program_id")
        .order_by()
    )
    if requests:
        titles = program_titles(language=translation.get_language() or "en")
        for row in requests:
            items.append(
                WorkItem(
                    kind="intake_request",
                    since=row["created_at"],
                    now=now,
                    url=reverse("patients:staff_intake_request_detail", kwargs={"pk": row["pk"]}),
                    label=titles.get(row["program_id"], ""),
                )
            )

    # 7. Referrals waiting for the therapist's answer.
    for referral in (
        Referral.objects.filter(to_therapist=staff, status=Referral.Status.PENDING)
        .select_related("patient__user", "referred_by__user")
        .order_by()
    ):
        items.append(
            WorkItem(
                kind="referral",
                since=referral.created_at,
                now=now,
                url=reverse("patients:staff_referral_detail", kwargs={"pk": referral.pk}),
                label=str(_("From %(name)s")) % {"name": referral.referred_by.user.get_full_name()},
                patient_id=referral.patient_id,
                patient_name=referral.patient.user.get_full_name(),
                case_reference=referral.patient.case_reference,
            )
        )

    items = [i for i in items if i is not None]
    waiting = sum(1 for i in items if i.kind not in RHYTHM_KINDS)
    counts: dict[str, int] = {key: 0 for key in FILTER_KINDS}
    for entry in items:
        counts[entry.filter_kind] += 1
    patients = sorted(
        {(i.patient_id, f"{i.patient_name} ({i.case_reference})") for i in items if i.patient_id},
        key=lambda p: p[1].lower(),
    )
    total = len(items)
    if kind in FILTER_KINDS:
        items = [i for i in items if i.filter_kind == kind]
    if patient_id:
        items = [i for i in items if i.patient_id == patient_id]
    newest_first = order == "newest"
    items.sort(key=lambda i: (not i.urgent, -i.since.timestamp() if newest_first else i.since.timestamp()))
    return Worklist(
        items=items,
        total=total,
        waiting=waiting,
        counts=counts,
        patients=patients,
        kind=kind if kind in FILTER_KINDS else "",
        patient_id=patient_id,
        order=order if order in ORDERS else "oldest",
    )


def pending_count(*, fetched_by, today: date | None = None) -> int | None:
    """For the navigation: how many items of the patients' work, messages and requests wait for
    the therapist (what the worklist shows, less feedback due and quiet patients, which depend
    on each patient's rhythm and are computed on the page). One query; None for non-therapists.
    """
    staff = _therapist(fetched_by)
    if staff is None:
        return None
    today = today or timezone.localdate()
    open_enrollments = _open_enrollments(staff, today)
    messages = unanswered_messages(open_enrollments).values("conversation_id").distinct()
    answers = answers_to_review(open_enrollments).values("pk")
    weeks = diary_weeks_to_review(open_enrollments).values("enrollment_id", "iso_year", "iso_week").distinct()
    responses = questionnaires_to_review(open_enrollments).values("pk")
    requests = (
        IntakeRequest.objects.filter(clinic_id=staff.clinic_id, status=IntakeRequest.Status.NEW)
        .values("pk")
        .order_by()
    )
    referrals = (
        Referral.objects.filter(to_therapist=staff, status=Referral.Status.PENDING).values("pk").order_by()
    )
    row = (
        StaffMember.objects.filter(pk=staff.pk)
        .annotate(
            m=SubqueryCount(messages),
            a=SubqueryCount(answers),
            d=SubqueryCount(weeks),
            q=SubqueryCount(responses),
            i=SubqueryCount(requests),
            r=SubqueryCount(referrals),
        )
        .values_list("m", "a", "d", "q", "i", "r")
        .first()
    )
    return sum(row) if row else 0


# --- My caseload -----------------------------------------------------------------------------------


@dataclass
class CaseloadRow:
    patient: Patient
    enrollment: Enrollment | None
    shared: bool
    module_number: int | None
    module_count: int | None
    next_feedback_due: date | None
    feedback_overdue: bool
    last_activity: datetime | None


def caseload(*, fetched_by, today: date | None = None) -> list[CaseloadRow]:
    """The viewer's patients with their enrollment's status, program, current module, last
    activity and next feedback day. Two queries whatever the size of the caseload."""
    today = today or timezone.localdate()
    staff = _therapist(fetched_by)
    if staff is None:
        return []
    patients = list(
        caseload_patients(staff=staff, today=today)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "pk")
    )
    latest: dict[int, Enrollment] = {}
    enrollments = (
        Enrollment.objects.filter(patient__in=caseload_patients(staff=staff, today=today).values("pk"))
        .select_related("version", "current_step__module")
        .annotate(
            module_count=Subquery(
                Module.objects.filter(version_id=OuterRef("version_id"))
                .order_by()
                .values("version_id")
                .annotate(n=Count("pk"))
                .values("n")[:1]
            )
        )
        .defer("status_reason")
        .order_by("patient_id", "-created_at", "-pk")
    )
    for enrollment in enrollments:
        current = latest.get(enrollment.patient_id)
        # The open enrollment wins; otherwise the most recent one.
        if current is None or (enrollment.is_open and not current.is_open):
            latest[enrollment.patient_id] = enrollment
    rows = []
    for patient in patients:
        enrollment = latest.get(patient.pk)
        state = None
        if enrollment is not None and enrollment.status == Enrollment.Status.ACTIVE:
            enrollment.patient = patient
            state = feedback_state(enrollment, today)
        module_number = None
        if enrollment is not None and enrollment.current_step_id:
            module_number = enrollment.current_step.module.number
        rows.append(
            CaseloadRow(
                patient=patient,
                enrollment=enrollment,
                shared=patient.therapist_id != staff.pk,
                module_number=module_number,
                module_count=enrollment.module_count if enrollment else None,
                next_feedback_due=state.due_on if state else None,
                feedback_overdue=bool(state and state.is_overdue),
                last_activity=enrollment.last_activity_at if enrollment else None,
            )
        )
    return rows
