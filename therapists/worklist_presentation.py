"""The worklist as a calm list grouped by patient: one group per patient (new people asking for
an intake together), in the worklist's own order, so the patient with urgent work comes first
and then the one who has waited longest; within a group the same order. Each item says how
long it waits in words ("3 days ago"), with the full date in the page's one date style.

Each line is prepared here, once, with every string the template shows (the template of a page
of a hundred items only places them). What many lines share is made once per page: the kind's
label, the words for how long an item waits ("3 days ago" is translated once, not once per
item), and the part of a date that depends on the day alone ("30 Nov 2026" once per day; the
time of day per item).

The markup of a line is written here too (``_LineMarkup``), escaped, and so is each group's
section around its lines (``_group_html``): the template places each group as one string
(placing a hundred lines and their groups through the template engine cost more than the rest
of the page's Python together). The template keeps the page's structure around them."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from operator import attrgetter

from django.utils import timezone
from django.utils.dateformat import DateFormat, re_escaped, re_formatchars
from django.utils.formats import date_format, get_format
from django.utils.safestring import SafeString
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from icbt.markup import html_text as _html

RELATIVE_DAYS = 14  # older than two weeks: the date itself says more than "23 days ago"


@dataclass(slots=True)
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


@dataclass(slots=True)
class WorkGroup:
    patient_id: int | None
    name: str
    case_reference: str
    items: list[WorkLine] = field(default_factory=list)
    lines_html: SafeString = field(default_factory=SafeString)  # the items' <li> elements
    html: SafeString = field(default_factory=SafeString)  # the group's <section>, its lines in it
    number: str = ""  # its place on the page, from "1": the heading's id says it
    mark: str = ""  # how the group stands out: "urgent", "flagged" or not

    @property
    def urgent(self) -> bool:
        return any(line.item.urgent for line in self.items)

    @property
    def flagged(self) -> bool:
        return any(line.item.flagged for line in self.items)


_HOUR, _DAY, _NO_TIME = timedelta(hours=1), timedelta(days=1), timedelta(0)


def _waited(since: datetime, now: datetime, local: datetime | None = None) -> tuple[str, int | date]:
    """How long an item waits, as what its words depend on: ("now", 0), ("hours", 5), ("days",
    3) or ("since", the local day); ``local``: ``since`` in local time, when the caller has it."""
    age = now - since
    if age < _NO_TIME:
        age = _NO_TIME
    if age < _HOUR:
        return "now", 0
    if age < _DAY:
        return "hours", int(age.total_seconds() // 3600)
    if age.days < RELATIVE_DAYS:
        return "days", age.days
    return "since", (local or timezone.localtime(since)).date()


def _waited_words(waited: tuple[str, int | date]) -> str:
    return _words_made((get_language(), get_format("DATE_FORMAT")), waited)


@lru_cache(maxsize=1024)
def _words_made(style: tuple, waited: tuple[str, int | date]) -> str:
    """The words of ``waited`` in the language and date style that ``style`` names (the active
    ones: the caller's key), made once per process ("3 days ago" is the same on every page)."""
    unit, n = waited
    if unit == "now":
        return _("less than an hour ago")
    if unit == "hours":
        return ngettext("%(count)s hour ago", "%(count)s hours ago", n) % {"count": n}
    if unit == "days":
        return ngettext("%(count)s day ago", "%(count)s days ago", n) % {"count": n}
    return str(_("since %(date)s")) % {"date": date_format(n, "DATE_FORMAT")}


def waiting_words(since: datetime, now: datetime) -> str:
    """ "less than an hour ago", "5 hours ago", "3 days ago", or "since 30 Nov 2026"."""
    return _waited_words(_waited(since, now))


# Format characters whose output depends on the day alone (``django.utils.dateformat``).
_DAY_ONLY = frozenset("bdDEFjlLmMnNoStwWyYz")
# Format characters whose output depends on the time of day alone, and on which of its fields
# (``django.utils.dateformat``: "P" is "noon", "midnight" or the hour and minutes with "a.m.").
_TIME_FIELDS = {
    "a": ("hour",),
    "A": ("hour",),
    "f": ("hour", "minute"),
    "g": ("hour",),
    "G": ("hour",),
    "h": ("hour",),
    "H": ("hour",),
    "i": ("minute",),
    "P": ("hour", "minute"),
    "s": ("second",),
    "u": ("microsecond",),
}


class _DateStyle:
    """``dateformat.format(value, style)`` for the many local datetimes of one page, the same
    string: the parts of the format that depend on the day alone are formatted once per day,
    the rest (the time of day) per value."""

    def __init__(self, style: str):
        # (literal text, None) or (None, format character), in order.
        self.pieces: list[tuple[str | None, str | None]] = []
        for i, piece in enumerate(re_formatchars.split(str(style))):
            if i % 2:
                self.pieces.append((None, piece))
            elif piece:
                self.pieces.append((re_escaped.sub(r"\1", piece), None))
        timed = {char for _text, char in self.pieces if char and char not in _DAY_ONLY}
        self.timed = bool(timed)
        self.days: dict[date, list[str | None]] = {}
        # When the rest depends on the time of day alone: the fields it reads, and the parts
        # formatted once per value of those (a page's items share their hours and minutes).
        self.time_fields: tuple[str, ...] | None = None
        if timed <= _TIME_FIELDS.keys():
            self.time_fields = tuple(sorted({name for char in timed for name in _TIME_FIELDS[char]}))
        self.times: dict[tuple, dict[str, str]] = {}
        # The whole string of each day and time of day formatted (those fields of the time).
        self.made: dict[tuple, str] = {}
        self.fields_of = attrgetter(*self.time_fields) if self.time_fields else None

    def __call__(self, value: datetime) -> str:
        made_key = None
        if self.fields_of is not None:
            made_key = (value.date(), self.fields_of(value))
            made = self.made.get(made_key)
            if made is not None:
                return made
        day = self.days.get(value.date())
        if day is None:
            if len(self.days) >= _STYLE_MEMORY:
                self.days.clear()
            formatter = DateFormat(value)
            day = self.days[value.date()] = [
                text if char is None else str(getattr(formatter, char)()) if char in _DAY_ONLY else None
                for text, char in self.pieces
            ]
        if not self.timed:
            return "".join(day)
        if self.time_fields is None:
            formatter = DateFormat(value)
            return "".join(
                part if part is not None else str(getattr(formatter, char)())
                for part, (_text, char) in zip(day, self.pieces, strict=True)
            )
        key = made_key[1]
        times = self.times.get(key)
        if times is None:
            if len(self.times) >= _STYLE_MEMORY:
                self.times.clear()
            formatter = DateFormat(value)
            times = self.times[key] = {
                char: str(getattr(formatter, char)()) for _text, char in self.pieces if char in _TIME_FIELDS
            }
        made = "".join(
            part if part is not None else times[char]
            for part, (_text, char) in zip(day, self.pieces, strict=True)
        )
        if len(self.made) >= _STYLE_MEMORY:
            self.made.clear()
        self.made[made_key] = made
        return made


# How many days and times of day a ``_DateStyle`` keeps formatted (a year of days, each minute
# of a day): it starts again when full.
_STYLE_MEMORY = 1440


@lru_cache(maxsize=16)
def _date_style(language: str, style: str) -> _DateStyle:
    """The ``_DateStyle`` of ``style`` in ``language`` (the active one: the caller's key), one
    per process: the days and times of day it formatted serve every later page."""
    return _DateStyle(style)


class _LineMarkup:
    """The ``<li>`` of each line, as the template placed it with the same escaping; what lines
    share (the tag's word, the kind's label) is escaped once per process and language."""

    def __init__(self):
        # The words outside the f-strings: makemessages does not read inside them.
        urgent, flagged = _html(_("urgent")), _html(_("flagged"))
        self.tags = {
            "": "",
            "urgent": f' <span class="tag tag-urgent">{urgent}</span>',
            "flagged": f' <span class="tag tag-flagged">{flagged}</span>',
        }
        self.kinds: dict[str, str] = {}

    def __call__(self, line: WorkLine) -> str:
        kind = self.kinds.get(line.kind_label)
        if kind is None:
            kind = self.kinds[line.kind_label] = _html(line.kind_label)
        mark = f" work-item-{_html(line.mark)}" if line.mark else ""
        return (
            f'\n  <li class="work-item{mark}">'
            f'\n    <span class="work-kind">{kind}{self.tags[line.tag]}</span>'
            f'\n    <a class="work-link" href="{_html(line.item.url)}">{_html(line.text)}</a>'
            f'\n    <time class="work-age" datetime="{_html(line.datetime)}" title="{_html(line.title)}">'
            f"{_html(line.waiting)}</time>"
            "\n  </li>\n  "
        )


@lru_cache(maxsize=16)
def _line_markup(language: str) -> _LineMarkup:
    """The ``_LineMarkup`` of ``language`` (the active one: the caller's key), one per process."""
    return _LineMarkup()


def _group_html(group: WorkGroup) -> SafeString:
    """The ``<section>`` of a group as the template placed it (``_LineMarkup``: the same
    escaping), with its heading and its lines."""
    mark = f" work-group-{_html(group.mark)}" if group.mark else ""
    number = _html(group.number)
    reference = f' <span class="muted">{_html(group.case_reference)}</span>' if group.case_reference else ""
    return SafeString(  # every part escaped, the lines by _LineMarkup
        f'\n<section class="work-group{mark}" aria-labelledby="work-group-{number}">'
        f'\n  <h3 class="work-group-name" id="work-group-{number}">{_html(group.name)}{reference}</h3>'
        '\n  <ul class="work-items">'
        f"\n  {group.lines_html}"
        "\n  </ul>"
        "\n</section>\n"
    )


def _mark(item) -> str:
    return "urgent" if item.urgent else "flagged" if item.flagged else ""


def worklist_groups(items, *, now: datetime | None = None) -> list[WorkGroup]:
    """The page's items grouped by patient, groups in the order of their first item."""
    now = now or timezone.now()
    zone = timezone.get_current_timezone()
    language = get_language()
    full = _date_style(language, get_format("DATETIME_FORMAT"))
    kind_labels: dict[str, str] = {}
    words: dict[tuple, str] = {}
    groups: dict[int | None, WorkGroup] = {}
    marks: dict[int | None, str] = {}  # how each group stands out: its most urgent line's mark
    for item in items:
        group = groups.get(item.patient_id)
        if group is None:
            name = item.patient_name if item.patient_id else _("New people")
            group = groups[item.patient_id] = WorkGroup(item.patient_id, name, item.case_reference)
        kind_label = kind_labels.get(item.kind)
        if kind_label is None:
            kind_label = kind_labels[item.kind] = item.kind_label
        local = item.since.astimezone(zone)
        waited = _waited(item.since, item.now or now, local)
        waiting = words.get(waited)
        if waiting is None:
            waiting = words[waited] = _waited_words(waited)
        mark = _mark(item)
        if mark and marks.get(item.patient_id) != "urgent":
            marks[item.patient_id] = mark
        group.items.append(
            WorkLine(
                item=item,
                waiting=waiting,
                datetime=local.isoformat(),
                title=full(local),
                kind_label=kind_label,
                mark=mark,
                tag="" if item.kind == "feedback_overdue" and mark == "flagged" else mark,
            )
        )
    markup = _line_markup(language)
    for number, (patient_id, group) in enumerate(groups.items(), start=1):
        group.lines_html = SafeString("".join(map(markup, group.items)))  # escaped by _LineMarkup
        group.number = str(number)
        group.mark = marks.get(patient_id, "")
        group.html = _group_html(group)
    return list(groups.values())
