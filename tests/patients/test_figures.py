"""The manager dashboard's figures (``patients.figures``): every service that writes an event the
dashboard counts moves its daily figure or tally in the same transaction, so that counting
everything again from the source tables (``figures.reconcile``) finds nothing; and the reconcile
finds, reports and repairs what was written around the services."""

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.utils import timezone

from messaging import pending
from messaging import services as messaging_services
from patients import figures, services
from patients.models import DailyFigure, Enrollment, TreatmentSession, WorkTally
from patients.tasks import figures_reconcile
from tests.factories import make_patient
from tests.messaging.digest_helpers import Treated, conversation
from tests.patients import staff_helpers as sh

pytestmark = pytest.mark.django_db


def _n(kind: str, **filters) -> int:
    return DailyFigure.objects.filter(kind=kind, **filters).aggregate(n=Sum("n"))["n"] or 0


def _tally(therapist) -> int:
    return WorkTally.objects.filter(therapist_ref=therapist.pk).aggregate(n=Sum("n"))["n"] or 0


def _in_step() -> None:
    """Counting again finds nothing; and the tallies say what the work items say."""
    assert figures.reconcile() == []
    found: dict = {}
    for (therapist, team), n in pending.patient_work_per_therapist(Enrollment.objects.all()).items():
        found[(therapist, team or 0)] = n
    stored = {(t.therapist_ref, t.team_ref): t.n for t in WorkTally.objects.exclude(n=0)}
    assert stored == found


@pytest.fixture
def t(world):
    return Treated(world)


def test_the_kinds_of_waiting_work_are_the_worklists():
    assert figures.WORK_KINDS == pending.PATIENT_WORK_KINDS


def test_a_new_treatment_its_steps_and_its_end(world, clock):
    patient = make_patient(world.clinic, world.therapist, "started@patients.test")  # has a password
    version = sh.tiny()
    enrollment = services.enrollment_create(
        patient=patient,
        version=version,
        therapist=world.therapist,
        enrolled_by=world.therapist,
        start_date=timezone.localdate(),
    )
    assert enrollment.started_at is not None
    today = timezone.localdate()
    assert _n(figures.START, day=today, team_ref=world.team.pk, program_ref=version.program_id) == 1
    assert _n(figures.COHORT, module=0) == 1
    _in_step()
    steps = list(version.steps.select_related("module").order_by("module__number", "position"))
    services.step_visit(enrollment=enrollment, step=steps[0])
    assert _n(figures.COHORT, module=steps[0].module.number) == 1 and _n(figures.COHORT, module=0) == 0
    services.step_visit(enrollment=enrollment, step=steps[0])  # again: nothing moves
    last = steps[-1]
    services.step_visit(enrollment=enrollment, step=last, complete=True)
    assert _n(figures.COHORT, module=last.module.number) == 1
    _in_step()
    services.enrollment_status_change(enrollment=enrollment, staff=world.therapist, action="complete")
    assert _n(str(Enrollment.Status.COMPLETED), day=today) == 1
    assert _n(figures.COHORT, sub=figures.COMPLETED) == 1 and _n(figures.COHORT, sub="") == 0
    _in_step()


def test_an_invited_treatment_starts_when_activated_and_a_stop_counts(world, clock):
    patient = make_patient(world.clinic, world.therapist, "invited@patients.test", password=None)
    enrollment = services.enrollment_create(
        patient=patient,
        version=sh.tiny(),
        therapist=world.therapist,
        enrolled_by=world.therapist,
        start_date=timezone.localdate(),
    )
    assert enrollment.status == Enrollment.Status.INVITED and _n(figures.START) == 0
    services.enrollment_activate(enrollment=enrollment)
    assert _n(figures.START) == 1
    _in_step()
    services.enrollment_status_change(
        enrollment=enrollment, staff=world.therapist, action="stop", reason="Moved"
    )
    assert _n(str(Enrollment.Status.STOPPED)) == 1
    _in_step()


def test_the_patients_work_moves_the_tallies(t, clock):
    a = t.enrollment_a
    assert _tally(t.world.therapist) == 0
    services.diary_entry_save(
        enrollment=a, diary_type=t.mood, entry_date=timezone.localdate(), answers={"mood": 4}
    )
    answer = services.assignment_submit(enrollment=a, step=t.steps["plan"], answers={"word": "calm"})
    assert _tally(t.world.therapist) == 2
    _in_step()
    conv = conversation(a)
    messaging_services.message_send(conversation=conv, author=t.world.patient_a.user, body="Hi")
    assert _tally(t.world.therapist) == 3
    assert _n(figures.MESSAGE) == 0  # the patient's own message is no treatment contact
    _in_step()
    messaging_services.message_send(conversation=conv, author=t.world.therapist.user, body="Hello")
    assert _tally(t.world.therapist) == 2 and _n(figures.MESSAGE) == 1
    messaging_services.feedback_send(
        conversation=conv, author=t.world.therapist.user, body="Well done", items=[f"answer:{answer.pk}"]
    )
    assert _tally(t.world.therapist) == 1 and _n(figures.FEEDBACK) == 1
    _in_step()


def test_a_referral_moves_the_treatment_and_the_sessions_outside_it(t, clock):
    world = t.world
    services.assignment_submit(enrollment=t.enrollment_a, step=t.steps["plan"], answers={"word": "calm"})
    services.treatment_session_record(
        patient=world.patient_a, staff=world.therapist, held_on=timezone.localdate(), kind="phone", minutes=20
    )
    # A session within a treatment counts for its team; one of a patient who never had a
    # treatment for their therapist (whose teams count it).
    alone = make_patient(world.clinic, world.therapist, "alone@patients.test")
    services.treatment_session_record(
        patient=alone, staff=world.therapist, held_on=timezone.localdate(), kind="video", minutes=20
    )
    assert _n(figures.SESSION, sub="video", therapist_ref=world.therapist.pk, team_ref=0) == 1
    assert _n(figures.SESSION, sub="phone", team_ref=t.enrollment_a.team_id or 0, therapist_ref=0) == 1
    _in_step()
    referral = sh.referral(world)
    services.referral_accept(referral=referral, staff=world.therapist2)
    assert _tally(world.therapist) == 0 and _tally(world.therapist2) == 1
    _in_step()
    patient_referral = services.referral_create(
        patient=alone, referred_by=world.therapist, to_therapist=world.therapist2, program=sh.tiny().program
    )
    services.referral_accept(referral=patient_referral, staff=world.therapist2)
    assert _n(figures.SESSION, sub="video", therapist_ref=world.therapist2.pk) == 1
    assert _n(figures.SESSION, sub="video", therapist_ref=world.therapist.pk) == 0
    _in_step()


def _face_to_face(world, *, minutes: int) -> None:
    services.treatment_session_record(
        patient=world.patient_a,
        staff=world.therapist,
        held_on=timezone.localdate(),
        kind=TreatmentSession.Kind.FACE_TO_FACE,
        minutes=minutes,
    )


def test_requests_intakes_and_a_face_to_face_session_the_same_day(world, clock):
    program = sh.tiny().program
    services.intake_request_create(clinic=world.clinic, program=program, name="Petra", email="p@home.test")
    assert _n(figures.REQUEST, program_ref=program.pk) == 1
    services.intake_record(
        patient=world.patient_a,
        program=program,
        therapist=world.therapist,
        held_on=timezone.localdate(),
        answers={"goals": ["walk"]},
        decision="indicated",
    )
    assert _n(figures.INTAKE, therapist_ref=world.therapist.pk) == 1
    _in_step()
    # The intake recorded as a face-to-face session that day counts once, as the session.
    _face_to_face(world, minutes=45)
    assert _n(figures.INTAKE) == 0 and _n(figures.SESSION, sub="face_to_face") == 1
    _face_to_face(world, minutes=30)
    assert _n(figures.INTAKE) == 0 and _n(figures.SESSION, sub="face_to_face") == 2
    _in_step()
    # An intake on a day that already has a face-to-face session counts as none.
    services.intake_record(
        patient=world.patient_a,
        program=program,
        therapist=world.therapist2,
        held_on=timezone.localdate(),
        answers={"goals": ["cook"]},
        decision="indicated",
    )
    assert _n(figures.INTAKE) == 0
    _in_step()


def test_reconcile_reports_and_repairs_what_was_written_around_the_services(clock, t, caplog):
    services.treatment_session_record(
        patient=t.world.patient_a,
        staff=t.world.therapist,
        held_on=timezone.localdate(),
        kind="phone",
        minutes=5,
    )
    TreatmentSession.objects.update(kind="group")  # around the services
    DailyFigure.objects.filter(kind=figures.SESSION).update(n=7)
    WorkTally.objects.create(clinic=t.world.clinic, therapist_ref=t.world.therapist2.pk, n=3)
    wrong = figures.reconcile()
    assert len(wrong) == 3 and all(key.startswith(("figure:", "tally:")) for key in wrong)
    with pytest.raises(CommandError, match="3 counts differ"):
        call_command("figures_reconcile")
    assert figures.reconcile() == wrong  # reporting repairs nothing
    call_command("figures_reconcile", "--repair")
    assert figures.reconcile() == []
    assert _n(figures.SESSION, sub="group") == 1 and _n(figures.SESSION, sub="phone") == 0
    call_command("figures_reconcile")  # in step: exit status 0
    # The nightly task repairs and logs the keys (counts and ids only).
    DailyFigure.objects.filter(kind=figures.SESSION, sub="group").update(n=2)
    assert figures_reconcile() == {"wrong": 1}
    assert "figures were out of step" in caplog.text
    assert figures.reconcile() == []


def test_an_existing_database_gets_its_figures_after_migrate(clock, t):
    from patients.apps import _figures_fill

    services.treatment_session_record(
        patient=t.world.patient_a,
        staff=t.world.therapist,
        held_on=timezone.localdate(),
        kind="phone",
        minutes=5,
    )
    DailyFigure.objects.all().delete()
    WorkTally.objects.all().delete()
    _figures_fill(sender=None, using="default")
    assert _n(figures.SESSION) == 1
    assert figures.reconcile() == []


def test_a_figure_first_written_while_the_check_counts_is_neither_drift_nor_made_twice(
    world, clock, monkeypatch
):
    """The rows are locked before the sources are counted; an event whose key had no row yet (the
    day's first intake request) is not held back by that lock and may commit in between. Repair
    used to create that row a second time (IntegrityError: the nightly task stopped there)."""
    program = sh.tiny().program
    counted = figures.figures_found

    def with_an_event_in_between(clinic_id):
        services.intake_request_create(clinic=world.clinic, program=program, name="P", email="p@x.test")
        return counted(clinic_id)

    monkeypatch.setattr(figures, "figures_found", with_an_event_in_between)
    assert figures.reconcile(repair=True, clinic_ids=[world.clinic.pk]) == []
    monkeypatch.setattr(figures, "figures_found", counted)
    assert figures.reconcile(clinic_ids=[world.clinic.pk]) == []
