"""Synthetic data for ``manage.py bench``, built with ``bulk_create`` in the bench database.

One clinic (the manager's dashboard counts all of it) with:

* ``therapist_small`` treating ``small`` patients and ``therapist_large`` treating ``large``,
  the two worklists and patient overviews that are compared;
* the rest of the clinic's patients spread over colleagues, about a hundred each;
* per patient an active enrollment on Master your Pain (the real content, loaded by the
  program loader) with one of every kind of pending work: an unanswered message after a
  feedback message, a submitted assignment, three diary entries in two ISO weeks, a
  questionnaire, a face-to-face session, step progress and timeline events;
* a few intake requests and referrals (constant, whatever the size);
* one patient of ``therapist_small`` with a long history (the encryption measurement reads it);
* the work-item table filled as the services would have kept it (``patients.work_items.fill``),
  and the dashboard's figures and tallies counted from it all (``patients.figures.reconcile``).

``grow_clinic`` then adds a therapist with a very large caseload and colleagues until the clinic
has the size of the large dashboard measurement.

Encrypted fields go through ``bulk_create`` like through ``save()`` (``EncryptedTextField.
pre_save`` encrypts, with the data key of the ``clinic_id`` each row carries).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from allauth.mfa.totp.internal.auth import TOTP
from django.db import connection
from django.utils import timezone

from icbt.models import Clinic, Notification, NotificationPreference, StaffMember, Team, User
from messaging.models import Conversation, Message
from patients import figures, work_items
from patients.models import (
    AssignmentAnswer,
    DiaryEntry,
    Enrollment,
    IntakeRequest,
    Patient,
    QuestionnaireResponse,
    Referral,
    StepProgress,
    TimelineEvent,
    TreatmentSession,
)
from programs import field_types
from programs.field_types import field_type
from programs.models import DiaryType, ProgramVersion, Step

PROGRAM = "master-your-pain"
DIARY = "activity-pain"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
BATCH = 2000
PATIENTS_PER_COLLEAGUE = 100
# The patient with a long history (read by the encryption measurement).
RICH_MESSAGES = 60
RICH_DIARY_DAYS = 42


@dataclass
class BenchClinic:
    clinic: Clinic
    version: ProgramVersion
    diary_type: DiaryType
    manager: StaffMember
    therapist_small: StaffMember
    therapist_large: StaffMember
    therapists: list[StaffMember]
    patients: dict[int, list[Patient]] = field(default_factory=dict)  # staff pk -> patients
    enrollments: dict[int, Enrollment] = field(default_factory=dict)  # patient pk -> enrollment
    rich_patient: Patient | None = None
    serial: int = 0
    steps: list = field(default_factory=list)
    therapist_xlarge: StaffMember | None = None

    def next_references(self, count: int) -> list[str]:
        start, self.serial = self.serial, self.serial + count
        return [f"B-{n:08d}" for n in range(start, start + count)]

    @property
    def patient_count(self) -> int:
        return sum(len(p) for p in self.patients.values())


def load_program() -> ProgramVersion:
    """Load the real program content (the loader skips what is loaded already)."""
    from programs import services

    services.program_content_load(root=None, progress=lambda message: None)
    version = ProgramVersion.objects.filter(program__slug=PROGRAM, language="en").order_by("-number").first()
    if version is None:
        raise RuntimeError(f"The program {PROGRAM} (en) did not load.")
    return version


def _staff(clinic, email, *, first_name, therapist=False, manager=False, totp=False, teams=()) -> StaffMember:
    user = User.objects.create_user(email=email, password=None, first_name=first_name, last_name="Bench")
    member = StaffMember.objects.create(user=user, clinic=clinic, is_therapist=therapist, is_manager=manager)
    if teams:
        member.teams.set(teams)
    if totp:
        TOTP.activate(user, TOTP_SECRET)
    return member


def build_clinic(
    *, small: int, large: int, total: int, now: datetime | None = None, progress: Callable[[str], None]
) -> BenchClinic:
    """The clinic described in the module docstring, ``total`` patients in all (at least
    ``small + large``)."""
    now = now or timezone.now()
    version = load_program()
    diary_type = DiaryType.objects.get(version=version, slug=DIARY)
    clinic = Clinic.objects.create(name="Bench Clinic", crisis_instructions="Call 112 in an emergency.")
    team = Team.objects.create(clinic=clinic, name="Pain")
    manager = _staff(clinic, "manager@bench.example", first_name="Manager", manager=True, totp=True)
    therapist_small = _staff(
        clinic, "small@bench.example", first_name="Small", therapist=True, totp=True, teams=[team]
    )
    therapist_large = _staff(
        clinic, "large@bench.example", first_name="Large", therapist=True, totp=True, teams=[team]
    )
    rest = max(0, total - small - large)
    colleagues = [
        _staff(
            clinic, f"colleague{i}@bench.example", first_name=f"Colleague{i}", therapist=True, teams=[team]
        )
        for i in range(math.ceil(rest / PATIENTS_PER_COLLEAGUE))
    ]
    world = BenchClinic(
        clinic,
        version,
        diary_type,
        manager,
        therapist_small,
        therapist_large,
        [therapist_small, therapist_large, *colleagues],
    )
    plan = [(therapist_small, small), (therapist_large, large)]
    for i, colleague in enumerate(colleagues):
        share = rest // len(colleagues) + (1 if i < rest % len(colleagues) else 0)
        plan.append((colleague, share))
    steps = list(
        Step.objects.filter(version=version).select_related("module").order_by("module__number", "position")
    )
    world.steps = steps
    _build(world, plan, now=now, progress=progress)
    _intake_requests_and_referrals(world, now)
    world.rich_patient = world.patients[therapist_small.pk][min(1, small - 1)]
    _long_history(world, world.rich_patient, steps, now)
    work_items.fill(enrollments=Enrollment.objects.filter(patient=world.rich_patient))
    work_items.refresh_requests(clinic_id=clinic.pk)
    figures.reconcile(repair=True, clinic_ids=[clinic.pk])
    analyze()
    return world


def _build(world: BenchClinic, plan, *, now, progress) -> None:
    """``plan``: (therapist, number of patients) pairs; each patient with their work and work items."""
    built, total = 0, sum(count for _therapist, count in plan)
    for therapist, count in plan:
        for start in range(0, count, BATCH):
            size = min(BATCH, count - start)
            patients = _patients_with_work(
                world, therapist, size, prefix=f"s{therapist.pk}p{start}", steps=world.steps, now=now
            )
            world.patients.setdefault(therapist.pk, []).extend(patients)
            work_items.fill(enrollments=Enrollment.objects.filter(patient__in=[p.pk for p in patients]))
            built += size
            progress(f"  patients: {built}/{total}")


def grow_clinic(world: BenchClinic, *, xlarge: int, total: int, progress, now=None) -> StaffMember:
    """Add ``therapist_xlarge`` with ``xlarge`` patients, and colleagues with about a hundred
    each until the clinic has ``total`` patients (at least what it has plus ``xlarge``)."""
    now = now or timezone.now()
    team = world.therapist_small.teams.first()
    therapist = _staff(
        world.clinic, "xlarge@bench.example", first_name="Xlarge", therapist=True, totp=True, teams=[team]
    )
    world.therapists.append(therapist)
    world.therapist_xlarge = therapist
    plan = [(therapist, xlarge)]
    rest = max(0, total - world.patient_count - xlarge)
    start = len(world.therapists)
    for i in range(math.ceil(rest / PATIENTS_PER_COLLEAGUE)):
        colleague = _staff(
            world.clinic,
            f"colleague{start + i}@bench.example",
            first_name="Colleague",
            therapist=True,
            teams=[team],
        )
        world.therapists.append(colleague)
        plan.append((colleague, min(PATIENTS_PER_COLLEAGUE, rest - i * PATIENTS_PER_COLLEAGUE)))
    _build(world, plan, now=now, progress=progress)
    _referral(world, therapist, world.therapist_small, now)  # the same requests as the others
    work_items.refresh_requests(clinic_id=world.clinic.pk)
    figures.reconcile(repair=True, clinic_ids=[world.clinic.pk])
    analyze()
    return therapist


def analyze() -> None:
    """Refresh the planner's statistics and the visibility map, as autovacuum does on a database
    in use: right after a bulk load PostgreSQL still believes the tables are empty and picks
    plans for a handful of rows (nested loops over thousands), and an index-only scan (the
    worklist counts the rhythm's rows that way) still visits every row's page, which would
    measure the load, not the application. SQLite only analyzes."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def _patients_with_work(world: BenchClinic, therapist, count, *, prefix, steps, now) -> list[Patient]:
    today = timezone.localdate(now)
    version = world.version
    assignment = next(s for s in steps if s.kind == Step.Kind.ASSIGNMENT)
    users = User.objects.bulk_create(
        [
            User(
                email=f"{prefix}-{i}@patients.bench.example",
                first_name="Pat",
                last_name=f"{prefix}-{i}",
                password="!bench",
            )
            for i in range(count)
        ],
        batch_size=BATCH,
    )
    patients = Patient.objects.bulk_create(
        [
            Patient(user=u, clinic=world.clinic, therapist=therapist, case_reference=reference)
            for u, reference in zip(users, world.next_references(count), strict=True)
        ],
        batch_size=BATCH,
    )
    started = now - timedelta(days=30)
    enrollments = Enrollment.objects.bulk_create(
        [
            Enrollment(
                patient=p,
                clinic=world.clinic,
                version=version,
                therapist=therapist,
                status=Enrollment.Status.ACTIVE,
                start_date=today - timedelta(days=30),
                started_at=started,
                created_at=started,
                feedback_weekday=i % 5,
                last_activity_at=now - timedelta(days=3 if i % 4 else 9),
                current_step=steps[2],
            )
            for i, p in enumerate(patients)
        ],
        batch_size=BATCH,
    )
    for patient, enrollment in zip(patients, enrollments, strict=True):
        enrollment.patient = patient
        world.enrollments[patient.pk] = enrollment
    conversations = Conversation.objects.bulk_create(
        [Conversation(enrollment=e, created_at=started) for e in enrollments], batch_size=BATCH
    )
    messages = []
    for conversation, enrollment in zip(conversations, enrollments, strict=True):
        messages.append(
            Message(
                conversation=conversation,
                clinic_id=enrollment.clinic_id,
                author=therapist.user,
                is_feedback=True,
                body="Welcome. Take your time with the first module; I read along.",
                created_at=now - timedelta(days=5),
            )
        )
        messages.append(
            Message(
                conversation=conversation,
                clinic_id=enrollment.clinic_id,
                author=enrollment.patient.user,
                body="Thank you. Is it normal that the diary takes me longer?",
                created_at=now - timedelta(days=2),
            )
        )
    Message.objects.bulk_create(messages, batch_size=BATCH)
    content = json.dumps(
        {
            "goals": ["walk to the bakery", "cook twice a week"],
            "why_it_matters": "My family.",
            "first_step": "Walk ten minutes on Tuesday.",
            "confidence": 7,
        }
    )
    AssignmentAnswer.objects.bulk_create(
        [
            AssignmentAnswer(
                enrollment=e,
                clinic_id=e.clinic_id,
                step=assignment,
                content=content,
                submitted_content=content,
                status=AssignmentAnswer.Status.SUBMITTED,
                submitted_at=now - timedelta(days=3),
                draft_saved_at=now - timedelta(days=3),
            )
            for e in enrollments
        ],
        batch_size=BATCH,
    )
    entries = [
        _diary_entry(world.diary_type, e, today - timedelta(days=days_ago), now - timedelta(days=days_ago))
        for e in enrollments
        for days_ago in (1, 8, 9)
    ]
    DiaryEntry.objects.bulk_create(entries, batch_size=BATCH)
    QuestionnaireResponse.objects.bulk_create(
        [
            QuestionnaireResponse(
                enrollment=e,
                clinic_id=e.clinic_id,
                code="phq9",
                moment="start",
                total=8,
                band="mild",
                answers=[1, 1, 1, 1, 1, 1, 1, 1, 0],
                completed_at=now - timedelta(days=4),
            )
            for e in enrollments
        ],
        batch_size=BATCH,
    )
    TreatmentSession.objects.bulk_create(
        [
            TreatmentSession(
                patient=e.patient,
                enrollment=e,
                clinic_id=e.clinic_id,
                held_on=today - timedelta(days=20),
                kind="face_to_face",
                minutes=45,
                note="Talked about pacing.",
                recorded_by=therapist,
                created_at=now - timedelta(days=20),
            )
            for e in enrollments
        ],
        batch_size=BATCH,
    )
    StepProgress.objects.bulk_create(
        [
            StepProgress(enrollment=e, step=step, first_seen_at=started, completed_at=started)
            for e in enrollments
            for step in steps[:2]
        ],
        batch_size=BATCH,
    )
    TimelineEvent.objects.bulk_create(
        [
            event
            for e in enrollments
            for event in (
                TimelineEvent(
                    patient=e.patient,
                    enrollment=e,
                    clinic_id=e.clinic_id,
                    kind=TimelineEvent.Kind.ENROLLED,
                    at=started,
                    actor=therapist.user,
                    detail={
                        "program": PROGRAM,
                        "version": version.number,
                        "cadence": "weekly",
                        "weekday": e.feedback_weekday,
                    },
                ),
                TimelineEvent(
                    patient=e.patient,
                    enrollment=e,
                    clinic_id=e.clinic_id,
                    kind=TimelineEvent.Kind.SESSION,
                    at=now - timedelta(days=20),
                    actor=therapist.user,
                    detail={"kind": "face_to_face", "minutes": 45},
                ),
                TimelineEvent(
                    patient=e.patient,
                    enrollment=e,
                    clinic_id=e.clinic_id,
                    kind=TimelineEvent.Kind.QUESTIONNAIRE,
                    at=now - timedelta(days=4),
                    detail={"code": "phq9", "moment": "start", "total": 8.0},
                ),
            )
        ],
        batch_size=BATCH,
    )
    return patients


def diary_answers(diary_type: DiaryType, seed: int = 0) -> dict:
    """Valid answers for every field of ``diary_type`` (the shape of ``DiaryEntryForm.answers``)."""
    answers = {}
    for d in diary_type.fields:
        value = field_type(d).example(d, seed)
        if value is not None:
            answers[d["name"]] = value
    return answers


def diary_post_data(diary_type: DiaryType, day, seed: int = 0) -> dict:
    """The same answers as the diary form posts them."""
    data = {"entry_date": day.isoformat()}
    for name, value in diary_answers(diary_type, seed).items():
        data[name] = ("yes" if value else "no") if isinstance(value, bool) else str(value)
    return data


def _diary_entry(diary_type, enrollment, day, created_at, seed=0) -> DiaryEntry:
    answers = diary_answers(diary_type, seed)
    text_names = field_types.text_names(diary_type.fields)
    texts = {k: v for k, v in answers.items() if k in text_names}
    return DiaryEntry(
        enrollment=enrollment,
        clinic_id=enrollment.clinic_id,
        diary_type=diary_type,
        entry_date=day,
        values={k: v for k, v in answers.items() if k not in text_names},
        text=json.dumps(texts),
        created_at=created_at,
        updated_at=created_at,
    )


def _intake_requests_and_referrals(world: BenchClinic, now) -> None:
    program = world.version.program
    IntakeRequest.objects.bulk_create(
        [
            IntakeRequest(
                clinic=world.clinic,
                program=program,
                name=f"Requester {i}",
                email=f"request{i}@example.org",
                message="I would like to start.",
                created_at=now - timedelta(days=i + 1),
            )
            for i in range(5)
        ]
    )
    for therapist, other in (
        (world.therapist_small, world.therapist_large),
        (world.therapist_large, world.therapist_small),
    ):
        _referral(world, therapist, other, now)


def _referral(world: BenchClinic, therapist, other, now) -> None:
    """One referral to ``therapist`` from ``other``, of one of ``other``'s patients."""
    program = world.version.program
    patient = world.patients[other.pk][0]
    Referral.objects.create(
        clinic=world.clinic,
        patient=patient,
        referred_by=other,
        to_therapist=therapist,
        program=program,
        note="Please take over.",
        created_at=now - timedelta(days=1),
    )


def _long_history(world: BenchClinic, patient: Patient, steps, now) -> None:
    """Six weeks of diary, sixty messages and every assignment handed in, for one patient."""
    enrollment = world.enrollments[patient.pk]
    therapist = world.therapist_small
    today = timezone.localdate(now)
    conversation = Conversation.objects.get(enrollment=enrollment)
    Message.objects.bulk_create(
        [
            Message(
                conversation=conversation,
                clinic_id=enrollment.clinic_id,
                author=therapist.user if i % 2 else patient.user,
                is_feedback=bool(i % 2),
                body=(
                    "Well done this week. Your diary shows that you rest before the pain rises; "
                    "keep that rhythm and add one short walk. " * 3
                )
                if i % 2
                else "This week I walked three times and the pain stayed at a five. Is that good?",
                created_at=now - timedelta(days=40, hours=-i * 12),
                read_at=now - timedelta(days=1),
            )
            for i in range(RICH_MESSAGES)
        ]
    )
    DiaryEntry.objects.bulk_create(
        [
            _diary_entry(
                world.diary_type, enrollment, today - timedelta(days=d), now - timedelta(days=d), seed=d
            )
            for d in range(10, 10 + RICH_DIARY_DAYS)
        ]
    )
    content = json.dumps({"answer": "Walking, cooking, visiting my sister. " * 10})
    AssignmentAnswer.objects.bulk_create(
        [
            AssignmentAnswer(
                enrollment=enrollment,
                clinic_id=enrollment.clinic_id,
                step=step,
                content=content,
                submitted_content=content,
                status=AssignmentAnswer.Status.SUBMITTED,
                submitted_at=now - timedelta(days=6),
                draft_saved_at=now - timedelta(days=6),
            )
            for step in steps
            if step.kind == Step.Kind.ASSIGNMENT
        ][1:]
    )


# --- Notifications for the digest ---------------------------------------------------------------


def build_notifications(world: BenchClinic, *, pending: int, recipients: int, now=None) -> tuple[int, int]:
    """``pending`` notifications for ``recipients`` people, spread evenly: every therapist of
    the clinic (diary entries and messages of their own patients), the rest patients who opted
    in to e-mail (messages and modules). Every row passes the digest's re-check, so every one
    must be delivered. All were created before the most recent daily window, so a digest round
    at ``now`` sends them. Returns (rows, recipients) as built."""
    now = now or timezone.now()
    created = now - timedelta(hours=30)
    staff = [t for t in world.therapists if world.patients.get(t.pk)][:recipients]
    patient_users = []
    therapist_patients = [p for t in world.therapists for p in world.patients.get(t.pk, [])]
    for patient in therapist_patients[: max(0, recipients - len(staff))]:
        patient_users.append(patient)
    everyone = len(staff) + len(patient_users)
    per_person = [pending // everyone + (1 if i < pending % everyone else 0) for i in range(everyone)]
    # The work the rows point at: unreviewed diary entries and unread messages.
    entry_ids: dict[int, list[int]] = {}
    for entry in DiaryEntry.objects.filter(enrollment__clinic=world.clinic, reviewed_at__isnull=True).values(
        "pk", "enrollment__patient_id"
    ):
        entry_ids.setdefault(entry["enrollment__patient_id"], []).append(entry["pk"])
    patient_messages: dict[int, int] = {}
    therapist_messages: dict[int, int] = {}
    for m in Message.objects.filter(
        conversation__enrollment__clinic=world.clinic, read_at__isnull=True
    ).values("pk", "is_feedback", "conversation__enrollment__patient_id"):
        target = therapist_messages if m["is_feedback"] else patient_messages
        target.setdefault(m["conversation__enrollment__patient_id"], m["pk"])
    rows: list[Notification] = []
    total = 0

    def flush():
        nonlocal rows, total
        Notification.objects.bulk_create(rows, batch_size=BATCH)
        total += len(rows)
        rows = []

    for therapist, count in zip(staff, per_person, strict=False):
        patients = world.patients[therapist.pk]
        for i in range(count):
            patient = patients[i % len(patients)]
            if i % 3 == 2 and patient.pk in patient_messages:
                kind, object_type, object_id = (
                    Notification.Kind.MESSAGE_RECEIVED,
                    "message",
                    patient_messages[patient.pk],
                )
            else:
                ids = entry_ids[patient.pk]
                kind, object_type, object_id = Notification.Kind.DIARY_ENTRY, "diary_entry", ids[i % len(ids)]
            rows.append(
                Notification(
                    recipient=therapist.user,
                    kind=kind,
                    patient_id=patient.pk,
                    clinic_id=world.clinic.pk,
                    object_type=object_type,
                    object_id=str(object_id),
                    created_at=created,
                )
            )
        if len(rows) >= 10 * BATCH:
            flush()
    NotificationPreference.objects.bulk_create(
        [NotificationPreference(user_id=p.user_id, email_enabled=True) for p in patient_users],
        batch_size=BATCH,
    )
    for patient, count in zip(patient_users, per_person[len(staff) :], strict=True):
        for i in range(count):
            if i % 2 and patient.pk in therapist_messages:
                kind, object_type, object_id = (
                    Notification.Kind.MESSAGE_WAITING,
                    "message",
                    str(therapist_messages[patient.pk]),
                )
            else:
                kind, object_type, object_id = Notification.Kind.MODULE_OPENED, "module", str(i % 6 + 1)
            rows.append(
                Notification(
                    recipient_id=patient.user_id,
                    kind=kind,
                    patient_id=patient.pk,
                    clinic_id=world.clinic.pk,
                    object_type=object_type,
                    object_id=object_id,
                    created_at=created,
                )
            )
        if len(rows) >= 10 * BATCH:
            flush()
    flush()
    analyze()
    return total, everyone
