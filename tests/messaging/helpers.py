"""Builders for the messaging tests: a patient enrolled on the tiny fixture program, with
diary entries, a submitted assignment and a questionnaire result."""

import json
from datetime import timedelta

from django.utils import timezone

from patients.models import AssignmentAnswer, CareShare, DiaryEntry, Enrollment, QuestionnaireResponse
from programs.models import DiaryType, ProgramVersion, Step
from tests.work import settle


def tiny_version() -> ProgramVersion:
    version = (
        ProgramVersion.objects.filter(program__slug="tiny-program", language="en").order_by("-number").first()
    )
    if version is None:
        from tests.programs.helpers import load_tiny

        version = load_tiny()
    return version


def enroll(
    patient,
    *,
    status=Enrollment.Status.ACTIVE,
    start_days_ago=14,
    cadence=Enrollment.Cadence.WEEKLY,
    weekday=0,
    last_feedback_at=None,
) -> Enrollment:
    teams = list(patient.therapist.teams.all()[:2])  # as enrollment_create: the therapist's only team
    enrollment = Enrollment.objects.create(
        patient=patient,
        clinic=patient.clinic,
        version=tiny_version(),
        therapist=patient.therapist,
        team=teams[0] if len(teams) == 1 else None,
        status=status,
        start_date=timezone.localdate() - timedelta(days=start_days_ago),
        feedback_cadence=cadence,
        feedback_weekday=weekday,
        started_at=timezone.now(),
        last_feedback_at=last_feedback_at,
    )
    settle()
    return enrollment


def diary_entry(enrollment, *, days_ago=1, mood=6, minutes=30, note="") -> DiaryEntry:
    diary_type = DiaryType.objects.get(version=enrollment.version, slug="mood")
    entry = DiaryEntry(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        diary_type=diary_type,
        entry_date=timezone.localdate() - timedelta(days=days_ago),
        values={"mood": mood, "bedtime": "22:30", "walked": True, "minutes": minutes, "kind": "free"},
        text=json.dumps({"note": note}) if note else "",
    )
    entry.save()
    settle()
    return entry


def submitted_answer(enrollment, *, word="calm", story="I walked to the bakery.") -> AssignmentAnswer:
    step = Step.objects.get(version=enrollment.version, slug="plan")
    content = json.dumps({"word": word, "story": story, "pattern": "a", "sure": 7})
    answer = AssignmentAnswer(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        step=step,
        content=content,
        submitted_content=content,
        status=AssignmentAnswer.Status.SUBMITTED,
        submitted_at=timezone.now(),
    )
    answer.save()
    settle()
    return answer


def questionnaire(enrollment, *, code="phq9", total=8) -> QuestionnaireResponse:
    response = QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        code=code,
        moment="start",
        total=total,
        band="mild",
    )
    settle()
    return response


def share(world, *, until_days=7, colleague=None, ended=False) -> CareShare:
    return CareShare.objects.create(
        patient=world.patient_a,
        colleague=colleague or world.therapist2,
        shared_by=world.therapist,
        until=timezone.localdate() + timedelta(days=until_days),
        ended_at=timezone.now() if ended else None,
    )
