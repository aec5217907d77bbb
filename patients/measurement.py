"""Measurement through treatment (ROM): the schedule a program version declares, and the weekly
check-in's rules.

The schedule comes from the version's manifest (``measurements``, stored as
``ProgramVersion.measurement_schedule``) next to its start and end questionnaires:

* **Start and end**: ``questionnaires.start`` / ``questionnaires.end`` (as before).
* **After module N**: questionnaires asked once module N is complete (moment ``module``).
* **Weekly check-in** (under a minute: the program's symptom 0-10 for the past week, the PHQ-2 and
  PHQ-9 item 9 as the safety question), due on the patient's feedback day, so the therapist sees
  it with the week's work.

The check-in rules:

* The check-in that is due is the one of the latest feedback day on or before today, from the
  first feedback day after the start on. A late check-in counts for that day; earlier missed
  weeks are not asked any more (no backlog).
* A paused (or ended) enrollment is asked nothing. An answer that arrives anyway, from a page
  opened before the pause, is kept: a safety answer is never thrown away.
* Answering twice for the same day keeps both answers (the latest counts for the graph); each
  answer with item 9 above 0 takes the urgent path on its own. An identical answer sent twice
  (a double click) is stored once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone

from patients.models import Enrollment, QuestionnaireResponse, TimelineEvent
from patients.rhythm import feedback_slot
from programs import questionnaires


def check_in_code(version) -> str:
    return (version.measurement_schedule or {}).get("weekly_check_in") or ""


def after_module(version) -> dict[int, list[str]]:
    """{module number: questionnaire codes} asked once that module is complete."""
    schedule = (version.measurement_schedule or {}).get("after_module") or {}
    return {int(number): list(codes) for number, codes in schedule.items()}


def first_due_day(enrollment: Enrollment) -> date:
    """The first feedback day, a week after the start's slot: a week of treatment to report on,
    and the day the first (weekly) feedback is due, so the check-in arrives with it."""
    return feedback_slot(enrollment.start_date, enrollment.feedback_weekday) + timedelta(days=7)


def due_day(enrollment: Enrollment, today: date) -> date | None:
    """The feedback day whose check-in is due on ``today``: the latest one on or before today,
    None before the first one. Ignores the enrollment's status (see ``check_in_asked``)."""
    first = first_due_day(enrollment)
    if today < first:
        return None
    return today - timedelta(days=(today.weekday() - enrollment.feedback_weekday) % 7)


def check_in_asked(enrollment: Enrollment, today: date, answered_days: set[date]) -> date | None:
    """The day whose check-in the patient is asked for now, or None: not scheduled, not active
    (paused or ended: ask nothing), before the first feedback day, or answered already."""
    if not check_in_code(enrollment.version) or enrollment.status != Enrollment.Status.ACTIVE:
        return None
    day = due_day(enrollment, today)
    if day is None or day in answered_days:
        return None
    return day


def check_in_state(enrollment: Enrollment, today: date, answered_days: set[date]) -> tuple[str, date | None]:
    """Where the patient stands with the check-in, and the day that goes with it: ("due", the day
    asked), ("done", the next feedback day) when this week's is answered, ("not_yet", the first
    feedback day) before it, ("paused", None), ("ended", None) or ("none", None) when the version
    has no check-in. Each state has its own sentence; "done" is never said to someone who has not
    answered."""
    if not check_in_code(enrollment.version):
        return "none", None
    if enrollment.status == Enrollment.Status.PAUSED:
        return "paused", None
    if enrollment.status != Enrollment.Status.ACTIVE:
        return "ended", None
    day = due_day(enrollment, today)
    if day is None:
        return "not_yet", first_due_day(enrollment)
    if day in answered_days:
        return "done", day + timedelta(days=7)
    return "due", day


def week_number(enrollment: Enrollment, day: date) -> int:
    """Week 1 is the week starting on the start date."""
    return (day - enrollment.start_date).days // 7 + 1


@dataclass
class Week:
    number: int
    day: date
    symptom: float | None = None
    phq2: int | None = None
    item9: int | None = None


def weekly_values(enrollment: Enrollment, responses) -> list[Week]:
    """One row per week that has a check-in (weeks without one are left out, never zero); the
    latest check-in of a due day counts. ``responses`` of the enrollment, any order."""
    code = check_in_code(enrollment.version)
    latest: dict[date, QuestionnaireResponse] = {}
    for response in sorted(responses, key=lambda r: (r.completed_at, r.pk or 0)):
        if response.code == code and response.due_on is not None:
            latest[response.due_on] = response
    weeks = []
    for day in sorted(latest):
        response = latest[day]
        answers = response.answers or []
        item9 = (
            answers[questionnaires.CHECK_IN_ITEM_9 - 1]
            if len(answers) >= questionnaires.CHECK_IN_ITEM_9
            else None
        )
        weeks.append(
            Week(
                number=week_number(enrollment, day),
                day=day,
                symptom=float(response.total),
                phq2=questionnaires.phq2(answers),
                item9=item9,
            )
        )
    return weeks


def baseline_symptom(enrollment: Enrollment, responses, weeks: list[Week]) -> tuple[float | None, str]:
    """The symptom score treatment started from: the start questionnaire on the same 0-10 scale
    (pain or fatigue, past week), else the first check-in. Returns (value, where from)."""
    code = check_in_code(enrollment.version)
    scale = questionnaires.CHECK_IN_SYMPTOM_SCALE.get(code)
    start = [
        r
        for r in sorted(responses, key=lambda r: (r.completed_at, r.pk or 0))
        if r.code == scale and r.moment == QuestionnaireResponse.Moment.START
    ]
    if start:
        return float(start[0].total), "start"
    if weeks:
        return weeks[0].symptom, "first_check_in"
    return None, ""


# --- Early warning ----------------------------------------------------------------------------------

NOT_IMPROVING = "not_improving"
WENT_QUIET = "went_quiet"
QUIET_CHECK_INS = 3  # missed weekly check-ins in a row that count as "went quiet"


def early_warning_settings() -> tuple[int, float]:
    """(from which week, margin as a percentage of the 0-10 scale)."""
    from django.conf import settings

    return (
        int(getattr(settings, "ICBT_EARLY_WARNING_WEEK", 4)),
        float(getattr(settings, "ICBT_EARLY_WARNING_MARGIN_PERCENT", 10)),
    )


@dataclass
class EarlyWarning:
    """A patient who does not seem to improve, with the figures and the rule that fired."""

    kind: str  # not_improving | went_quiet
    week: int  # the week of treatment now
    from_week: int
    symptom_code: str = ""
    baseline: float | None = None
    baseline_from: str = ""  # start | first_check_in
    latest: float | None = None
    latest_week: int | None = None
    margin: float = 0.0
    margin_percent: float = 0.0
    phq2: int | None = None
    symptom_not_improved: bool = False
    phq2_positive: bool = False
    missed: int = 0

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @property
    def label(self) -> str:
        from django.utils.translation import gettext as _

        return _("Went quiet") if self.kind == WENT_QUIET else _("Not improving")

    @property
    def figures(self) -> str:
        """The figures in one sentence for the therapist."""
        from django.utils.translation import gettext as _

        if self.kind == WENT_QUIET:
            return _("No weekly check-in for the last %(n)s feedback days in a row (week %(week)s).") % {
                "n": self.missed,
                "week": self.week,
            }
        parts = []
        what = _("Pain") if self.symptom_code == questionnaires.CHECK_IN_PAIN else _("Fatigue")
        start = _("at the start") if self.baseline_from == "start" else _("at the first check-in")
        parts.append(
            _("%(what)s: %(baseline)s %(start)s, %(latest)s in week %(week)s (out of 10).")
            % {
                "what": what,
                "start": start,
                "baseline": _num(self.baseline),
                "week": self.latest_week,
                "latest": _num(self.latest),
            }
        )
        if self.phq2 is not None:
            parts.append(
                _("Mood (PHQ-2) in week %(week)s: %(score)s out of 6.")
                % {"week": self.latest_week, "score": self.phq2}
            )
        return " ".join(parts)

    @property
    def rule(self) -> str:
        from django.utils.translation import gettext as _

        if self.kind == WENT_QUIET:
            return _(
                "The rule: from week %(from)s on, %(n)s missed weekly check-ins in a row count as "
                "going quiet."
            ) % {"from": self.from_week, "n": QUIET_CHECK_INS}
        return _(
            "The rule: from week %(from)s on, flag a patient whose weekly symptom score has not come "
            "down by at least %(margin)s on the 0-10 scale (%(percent)s%% of it) since the start, or "
            "whose PHQ-2 is 3 or more. Weeks without a check-in are left out."
        ) % {"from": self.from_week, "margin": _num(self.margin), "percent": _num(self.margin_percent)}


def _num(value) -> str:
    if value is None:
        return "–"
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.1f}"


def resumed_at_by_enrollment(enrollment_ids) -> dict[int, object]:
    """{enrollment id: when it was last resumed after a pause}, from the status timeline (its
    facts are encrypted, so read here rather than filtered in SQL). One query."""
    found = {}
    events = TimelineEvent.objects.filter(
        enrollment_id__in=list(enrollment_ids), kind=TimelineEvent.Kind.STATUS
    ).only("pk", "uid", "clinic_id", "enrollment_id", "patient_id", "at", "detail")
    for event in events.order_by("at", "pk"):
        if _is_resume(event):
            found[event.enrollment_id] = event.at
    return found


def _is_resume(event) -> bool:
    detail = event.detail or {}
    return detail.get("from") == Enrollment.Status.PAUSED and detail.get("to") == Enrollment.Status.ACTIVE


def resumed_at_from_timeline(events, *, enrollment_id: int, complete: bool) -> tuple[bool, object]:
    """When the enrollment was last resumed after a pause, from timeline events already read
    (``events``: the patient's newest events, newest first, as ``selectors.timeline_for`` gives
    them; ``complete``: they are all of the patient's events). ``(True, at or None)`` when the
    events answer it, ``(False, None)`` when the answer may lie in older events: the newest
    resume in the events is the last one; without one, there was none only if they are all."""
    for event in events:
        if (
            event.enrollment_id == enrollment_id
            and event.kind == TimelineEvent.Kind.STATUS
            and _is_resume(event)
        ):
            return True, event.at
    return (True, None) if complete else (False, None)


def resumed_on(enrollment) -> date | None:
    """The day the enrollment was last resumed after a pause, or None. An enrollment that carries
    ``resumed_at`` (``patients.selectors.early_warnings_for``) needs no query."""
    if hasattr(enrollment, "resumed_at"):
        at = enrollment.resumed_at
    else:
        at = resumed_at_by_enrollment([enrollment.pk]).get(enrollment.pk)
    return timezone.localdate(at) if at else None


def _went_quiet(enrollment, today: date, due_ons: set[date]) -> bool:
    """The last three feedback days whose week has passed all lack a check-in. A feedback day
    counts as answered when a check-in's due day lies in the seven days ending on it (so check-ins
    kept under an earlier feedback weekday still count); feedback days before the first one, or
    before the last resume after a pause (nothing was asked then), are not held against anyone."""
    current = due_day(enrollment, today)
    if current is None:
        return False
    closed = [current - timedelta(days=7 * i) for i in range(1, QUIET_CHECK_INS + 1)]
    if any(day < first_due_day(enrollment) for day in closed):
        return False
    if any(day - timedelta(days=6) <= answered <= day for day in closed for answered in due_ons):
        return False
    resumed = resumed_on(enrollment)
    return resumed is None or all(day >= resumed for day in closed)


def early_warning(enrollment, responses, today: date, *, quiet: bool = True) -> EarlyWarning | None:
    """The early-warning rule for one enrollment (see README, "Early warning"):

    * only for an active enrollment with a weekly check-in, from week ``ICBT_EARLY_WARNING_WEEK``
      (default 4) of treatment on;
    * **went quiet**: the last three feedback days whose week has passed have no check-in (see
      ``_went_quiet``: a pause and a changed feedback weekday are taken into account);
    * **not improving**: the latest check-in's symptom score is less than the margin
      (``ICBT_EARLY_WARNING_MARGIN_PERCENT`` of the 0-10 scale, default 10 %: 1 point) below the
      start (the start questionnaire on the same scale, else the first check-in, then compared
      with a later one), or the latest PHQ-2 is 3 or more.

    Weeks without a check-in are ignored, never counted as zero. Based on the week-4 early
    warning of Forsell et al. 2019 (Am J Psychiatry 176:315) and the IMMPACT advice to use an
    absolute margin for a 0-10 scale; the numbers are settings. ``quiet=False`` leaves the
    went-quiet rule out (the not-improving figures alone)."""
    code = check_in_code(enrollment.version)
    if not code or enrollment.status != Enrollment.Status.ACTIVE:
        return None
    from_week, percent = early_warning_settings()
    week = week_number(enrollment, today)
    if week < from_week:
        return None
    weeks = weekly_values(enrollment, responses)
    if quiet and _went_quiet(enrollment, today, {w.day for w in weeks}):
        return EarlyWarning(WENT_QUIET, week, from_week, code, missed=QUIET_CHECK_INS)
    if not weeks:
        return None
    baseline, baseline_from = baseline_symptom(enrollment, responses, weeks)
    latest = weeks[-1]
    margin = percent / 100 * 10
    not_improved = False
    if baseline is not None and not (baseline_from == "first_check_in" and len(weeks) < 2):
        not_improved = (baseline - latest.symptom) < margin - 1e-9
    phq2_positive = latest.phq2 is not None and latest.phq2 >= questionnaires.PHQ2_POSITIVE
    if not (not_improved or phq2_positive):
        return None
    return EarlyWarning(
        NOT_IMPROVING,
        week,
        from_week,
        code,
        baseline=baseline,
        baseline_from=baseline_from,
        latest=latest.symptom,
        latest_week=latest.number,
        margin=margin,
        margin_percent=percent,
        phq2=latest.phq2,
        symptom_not_improved=not_improved,
        phq2_positive=phq2_positive,
    )


# --- Early warning as a work item -------------------------------------------------------------------

# How far ahead a warning that does not show today is looked for: going quiet takes at most the
# missed feedback days and the week that is still open after the last check-in.
_LOOK_AHEAD_DAYS = 7 * (QUIET_CHECK_INS + 2)


@dataclass(frozen=True)
class WarningSpan:
    """When an enrollment's early warning shows, as far as its check-ins so far tell: from
    ``since`` on (the day it first fired, or the day it will fire when no check-in comes), as
    "went quiet" from ``quiet_on`` on (None: not in sight), with the not-improving figures
    (``figures``: ``EarlyWarning.as_dict`` without the week of today, or None)."""

    since: date
    quiet_on: date | None
    figures: dict | None
    from_week: int

    def detail(self, start_date: date) -> dict:
        """What the work item keeps: which warning shows from which day, and the rule's settings.
        Never a score or an answer: the work-item table is not encrypted (the figures are read
        from the encrypted check-ins on the patient's page)."""
        figures = self.figures or {}
        return {
            "start": start_date.isoformat(),
            "from_week": self.from_week,
            "quiet_on": self.quiet_on.isoformat() if self.quiet_on else None,
            "not_improving": self.figures is not None,
            "margin": figures.get("margin", 0.0),
            "margin_percent": figures.get("margin_percent", 0.0),
        }


def warning_span(enrollment, responses, today: date) -> WarningSpan | None:
    """The early warning of ``enrollment`` (as ``early_warning`` needs it: with ``resumed_at``
    for a resumed one) as a span of days, or None when it neither shows today nor will as days
    pass. Date-stable: it depends on the responses and their completion days, not on the day it
    is asked (a day in the past is judged with the responses completed by then), so a service
    that writes it today and a reconcile next week agree."""
    code = check_in_code(enrollment.version)
    if not code or enrollment.status != Enrollment.Status.ACTIVE:
        return None
    from_week, _percent = early_warning_settings()
    first_day = enrollment.start_date + timedelta(days=7 * (from_week - 1))
    done = sorted(((timezone.localdate(r.completed_at), r) for r in responses), key=lambda pair: pair[0])
    everything = [r for _day, r in done]

    def on(day: date) -> EarlyWarning | None:
        return early_warning(enrollment, [r for d, r in done if d <= day], day)

    if on(today) is not None:
        since = today
        while since > first_day and on(since - timedelta(days=1)) is not None:
            since -= timedelta(days=1)
    else:
        start = max(today + timedelta(days=1), first_day)
        ahead = (start + timedelta(days=i) for i in range(_LOOK_AHEAD_DAYS))
        since = next((day for day in ahead if early_warning(enrollment, everything, day)), None)
        if since is None:
            return None
    # From the last completion on, every day is judged with all the responses: from then on going
    # quiet, once it fires, stays.
    after = max(since, done[-1][0] if done else since)
    # Going quiet fires within a few weeks of the last check-in, the first feedback day or the
    # last resume, all before today: it is found by then if it fires at all.
    days = (max(after, today) - after).days + _LOOK_AHEAD_DAYS + 7 * from_week
    quiet_on = next(
        (
            day
            for day in (after + timedelta(days=i) for i in range(days))
            if (w := early_warning(enrollment, everything, day)) is not None and w.kind == WENT_QUIET
        ),
        None,
    )
    figures = early_warning(enrollment, everything, max(today, first_day), quiet=False)
    figures = {k: v for k, v in figures.as_dict().items() if k != "week"} if figures else None
    return WarningSpan(since=since, quiet_on=quiet_on, figures=figures, from_week=from_week)


def warning_shown(detail: dict, today: date) -> EarlyWarning:
    """The warning a work item's ``detail`` (``WarningSpan.detail``) shows on ``today``, with its
    rule; without scores (a not-improving warning's figures are on the patient's page)."""
    start = date.fromisoformat(detail["start"])
    week = (today - start).days // 7 + 1
    quiet_on = detail.get("quiet_on")
    if not detail.get("not_improving") or (quiet_on and today >= date.fromisoformat(quiet_on)):
        return EarlyWarning(WENT_QUIET, week, detail["from_week"], missed=QUIET_CHECK_INS)
    return EarlyWarning(
        NOT_IMPROVING,
        week,
        detail["from_week"],
        margin=detail.get("margin", 0.0),
        margin_percent=detail.get("margin_percent", 0.0),
    )
