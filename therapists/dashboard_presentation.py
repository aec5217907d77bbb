"""The manager's dashboard drawn: its tables (the page, the CSV exports, the PDF) and its
charts, from a :class:`therapists.dashboard.Dashboard`. No query here."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from therapists import charts
from therapists.dashboard import Dashboard, month_label


@dataclass
class Table:
    """One table of the dashboard, for the page, the CSV and the PDF."""

    name: str
    title: str
    headers: list[str]
    rows: list[list]


def _hours(value) -> str:
    return "" if value is None else f"{value:.1f}"


def dashboard_tables(d: Dashboard) -> dict[str, Table]:
    """Every table of the dashboard, in the order of the page. Plain values (numbers, dates,
    names of staff, programs and teams): no patient, no clinical content."""
    tables = {
        "therapists": Table(
            "therapists",
            str(_("Caseload per therapist")),
            [
                str(_("Therapist")),
                str(_("Teams")),
                str(_("Active")),
                str(_("Paused")),
                str(_("Waiting (invited)")),
                str(_("Pending items")),
                str(_("Overdue feedback")),
                str(_("Median hours to feedback")),
                str(_("Items reviewed in the period")),
            ],
            [
                [
                    r.name,
                    ", ".join(r.teams),
                    r.active,
                    r.paused,
                    r.invited,
                    r.pending,
                    r.overdue,
                    _hours(r.median_hours),
                    r.reviewed,
                ]
                for r in d.therapists
            ],
        ),
        "teams": Table(
            "teams",
            str(_("Caseload per team")),
            [
                str(_("Team")),
                str(_("Therapists")),
                str(_("Active")),
                str(_("Paused")),
                str(_("Waiting (invited)")),
                str(_("Pending items")),
                str(_("Overdue feedback")),
            ],
            [
                [
                    r["team"],
                    r["therapists"],
                    r["active"],
                    r["paused"],
                    r["invited"],
                    r["pending"],
                    r["overdue"],
                ]
                for r in d.team_rows()
            ],
        ),
        "programs": Table(
            "programs",
            str(_("Per program and month")),
            [
                str(_("Program")),
                str(_("Month")),
                str(_("Intake requests")),
                str(_("Starts")),
                str(_("Completions")),
                str(_("Drop-outs")),
                str(_("Step-ups")),
            ],
            [
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
            ],
        ),
        "funnel": Table(
            "funnel",
            str(_("How far patients get (module funnel)")),
            [
                str(_("Program")),
                str(_("Stage")),
                str(_("Patients")),
                str(_("Share of those who started (%)")),
            ],
            [[r.program, r.stage, r.patients, "" if r.share is None else f"{r.share:.1f}"] for r in d.funnel],
        ),
        "contacts": Table(
            "contacts",
            str(_("Treatment contacts: online and in person")),
            [
                str(_("Month")),
                str(_("Feedback messages")),
                str(_("Other messages from the clinic")),
                *[str(label) for _value, label in d.session_kinds],
                str(_("Share online (%)")),
            ],
            [
                [
                    r.month.strftime("%Y-%m"),
                    r.feedback,
                    r.other_messages,
                    *[r.sessions.get(value, 0) for value, _label in d.session_kinds],
                    "" if r.share_online is None else f"{r.share_online:.1f}",
                ]
                for r in d.contacts
            ],
        ),
        "trained": Table(
            "trained",
            str(_("Trained therapists without a patient yet")),
            [
                str(_("Therapist")),
                str(_("Training date")),
            ],
            [[s.user.get_full_name() or s.user.email, s.training_date.isoformat()] for s in d.trained_idle],
        ),
    }
    return tables


def dashboard_charts(d: Dashboard) -> dict[str, charts.Chart]:
    months = d.period.months
    labels = [month_label(m) for m in months]
    flow = defaultdict(lambda: [0, 0, 0, 0, 0])
    for r in d.program_months:
        values = flow[r.month]
        values[0] += r.intake_requests
        values[1] += r.starts
        values[2] += r.completions
        values[3] += r.dropouts
        values[4] += r.step_ups
    names = [_("Intake requests"), _("Starts"), _("Completions"), _("Drop-outs"), _("Step-ups")]
    flow_chart = charts.bar_chart(
        charts.Chart(
            "chart-flow",
            str(_("Intake requests, starts and endings per month")),
            str(
                _(
                    "Bars per month for intake requests, starts, completions, drop-outs and step-ups, "
                    "all programs together; in total %(requests)s intake requests, %(starts)s starts, "
                    "%(completions)s completions, %(dropouts)s drop-outs and %(stepups)s step-ups."
                )
            )
            % {
                "requests": sum(v[0] for v in flow.values()),
                "starts": sum(v[1] for v in flow.values()),
                "completions": sum(v[2] for v in flow.values()),
                "dropouts": sum(v[3] for v in flow.values()),
                "stepups": sum(v[4] for v in flow.values()),
            },
            labels,
            [
                charts.Series(str(name), [flow[m][i] if m in flow else 0 for m in months])
                for i, name in enumerate(names)
            ],
        )
    )
    programs = list(dict.fromkeys(r.program for r in d.funnel))
    stages: list[str] = []
    for r in d.funnel:
        if r.stage not in stages:
            stages.append(r.stage)
    values = {(r.program, r.stage): r.patients for r in d.funnel}
    funnel_chart = charts.hbar_chart(
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
    total = d.contacts_total
    contacts_chart = charts.bar_chart(
        charts.Chart(
            "chart-contacts",
            str(_("Treatment contacts per month: online and in person")),
            str(
                _(
                    "Bars per month: messages from the clinic in the program (online) and recorded sessions "
                    "(face to face, group, phone, video). Over the period %(share)s%% of %(total)s "
                    "contacts were online."
                )
            )
            % {
                "share": charts.fmt(total.share_online) if total.share_online is not None else "–",
                "total": total.online + total.in_person,
            },
            [month_label(r.month) for r in d.contacts],
            [
                charts.Series(str(_("Online (messages)")), [r.online for r in d.contacts]),
                charts.Series(str(_("Sessions")), [r.in_person for r in d.contacts]),
            ],
        )
    )
    rows = [r for r in d.therapists if r.median_hours is not None]
    median_chart = charts.bar_chart(
        charts.Chart(
            "chart-median",
            str(_("Median hours to feedback per therapist")),
            str(_("One bar per therapist: the median number of hours from hand-in to review in the period.")),
            [r.name for r in rows],
            [charts.Series(str(_("Median hours")), [r.median_hours for r in rows])],
            unit=str(_("hours")),
        )
    )
    return {"flow": flow_chart, "funnel": funnel_chart, "contacts": contacts_chart, "median": median_chart}
