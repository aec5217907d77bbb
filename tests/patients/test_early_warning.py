"""Early warning from the weekly check-ins: from week 4, not improving by the margin (10 % of the
scale) or a PHQ-2 of 3 or more, or three missed check-ins in a row; weeks without data ignored;
on the worklist with figures and rule, once per patient until the therapist records a decision."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from icbt.models import AuditEvent
from patients import measurement, services
from patients.models import EarlyWarningDecision, QuestionnaireResponse
from tests.patients import staff_helpers as sh
from tests.work import settle
from therapists.worklist import worklist

pytestmark = pytest.mark.django_db

START = date(2026, 11, 2)  # a Monday; feedback on Mondays: check-ins due 9, 16, 23, 30 Nov, 7 Dec


def _enrollment(world):
    item = sh.enroll(world.patient_a, sh.measured_version(), start_date=START, feedback_weekday=0)
    item.patient = world.patient_a
    return item


def _check_ins(enrollment, symptoms, *, phq=(1, 1)):
    first = measurement.first_due_day(enrollment)
    for i, symptom in enumerate(symptoms):
        if symptom is None:
            continue  # a week without a check-in
        services.check_in_submit(
            enrollment=enrollment,
            answers={1: symptom, 2: phq[0], 3: phq[1], 4: 0},
            today=first + timedelta(days=7 * i),
        )


def _warning(enrollment, today):
    return measurement.early_warning(
        enrollment, QuestionnaireResponse.objects.filter(enrollment=enrollment), today
    )


def test_not_before_week_4(world):
    enrollment = _enrollment(world)
    _check_ins(enrollment, [7, 7])
    assert _warning(enrollment, date(2026, 11, 17)) is None  # week 3


def test_four_check_ins_that_do_not_improve_are_flagged_with_figures_and_rule(world):
    enrollment = _enrollment(world)
    _check_ins(enrollment, [7, 7, 7, 7])
    warning = _warning(enrollment, date(2026, 11, 30))  # week 5
    assert warning.kind == measurement.NOT_IMPROVING and warning.symptom_not_improved
    assert (warning.baseline, warning.baseline_from, warning.latest, warning.margin) == (
        7.0,
        "first_check_in",
        7.0,
        1.0,
    )
    assert "Pain: 7 at the first check-in, 7 in week 5 (out of 10)." in warning.figures
    assert "at least 1 on the 0-10 scale (10% of it)" in warning.rule


def test_improving_by_the_margin_is_not_flagged_and_the_start_score_is_the_baseline(world):
    enrollment = _enrollment(world)
    services.questionnaire_submit(enrollment=enrollment, code="pain_nrs", moment="start", answers={1: 8})
    _check_ins(enrollment, [8, 7, 7, 7])
    assert _warning(enrollment, date(2026, 11, 30)) is None  # 8 -> 7: exactly the margin
    wider = _enrollment_with_margin(world, enrollment, 20)
    assert wider.kind == measurement.NOT_IMPROVING and wider.baseline_from == "start"


def _enrollment_with_margin(world, enrollment, percent):
    from django.test import override_settings

    with override_settings(ICBT_EARLY_WARNING_MARGIN_PERCENT=percent):
        return _warning(enrollment, date(2026, 11, 30))


def test_a_positive_phq2_is_flagged_even_when_the_symptom_improves(world):
    enrollment = _enrollment(world)
    _check_ins(enrollment, [8, 6, 5, 4], phq=(2, 1))
    warning = _warning(enrollment, date(2026, 11, 30))
    assert warning.phq2_positive and not warning.symptom_not_improved and warning.phq2 == 3


def test_weeks_without_data_are_ignored_not_zero(world):
    enrollment = _enrollment(world)
    _check_ins(enrollment, [7, None, None, 5])  # two gaps, then 2 points better than the first
    assert _warning(enrollment, date(2026, 11, 30)) is None


def test_three_missed_check_ins_in_a_row_is_went_quiet(world):
    enrollment = _enrollment(world)
    _check_ins(enrollment, [5])  # only week 2 (9 Nov); 16, 23 and 30 Nov missed
    assert _warning(enrollment, date(2026, 11, 30)) is None  # 30 Nov is still open
    warning = _warning(enrollment, date(2026, 12, 7))
    assert warning.kind == measurement.WENT_QUIET and "last 3 feedback days" in warning.figures


def test_on_the_worklist_once_until_the_therapist_decides(world, client_for):
    enrollment = _enrollment(world)
    _check_ins(enrollment, [7, 7, 7, 7])
    today = date(2026, 11, 30)
    items = [
        i
        for i in worklist(fetched_by=world.therapist.user, now=_at(today)).items
        if i.kind == "early_warning"
    ]
    assert len(items) == 1 and items[0].label.startswith("Not improving: The rule: from week 4 on")
    assert items[0].url.endswith(f"/staff/patients/{world.patient_a.pk}/#early-warning")
    services.early_warning_decide(enrollment=enrollment, staff=world.therapist, decision="call", today=today)
    record = EarlyWarningDecision.objects.get()
    assert record.figures["latest"] == 7.0 and record.kind == "not_improving"
    assert AuditEvent.objects.filter(object_type="early_warning_decision").exists()
    items = [
        i
        for i in worklist(fetched_by=world.therapist.user, now=_at(today)).items
        if i.kind == "early_warning"
    ]
    assert items == []


def _at(day):
    from datetime import datetime

    from django.utils import timezone

    return timezone.make_aware(datetime(day.year, day.month, day.day, 10))


def test_the_decision_is_refused_without_a_warning_and_a_choice_is_required(world, client_for):
    from django.core.exceptions import ValidationError

    enrollment = _enrollment(world)
    with pytest.raises(ValidationError):
        services.early_warning_decide(
            enrollment=enrollment, staff=world.therapist, decision="call", today=date(2026, 11, 10)
        )
    with pytest.raises(ValidationError):
        services.early_warning_decide(enrollment=enrollment, staff=world.therapist, decision="nonsense")
    url = reverse(
        "patients:staff_early_warning_decide",
        kwargs={"pk": world.patient_a.pk, "enrollment_id": enrollment.pk},
    )
    response = client_for(world.therapist.user).post(url, {}, follow=True)
    assert "Choose what you decided." in response.content.decode()
    assert not EarlyWarningDecision.objects.exists()


@pytest.mark.every_weekday
def test_the_patient_page_shows_the_warning_and_records_the_decision(world, client_for):
    from django.utils import timezone

    start = timezone.localdate() - timedelta(days=35)  # any weekday: four check-ins, week 6 now
    enrollment = sh.enroll(
        world.patient_a, sh.measured_version(), start_date=start, feedback_weekday=start.weekday()
    )
    _check_ins(enrollment, [6, 6, 7, 6])
    client = client_for(world.therapist.user)
    detail_url = reverse("patients:staff_patient_detail", kwargs={"pk": world.patient_a.pk})
    page = client.get(detail_url).content.decode()
    assert 'id="early-warning"' in page and "Not improving" in page
    assert (
        "Pain: 6 at the first check-in, 6 in week 5 (out of 10)." in page
        and "The rule: from week 4 on" in page
    )
    url = reverse(
        "patients:staff_early_warning_decide",
        kwargs={"pk": world.patient_a.pk, "enrollment_id": enrollment.pk},
    )
    page = client.post(url, {"decision": "adapt"}, follow=True).content.decode()
    assert "Your decision is recorded" in page and "Decided: adapt the plan" in page
    assert EarlyWarningDecision.objects.get().decision == "adapt"


def _warnings_in_bulk(enrollment, today):
    from patients import selectors

    return [
        w.kind for _pk, _patient, w in selectors.early_warnings_for(enrollments=[enrollment.pk], today=today)
    ]


def test_feedback_days_inside_a_pause_are_not_missed_check_ins(world, clock):
    enrollment = _enrollment(world)
    _check_ins(enrollment, [5])  # 9 Nov
    clock.travel(date(2026, 11, 10))
    services.enrollment_status_change(enrollment=enrollment, staff=world.therapist, action="pause")
    clock.travel(date(2026, 11, 29))  # nothing was asked on 16 and 23 Nov
    services.enrollment_status_change(enrollment=enrollment, staff=world.therapist, action="resume")
    enrollment.refresh_from_db()
    assert _warning(enrollment, date(2026, 12, 7)) is None  # 30 Nov missed, 16 and 23 Nov paused
    assert _warnings_in_bulk(enrollment, date(2026, 12, 7)) == []
    # Three feedback days missed after the resume (30 Nov, 7 and 14 Dec): that is going quiet.
    assert _warning(enrollment, date(2026, 12, 21)).kind == measurement.WENT_QUIET
    assert _warnings_in_bulk(enrollment, date(2026, 12, 21)) == [measurement.WENT_QUIET]


def test_check_ins_under_an_earlier_feedback_weekday_still_count(world):
    enrollment = _enrollment(world)
    _check_ins(enrollment, [8, 6, 4, 2], phq=(0, 0))  # every Monday: 9, 16, 23, 30 Nov
    enrollment.feedback_weekday = 3  # from now on Thursdays
    enrollment.save(update_fields=["feedback_weekday"])
    settle()
    # Thursday 3 Dec is open; 26, 19 and 12 Nov each had a check-in in the week ending on them.
    assert _warning(enrollment, date(2026, 12, 7)) is None
    assert _warnings_in_bulk(enrollment, date(2026, 12, 7)) == []


# The overview of a measured program: the plain overview's queries (tests/patients/test_enrollment.py)
# and one read of the check-ins shared by the early warning and the score chart. The decision
# about the warning comes with the enrollment, the modules' first days for the chart with the
# progress (no query of their own).
MEASURED_OVERVIEW_QUERIES = 8


def test_the_measured_overview_reads_the_check_ins_once_whatever_the_history(
    world, client_for, django_assert_num_queries
):
    from django.utils import timezone

    start = timezone.localdate() - timedelta(days=35)
    enrollment = sh.enroll(
        world.patient_a, sh.measured_version(), start_date=start, feedback_weekday=start.weekday()
    )
    _check_ins(enrollment, [6, 6, 7, 6])
    services.treatment_session_record(
        patient=world.patient_a, staff=world.therapist, held_on=timezone.localdate(), kind="video", minutes=30
    )
    client = client_for(world.therapist.user)
    url = reverse("patients:staff_patient_detail", kwargs={"pk": world.patient_a.pk})
    client.get(url)
    with django_assert_num_queries(MEASURED_OVERVIEW_QUERIES):
        assert "Not improving" in client.get(url).content.decode()
    for i in range(20):
        services.treatment_session_record(
            patient=world.patient_a,
            staff=world.therapist,
            held_on=timezone.localdate(),
            kind="phone",
            minutes=15,
            note=f"Call {i}",
        )
    with django_assert_num_queries(MEASURED_OVERVIEW_QUERIES):
        assert "Not improving" in client.get(url).content.decode()
    services.early_warning_decide(enrollment=enrollment, staff=world.therapist, decision="call")
    with django_assert_num_queries(MEASURED_OVERVIEW_QUERIES):
        page = client.get(url).content.decode()
    name = world.therapist.user.get_full_name()
    assert "Not improving" not in page and f"Decided: call the patient ({name}, " in page


def test_the_whole_overview_stays_at_its_count_with_every_section_filled(
    clock, world, client_for, django_assert_num_queries
):
    """Every section of the overview at once (a stepped-care program with check-ins and a
    mid-treatment score, intakes, a waiting referral, sessions with notes): the mid-treatment
    advice reads the check-ins' query, the intakes and referrals come in one query, the sessions
    with the timeline; the same count with a long history."""
    from decimal import Decimal

    start = timezone.localdate() - timedelta(days=35)
    version = sh.measured_version("master-your-fatigue", after_module={"3": ["cis_fatigue", "rand36_pf"]})
    enrollment = sh.enroll(world.patient_a, version, start_date=start, feedback_weekday=start.weekday())
    _check_ins(enrollment, [6, 6, 7, 6])
    for code, total in (("cis_fatigue", Decimal("44")), ("rand36_pf", Decimal("85"))):
        QuestionnaireResponse.objects.create(
            clinic_id=enrollment.clinic_id,
            enrollment=enrollment,
            code=code,
            moment="module",
            answers=[],
            total=total,
            completed_at=timezone.now(),
        )
    settle()
    sh.intake(world, decision="not_indicated")
    referral = sh.referral(world)

    def session(note):
        services.treatment_session_record(
            patient=world.patient_a,
            staff=world.therapist,
            held_on=timezone.localdate(),
            kind="phone",
            minutes=15,
            note=note,
        )

    session("First call")
    client = client_for(world.therapist.user)
    url = reverse("patients:staff_patient_detail", kwargs={"pk": world.patient_a.pk})
    client.get(url)
    with django_assert_num_queries(MEASURED_OVERVIEW_QUERIES):
        page = client.get(url).content.decode()
    assert "Likely to need face-to-face CBT: plan an early conversation" in page
    assert "Not improving" in page and "First call" in page
    assert f"Referred to {world.therapist2.user.get_full_name()}" in page
    assert reverse("patients:staff_referral_detail", args=[referral.pk]) in page
    assert "not indicated" in page
    for i in range(20):
        session(f"Call {i}")
        sh.intake(world, decision="indicated")
    with django_assert_num_queries(MEASURED_OVERVIEW_QUERIES):
        page = client.get(url).content.decode()
    assert "Call 19" in page and page.count("indicated for the online program") >= 20


def test_the_overview_reads_the_last_resume_from_its_timeline(
    world, client_for, clock, django_assert_num_queries, monkeypatch
):
    """ "Went quiet" leaves out the feedback days of a pause: the overview finds the last resume in
    the timeline it shows (no query of its own); only when the shown timeline is cut off before
    any resume does it ask the database."""
    from patients import selectors

    enrollment = _enrollment(world)
    _check_ins(enrollment, [5])  # 9 Nov
    clock.travel(date(2026, 11, 10))
    services.enrollment_status_change(enrollment=enrollment, staff=world.therapist, action="pause")
    clock.travel(date(2026, 11, 29))
    services.enrollment_status_change(enrollment=enrollment, staff=world.therapist, action="resume")
    url = reverse("patients:staff_patient_detail", kwargs={"pk": world.patient_a.pk})

    def page(queries):
        client = client_for(world.therapist.user)  # signed in on the day (idle sign-out)
        client.get(url)
        with django_assert_num_queries(queries):
            return client.get(url).content.decode()

    clock.travel(date(2026, 12, 7))  # 30 Nov missed; 16 and 23 Nov were in the pause
    assert "Went quiet" not in page(MEASURED_OVERVIEW_QUERIES)
    clock.travel(date(2026, 12, 21))  # 30 Nov, 7 and 14 Dec missed after the resume
    assert "Went quiet" in page(MEASURED_OVERVIEW_QUERIES)
    # A timeline cut off before the resume: the resume is read from the database.
    services.treatment_session_record(
        patient=world.patient_a, staff=world.therapist, held_on=date(2026, 12, 20), kind="phone", minutes=10
    )
    monkeypatch.setattr(selectors, "TIMELINE_LIMIT", 1)
    monkeypatch.setattr(selectors.timeline_for, "__kwdefaults__", {"limit": 1})
    clock.travel(date(2026, 12, 7))
    assert "Went quiet" not in page(MEASURED_OVERVIEW_QUERIES + 1)


# --- The early warning as a work item ------------------------------------------------------------


def _row(enrollment):
    from patients.models import WorkItem

    return WorkItem.objects.filter(key=f"early_warning:{enrollment.pk}", state="open").first()


def _firing(enrollment):
    """The row shows now (a row due later says when going quiet would show)."""
    row = _row(enrollment)
    return row is not None and row.due <= timezone.now()


def _in_step():
    from patients import work_items

    drift = work_items.reconcile()
    assert not drift, (drift.opened, drift.closed, drift.changed)


def _check_in_on(clock, enrollment, day, symptom, *, phq=(1, 1), item9=0):
    clock.travel(day)
    return services.check_in_submit(
        enrollment=enrollment, answers={1: symptom, 2: phq[0], 3: phq[1], 4: item9}
    )


def _shown(world, day):
    return [
        i for i in worklist(fetched_by=world.therapist.user, now=_at(day)).items if i.kind == "early_warning"
    ]


def test_the_warning_is_a_row_since_the_day_it_first_fired_whatever_day_it_is_written(world, clock):
    clock.travel(START)
    enrollment = _enrollment(world)
    for day in (date(2026, 11, 9), date(2026, 11, 16)):
        _check_in_on(clock, enrollment, day, 7)
    assert _row(enrollment).due > _at(date(2026, 11, 16))  # week 4 begins on 23 November
    assert _shown(world, date(2026, 11, 20)) == []
    _check_in_on(clock, enrollment, date(2026, 11, 23), 7)
    first = _row(enrollment)
    assert timezone.localdate(first.since) == date(2026, 11, 23) and not first.urgent and first.flagged
    _check_in_on(clock, enrollment, date(2026, 11, 30), 7)
    assert _row(enrollment).pk == first.pk and _row(enrollment).since == first.since
    clock.travel(date(2026, 12, 10))
    _in_step()  # days passed without a write: the row is still right
    [item] = _shown(world, date(2026, 12, 1))
    assert item.label.startswith("Not improving: The rule: from week 4 on") and "Pain" not in item.label
    assert item.since == first.since
    # A check-in two points better than the first ends the warning; the row now waits for the
    # day the patient would have gone quiet.
    _check_in_on(clock, enrollment, date(2026, 12, 7), 5)
    assert not _firing(enrollment) and timezone.localdate(_row(enrollment).since) == date(2027, 1, 4)
    _in_step()


def test_going_quiet_shows_from_its_own_day_without_a_write(world, clock):
    clock.travel(START)
    enrollment = _enrollment(world)
    _check_in_on(clock, enrollment, date(2026, 11, 9), 5)  # then 16, 23 and 30 Nov missed
    row = _row(enrollment)
    assert timezone.localdate(row.due) == date(2026, 12, 7) == timezone.localdate(row.since)
    assert _shown(world, date(2026, 12, 6)) == []
    [item] = _shown(world, date(2026, 12, 7))
    assert item.label.startswith(
        "Went quiet: No weekly check-in for the last 3 feedback days in a row (week 6)"
    )
    assert item.url.endswith(f"/staff/patients/{world.patient_a.pk}/#early-warning")
    clock.travel(date(2026, 12, 9))
    _in_step()


def test_not_improving_turns_into_went_quiet_as_days_pass(world, clock):
    clock.travel(START)
    enrollment = _enrollment(world)
    for day in (date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23)):
        _check_in_on(clock, enrollment, day, 7)
    since = _row(enrollment).since
    assert _shown(world, date(2026, 12, 1))[0].label.startswith("Not improving")
    # 30 Nov, 7 and 14 Dec missed: from 21 December the same row says the patient went quiet.
    assert _shown(world, date(2026, 12, 21))[0].label.startswith("Went quiet")
    clock.travel(date(2026, 12, 22))
    _in_step()
    assert _row(enrollment).since == since


def test_the_services_that_change_its_inputs_open_and_close_the_row(world, clock):
    clock.travel(START)
    enrollment = _enrollment(world)
    for day in (date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23)):
        _check_in_on(clock, enrollment, day, 7)
    assert _row(enrollment) is not None
    clock.travel(date(2026, 11, 24))
    # A start score on the check-in's scale entered by the therapist: 9 -> 7 is an improvement.
    services.questionnaire_score_enter(
        enrollment=enrollment, staff=world.therapist, code="pain_nrs", moment="start", total=9
    )
    assert not _firing(enrollment)
    _in_step()
    _check_in_on(clock, enrollment, date(2026, 11, 30), 9)  # worse than the start again
    assert _firing(enrollment)
    services.enrollment_status_change(enrollment=enrollment, staff=world.therapist, action="pause")
    assert _row(enrollment) is None
    _in_step()
    services.enrollment_status_change(enrollment=enrollment, staff=world.therapist, action="resume")
    assert _firing(enrollment)
    _in_step()
    services.enrollment_cadence_change(
        enrollment=enrollment, staff=world.therapist, feedback_cadence="weekly", feedback_weekday=3
    )
    _in_step()
    services.early_warning_decide(enrollment=enrollment, staff=world.therapist, decision="carry_on")
    assert _row(enrollment) is None
    _in_step()


def test_a_safety_answer_keeps_its_urgent_row_beside_the_warning_and_after_the_decision(world, clock):
    from patients.models import WorkItem

    clock.travel(START)
    enrollment = _enrollment(world)
    for day in (date(2026, 11, 9), date(2026, 11, 16)):
        _check_in_on(clock, enrollment, day, 7)
    urgent = _check_in_on(clock, enrollment, date(2026, 11, 23), 7, item9=2)
    assert WorkItem.objects.get(key=f"questionnaire:{urgent.pk}", state="open").urgent
    assert _row(enrollment) is not None
    items = worklist(fetched_by=world.therapist.user, now=_at(date(2026, 11, 24))).items
    assert items[0].kind == "questionnaire" and items[0].urgent
    assert "early_warning" in {item.kind for item in items}
    services.early_warning_decide(enrollment=enrollment, staff=world.therapist, decision="call")
    assert _row(enrollment) is None
    assert WorkItem.objects.get(key=f"questionnaire:{urgent.pk}", state="open").urgent
    _in_step()


def test_a_table_from_before_early_warning_rows_gets_them_after_migrating(world, clock):
    from django.core.management.sql import emit_post_migrate_signal

    from patients.models import WorkItem

    clock.travel(START)
    enrollment = _enrollment(world)
    for day in (date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23)):
        _check_in_on(clock, enrollment, day, 7)
    WorkItem.objects.filter(kind="early_warning").delete()
    assert WorkItem.objects.exists()
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    assert _firing(enrollment)
    _in_step()


def test_the_current_enrollment_brings_its_last_early_warning_decision(
    world, django_assert_num_queries, clock
):
    from django.utils import timezone

    from patients import selectors

    enrollment = sh.enroll(world.patient_a, sh.measured_version())
    current = selectors.enrollment_current(patient=world.patient_a, with_early_warning_decision=True)
    assert current == enrollment and current.early_warning_decision is None
    moment = timezone.now()
    for decision, staff in (("adapt", world.therapist2), ("call", world.therapist)):
        EarlyWarningDecision.objects.create(
            clinic_id=enrollment.clinic_id,
            enrollment=enrollment,
            kind="not_improving",
            decision=decision,
            decided_by=staff,
            decided_at=moment,  # the same moment: the one recorded last counts
        )
    with django_assert_num_queries(1):
        current = selectors.enrollment_current(patient=world.patient_a, with_early_warning_decision=True)
        loaded = current.early_warning_decision
        shown = (loaded.pk, loaded.decision, loaded.get_decision_display(), loaded.decided_at)
        name = loaded.decided_by.user.get_full_name()
    stored = selectors.early_warning_decision_for(enrollment=enrollment)
    assert shown == (stored.pk, "call", stored.get_decision_display(), stored.decided_at)
    assert name == world.therapist.user.get_full_name() and loaded.decided_by_id == world.therapist.pk
    settle()  # the decisions were written around the service: the warning's row follows them


def test_the_work_item_keeps_no_score_of_the_patients(world, clock):
    """The work-item table is not encrypted: a warning's row says which warning shows from which
    day, never the scores it was judged on (those stay in the encrypted check-ins)."""
    from django.db import connection

    from patients.models import WorkItem

    clock.travel(START)
    enrollment = _enrollment(world)
    for day in (date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23), date(2026, 11, 30)):
        _check_in_on(clock, enrollment, day, 7, phq=(2, 2))
    assert _firing(enrollment)
    row = WorkItem.objects.get(key=f"early_warning:{enrollment.pk}")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT detail FROM {WorkItem._meta.db_table} WHERE id = %s", [row.pk])
        stored = str(cursor.fetchone()[0])
    for word in ("baseline", "latest", "phq2", "symptom", "7.0"):
        assert word not in stored, (word, stored)
    assert row.detail["not_improving"] is True
