"""The manager's dashboard drawn: its tables (the page, the CSV exports, the PDF) and its
charts, from a :class:`therapists.dashboard.Dashboard`. No query here."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from therapists import charts
from therapists.dashboard import Dashboard, month_label


@dataclass
class Table:
    """One table of the dashboard, for the page, the CSV and the PDF."""

    name: str
    title: str
    headers: list[str]
    rows: list[list]

    def body_html(self) -> str:
        """The rows as the page shows them (``<tr>``, the first cell a row header), each value
        localized and escaped as the template engine does (``{{ cell }}``): written here in one
        pass, because a clinic's table has a row per therapist, hundreds of them, and template
        nodes per cell cost more than the rest of the page."""
        return mark_safe(  # noqa: S308 - every value is escaped below
            "".join(
                "<tr>"
                + "".join(
                    f'<th scope="row">{_cell(cell)}</th>' if i == 0 else f"<td>{_cell(cell)}</td>"
                    for i, cell in enumerate(row)
                )
                + "</tr>\n"
                for row in self.rows
            )
        )


def _cell(value) -> str:
    # A small whole number (most cells: counts per therapist) reads the same in every language
    # and needs no escaping; the rest as the template engine writes it.
    if type(value) is int and -1000 < value < 1000:
        return str(value)
    return conditional_escape(localize(value))


def _one_decimal(value) -> Decimal | None:
    """One decimal, as a number: the page writes it in its language ("48,0" in Dutch, as the
    tiles do), the CSV machine-readable with a point ("48.0")."""
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def dashboard_tables(d: Dashboard) -> dict[str, Table]:
    """Every table of the dashboard, in the order of the page. Plain values (numbers, dates,
    names of staff, programs and teams): no patient, no clinical content."""
    return {table.name: table for table in (build(d) for build in _TABLE_BUILDERS)}


def _texts(*labels) -> list[str]:
    return [str(label) for label in labels]


def _caseload_headers() -> list:
    return [_("Active"), _("Paused"), _("Waiting (invited)"), _("Pending items"), _("Overdue feedback")]


def _therapists_table(d: Dashboard) -> Table:
    headers = _texts(
        _("Therapist"),
        _("Teams"),
        *_caseload_headers(),
        _("Median hours to feedback"),
        _("Items reviewed in the period"),
    )
    rows = [
        [
            r.name,
            ", ".join(r.teams),
            *(r.active, r.paused, r.invited, r.pending, r.overdue),
            _one_decimal(r.median_hours),
            r.reviewed,
        ]
        for r in d.therapists
    ]
    return Table("therapists", str(_("Caseload per therapist")), headers, rows)


def _teams_table(d: Dashboard) -> Table:
    headers = _texts(_("Team"), _("Therapists"), *_caseload_headers())
    keys = ("team", "therapists", "active", "paused", "invited", "pending", "overdue")
    rows = [[r[key] for key in keys] for r in d.team_rows()]
    return Table("teams", str(_("Caseload per team")), headers, rows)


def _programs_table(d: Dashboard) -> Table:
    headers = _texts(
        _("Program"),
        _("Month"),
        _("Intake requests"),
        _("Starts"),
        _("Completions"),
        _("Drop-outs"),
        _("Step-ups"),
    )
    rows = [
        [
            r.program,
            r.month.strftime("%Y-%m"),
            r.intake_requests,
            r.starts,
            r.completions,
            r.dropouts,
            r.step_ups,
        ]
        for r in d.program_months
    ]
    return Table("programs", str(_("Per program and month")), headers, rows)


def _funnel_table(d: Dashboard) -> Table:
    headers = _texts(_("Program"), _("Stage"), _("Patients"), _("Share of those who started (%)"))
    rows = [[r.program, r.stage, r.patients, _one_decimal(r.share)] for r in d.funnel]
    return Table("funnel", str(_("How far patients get (module funnel)")), headers, rows)


def _contacts_table(d: Dashboard) -> Table:
    headers = _texts(
        _("Month"),
        _("Feedback messages"),
        _("Other messages from the clinic"),
        *[label for _value, label in d.session_kinds],
        _("Share online (%)"),
    )
    rows = [
        [
            r.month.strftime("%Y-%m"),
            r.feedback,
            r.other_messages,
            *[r.sessions.get(value, 0) for value, _label in d.session_kinds],
            _one_decimal(r.share_online),
        ]
        for r in d.contacts
    ]
    return Table("contacts", str(_("Treatment contacts: online and in person")), headers, rows)


def _trained_table(d: Dashboard) -> Table:
    headers = _texts(_("Therapist"), _("Training date"))
    rows = [[s.user.get_full_name() or s.user.email, s.training_date.isoformat()] for s in d.trained_idle]
    return Table("trained", str(_("Trained therapists without a patient yet")), headers, rows)


_TABLE_BUILDERS = (
    _therapists_table,
    _teams_table,
    _programs_table,
    _funnel_table,
    _contacts_table,
    _trained_table,
)


def dashboard_charts(d: Dashboard) -> dict[str, charts.Chart]:
    return {
        "flow": _flow_chart(d),
        "funnel": _funnel_chart(d),
        "contacts": _contacts_chart(d),
        "median": _median_chart(d),
    }


def _flow_chart(d: Dashboard) -> charts.Chart:
    months = d.period.months
    flow = defaultdict(lambda: [0, 0, 0, 0, 0])
    for r in d.program_months:
        values = flow[r.month]
        values[0] += r.intake_requests
        values[1] += r.starts
        values[2] += r.completions
        values[3] += r.dropouts
        values[4] += r.step_ups
    names = [_("Intake requests"), _("Starts"), _("Completions"), _("Drop-outs"), _("Step-ups")]
    totals = [sum(v[i] for v in flow.values()) for i in range(len(names))]
    counted = [
        ngettext("%(count)s intake request", "%(count)s intake requests", totals[0]),
        ngettext("%(count)s start", "%(count)s starts", totals[1]),
        ngettext("%(count)s completion", "%(count)s completions", totals[2]),
        ngettext("%(count)s drop-out", "%(count)s drop-outs", totals[3]),
        ngettext("%(count)s step-up", "%(count)s step-ups", totals[4]),
    ]
    description = str(
        _(
            "Bars per month for intake requests, starts, completions, drop-outs and step-ups, "
            "all programs together. In total: %(totals)s."
        )
    ) % {"totals": ", ".join(text % {"count": n} for text, n in zip(counted, totals, strict=True))}
    return charts.bar_chart(
        charts.Chart(
            "chart-flow",
            str(_("Intake requests, starts and endings per month")),
            description,
            [month_label(m) for m in months],
            [
                charts.Series(str(name), [flow[m][i] if m in flow else 0 for m in months])
                for i, name in enumerate(names)
            ],
        )
    )


def _funnel_chart(d: Dashboard) -> charts.Chart:
    programs = list(dict.fromkeys(r.program for r in d.funnel))
    stages = list(dict.fromkeys(r.stage for r in d.funnel))
    values = {(r.program, r.stage): r.patients for r in d.funnel}
    return charts.hbar_chart(
        charts.Chart(
            "chart-funnel",
            str(_("How far patients get")),
            str(
                _(
                    "For each program, the number of patients who started, reached each module and "
                    "completed the program, of those who started in the period."
                )
            ),
            stages,
            [charts.Series(p, [values.get((p, s), 0) for s in stages]) for p in programs],
        )
    )


def _contacts_chart(d: Dashboard) -> charts.Chart:
    total = d.contacts_total
    count = total.online + total.in_person
    description = ngettext(
        "Bars per month: messages from the clinic in the program (online) and recorded sessions "
        "(face to face, group, phone, video). Over the period %(share)s%% of %(total)s "
        "contact was online.",
        "Bars per month: messages from the clinic in the program (online) and recorded sessions "
        "(face to face, group, phone, video). Over the period %(share)s%% of %(total)s "
        "contacts were online.",
        count,
    ) % {
        "share": localize(_one_decimal(total.share_online)) if total.share_online is not None else "–",
        "total": count,
    }
    return charts.bar_chart(
        charts.Chart(
            "chart-contacts",
            str(_("Treatment contacts per month: online and in person")),
            description,
            [month_label(r.month) for r in d.contacts],
            [
                charts.Series(str(_("Online (messages)")), [r.online for r in d.contacts]),
                charts.Series(str(_("Sessions")), [r.in_person for r in d.contacts]),
            ],
        )
    )


def _median_chart(d: Dashboard) -> charts.Chart:
    rows = [r for r in d.therapists if r.median_hours is not None]
    return charts.bar_chart(
        charts.Chart(
            "chart-median",
            str(_("Median hours to feedback per therapist")),
            str(_("One bar per therapist: the median number of hours from hand-in to review in the period.")),
            [r.name for r in rows],
            [charts.Series(str(_("Median hours")), [r.median_hours for r in rows])],
            unit=str(_("hours")),
        )
    )
