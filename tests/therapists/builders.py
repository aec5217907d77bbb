"""Many patients at once for the worklist and dashboard tests, built with bulk_create: each
patient is enrolled on the tiny fixture program and has one of every kind of pending item (an
unanswered message, a submitted assignment, diary entries in two ISO weeks, a questionnaire),
and some have reviewed work, sessions and progress. Free text carries ``marker`` so tests can
prove it never shows where it must not."""

import json
from datetime import timedelta

from django.utils import timezone

from icbt.models import User
from messaging.models import Conversation, Message
from patients.models import (
    AssignmentAnswer,
    DiaryEntry,
    Enrollment,
    Patient,
    QuestionnaireResponse,
    StepProgress,
    TreatmentSession,
)
from programs.models import DiaryType, Step
from tests.messaging.helpers import tiny_version
from tests.work import settle

MARKER = "ZQXMARKER"


def build_caseload(therapist, count, *, prefix="bulk", marker=MARKER, now=None):
    """``count`` patients of ``therapist``, each with pending work. Returns the enrollments."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    version = tiny_version()
    plan = Step.objects.get(version=version, slug="plan")
    steps = list(
        Step.objects.filter(version=version).select_related("module").order_by("module__number", "position")
    )
    mood = DiaryType.objects.get(version=version, slug="mood")
    users = User.objects.bulk_create(
        User(email=f"{prefix}{i}@patients.test", first_name=f"{marker}First", last_name=f"{prefix}{i}")
        for i in range(count)
    )
    patients = Patient.objects.bulk_create(
        Patient(user=u, clinic=therapist.clinic, therapist=therapist, case_reference=f"T-{prefix[:3]}{i:05d}")
        for i, u in enumerate(users)
    )
    started = now - timedelta(days=30)
    enrollments = Enrollment.objects.bulk_create(
        Enrollment(
            patient=p,
            clinic=p.clinic,
            version=version,
            therapist=therapist,
            status=Enrollment.Status.ACTIVE,
            start_date=today - timedelta(days=30),
            started_at=started,
            last_activity_at=now - timedelta(days=(10 if i % 2 else 1)),
            current_step=steps[0],
        )
        for i, p in enumerate(patients)
    )
    for enrollment, patient in zip(enrollments, patients, strict=True):
        enrollment.patient = patient
    conversations = Conversation.objects.bulk_create(Conversation(enrollment=e) for e in enrollments)
    messages = []
    for conversation, enrollment in zip(conversations, enrollments, strict=True):
        conversation.enrollment = enrollment
        messages.append(
            Message(
                clinic_id=conversation.enrollment.clinic_id,
                conversation=conversation,
                author=therapist.user,
                body=f"{marker} welcome",
                is_feedback=True,
                created_at=now - timedelta(days=5),
            )
        )
        messages.append(
            Message(
                clinic_id=conversation.enrollment.clinic_id,
                conversation=conversation,
                author=enrollment.patient.user,
                body=f"{marker} a question",
                created_at=now - timedelta(days=2),
            )
        )
    Message.objects.bulk_create(messages)
    answers = []
    for enrollment in enrollments:
        content = json.dumps({"word": marker, "story": f"{marker} story"})
        answers.append(
            AssignmentAnswer(
                clinic_id=enrollment.clinic_id,
                enrollment=enrollment,
                step=plan,
                content=content,
                submitted_content=content,
                status=AssignmentAnswer.Status.SUBMITTED,
                submitted_at=now - timedelta(days=3),
            )
        )
    AssignmentAnswer.objects.bulk_create(answers)
    entries = []
    # Two diary weeks on every day of the week: today, and Monday and Tuesday of last week.
    diary_days_ago = (0, today.weekday() + 7, today.weekday() + 6)
    for enrollment in enrollments:
        for days_ago in diary_days_ago:
            entries.append(
                DiaryEntry(
                    clinic_id=enrollment.clinic_id,
                    enrollment=enrollment,
                    diary_type=mood,
                    entry_date=today - timedelta(days=days_ago),
                    values={"mood": 5, "minutes": 20},
                    text=json.dumps({"note": marker}),
                    created_at=now - timedelta(days=days_ago),
                )
            )
    DiaryEntry.objects.bulk_create(entries)
    QuestionnaireResponse.objects.bulk_create(
        QuestionnaireResponse(
            clinic_id=e.clinic_id,
            enrollment=e,
            code="phq9",
            moment="start",
            total=12,
            band="moderate",
            flags=["possible_depression"],
            completed_at=now - timedelta(days=4),
        )
        for e in enrollments
    )
    TreatmentSession.objects.bulk_create(
        TreatmentSession(
            clinic_id=e.clinic_id,
            patient=e.patient,
            enrollment=e,
            held_on=today - timedelta(days=20),
            kind="face_to_face",
            note=f"{marker} session note",
            recorded_by=therapist,
        )
        for e in enrollments
    )
    StepProgress.objects.bulk_create(
        StepProgress(enrollment=e, step=steps[0], first_seen_at=started, completed_at=started)
        for e in enrollments
    )
    settle()
    return enrollments
