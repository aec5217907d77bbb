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

from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from icbt.roles import roles_of
from messaging import pending
from messaging.pending import (
    answers_to_review,
    diary_weeks_to_review,
    intake_requests_waiting,
    questionnaires_to_review,
    referrals_waiting,
    unanswered_messages,
)
from patients import rhythm
from patients import selectors as patient_selectors
from patients.models import (
    CareShare,
    Enrollment,
    Patient,
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
    def reminders(self) -> int:
        """Feedback due or overdue and patients who went quiet: items of each patient's rhythm,
        not waiting work (``messaging.pending``)."""
        return self.total - self.waiting

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
    shared = CareShare.objects.active(on=today).filter(patient=OuterRef("pk"), colleague=staff)
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
    """The caseload's enrollments whose work can wait (``messaging.pending.waiting_enrollments``:
    the open ones, and ended ones with an unanswered message or an urgent questionnaire)."""
    return pending.waiting_enrollments(
        Enrollment.objects.filter(patient__in=caseload_patients(staff=staff, today=today).values("pk"))
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
    enrollment for ``patients.rhythm``), and the patient's name and case reference, read as plain
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
        state = rhythm.feedback_state(enrollment, today)
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
        last = rhythm.last_activity(enrollment)
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
                    ref=f"week:{row['first_id']}",
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
    for pk, created_at, program_id in intake_requests_waiting(clinic_id=staff.clinic_id).values_list(
        "pk", "created_at", "program_id"
    ):
        entries.append(_Entry("intake_request", created_at, None, None, ref=program_id, object_id=pk))

    titles = program_titles(language=language) if any(e.kind == "intake_request" for e in entries) else {}

    # 7. Referrals waiting for the therapist's answer (few: read whole, with the names).
    referrals = {
        r.pk: r
        for r in referrals_waiting(clinic_id=staff.clinic_id, to_therapist_id=staff.pk)
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
    return _("Feedback was due on %(day)s") % {"day": date_format(day)}


def _early_warning_text(warning) -> str:
    return f"{warning.label}: {warning.figures} {warning.rule}"


def _quiet_text(days: int) -> str:
    return ngettext("No activity for %(days)s day", "No activity for %(days)s days", days) % {"days": days}


def _messages_text(n: int) -> str:
    return ngettext(
        "%(count)s message waiting for an answer", "%(count)s messages waiting for an answer", n
    ) % {"count": n}


def _answer_text(number: int, title: str) -> str:
    return _("Module %(number)s: %(title)s") % {"number": number, "title": title}


def _diary_week_text(week: int, year: int, n: int) -> str:
    return ngettext(
        "Week %(week)s of %(year)s: %(count)s entry", "Week %(week)s of %(year)s: %(count)s entries", n
    ) % {"week": week, "year": year, "count": n}


def _questionnaire_text(code: str, flags: tuple[str, ...]) -> str:
    name = str(questionnaires.get_instrument(code).short_name) if code in questionnaires.INSTRUMENTS else code
    if "self_harm" in flags:
        return _("%(name)s: item 9 answered above 0, contact the patient soon") % {"name": name}
    if flags:
        return _("%(name)s: flagged score") % {"name": name}
    return name


def pending_count(*, fetched_by, today: date | None = None) -> int | None:
    """For the navigation: the waiting work of the therapist's caseload and the requests for
    them (``messaging.pending``: what the top of the worklist counts, without the reminders of
    feedback due and quiet patients). Two queries: the caseload's open enrollments, then every
    count (see ``IDS_AT_MOST``). None for non-therapists.
    """
    staff = _therapist(fetched_by)
    if staff is None:
        return None
    today = today or timezone.localdate()
    open_enrollments = _by_ids_if_few(_open_enrollments(staff, today))
    return pending.waiting_work(
        enrollments=open_enrollments, clinic_id=staff.clinic_id, to_therapist_id=staff.pk
    ).total


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
            state = rhythm.feedback_state(enrollment, today)
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
