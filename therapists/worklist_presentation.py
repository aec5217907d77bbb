"""The worklist as a calm list grouped by patient: one group per patient (new people asking for
an intake together), in the worklist's own order, so the patient with urgent work comes first
and then the one who has waited longest; within a group the same order. Each item says how
long it waits in words ("3 days ago"), with the full date in the page's one date style.

Each line is prepared here, once, with every string the template shows (the template of a page
of a hundred items only places them): the dates formatted once per item, the kind's label
translated once per page."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.formats import date_format, get_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

RELATIVE_DAYS = 14  # older than two weeks: the date itself says more than "23 days ago"


@dataclass
class WorkLine:
    """One item as its line shows it."""

    item: object  # therapists.worklist.WorkItem
    waiting: str  # how long it waits, in words
    datetime: str  # since when, for the machine (ISO 8601, local time)
    title: str  # since when, in full in the page's date style
    kind_label: str
    mark: str = ""  # how the line stands out: "urgent", "flagged" or not
    tag: str = ""  # the same as a word beside the kind (overdue feedback says so itself)

    @property
    def text(self) -> str:
        return self.item.label or self.kind_label


@dataclass
class WorkGroup:
    patient_id: int | None
    name: str
    case_reference: str
    items: list[WorkLine] = field(default_factory=list)

    @property
    def urgent(self) -> bool:
        return any(line.item.urgent for line in self.items)

    @property
    def flagged(self) -> bool:
        return any(line.item.flagged for line in self.items)


def waiting_words(since: datetime, now: datetime) -> str:
    """ "less than an hour ago", "5 hours ago", "3 days ago", or "since 30 Nov 2026"."""
    age = max(now - since, timedelta(0))
    if age < timedelta(hours=1):
        return _("less than an hour ago")
    if age < timedelta(days=1):
        hours = int(age.total_seconds() // 3600)
        return ngettext("%(count)s hour ago", "%(count)s hours ago", hours) % {"count": hours}
    if age.days < RELATIVE_DAYS:
        return ngettext("%(count)s day ago", "%(count)s days ago", age.days) % {"count": age.days}
    return _("since %(date)s") % {"date": date_format(timezone.localtime(since), "DATE_FORMAT")}


def _mark(item) -> str:
    return "urgent" if item.urgent else "flagged" if item.flagged else ""


def worklist_groups(items, *, now: datetime | None = None) -> list[WorkGroup]:
    """The page's items grouped by patient, groups in the order of their first item."""
    now = now or timezone.now()
    full = get_format("DATETIME_FORMAT")
    kind_labels: dict[str, str] = {}
    groups: dict[int | None, WorkGroup] = {}
    for item in items:
        group = groups.get(item.patient_id)
        if group is None:
            name = item.patient_name if item.patient_id else _("New people")
            group = groups[item.patient_id] = WorkGroup(item.patient_id, name, item.case_reference)
        if item.kind not in kind_labels:
            kind_labels[item.kind] = item.kind_label
        local = timezone.localtime(item.since)
        group.items.append(
            WorkLine(
                item=item,
                waiting=waiting_words(item.since, item.now or now),
                datetime=local.isoformat(),
                title=format_date(local, full),
                kind_label=kind_labels[item.kind],
                mark=(mark := _mark(item)),
                tag="" if item.kind == "feedback_overdue" and mark == "flagged" else mark,
            )
        )
    return list(groups.values())
