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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial

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
from patients import selectors as patient_selectors
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
    "early_warning": _("Early warning"),
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
    "early_warning": _("Early warnings"),
}
ORDERS = ("oldest", "newest")
# Items that come from each patient's rhythm rather than from something waiting; the count in
# the navigation leaves them out (see ``pending_count``).
RHYTHM_KINDS = frozenset({"feedback_due", "feedback_overdue", "quiet", "early_warning"})


class SubqueryCount(Subquery):
    """``(SELECT COUNT(*) FROM (<subquery>))``: counts the rows of any queryset, grouped or
    distinct ones too, inside another query."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) _count)"
    output_field = IntegerField()


@dataclass
class WorkItem:
    """One pending item as the worklist shows it."""

    kind: str
    since: datetime
    url: str
    label: str
    patient_id: int | None = None
    patient_name: str = ""
    case_reference: str = ""
    urgent: bool = False
    flagged: bool = False
    count: int = 1
    now: datetime | None = None

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
    items: WorkItems  # a sequence of WorkItem, made when read
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


# Up to this many enrollments, the items of a caseload are looked up by the enrollments' ids
# rather than by the caseload as a subquery: for the subquery (an OR with the patients shared
# with the therapist) PostgreSQL expects half the clinic, and so scans every message and diary
# entry even for a therapist with 20 patients. Past it, binding thousands of ids costs more
# than the scan saves.
IDS_AT_MOST = 300


def _by_ids_if_few(enrollments: QuerySet[Enrollment]) -> QuerySet[Enrollment] | list[int]:
    """The ids of ``enrollments`` when there are at most ``IDS_AT_MOST`` (one query), else the
    queryset itself (no query)."""
    ids = list(enrollments.values_list("pk", flat=True)[: IDS_AT_MOST + 1])
    return ids if len(ids) <= IDS_AT_MOST else enrollments


def _open_enrollments(staff: StaffMember, today: date) -> QuerySet[Enrollment]:
    """The caseload's open enrollments, and the ended ones that still have an unanswered message
    or an unreviewed urgent questionnaire: ending a treatment does not handle those, so they stay
    on the worklist until a person does (the other items of an ended enrollment drop off)."""
    still_waiting = Exists(
        _unanswered(Message.objects.filter(conversation__enrollment=OuterRef("pk")))
    ) | Exists(urgent_questionnaires(QuestionnaireResponse.objects.filter(enrollment=OuterRef("pk"))))
    return Enrollment.objects.filter(
        Q(status__in=Enrollment.OPEN_STATUSES) | still_waiting,
        patient__in=caseload_patients(staff=staff, today=today).values("pk"),
    )


def urgent_questionnaires(responses: QuerySet[QuestionnaireResponse]) -> QuerySet[QuestionnaireResponse]:
    """The unreviewed responses among ``responses`` with the self-harm flag (no query by itself).
    The flags are encrypted; the derived ``urgent`` column carries the self-harm flag."""
    return responses.filter(reviewed_at__isnull=True, entered_by__isnull=True, urgent=True)


def unanswered_messages(enrollments: QuerySet[Enrollment] | list[int]) -> QuerySet[Message]:
    """The patients' messages in ``enrollments`` that no message from the clinic followed yet
    (whoever answered: the therapist or a covering colleague). No query by itself."""
    return _unanswered(Message.objects.filter(conversation__enrollment__in=enrollments))


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


def answers_to_review(enrollments: QuerySet[Enrollment] | list[int]) -> QuerySet[AssignmentAnswer]:
    return AssignmentAnswer.objects.filter(
        enrollment__in=enrollments,
        status=AssignmentAnswer.Status.SUBMITTED,
        submitted_at__isnull=False,
        reviewed_at__isnull=True,
    ).order_by()


def diary_weeks_to_review(enrollments: QuerySet[Enrollment] | list[int]) -> QuerySet:
    """Unreviewed diary entries grouped per enrollment and ISO week of the entry's date:
    ``enrollment_id, iso_year, iso_week, since`` (the first written), ``n``, ``first_id``."""
    return (
        DiaryEntry.objects.filter(enrollment__in=enrollments, reviewed_at__isnull=True)
        .annotate(iso_year=ExtractIsoYear("entry_date"), iso_week=ExtractWeek("entry_date"))
        .values("enrollment_id", "iso_year", "iso_week")
        .annotate(since=Min("created_at"), n=Count("id"), first_id=Min("id"))
        .order_by()
    )


def questionnaires_to_review(
    enrollments: QuerySet[Enrollment] | list[int],
) -> QuerySet[QuestionnaireResponse]:
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


class _Rhythm:
    """The fields of an enrollment the feedback rhythm and quiet spells need (duck-types the
    enrollment for ``feedback_due_on``), and the patient's name and case reference, read as plain
    values: a large caseload has thousands."""

    __slots__ = (
        "pk",
        "patient_id",
        "status",
        "start_date",
        "started_at",
        "last_feedback_at",
        "last_activity_at",
        "feedback_cadence",
        "feedback_weekday",
        "inactivity_days",
        "first_name",
        "last_name",
        "email",
        "case_reference",
        "measurement_schedule",
    )
    FIELDS = (
        *__slots__[:-5],
        "patient__user__first_name",
        "patient__user__last_name",
        "patient__user__email",
        "patient__case_reference",
        "version__measurement_schedule",
    )

    @property
    def name(self) -> str:
        """As ``User.get_full_name`` would show it, with the e-mail address when both are blank."""
        return f"{self.first_name} {self.last_name}".strip() or self.email

    def __init__(self, *values):
        for name, value in zip(self.__slots__, values, strict=True):
            setattr(self, name, value)


@dataclass(slots=True)
class _Entry:
    """One pending item before it is shown: enough to count, filter and sort it. ``label`` is
    a function that writes the item's text, called only for the items on the page."""

    kind: str
    since: datetime
    enrollment_id: int | None
    patient_id: int | None
    ref: str = ""
    urgent: bool = False
    flagged: bool = False
    count: int = 1
    label: Callable[[], str] | None = None
    object_id: int | None = None

    @property
    def filter_kind(self) -> str:
        return "feedback" if self.kind.startswith("feedback") else self.kind


class WorkItems(Sequence):
    """The sorted items of a worklist, made into ``WorkItem``s (names, links, labels) only when
    read, a slice at a time, from what the worklist read already: no query."""

    def __init__(self, entries: list[_Entry], *, now: datetime, names=None, titles=None, referrals=None):
        self.entries, self.now, self.names = entries, now, names or {}
        self.titles, self.referrals = titles or {}, referrals or {}
        self._composer = None

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self._items(self.entries[index])
        return self._items([self.entries[index]])[0]

    def __iter__(self):
        return iter(self._items(self.entries))

    def __eq__(self, other) -> bool:
        return list(self) == list(other)

    __hash__ = None

    def _items(self, entries: list[_Entry]) -> list[WorkItem]:
        if not entries:
            return []
        if self._composer is None:
            self._composer = _Composer()
        items = []
        for entry in entries:
            name, reference = self.names.get(entry.enrollment_id, ("", ""))
            if entry.kind == "intake_request":
                url = reverse("patients:staff_intake_request_detail", kwargs={"pk": entry.object_id})
                label = self.titles.get(entry.ref, "")
            elif entry.kind == "early_warning":
                url = (
                    reverse("patients:staff_patient_detail", kwargs={"pk": entry.patient_id})
                    + "#early-warning"
                )
                label = str(entry.label()) if entry.label else ""
            elif entry.kind == "referral":
                referral = self.referrals[entry.object_id]
                url = reverse("patients:staff_referral_detail", kwargs={"pk": referral.pk})
                label = str(_("From %(name)s")) % {"name": referral.referred_by.user.get_full_name()}
                name, reference = referral.patient.user.get_full_name(), referral.patient.case_reference
            else:
                url = self._composer(entry.patient_id, entry.ref)
                label = str(entry.label()) if entry.label else ""
            items.append(
                WorkItem(
                    kind=entry.kind,
                    since=entry.since,
                    url=url,
                    label=label,
                    patient_id=entry.patient_id,
                    patient_name=name,
                    case_reference=reference,
                    urgent=entry.urgent,
                    flagged=entry.flagged,
                    count=entry.count,
                    now=self.now,
                )
            )
        return items


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

    Seven queries (eight when there are intake requests: the program titles), whatever the
    number of patients and items. The items are read as plain values to count, filter and sort
    them; only the slice that is shown becomes ``WorkItem``s with names, links and texts
    (``WorkItems``).
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    language = translation.get_language() or "en"
    staff = _therapist(fetched_by)
    if staff is None:
        return Worklist(items=WorkItems([], now=now), total=0, counts={}, patients=[])
    open_enrollments = _open_enrollments(staff, today)
    entries: list[_Entry] = []

    # 1. The open enrollments of the caseload: who each item is about, the feedback rhythm and
    # quiet spells.
    enrollments = {row[0]: _Rhythm(*row) for row in open_enrollments.order_by().values_list(*_Rhythm.FIELDS)}
    caseload = list(enrollments) if len(enrollments) <= IDS_AT_MOST else open_enrollments
    patient_of = {pk: e.patient_id for pk, e in enrollments.items()}
    # Of an ended enrollment only unanswered messages and urgent questionnaires are listed.
    still_open = {pk for pk, e in enrollments.items() if e.status in Enrollment.OPEN_STATUSES}
    for enrollment in enrollments.values():
        if enrollment.status != Enrollment.Status.ACTIVE:
            continue
        state = feedback_state(enrollment, today)
        if state.is_due:
            entries.append(
                _Entry(
                    "feedback_overdue" if state.is_overdue else "feedback_due",
                    _local_midnight(state.due_on),
                    enrollment.pk,
                    enrollment.patient_id,
                    flagged=state.is_overdue,
                    label=partial(_feedback_due_text, state.due_on),
                )
            )
        last = _last_activity(enrollment)
        if now - last >= timedelta(days=enrollment.inactivity_days):
            entries.append(
                _Entry(
                    "quiet",
                    last,
                    enrollment.pk,
                    enrollment.patient_id,
                    label=partial(_quiet_text, (now - last).days),
                )
            )

    # 2. Unanswered messages, grouped per conversation.
    for enrollment_id, since, n in (
        unanswered_messages(caseload)
        .values("conversation__enrollment_id")
        .annotate(since=Min("created_at"), n=Count("id"))
        .values_list("conversation__enrollment_id", "since", "n")
    ):
        if enrollment_id in patient_of:
            entries.append(
                _Entry(
                    "message",
                    since,
                    enrollment_id,
                    patient_of[enrollment_id],
                    count=n,
                    label=partial(_messages_text, n),
                )
            )

    # 3. Assignments handed in and not reviewed.
    for pk, enrollment_id, submitted_at, title, number in answers_to_review(caseload).values_list(
        "pk", "enrollment_id", "submitted_at", "step__title", "step__module__number"
    ):
        if enrollment_id in still_open:
            entries.append(
                _Entry(
                    "answer",
                    submitted_at,
                    enrollment_id,
                    patient_of[enrollment_id],
                    ref=f"answer:{pk}",
                    label=partial(_answer_text, number, title),
                )
            )

    # 4. Diary entries not reviewed, one item per patient and ISO week.
    for row in diary_weeks_to_review(caseload):
        enrollment_id = row["enrollment_id"]
        if enrollment_id in still_open:
            entries.append(
                _Entry(
                    "diary",
                    row["since"],
                    enrollment_id,
                    patient_of[enrollment_id],
                    ref=f"diary:{row['first_id']}",
                    count=row["n"],
                    label=partial(_diary_week_text, row["iso_week"], row["iso_year"], row["n"]),
                )
            )

    # 5. Questionnaires the patient completed, not reviewed (scores a therapist typed in need no
    # review). The PHQ-9 self-harm flag makes an item urgent; other flags mark it.
    # The flags themselves are encrypted; the derived columns say all the worklist needs.
    for pk, enrollment_id, code, completed_at, urgent, flagged in questionnaires_to_review(
        caseload
    ).values_list("pk", "enrollment_id", "code", "completed_at", "urgent", "flagged"):
        flags = ("self_harm",) if urgent else ("flagged",) if flagged else ()
        if enrollment_id in still_open or (enrollment_id in patient_of and urgent):
            entries.append(
                _Entry(
                    "questionnaire",
                    completed_at,
                    enrollment_id,
                    patient_of[enrollment_id],
                    ref=f"questionnaire:{pk}",
                    urgent=urgent,
                    flagged=flagged,
                    label=partial(_questionnaire_text, code, flags),
                )
            )

    # 6. The clinic's new intake requests (names stay on the request's own, audited page).
    for pk, created_at, program_id in (
        IntakeRequest.objects.filter(clinic_id=staff.clinic_id, status=IntakeRequest.Status.NEW)
        .order_by()
        .values_list("pk", "created_at", "program_id")
    ):
        entries.append(_Entry("intake_request", created_at, None, None, ref=program_id, object_id=pk))

    titles = program_titles(language=language) if any(e.kind == "intake_request" for e in entries) else {}

    # 7. Referrals waiting for the therapist's answer (few: read whole, with the names).
    referrals = {
        r.pk: r
        for r in Referral.objects.filter(to_therapist=staff, status=Referral.Status.PENDING)
        .select_related("patient__user", "referred_by__user")
        .order_by()
    }
    for referral in referrals.values():
        entries.append(
            _Entry("referral", referral.created_at, None, referral.patient_id, object_id=referral.pk)
        )

    # 8. Early warnings from the weekly check-ins (patients.measurement): not improving or went
    # quiet, until the therapist records a decision. One query, only when a program of the
    # caseload has a weekly check-in.
    measured = [pk for pk, e in enrollments.items() if e.measurement_schedule]
    for enrollment_id, patient_id, warning in (
        patient_selectors.early_warnings_for(enrollments=measured, today=today) if measured else []
    ):
        if enrollment_id in patient_of:
            entries.append(
                _Entry(
                    "early_warning",
                    _local_midnight(today),
                    enrollment_id,
                    patient_id,
                    flagged=True,
                    label=partial(_early_warning_text, warning),
                )
            )

    counts: dict[str, int] = {key: 0 for key in FILTER_KINDS}
    for entry in entries:
        counts[entry.filter_kind] += 1
    waiting = sum(1 for e in entries if e.kind not in RHYTHM_KINDS)
    total = len(entries)
    names = {pk: (e.name, e.case_reference) for pk, e in enrollments.items()}
    patients = _patient_choices(entries, names, referrals)
    if patient_id and patient_id not in dict(patients):
        # A patient of the caseload with nothing waiting (the overview links here): an empty
        # list for them, not a form error. One query, only then.
        patients += [
            (pk, f"{(f'{first} {last}'.strip() or email)} ({reference})")
            for pk, first, last, email, reference in caseload_patients(staff=staff, today=today)
            .filter(pk=patient_id)
            .values_list("pk", "user__first_name", "user__last_name", "user__email", "case_reference")
        ]
    if kind in FILTER_KINDS:
        entries = [e for e in entries if e.filter_kind == kind]
    if patient_id:
        entries = [e for e in entries if e.patient_id == patient_id]
    if order == "newest":
        entries.sort(key=lambda e: (not e.urgent, -e.since.timestamp()))
    else:
        entries.sort(key=lambda e: (not e.urgent, e.since.timestamp()))
    return Worklist(
        items=WorkItems(entries, now=now, names=names, titles=titles, referrals=referrals),
        total=total,
        waiting=waiting,
        counts=counts,
        patients=patients,
        kind=kind if kind in FILTER_KINDS else "",
        patient_id=patient_id,
        order=order if order in ORDERS else "oldest",
    )


def _patient_choices(entries, names, referrals) -> list[tuple[int, str]]:
    """``(id, "Name (case reference)")`` of the patients with items, by name."""
    choices = {}
    for entry in entries:
        if entry.enrollment_id in names and entry.patient_id not in choices:
            name, reference = names[entry.enrollment_id]
            choices[entry.patient_id] = f"{name} ({reference})"
    for referral in referrals.values():
        patient = referral.patient
        choices.setdefault(patient.pk, f"{patient.user.get_full_name()} ({patient.case_reference})")
    return sorted(choices.items(), key=lambda p: p[1].lower())


def _feedback_due_text(day: date) -> str:
    return _("Feedback was due on %(day)s") % {"day": date_format(day, "D j M")}


def _early_warning_text(warning) -> str:
    return f"{warning.label}: {warning.figures} {warning.rule}"


def _quiet_text(days: int) -> str:
    return _("No activity for %(days)s days") % {"days": days}


def _messages_text(n: int) -> str:
    return _("%(count)s message(s) waiting for an answer") % {"count": n}


def _answer_text(number: int, title: str) -> str:
    return _("Module %(number)s: %(title)s") % {"number": number, "title": title}


def _diary_week_text(week: int, year: int, n: int) -> str:
    return _("Week %(week)s of %(year)s: %(count)s entries") % {"week": week, "year": year, "count": n}


def _questionnaire_text(code: str, flags: tuple[str, ...]) -> str:
    name = str(questionnaires.get_instrument(code).short_name) if code in questionnaires.INSTRUMENTS else code
    if "self_harm" in flags:
        return _("%(name)s: item 9 answered above 0, contact the patient soon") % {"name": name}
    if flags:
        return _("%(name)s: flagged score") % {"name": name}
    return name


def pending_count(*, fetched_by, today: date | None = None) -> int | None:
    """For the navigation: how many items of the patients' work, messages and requests wait for
    the therapist (what the worklist shows, less feedback due and quiet patients, which depend
    on each patient's rhythm and are computed on the page). Two queries: the caseload's open
    enrollments, then every count (see ``IDS_AT_MOST``: on a 5,000-patient clinic this took
    55 ms for a therapist with 20 patients as one query). None for non-therapists.
    """
    staff = _therapist(fetched_by)
    if staff is None:
        return None
    today = today or timezone.localdate()
    open_enrollments = _by_ids_if_few(_open_enrollments(staff, today))
    still_open = Q(enrollment__status__in=Enrollment.OPEN_STATUSES)
    messages = unanswered_messages(open_enrollments).values("conversation_id").distinct()
    answers = answers_to_review(open_enrollments).filter(still_open).values("pk")
    weeks = (
        diary_weeks_to_review(open_enrollments)
        .filter(still_open)
        .values("enrollment_id", "iso_year", "iso_week")
        .distinct()
    )
    responses = questionnaires_to_review(open_enrollments).filter(still_open | Q(urgent=True)).values("pk")
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
    return sum(n or 0 for n in row) if row else 0  # a count over no enrollments is NULL


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
