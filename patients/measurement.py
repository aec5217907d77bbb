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

from patients.models import Enrollment, QuestionnaireResponse
from programs import questionnaires


def check_in_code(version) -> str:
    return (version.measurement_schedule or {}).get("weekly_check_in") or ""


def after_module(version) -> dict[int, list[str]]:
    """{module number: questionnaire codes} asked once that module is complete."""
    schedule = (version.measurement_schedule or {}).get("after_module") or {}
    return {int(number): list(codes) for number, codes in schedule.items()}


def first_due_day(enrollment: Enrollment) -> date:
    """The first feedback day after the start date (a week of treatment to report on)."""
    start = enrollment.start_date
    ahead = (enrollment.feedback_weekday - start.weekday()) % 7 or 7
    return start + timedelta(days=ahead)


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
