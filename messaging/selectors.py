"""Reads of the messaging app.

Functions that take a ``patient`` or an ``enrollment`` expect a caller that has already been
through :func:`patients.access.patient_for_staff` (which checks and audits the access);
functions that cross a permission line on their own take the viewer (``fetched_by``).
Every function runs a fixed number of queries, however long the conversation is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Case, Exists, F, OuterRef, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from icbt.models import StaffMember
from icbt.roles import roles_of
from messaging.models import Conversation, FeedbackLink, FeedbackTemplate, Message, MessageDraft, StaffNote
from messaging.presentation import answer_lines, diary_tables
from patients import charts as patient_charts
from patients import rhythm
from patients import selectors as patient_selectors
from patients.feedback_links import item_label, link_label
from patients.models import (
    AssignmentAnswer,
    CareShare,
    DiaryEntry,
    Enrollment,
    Patient,
    QuestionnaireResponse,
)
from programs.models import FeedbackStarter, Module

ITEM_KINDS = ("answer", "diary", "questionnaire", "module")
REVIEWABLE_KINDS = ("answer", "diary", "questionnaire")
WORK_LIMIT = 60  # per kind of item: the composer shows recent work, not the whole history


@dataclass(frozen=True)
class ItemRef:
    """A reference to something feedback can be about, written ``<kind>:<id>`` in forms and URLs
    (``answer:12``, ``diary:7``, ``questionnaire:3``, ``module:2`` for module number 2)."""

    kind: str
    id: int

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


def parse_item_ref(value) -> ItemRef | None:
    """``"diary:7"`` -> ItemRef("diary", 7); anything malformed -> None."""
    if not isinstance(value, str) or ":" not in value:
        return None
    kind, _, number = value.partition(":")
    if kind not in ITEM_KINDS or not number.isdigit() or len(number) > 12:
        return None
    return ItemRef(kind, int(number))


def asked_refs(*, enrollment: Enrollment, value) -> list[ItemRef]:
    """What a link into the composer asks to attach: one item (``diary:7``), or a whole diary
    week (``week:7``: the entries of that enrollment in the ISO week of entry 7 that nobody has
    reviewed yet, with entry 7 itself), as the worklist shows one row per week. Anything else,
    or an entry of another enrollment, asks for nothing. At most two queries (for a week)."""
    if not isinstance(value, str) or not value.startswith("week:"):
        ref = parse_item_ref(value)
        return [ref] if ref is not None else []
    number = value.partition(":")[2]
    if not number.isdigit() or len(number) > 12:
        return []
    day = DiaryEntry.objects.filter(enrollment=enrollment, pk=int(number)).values_list(
        "entry_date", flat=True
    )
    day = day.first()
    if day is None:
        return []
    monday = day - timedelta(days=day.weekday())
    ids = (
        DiaryEntry.objects.filter(
            enrollment=enrollment, entry_date__range=(monday, monday + timedelta(days=6))
        )
        .filter(Q(reviewed_at__isnull=True) | Q(pk=int(number)))
        .order_by("entry_date", "pk")
        .values_list("pk", flat=True)
    )
    return [ItemRef("diary", pk) for pk in ids]


# --- Enrollment and conversation ---------------------------------------------------------------


def enrollment_for_patient(*, patient: Patient, starter_check: bool = False) -> Enrollment | None:
    """The patient's open enrollment, or else their most recent one (one query).

    ``starter_check``: the same query also tells (``starters_missing``) whether the clinic lacks a
    copy of a program's starter feedback template or holds an unedited copy of a changed one, so
    the composer needs no query of its own to find out that nothing is to be copied."""
    enrollments = Enrollment.objects.filter(patient=patient)
    if starter_check:
        enrollments = enrollments.annotate(starters_missing=starter_copies_needed("clinic_id"))
    return (
        enrollments.select_related("version", "clinic", "therapist__user")
        .annotate(_closed=Case(When(status__in=Enrollment.OPEN_STATUSES, then=Value(0)), default=Value(1)))
        .order_by("_closed", "-created_at", "-pk")
        .first()
    )


def conversation_messages(
    *, conversation: Conversation, modules: dict[int, str] | None = None
) -> list[Message]:
    """Every message of the conversation, oldest first, with authors and what each feedback is
    about (``message.about``: short labels). Two queries whatever the length; bodies decrypt
    lazily when shown."""
    links = FeedbackLink.objects.select_related(
        "answer__step__module", "diary_entry__diary_type", "questionnaire"
    ).order_by("pk")
    messages = list(
        Message.objects.filter(conversation=conversation)
        .select_related("author", "on_behalf_of")
        .prefetch_related(Prefetch("links", queryset=links))
        .order_by("created_at", "pk")
    )
    for message in messages:
        message.about = [link_label(link, modules) for link in message.links.all()]
    return messages


def draft_get(*, conversation: Conversation, author) -> MessageDraft | None:
    return MessageDraft.objects.filter(conversation=conversation, author=author).first()


def last_sent_at(messages: list[Message], author) -> datetime | None:
    mine = [m.created_at for m in messages if m.author_id == author.pk]
    return max(mine) if mine else None


def module_titles(*, enrollment: Enrollment) -> dict[int, str]:
    return {number: title for number, (title, _slug) in module_places(enrollment=enrollment).items()}


def module_places(*, enrollment: Enrollment) -> dict[int, tuple[str, str]]:
    """``{number: (title, slug)}`` of the modules of the enrollment's version. One query."""
    return {
        number: (title, slug)
        for number, title, slug in Module.objects.filter(version_id=enrollment.version_id)
        .order_by("number")
        .values_list("number", "title", "slug")
    }


# --- The composer: work since the last feedback, and the rhythm -----------------------------------


@dataclass
class Work:
    """What the patient did that the therapist has not answered yet (plus anything asked for)."""

    since: datetime | None
    answers: list[AssignmentAnswer] = field(default_factory=list)
    diary_entries: list[DiaryEntry] = field(default_factory=list)
    questionnaires: list[QuestionnaireResponse] = field(default_factory=list)
    modules: dict[int, str] = field(default_factory=dict)
    diary_tables: list = field(default_factory=list)

    @property
    def module_choices(self) -> list[tuple[str, str]]:
        return [
            (f"module:{number}", item_label(kind="module", obj=number, modules=self.modules))
            for number in self.modules
        ]

    @property
    def is_empty(self) -> bool:
        return not (self.answers or self.diary_entries or self.questionnaires)

    def refs(self) -> set[str]:
        """Every item of this work as a ``kind:id`` string (the values the composer may attach)."""
        refs = {f"answer:{a.pk}" for a in self.answers}
        refs |= {f"diary:{d.pk}" for d in self.diary_entries}
        refs |= {f"questionnaire:{q.pk}" for q in self.questionnaires}
        refs |= {f"module:{n}" for n in self.modules}
        return refs


def work_since_last_feedback(*, enrollment: Enrollment, include: Iterable[ItemRef] = ()) -> Work:
    """Submitted answers, diary entries and questionnaire results that are new since the last
    feedback or not reviewed yet, oldest first; items named in ``include`` (a link from the
    worklist to an older item) are added if they belong to this enrollment. Four queries."""
    since = enrollment.last_feedback_at
    wanted = {kind: {ref.id for ref in include if ref.kind == kind} for kind in REVIEWABLE_KINDS}

    def pending(time_field: str, kind: str) -> Q:
        condition = Q(reviewed_at__isnull=True) | Q(pk__in=wanted[kind])
        if since is not None:
            condition |= Q(**{f"{time_field}__gt": since})
        return condition

    answers = (
        AssignmentAnswer.objects.filter(enrollment=enrollment, submitted_at__isnull=False)
        .filter(pending("submitted_at", "answer"))
        .select_related("step", "reviewed_by")
        .order_by("-submitted_at", "-pk")[:WORK_LIMIT]
    )
    diary_entries = (
        DiaryEntry.objects.filter(enrollment=enrollment)
        .filter(pending("updated_at", "diary"))
        .select_related("diary_type", "reviewed_by")
        .order_by("-entry_date", "-pk")[:WORK_LIMIT]
    )
    questionnaires = (
        QuestionnaireResponse.objects.filter(enrollment=enrollment)
        .filter(pending("completed_at", "questionnaire"))
        .select_related("reviewed_by")
        .order_by("-completed_at", "-pk")[:WORK_LIMIT]
    )
    work = Work(
        since=since,
        answers=list(reversed(answers)),
        diary_entries=list(reversed(diary_entries)),
        questionnaires=list(reversed(questionnaires)),
        modules=module_titles(enrollment=enrollment),
    )
    for kind, items in (
        ("answer", work.answers),
        ("diary", work.diary_entries),
        ("questionnaire", work.questionnaires),
    ):
        for item in items:
            item.ref = f"{kind}:{item.pk}"
            item.label = item_label(kind=kind, obj=item)
    for answer in work.answers:
        answer.lines = answer_lines(answer)
    work.diary_tables = diary_tables(work.diary_entries)
    return work


CHART_MAX_DAYS = 28


def work_charts(*, enrollment: Enrollment, work: Work) -> None:
    """Adds ``charts`` to each diary table of ``work``: the patient's own graph (the same SVG
    they see, from patients.charts) over the days of the entries shown, at least a week and at
    most four. Two queries per diary (at most three diaries)."""
    for table in work.diary_tables:
        dates = [entry.entry_date for entry, _cells, _texts in table.rows]
        end = max(dates)
        start = max(min(min(dates), end - timedelta(days=6)), end - timedelta(days=CHART_MAX_DAYS - 1))
        fields = list(table.diary_type.chart_fields)
        if not fields:
            table.charts = []
            continue
        bounds = {
            "enrollment": enrollment,
            "diary_type": table.diary_type,
            "fields": fields,
            "since": start,
            "until": end,
        }
        table.charts = patient_charts.diary_charts(
            diary_type=table.diary_type,
            period="week" if (end - start).days < 7 else "month",
            start=start,
            end=end,
            rows=patient_selectors.diary_chart_rows(**bounds),
            summary=patient_selectors.diary_chart_summary(**bounds),
            chart_id=f"composer-diary-{table.diary_type.pk}",
        )


@dataclass
class FeedbackRhythm(rhythm.FeedbackState):
    """The feedback rhythm as the composer shows it: the state (``patients.rhythm``) with the
    cadence, the weekday and the last feedback."""

    cadence: str = ""
    weekday: int = 0
    last_feedback_at: datetime | None = None


def feedback_rhythm(*, enrollment: Enrollment, today: date | None = None) -> FeedbackRhythm:
    state = rhythm.feedback_state(enrollment, today or timezone.localdate())
    return FeedbackRhythm(
        due_on=state.due_on,
        overdue_on=state.overdue_on,
        today=state.today,
        cadence=enrollment.get_feedback_cadence_display(),
        weekday=enrollment.feedback_weekday,
        last_feedback_at=enrollment.last_feedback_at,
    )


def items_for_enrollment(*, enrollment: Enrollment, refs: Iterable[ItemRef]) -> dict[str, object]:
    """The items ``refs`` point to, keyed ``kind:id``, restricted to ``enrollment`` (anything
    else is simply absent). Modules map to their number if the program has that module."""
    refs = list(refs)
    found: dict[str, object] = {}
    ids = {kind: [r.id for r in refs if r.kind == kind] for kind in ITEM_KINDS}
    if ids["answer"]:
        for item in AssignmentAnswer.objects.filter(
            enrollment=enrollment, pk__in=ids["answer"], submitted_at__isnull=False
        ):
            found[f"answer:{item.pk}"] = item
    if ids["diary"]:
        for item in DiaryEntry.objects.filter(enrollment=enrollment, pk__in=ids["diary"]):
            found[f"diary:{item.pk}"] = item
    if ids["questionnaire"]:
        for item in QuestionnaireResponse.objects.filter(enrollment=enrollment, pk__in=ids["questionnaire"]):
            found[f"questionnaire:{item.pk}"] = item
    if ids["module"]:
        numbers = set(
            Module.objects.filter(version_id=enrollment.version_id, number__in=ids["module"]).values_list(
                "number", flat=True
            )
        )
        for number in numbers:
            found[f"module:{number}"] = number
    return found


# --- Templates -------------------------------------------------------------------------------------


def starters_not_copied(clinic_id) -> QuerySet[FeedbackStarter]:
    """The starters the clinic has no copy of (not even a hidden one). ``clinic_id`` may be an
    ``OuterRef``."""
    copies = FeedbackTemplate.objects.filter(clinic_id=clinic_id, starter__isnull=False).values("starter_id")
    return FeedbackStarter.objects.exclude(pk__in=copies)


def starter_copies_outdated(clinic_id) -> QuerySet[FeedbackTemplate]:
    """The clinic's copies nobody edited (they still say what was copied: ``edited`` is false)
    whose starter has changed since. ``clinic_id`` may be an ``OuterRef``."""
    return FeedbackTemplate.objects.filter(
        clinic_id=clinic_id,
        starter__isnull=False,
        hidden=False,
        edited=False,
    ).exclude(
        starter_title=F("starter__title"),
        starter_body=F("starter__body"),
        is_snippet=F("starter__is_snippet"),
    )


def starter_copies_needed(clinic_field: str = "clinic_id"):
    """An expression for an annotation of a query whose ``clinic_field`` names a clinic: does the
    clinic lack a copy of a starter, or hold an unedited copy of a starter that has changed?"""
    return Exists(starters_not_copied(OuterRef(OuterRef(clinic_field)))) | Exists(
        starter_copies_outdated(OuterRef(clinic_field))
    )


def template_list(*, fetched_by, version=None) -> list[FeedbackTemplate]:
    """The clinic's shared templates, then the viewer's own personal ones, snippets first, by
    title; nothing for non-staff. Titles are encrypted, so they are sorted here. One query.

    With ``version`` (the program version of the patient being written to), the clinic's copies of
    program starters are limited to that program and language; other templates always show.
    Hidden (deleted) starter copies never show."""
    staff = roles_of(fetched_by).staff
    if staff is None:
        return []
    templates = (
        FeedbackTemplate.objects.filter(clinic_id=staff.clinic_id, hidden=False)
        .filter(Q(owner__isnull=True) | Q(owner=staff))
        .select_related("owner__user", "starter__program")
    )
    if version is not None:
        templates = templates.filter(
            Q(starter__isnull=True)
            | Q(starter__program_id=version.program_id, starter__language=version.language)
        )
    return sorted(
        templates, key=lambda t: (t.owner_id is not None, not t.is_snippet, t.title.casefold(), t.pk)
    )


# --- Notes and sharing ------------------------------------------------------------------------------


def note_list(*, patient: Patient) -> QuerySet[StaffNote]:
    return (
        StaffNote.objects.filter(patient=patient)
        .select_related("author__user")
        .order_by("-created_at", "-pk")
    )


def share_list(*, patient: Patient) -> list[CareShare]:
    """The patient's shares, the active ones first, then the last ended or expired ones."""
    today = timezone.localdate()
    shares = list(
        CareShare.objects.filter(patient=patient)
        .select_related("colleague__user", "shared_by__user")
        .order_by("-created_at", "-pk")[:20]
    )
    for share in shares:
        share.is_active = share.is_active_on(today)
    return sorted(shares, key=lambda s: not s.is_active)


def active_shares(*, patient: Patient) -> list[CareShare]:
    """Colleagues covering for the patient's therapist today (for the patient: who answers)."""
    return list(
        CareShare.objects.active()
        .filter(patient=patient)
        .select_related("colleague__user")
        .order_by("until", "pk")
    )


def handover_candidates(*, staff: StaffMember) -> QuerySet[StaffMember]:
    """The clinic's other therapists who can still sign in: to whom a self-harm answer can be
    handed over."""
    return (
        StaffMember.objects.filter(clinic_id=staff.clinic_id, is_therapist=True, user__is_active=True)
        .exclude(pk=staff.pk)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "pk")
    )


def share_candidates(*, staff: StaffMember) -> QuerySet[StaffMember]:
    """Therapists of the same clinic who share at least one team with ``staff``."""
    return (
        StaffMember.objects.filter(clinic_id=staff.clinic_id, is_therapist=True, teams__members=staff)
        .exclude(pk=staff.pk)
        .select_related("user")
        .distinct()
        .order_by("user__last_name", "user__first_name")
    )


def patients_covered_by(*, fetched_by) -> list[CareShare]:
    """The active shares in which the viewer covers for a colleague."""
    staff = roles_of(fetched_by).staff
    if staff is None or not staff.is_therapist:
        return []
    return list(
        CareShare.objects.active()
        .filter(colleague=staff, patient__clinic_id=staff.clinic_id)
        .select_related("patient__user", "shared_by__user")
        .order_by("until", "pk")
    )
