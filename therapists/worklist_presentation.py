"""The worklist as a calm list grouped by patient: one group per patient (new people asking for
an intake together), in the worklist's own order, so the patient with urgent work comes first
and then the one who has waited longest; within a group the same order. Each item says how
long it waits in words ("3 days ago"), with the full date in the page's one date style."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

RELATIVE_DAYS = 14  # older than two weeks: the date itself says more than "23 days ago"


@dataclass
class WorkGroup:
    patient_id: int | None
    name: str
    case_reference: str
    items: list = field(default_factory=list)

    @property
    def urgent(self) -> bool:
        return any(item.urgent for item, _words in self.items)

    @property
    def flagged(self) -> bool:
        return any(item.flagged for item, _words in self.items)


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


def worklist_groups(items, *, now: datetime | None = None) -> list[WorkGroup]:
    """The page's items grouped by patient, groups in the order of their first item."""
    now = now or timezone.now()
    groups: dict[int | None, WorkGroup] = {}
    for item in items:
        group = groups.get(item.patient_id)
        if group is None:
            name = item.patient_name if item.patient_id else _("New people")
            group = groups[item.patient_id] = WorkGroup(item.patient_id, name, item.case_reference)
        group.items.append((item, waiting_words(item.since, item.now or now)))
    return list(groups.values())
