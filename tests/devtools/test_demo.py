"""The patient demo data (devtools/demo.py): who is where, and safe to run twice."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from devtools.demo import seed_patient_demo
from patients import figures, work_items
from patients.models import AssignmentAnswer, DailyFigure, DiaryEntry, Enrollment, QuestionnaireResponse
from patients.progress import next_action, progress_for
from programs import services as program_services

pytestmark = pytest.mark.django_db


def test_without_programs_it_says_so_and_does_nothing(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    out = io.StringIO()
    seed_patient_demo(out)
    assert "Programs are not loaded" in out.getvalue()
    assert not Enrollment.objects.exists()


def test_demo_patients_are_on_their_way_and_running_twice_changes_nothing(clock, settings):
    settings.DEBUG = True
    program_services.program_content_load()
    call_command("seed_demo", stdout=io.StringIO())
    seed_patient_demo(io.StringIO())
    assert not work_items.reconcile()  # the demo's worklist is in step from the start
    assert figures.reconcile() == []  # and so are the dashboard's figures
    assert DailyFigure.objects.filter(kind=figures.START, n__gt=0).exists()

    pain = Enrollment.objects.select_related("version__program").get(
        patient__user__email="pain.patient@linde.example"
    )
    assert pain.status == Enrollment.Status.ACTIVE and pain.version.program.slug == "master-your-pain"
    progress = progress_for(pain)
    assert progress.module("your-goals").is_complete
    assert progress.current_module().module.number == 2
    assert DiaryEntry.objects.filter(enrollment=pain).count() == 14
    assert AssignmentAnswer.objects.filter(enrollment=pain, status="submitted").count() == 2
    assert set(
        QuestionnaireResponse.objects.filter(enrollment=pain, moment="start").values_list("code", flat=True)
    ) == {"pain_nrs", "rand36_pf", "phq9", "gad7"}
    assert next_action(progress).kind == "diary"  # today's diary is not kept yet

    fatigue = Enrollment.objects.get(patient__user__email="fatigue.patient@linde.example")
    assert (
        fatigue.version.program.slug == "master-your-fatigue" and fatigue.start_date == timezone.localdate()
    )
    assert progress_for(fatigue).resume_step().step.position == 1

    noorderzon = Enrollment.objects.get(patient__user__email="patient@noorderzon.example")
    assert noorderzon.version.program.slug == "master-your-fatigue"
    assert DiaryEntry.objects.filter(enrollment=noorderzon).count() == 4

    counts = (Enrollment.objects.count(), DiaryEntry.objects.count(), QuestionnaireResponse.objects.count())
    out = io.StringIO()
    seed_patient_demo(out)
    assert "already enrolled" in out.getvalue()
    assert (
        Enrollment.objects.count(),
        DiaryEntry.objects.count(),
        QuestionnaireResponse.objects.count(),
    ) == counts
