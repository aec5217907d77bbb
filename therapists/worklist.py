"""The therapist's worklist and caseload: everything that waits for them, across their patients.

*Caseload* means the patients the therapist treats (``Patient.therapist``) plus those a colleague
shares with them through an active ``CareShare`` (not ended, ``until`` today or later): the same
rule as ``patients.access.covering_share``, so every link on the worklist opens for them.

Cost: a fixed number of queries whatever the size of the caseload. The worklist and the count in
the navigation read the work-item table (``patients.work_items``, kept by the services): grouped
counts, the page's rows with LIMIT, one indexed COUNT. Early warnings are rows of that table
too (``patients.measurement.warning_span``), with the figures their line shows.

Nothing here decrypts anything: items are described by kind, program content titles, dates and
counts, never by what the patient wrote.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from types import SimpleNamespace

from django.conf import settings
from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Concat, Trim
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone, translation
from django.utils.formats import date_format, get_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from icbt import shaped_sql
from icbt.models import StaffMember
from icbt.roles import roles_of
from icbt.shaped_sql import StandIn
from messaging import pending
from patients import measurement, rhythm
from patients import selectors as patient_selectors
from patients.models import CareShare, Enrollment, ModuleState, Patient, Referral, StepProgress
from patients.models import WorkItem as WorkItemRow
from programs import questionnaires
from programs.models import Module, ProgramVersion

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
REQUEST_KINDS = ("referral", "intake_request")


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
        return _kind_label(translation.get_language(), self.kind)

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


@lru_cache(maxsize=64)
def _kind_label(language: str, kind: str) -> str:
    """``KINDS[kind]`` in ``language`` (the active one: the caller's key), translated once."""
    return str(KINDS[kind])


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
    # Every open urgent item of the caseload (a self-harm answer), whatever the filter, order
    # or page: a filter never hides a safety signal (``urgent_items``).
    urgent: list[WorkItem] = field(default_factory=list)

    @property
    def urgent_elsewhere(self) -> int:
        """How many of ``urgent`` the selection (the filter) leaves out."""
        return sum(1 for item in self.urgent if not self.selects(item))

    def selects(self, item: WorkItem) -> bool:
        """Whether the kind and patient filter select ``item``."""
        if self.kind and item.filter_kind != self.kind:
            return False
        return not self.patient_id or item.patient_id == self.patient_id

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


# --- The worklist ----------------------------------------------------------------------------------


class _Composer:
    """Links to the composer of a patient's conversation, with an item attached: reverse() once
    per page, not once per item."""

    def __init__(self):
        self.base = reverse("messaging:staff_conversation", kwargs={"pk": 0})
        self.head, self.tail = self.base.rsplit("/0/", 1)

    def __call__(self, patient_id: int, ref: str = "") -> str:
        url = f"{self.head}/{int(patient_id)}/{self.tail}"
        return f"{url}?attach={ref}#composer" if ref else f"{url}#composer"


def _full_name(first: str, last: str, email: str) -> str:
    """As ``User.get_full_name`` would show it, with the e-mail address when both are blank."""
    return f"{first} {last}".strip() or email


def _choices(patients: QuerySet[Patient]) -> dict[int, str]:
    """``{id: "Name (case reference)"}`` of ``patients``: one query."""
    return {
        pk: f"{_full_name(first, last, email)} ({reference})"
        for pk, first, last, email, reference in patients.values_list(
            "pk", "user__first_name", "user__last_name", "user__email", "case_reference"
        )
    }


def _label(
    kind: str, detail: dict, *, count: int, urgent: bool, flagged: bool, days: int, today: date | None
) -> str:
    """The text of an item's line: what its kind says of ``detail``, the number of things it
    counts, its flags, how many days it waits (``days``) and the day it is shown (``today``)."""
    if kind.startswith("feedback"):
        return _feedback_due_text(date.fromisoformat(detail["due_on"]))
    if kind == "quiet":
        return _quiet_text(days)
    if kind == "message":
        return _messages_text(count)
    if kind == "answer":
        return _answer_text(detail["module"], detail["title"])
    if kind == "diary":
        return _diary_week_text(detail["week"], detail["year"], count)
    if kind == "questionnaire":
        flags = ("self_harm",) if urgent else ("flagged",) if flagged else ()
        return _questionnaire_text(detail["code"], flags)
    if kind == "early_warning":
        return _early_warning_text(measurement.warning_shown(detail, today))
    return ""


class WorkItems(Sequence):
    """The selected items of a worklist, in order: the work-item rows, read a page at a time
    (LIMIT/OFFSET on the indexed table).
    ``len()`` costs no query (the worklist counted already)."""

    def __init__(
        self,
        rows=None,
        *,
        length: int = 0,
        now: datetime,
        language: str = "en",
        requests: frozenset[str] = frozenset(),
    ):
        self.rows, self.length, self.now = rows, length, now
        self.language, self.requests = language, requests

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, _step = index.indices(len(self))
            return self._slice(start, stop)
        if index < 0:
            index += len(self)
        return self._slice(index, index + 1)[0]

    def __iter__(self):
        return iter(self._slice(0, len(self)))

    def __eq__(self, other) -> bool:
        return list(self) == list(other)

    __hash__ = None

    def _slice(self, start: int, stop: int) -> list[WorkItem]:
        if self.rows is None or stop <= start:
            return []
        page = _read_page(self.rows, start, stop, language=self.language, requests=self.requests)
        return _items(page, now=self.now)


# The columns of a work-item row that its line on the worklist shows.
_SHOWN = (
    "kind",
    "patient_id",
    "object_id",
    "ref",
    "since",
    "overdue_at",
    "urgent",
    "flagged",
    "count",
    "detail",
)


def _read_page(
    rows: _Rows,
    start: int,
    stop: int,
    *,
    language: str,
    requests=frozenset(REQUEST_KINDS),
) -> list[_PageRow]:
    """Rows ``start``..``stop`` of ``rows`` (ordered), with what their lines show: the patient's
    name, the referring colleague's, the title of the program an intake request is for. One
    query, whatever the size of the caseload: the page is chosen among the narrow rows first
    (the sort carries no names), and only its rows are joined to the names. Plain values, not
    model instances: a page holds a hundred rows. The referrers and the titles are asked for
    only when the selection holds ``requests`` of their kind. The SQL is built once per process
    for each shape (``_Rows.shape``), the viewer's values bound to it (``icbt.shaped_sql``),
    and prepared: its one generic plan walks each part's index in order and stops at the page,
    for a caseload of 20 patients or of 20,000 (the planner counts on many rows per owner:
    migration ``patients.0023``)."""
    requests = tuple(kind for kind in REQUEST_KINDS if kind in requests)
    limit = _part_limit(stop)
    page = shaped_sql.shaped(
        ("worklist_page", *rows.shape, limit, requests),
        lambda: shaped_sql.of_queryset(_page_query(rows, limit, requests)),
    )
    params = shaped_sql.bind(
        connection, page, **rows.values(), limit=stop - start, offset=start, language=language
    )
    assert page.names == _PageRow._fields  # noqa: S101 - the columns are those of ``_page_query``
    return list(map(_PageRow._make, page.rows(connection, params)))


# A row of ``_read_page``: the columns of ``_page_query``, in its order.
_PageRow = namedtuple(  # noqa: PYI024 - a plain tuple with names
    "_PageRow", (*_SHOWN, "first_name", "last_name", "email", "case_reference", "referrer", "program_title")
)


def _page_query(rows: _Rows, limit: int, requests: tuple[str, ...]) -> QuerySet:
    """The query of ``_read_page`` with stand-in values (``icbt.shaped_sql.StandIn``)."""
    shown = {
        "first_name": F("patient__user__first_name"),
        "last_name": F("patient__user__last_name"),
        "email": F("patient__user__email"),
        "case_reference": F("patient__case_reference"),
    }
    shown["referrer"] = shown["program_title"] = Value("")  # unless the page can hold their kind
    if "referral" in requests:
        referrer = (
            Referral.objects.filter(pk=OuterRef("object_id"))
            .order_by()
            .annotate(name=_full_name_sql("referred_by__user__first_name", "referred_by__user__last_name"))
        )
        shown["referrer"] = Case(When(kind="referral", then=Subquery(referrer.values("name")[:1])))
    if "intake_request" in requests:
        shown["program_title"] = Case(When(kind="intake_request", then=_program_title(StandIn.language)))
    chosen = RawSQL(*rows.chosen_sql(limit))  # noqa: S611 - the ORM's SQL and its parameters
    return WorkItemRow.objects.filter(pk__in=chosen).order_by(*rows.order_by).values(*_SHOWN, **shown)


def _full_name_sql(first: str, last: str):
    """``User.get_full_name`` in SQL."""
    return Trim(Concat(first, Value(" "), last, output_field=CharField()))


def _program_title(language: str):
    """The title of the program of the intake request a row points at, as ``program_titles``
    gives it: its newest version in ``language``, else in English; empty when it has neither."""

    def newest(language: str):
        versions = ProgramVersion.objects.filter(
            program__intake_requests=OuterRef("object_id"), language=language
        ).order_by("-number")
        return Subquery(versions.values("title")[:1])

    return Coalesce(newest(language), newest("en"), Value(""), output_field=CharField())


class _Links:
    """The links of the worklist's lines: reverse() once per URLconf and script prefix (see
    ``_links``), not once per item or per page."""

    def __init__(self):
        self.composer = _Composer()
        self.intake_request = _pattern("patients:staff_intake_request_detail")
        self.referral = _pattern("patients:staff_referral_detail")
        self.patient = _pattern("patients:staff_patient_detail")


@lru_cache(maxsize=8)
def _cached_links(urlconf: str, prefix: str) -> _Links:
    return _Links()


def _links() -> _Links:
    """The ``_Links`` of the URLconf in use (a test may override it) under this script prefix."""
    return _cached_links(get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())


def _pattern(name: str) -> str:
    return reverse(name, kwargs={"pk": 0}).replace("/0/", "/{}/")


def _items(rows: list[SimpleNamespace], *, now: datetime) -> list[WorkItem]:
    """The page's rows as ``WorkItem``s (no query: ``_read_page`` read what they show)."""
    links = _links()
    labels = _Labels(now)
    items = []
    for row in rows:
        kind = row.kind
        if kind == "feedback":
            kind = "feedback_overdue" if now >= row.overdue_at else "feedback_due"
        name, reference = "", ""
        if row.patient_id is not None:
            name, reference = _full_name(row.first_name, row.last_name, row.email), row.case_reference
        if kind == "intake_request":
            url = links.intake_request.format(row.object_id)
            label = row.program_title
        elif kind == "early_warning":
            url = links.patient.format(row.patient_id) + "#early-warning"
            label = labels(row, kind)
        elif kind == "referral":
            url = links.referral.format(row.object_id)
            label = labels.referral(row.referrer or "")
            name = f"{row.first_name} {row.last_name}".strip()
        else:
            url = links.composer(row.patient_id, row.ref)
            label = labels(row, kind)
        items.append(
            WorkItem(
                kind=kind,
                since=row.since,
                url=url,
                label=label,
                patient_id=row.patient_id,
                patient_name=name,
                case_reference=reference,
                urgent=row.urgent,
                flagged=row.flagged or kind == "feedback_overdue",
                count=row.count,
                now=now,
            )
        )
    return items


# What each kind's text depends on besides its kind, the language and the date style (``_label``).
_LABEL_READS = {
    "feedback_due": ("detail",),
    "feedback_overdue": ("detail",),
    "quiet": ("days",),
    "message": ("count",),
    "answer": ("detail",),
    "diary": ("detail", "count"),
    "questionnaire": ("detail", "urgent", "flagged"),
    "early_warning": ("detail", "today"),
}


class _Labels:
    """The labels of one page's lines. A label is made (and translated) once per process for
    each language and date style and everything of its item it reads (``_LABEL_READS``: "Week 48
    of 2026: 3 entries", "Feedback was due on 30 Nov 2026"), not once per item or per page: a
    page of a hundred items shows a few dozen distinct labels, the same on every request. The
    labels hold what the worklist shows anyone (kinds, program titles, week numbers, dates),
    never what a patient wrote, and no patient: the key holds none."""

    def __init__(self, now: datetime):
        self.now = now
        self.today = timezone.localdate(now)
        self.style = (translation.get_language(), get_format("DATE_FORMAT"))

    def __call__(self, row, kind: str) -> str:
        values = {
            "detail": row.detail,
            "count": row.count,
            "urgent": row.urgent,
            "flagged": row.flagged,
            "days": (self.now - row.since).days,
            "today": self.today,
        }
        reads = _LABEL_READS.get(kind, ())
        try:
            key = tuple(
                tuple(sorted(values[name].items())) if name == "detail" else values[name] for name in reads
            )
            return _label_made(self.style, kind, reads, key)
        except (AttributeError, TypeError):  # a detail that is not a flat mapping of plain values
            return str(_label(kind, row.detail, **{k: v for k, v in values.items() if k != "detail"}))

    def referral(self, referrer: str) -> str:
        return _referral_label(translation.get_language(), referrer)


@lru_cache(maxsize=4096)
def _label_made(style: tuple, kind: str, reads: tuple[str, ...], key: tuple) -> str:
    """``_label`` of what ``key`` holds (the values ``reads`` names), in the language and date
    style that ``style`` names (the active ones: the caller's key)."""
    values = dict(zip(reads, key, strict=True))
    if "detail" in values:
        values["detail"] = dict(values["detail"])
    defaults = {"detail": {}, "count": 0, "urgent": False, "flagged": False, "days": 0, "today": None}
    merged = {**defaults, **values}
    return str(_label(kind, merged.pop("detail"), **merged))


@lru_cache(maxsize=512)
def _referral_label(language: str, referrer: str) -> str:
    return str(_("From %(name)s")) % {"name": referrer}


def _selection(kind: str, patient_id: int | None) -> Q:
    selected = Q()
    if kind in FILTER_KINDS:
        selected &= Q(kind=kind)
    if patient_id:
        selected &= Q(patient_id=patient_id)
    return selected


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

    Read from the work-item table (``messaging.pending.visible_items``) without reading every row
    of the caseload: the counts per kind (counters, and the rhythm's due rows counted on an
    index), the patients of the filter and the page's rows (each part of the rows walked on an
    index in order, with LIMIT): the same number of queries whatever the size of the caseload.
    """
    now = now or timezone.now()
    staff = _therapist(fetched_by)
    if staff is None:
        return Worklist(items=WorkItems(now=now), total=0, counts={}, patients=[])
    order = order if order in ORDERS else "oldest"
    kind = kind if kind in FILTER_KINDS else ""
    counts, length = _counted(staff, now, kind=kind, patient_id=patient_id)
    waiting = sum(counts[key] for key in pending.KINDS)
    patients = _with_chosen_patient(
        _patient_choices(staff=staff, now=now),
        staff=staff,
        patient_id=patient_id,
        today=timezone.localdate(now),
    )
    items = WorkItems(
        _page_rows(staff, now, order, kind=kind, patient_id=patient_id),
        length=length,
        now=now,
        language=translation.get_language() or "en",
        requests=frozenset(k for k in REQUEST_KINDS if counts[k] and kind in ("", k)),
    )
    return Worklist(
        items=items,
        urgent=urgent_items(staff=staff, now=now),
        total=sum(counts.values()),
        waiting=waiting,
        counts=counts,
        patients=patients,
        kind=kind,
        patient_id=patient_id,
        order=order,
    )


def urgent_items(*, staff: StaffMember, now: datetime) -> list[WorkItem]:
    """Every open urgent row ``staff`` sees at ``now`` (their own patients' and, by the cover
    rule of ``messaging.pending``, the shared patients'), oldest first, with the names their
    lines show. Not filtered by kind, patient or page: the worklist shows them above whatever
    was chosen, so that no filter hides a self-harm answer. One query, whatever the size of the
    caseload: the owner's index (``owner, urgent, since``) and the patient index of the few
    shared patients; built once per process (``icbt.shaped_sql``)."""
    query = shaped_sql.shaped(("worklist_urgent",), lambda: shaped_sql.of_queryset(_urgent_query()))
    params = shaped_sql.bind(
        connection, query, staff=staff.pk, clinic=staff.clinic_id, now=now, day=timezone.localdate(now)
    )
    assert query.names == _PageRow._fields  # noqa: S101 - the columns are those of ``_urgent_query``
    return _items(list(map(_PageRow._make, query.rows(connection, params))), now=now)


def _urgent_query() -> QuerySet:
    """The query of ``urgent_items`` with stand-in values (``icbt.shaped_sql.StandIn``)."""
    staff = pending.stand_in_staff()
    mine, shared, _requests = pending.visible_arms(staff=staff, now=StandIn.now, day=StandIn.day)
    union, params = pending.union_all([rows.filter(urgent=True).values("id") for rows in (mine, shared)])
    ids = RawSQL(f"SELECT id FROM ({union}) _urgent", params)  # noqa: S611, S608 - the ORM's SQL
    return (
        WorkItemRow.objects.filter(pk__in=ids)
        .order_by("since", "pk")
        .values(
            *_SHOWN,
            first_name=F("patient__user__first_name"),
            last_name=F("patient__user__last_name"),
            email=F("patient__user__email"),
            case_reference=F("patient__case_reference"),
            referrer=Value(""),
            program_title=Value(""),
        )
    )


def _counted(
    staff: StaffMember, now: datetime, *, kind: str, patient_id: int | None
) -> tuple[dict[str, int], int]:
    """The items per kind, and how many of them are selected (``kind``, ``patient_id``). One
    query, on counters and indexes (``messaging.pending.visible_counts``): it reads the rows of
    one patient when filtered to them, never every row of the caseload."""
    counts: dict[str, int] = {key: 0 for key in FILTER_KINDS}
    by_kind, n_selected = pending.visible_counts(
        staff=staff, now=now, kind=kind if kind in FILTER_KINDS else "", patient_id=patient_id
    )
    for row_kind, n in by_kind.items():
        counts[row_kind] += n
    if n_selected is not None:
        return counts, n_selected
    return counts, counts[kind] if kind else sum(counts.values())


def _with_chosen_patient(
    patients: list[tuple[int, str]], *, staff: StaffMember, patient_id: int | None, today: date
) -> list[tuple[int, str]]:
    """A patient of the caseload with nothing waiting (the overview links here) is still a
    choice: an empty list for them, not a form error. One query, only then."""
    if not patient_id or patient_id in dict(patients):
        return patients
    return patients + list(
        _choices(caseload_patients(staff=staff, today=today).filter(pk=patient_id)).items()
    )


# Each part of a page's rows is read up to a multiple of this (``_part_limit``): more than the
# page needs changes nothing (the rows are chosen among them in the order), and every page that
# ends within the same hundred rows has the same SQL.
PART_LIMIT_STEP = 100


def _part_limit(stop: int) -> int:
    return max(1, -(-stop // PART_LIMIT_STEP)) * PART_LIMIT_STEP


@dataclass(frozen=True)
class _Rows:
    """The selected rows of a worklist in its order (``order_by``), as parts that never overlap
    (``messaging.pending.visible_parts``), each read in that order with LIMIT by one index: the
    viewer's rows at ``now``, of ``kind`` (a row kind, or every kind when empty) and of the
    patient ``patient_id`` (when given)."""

    staff: StaffMember
    now: datetime
    parts: tuple[str, ...]  # names of ``visible_parts``
    kind: str
    patient_id: int | None
    order_by: tuple[str, ...]  # urgent first

    @property
    def shape(self) -> tuple:
        """What the SQL depends on besides the values: the parts, the filters, the order."""
        return (self.parts, bool(self.kind), bool(self.patient_id), self.order_by)

    def values(self) -> dict:
        """The values the SQL of the shape binds (``icbt.shaped_sql.bind``)."""
        values = {
            "staff": self.staff.pk,
            "clinic": self.staff.clinic_id,
            "now": self.now,
            "day": timezone.localdate(self.now),
        }
        if self.kind:
            values["kind"] = self.kind
        if self.patient_id:
            values["patient"] = self.patient_id
        return values

    def chosen_sql(self, limit: int) -> tuple[str, list]:
        """The SQL of ``chosen`` with stand-in values: each part's first ``limit`` rows, then
        ``LIMIT %s OFFSET %s`` of them all in the order."""
        staff = pending.stand_in_staff()
        selected = Q()
        if self.kind:
            selected &= Q(kind=StandIn.kind)
        if self.patient_id:
            selected &= Q(patient_id=StandIn.patient)
        parts = pending.visible_parts(staff=staff, now=StandIn.now, day=StandIn.day)
        firsts = [
            parts[name]
            .filter(selected)
            .order_by(*(self.order_by[1:] if name in pending.ONE_URGENCY else self.order_by))
            .values("id", "urgent", "since")[:limit]
            for name in self.parts
        ]
        union, params = pending.union_all(firsts)
        order = ", ".join(
            f"{name.lstrip('-')} {'DESC' if name.startswith('-') else 'ASC'}"
            for name in ("id" if name == "pk" else name for name in self.order_by)
        )
        # The ORM's SQL of each part and its parameters; the order's names are ours.
        sql = f"SELECT id FROM ({union}) _rows ORDER BY {order} LIMIT %s OFFSET %s"  # noqa: S608
        return sql, [*params, StandIn.limit, StandIn.offset]

    def chosen(self, start: int, stop: int) -> RawSQL:
        """The ids of rows ``start``..``stop`` in the order: each part's first ``stop`` rows (or
        a few more, ``_part_limit``), then the ``start``..``stop`` of them all (one subquery)."""
        limit = _part_limit(stop)
        sql, params = self.chosen_sql(limit)
        shaped = shaped_sql.shaped(
            ("worklist_chosen", *self.shape, limit), lambda: shaped_sql.Shaped(sql=sql, params=tuple(params))
        )
        bound = shaped_sql.bind(connection, shaped, **self.values(), limit=stop - start, offset=start)
        return RawSQL(shaped.sql, bound)  # noqa: S611 - the ORM's SQL and its parameters


def _page_rows(
    staff: StaffMember, now: datetime, order: str, *, kind: str, patient_id: int | None
) -> _Rows | None:
    direction = "since" if order == "oldest" else "-since"
    chosen = pending.parts_for(kind, patient_id)
    if not chosen:
        return None  # nothing can be selected (intake requests of a patient)
    return _Rows(
        staff=staff,
        now=now,
        parts=chosen,
        kind=kind if kind in FILTER_KINDS else "",
        patient_id=patient_id or None,
        order_by=("-urgent", direction, "pk"),
    )


# How many patients the worklist's patient filter offers: those waiting longest (the filter of
# a large caseload stays one short query; a patient further down is reached from the overview).
FILTER_PATIENTS = 50


def _patient_choices(*, staff: StaffMember, now: datetime) -> list[tuple[int, str]]:
    """``(id, "Name (case reference)")`` of the ``FILTER_PATIENTS`` patients whose oldest item
    waits longest, by name. One query: each part's rows walked by age on its index, keeping
    each patient's first (oldest) row only, ``FILTER_PATIENTS`` of them, then the oldest of
    those and their names; never every row of the caseload. Its SQL is built once per process
    (``icbt.shaped_sql``), the viewer's values bound to it."""
    limit = FILTER_PATIENTS
    query = shaped_sql.shaped(
        ("worklist_patient_choices", limit), lambda: shaped_sql.of_queryset(_choices_query(limit))
    )
    params = shaped_sql.bind(
        connection, query, staff=staff.pk, clinic=staff.clinic_id, now=now, day=timezone.localdate(now)
    )
    choices = {
        pk: f"{_full_name(first, last, email)} ({reference})"
        for pk, first, last, email, reference in query.rows(connection, params)
    }
    return sorted(choices.items(), key=lambda p: p[1].lower())


def _choices_query(limit: int) -> QuerySet:
    """The query of ``_patient_choices`` with stand-in values (``icbt.shaped_sql.StandIn``)."""
    staff = pending.stand_in_staff()
    visible = pending.visible_items(staff=staff, now=StandIn.now, day=StandIn.day)
    earlier = visible.filter(patient_id=OuterRef("patient_id")).filter(
        Q(since__lt=OuterRef("since")) | Q(since=OuterRef("since"), pk__lt=OuterRef("pk"))
    )
    mine, shared, _requests = pending.visible_arms(staff=staff, now=StandIn.now, day=StandIn.day)
    firsts = [
        rows.filter(patient__isnull=False)
        .filter(~Exists(earlier))
        .order_by("since", "patient_id")
        .values("patient_id", "since")[:limit]
        for rows in (mine, shared)  # the requests have no patient
    ]
    union, params = pending.union_all(firsts)
    longest_waiting = RawSQL(  # noqa: S611 - see below
        # The ORM's SQL of each part and its parameters.
        f"SELECT patient_id FROM ({union}) _firsts ORDER BY since, patient_id LIMIT {int(limit)}",  # noqa: S608
        params,
    )
    return Patient.objects.filter(pk__in=longest_waiting).values_list(
        "pk", "user__first_name", "user__last_name", "user__email", "case_reference"
    )


def _feedback_due_text(day: date) -> str:
    return _("Feedback was due on %(day)s") % {"day": date_format(day)}


def _early_warning_text(warning) -> str:
    """The warning and its rule; the scores of a not-improving warning are on the patient's page
    (the work item keeps none)."""
    if warning.kind == measurement.NOT_IMPROVING:
        return f"{warning.label}: {warning.rule}"
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
    them (``messaging.pending.pending_count``: one indexed COUNT on the work-item table, what
    the top of the worklist counts, without the reminders of feedback due and quiet patients).
    None for non-therapists."""
    staff = _therapist(fetched_by)
    if staff is None:
        return None
    return pending.pending_count(staff=staff)


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

    @property
    def urgent(self) -> bool:
        """An open urgent item (a self-harm answer) waits for this patient."""
        return bool(getattr(self.patient, "has_urgent", False))


def _module_seen() -> Subquery:
    """Per enrollment: the highest module the patient has been in that is not held back, the
    patient's current module as their overview names it (``Progress.current_module``: the last
    open module they have been in). Not the module of ``current_step``: a diary entry written
    from an earlier module's step moves that back. A subquery of the caseload's own statement."""
    held = ModuleState.objects.filter(
        enrollment_id=OuterRef("enrollment_id"),
        module_number=OuterRef("step__module__number"),
        state=ModuleState.State.HELD,
    )
    return Subquery(
        StepProgress.objects.filter(enrollment_id=OuterRef("pk"))
        .exclude(Exists(held))
        .order_by("-step__module__number")
        .values("step__module__number")[:1]
    )


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
        .annotate(has_urgent=patient_selectors.has_urgent_work())
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
            ),
            module_seen=_module_seen(),
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
        if enrollment is not None and enrollment.module_seen is not None:
            module_number = enrollment.module_seen
        elif enrollment is not None and enrollment.current_step_id:
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
