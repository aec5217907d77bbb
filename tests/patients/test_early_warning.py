"""Early warning from the weekly check-ins: from week 4, not improving by the margin (10 % of the
scale) or a PHQ-2 of 3 or more, or three missed check-ins in a row; weeks without data ignored;
on the worklist with figures and rule, once per patient until the therapist records a decision."""

from datetime import date, timedelta

import pytest
from django.urls import reverse

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
    assert len(items) == 1 and items[0].label.startswith("Not improving: Pain: 7 at the first check-in")
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


# The overview of a measured program: the plain overview's queries (tests/patients/test_enrollment.py),
# one read of the check-ins shared by the early warning and the score chart, the decision about
# the warning and the modules' first days for the chart.
MEASURED_OVERVIEW_QUERIES = 16


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
