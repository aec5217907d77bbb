"""The work-item table: every service that opens or closes work keeps it in step, the reconcile
finds (and repairs) what a service did not, and a row shows from its own moment."""

import logging
from datetime import date, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from icbt.models import StaffMember
from messaging import pending
from messaging import services as messaging_services
from patients import figures, measurement, services, work_items
from patients.models import AssignmentAnswer, Enrollment, WorkCount, WorkItem
from patients.tasks import work_items_reconcile
from tests.factories import make_patient
from tests.messaging.digest_helpers import PHQ9_CALM, PHQ9_SELF_HARM, Treated, conversation
from tests.messaging.helpers import submitted_answer
from tests.patients import staff_helpers as sh
from therapists.worklist import worklist

pytestmark = pytest.mark.django_db


def _open(kind=None, **filters) -> set[str]:
    rows = WorkItem.objects.filter(state=WorkItem.State.OPEN, **filters)
    if kind:
        rows = rows.filter(kind=kind)
    return set(rows.values_list("key", flat=True))


def _in_step() -> None:
    """Reconcile finds nothing (rows and counters), and every therapist's navigation count is
    what the top of their worklist counts."""
    drift = work_items.reconcile()
    assert not drift, (drift.opened, drift.closed, drift.changed)
    for staff in StaffMember.objects.filter(is_therapist=True):
        assert pending.pending_count(staff=staff) == worklist(fetched_by=staff.user).waiting, staff


@pytest.fixture
def t(world):
    treated = Treated(world)
    world.therapist2.training_date = date(2025, 1, 1)
    world.therapist2.save(update_fields=["training_date"])
    return treated


def test_the_patients_work_opens_and_closes_with_the_services(t, clock):
    a = t.enrollment_a
    services.step_visit(enrollment=a, step=t.steps["plan"])
    _in_step()
    entry = services.diary_entry_save(
        enrollment=a, diary_type=t.mood, entry_date=timezone.localdate(), answers={"mood": 4}
    )
    assert _open("diary", enrollment=a)
    answer = services.assignment_submit(enrollment=a, step=t.steps["plan"], answers={"word": "calm"})
    assert _open("answer") == {f"answer:{answer.pk}"}
    # Changed after handing it in, the answer is a draft again and waits for nobody ...
    services.assignment_draft_save(enrollment=a, step=t.steps["plan"], answers={"word": "calmer"})
    assert not _open("answer")
    _in_step()
    # ... until it is handed in again.
    answer = services.assignment_submit(enrollment=a, step=t.steps["plan"], answers={"word": "calm"})
    assert _open("answer") == {f"answer:{answer.pk}"}
    calm = services.questionnaire_submit(enrollment=a, code="phq9", moment="start", answers=PHQ9_CALM)
    urgent = services.questionnaire_submit(
        enrollment=t.enrollment_b, code="phq9", moment="start", answers=PHQ9_SELF_HARM
    )
    assert WorkItem.objects.get(key=f"questionnaire:{urgent.pk}", state="open").urgent
    _in_step()
    conv = conversation(a)
    messaging_services.message_send(conversation=conv, author=t.world.patient_a.user, body="Hi")
    assert _open("message") == {f"message:{a.pk}"}
    _in_step()
    messaging_services.message_send(conversation=conv, author=t.world.therapist.user, body="Hello")
    assert not _open("message")
    messaging_services.item_mark_reviewed(
        enrollment=a, item=f"questionnaire:{calm.pk}", reviewed_by=t.world.therapist.user
    )
    assert f"questionnaire:{calm.pk}" not in _open()
    feedback_due = WorkItem.objects.get(key=f"feedback:{a.pk}", state="open").due
    messaging_services.feedback_send(
        conversation=conv,
        author=t.world.therapist.user,
        body="Well done",
        items=[f"diary:{entry.pk}", f"answer:{answer.pk}"],
    )
    assert not _open("diary", enrollment=a) and not _open("answer")
    assert WorkItem.objects.get(key=f"feedback:{a.pk}", state="open").due > feedback_due
    _in_step()
    services.enrollment_cadence_change(
        enrollment=a,
        staff=t.world.therapist,
        feedback_cadence="fortnightly",
        feedback_weekday=2,
        inactivity_days=3,
    )
    _in_step()
    b = t.enrollment_b
    b.patient = t.world.patient_b
    services.enrollment_status_change(enrollment=b, staff=t.world.therapist, action="pause")
    assert not _open("feedback", enrollment=b) and not _open("quiet", enrollment=b)
    services.enrollment_status_change(enrollment=b, staff=t.world.therapist, action="resume")
    assert _open("feedback", enrollment=b)
    services.enrollment_status_change(enrollment=b, staff=t.world.therapist, action="stop", reason="Moved")
    # The self-harm answer still waits after the end; the rhythm does not.
    assert _open(enrollment=b) == {f"questionnaire:{urgent.pk}"}
    _in_step()
    _early_warning_services(t.world)


def _early_warning_services(world) -> None:
    """The early warning: the weekly check-in, a start score the therapist enters, a pause and
    the therapist's decision (the status changes and the feedback weekday ran above)."""
    today = timezone.localdate()
    start = today - timedelta(days=35)  # week 6: four check-ins behind
    patient = make_patient(world.clinic, world.therapist, "measured@patients.test")
    m = sh.enroll(patient, sh.measured_version(), start_date=start, feedback_weekday=start.weekday())
    first = measurement.first_due_day(m)
    for week in range(4):
        services.check_in_submit(
            enrollment=m, answers={1: 7, 2: 1, 3: 1, 4: 0}, today=first + timedelta(days=7 * week)
        )
    assert _open("early_warning", enrollment=m) == {f"early_warning:{m.pk}"}
    _in_step()
    services.questionnaire_score_enter(
        enrollment=m, staff=world.therapist, code="pain_nrs", moment="start", total=6
    )
    _in_step()
    services.enrollment_status_change(enrollment=m, staff=world.therapist, action="pause")
    assert not _open("early_warning", enrollment=m)
    services.enrollment_status_change(enrollment=m, staff=world.therapist, action="resume")
    assert _open("early_warning", enrollment=m)
    _in_step()
    services.early_warning_decide(enrollment=m, staff=world.therapist, decision="call")
    assert not _open("early_warning", enrollment=m)
    _in_step()


def test_requests_referrals_and_a_new_treatment_keep_the_table_in_step(t):
    world = t.world
    request = services.intake_request_create(
        clinic=world.clinic, program=t.version.program, name="Someone", email="someone@example.org"
    )
    assert _open("intake_request") == {f"intake_request:{request.pk}"}
    services.intake_request_status_set(intake_request=request, staff=world.therapist, status="contacted")
    assert not _open("intake_request")
    again = services.intake_request_create(
        clinic=world.clinic, program=t.version.program, name="Other", email="other@example.org"
    )
    patient = services.intake_request_invite(
        intake_request=again,
        staff=world.therapist,
        first_name="O",
        last_name="T",
        email="o@example.org",
        language="en",
    )
    assert not _open("intake_request")
    enrollment = services.enrollment_create(
        patient=patient,
        version=t.version,
        therapist=world.therapist,
        enrolled_by=world.therapist,
        start_date=timezone.localdate(),
        feedback_cadence="weekly",
        feedback_weekday=1,
    )
    assert {row.kind for row in WorkItem.objects.filter(enrollment=enrollment, state="open")} <= {
        "feedback",
        "quiet",
    }
    _in_step()
    referral = services.referral_create(
        patient=world.patient_a,
        referred_by=world.therapist,
        to_therapist=world.therapist2,
        program=t.version.program,
    )
    assert WorkItem.objects.get(key=f"referral:{referral.pk}", state="open").owner == world.therapist2
    services.referral_decline(referral=referral, staff=world.therapist2, reason="Full")
    assert not _open("referral")
    referral = services.referral_create(
        patient=world.patient_a,
        referred_by=world.therapist,
        to_therapist=world.therapist2,
        program=t.version.program,
    )
    services.referral_accept(referral=referral, staff=world.therapist2)
    # patient_a's work follows them to their new therapist.
    assert set(
        WorkItem.objects.filter(patient=world.patient_a, state="open").values_list("owner", flat=True)
    ) == {world.therapist2.pk}
    _in_step()


def test_reconcile_reports_then_repairs_what_a_write_around_the_services_left(world, capsys):
    enrollment = sh.enroll(world.patient_a)
    answer = submitted_answer(enrollment)
    AssignmentAnswer.objects.filter(pk=answer.pk).update(reviewed_at=timezone.now())  # no service
    with pytest.raises(CommandError, match="1 stale"):
        call_command("worklist_reconcile")
    out = capsys.readouterr().out
    assert f"clinic {world.clinic.pk} (1/2): 0 missing, 1 stale, 0 changed" in out
    assert f"stale: answer:{answer.pk}" in out
    assert f"answer:{answer.pk}" in _open()
    call_command("worklist_reconcile", "--repair")
    assert "repaired" in capsys.readouterr().out
    assert f"answer:{answer.pk}" not in _open()
    assert WorkItem.objects.get(key=f"answer:{answer.pk}").closed_at is not None
    call_command("worklist_reconcile")
    assert "in step" in capsys.readouterr().out
    # The repair counted the dashboard's tallies again too: the closed row is off the
    # therapist's waiting work on the dashboard at once, not only after the nightly recount.
    assert figures.reconcile(repair=False) == []


def test_the_nightly_check_logs_drift_as_an_error_with_ids_only(world, caplog):
    enrollment = sh.enroll(world.patient_a)
    answer = submitted_answer(enrollment, word="secret-word", story="a private story")
    WorkItem.objects.filter(key=f"answer:{answer.pk}").delete()
    with caplog.at_level(logging.ERROR, logger="icbt.work_items"):
        # The row deleted behind the counter's back leaves the therapist's counter out of step too.
        assert work_items_reconcile() == {"opened": 1, "closed": 0, "changed": 1}
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert f"answer:{answer.pk}" in record.getMessage()
    assert f"count:owner:{world.therapist.pk}:answer" in record.getMessage()
    assert "secret" not in record.getMessage() and "private" not in record.getMessage()
    assert work_items_reconcile() == {"opened": 0, "closed": 0, "changed": 0}


@pytest.mark.every_weekday
def test_a_quiet_spell_shows_from_its_own_moment_without_a_write(world):
    enrollment = sh.enroll(world.patient_a, start_date=timezone.localdate() - timedelta(days=30))
    Enrollment.objects.filter(pk=enrollment.pk).update(last_activity_at=timezone.now() - timedelta(days=2))
    work_items.refresh(enrollment=enrollment, kinds=("quiet",))
    row = WorkItem.objects.get(key=f"quiet:{enrollment.pk}", state="open")
    assert row.due == row.since + timedelta(days=enrollment.inactivity_days)

    def quiet(now):
        return [i for i in worklist(fetched_by=world.therapist.user, now=now).items if i.kind == "quiet"]

    assert not quiet(timezone.now())
    later = quiet(timezone.now() + timedelta(days=6))
    assert [i.patient_id for i in later] == [world.patient_a.pk]
    assert "8 days" in later[0].label


def test_an_existing_database_gets_its_rows_after_migrating(t):
    """A database from before the table: after ``migrate`` every waiting item has its row."""
    from django.core.management.sql import emit_post_migrate_signal

    services.step_visit(enrollment=t.enrollment_a, step=t.steps["plan"])
    answer = services.assignment_submit(
        enrollment=t.enrollment_a, step=t.steps["plan"], answers={"word": "calm"}
    )
    WorkItem.objects.all().delete()
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    assert f"answer:{answer.pk}" in _open("answer")
    _in_step()


def test_reconcile_reports_then_repairs_a_counter_out_of_step(world):
    enrollment = sh.enroll(world.patient_a)
    submitted_answer(enrollment)
    key = f"owner:{world.therapist.pk}:answer"
    assert WorkCount.objects.get(key=key).n == 1
    WorkCount.objects.filter(key=key).update(n=5)  # no service
    assert pending.pending_count(staff=world.therapist) == 5
    assert work_items.reconcile().changed == [f"count:{key}"]
    assert WorkCount.objects.get(key=key).n == 5
    assert work_items.reconcile(repair=True).changed == [f"count:{key}"]
    assert pending.pending_count(staff=world.therapist) == 1
    _in_step()


def test_a_covering_colleague_counts_the_shared_patients_items_once(world, clock):
    from patients.models import CareShare

    enrollment = sh.enroll(world.patient_a)
    submitted_answer(enrollment)
    CareShare.objects.create(
        patient=world.patient_a,
        colleague=world.therapist2,
        shared_by=world.therapist,
        until=timezone.localdate() + timedelta(days=3),
    )
    assert pending.pending_count(staff=world.therapist2) == 1
    assert pending.pending_count(staff=world.therapist) == 1
    _in_step()
    clock.advance(days=4)  # the share ended with its last day
    assert pending.pending_count(staff=world.therapist2) == 0
    _in_step()


@pytest.mark.every_weekday
def test_a_refresh_writes_only_the_fields_that_changed_and_nothing_when_nothing_did(world, clock):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    enrollment = sh.enroll(world.patient_a, start_date=timezone.localdate() - timedelta(days=10))
    submitted_answer(enrollment)

    def writes(**kinds):
        with CaptureQueriesContext(connection) as captured:
            work_items.refresh(enrollment=enrollment, **kinds)
        return [q["sql"] for q in captured.captured_queries if q["sql"].startswith(("UPDATE", "INSERT"))]

    assert writes() == []
    Enrollment.objects.filter(pk=enrollment.pk).update(last_activity_at=timezone.now())  # then its refresh
    [update] = writes(kinds=("quiet",))
    assert '"since"' in update and '"due"' in update
    assert "CASE" not in update and '"detail"' not in update and '"kind"' not in update
    _in_step()
