"""Demo data for the patient's side (called by ``seed_demo``): three patients on their way.

- ``pain.patient@linde.example``: active in module 2 of Master your Pain (en), with module 1
  done (baseline questionnaires, the goals assignment handed in), two weeks of the activity and
  pain diary, and the energy-points assignment started as a draft.
- ``fatigue.patient@linde.example``: just started module 1 of Master your Fatigue (en).
- ``patient@noorderzon.example``: active in Master your Fatigue (en), a few days into module 1,
  with some sleep-wake diary entries.

Safe to run twice: a patient who already has an open enrollment is left as they are. Needs the
program content (``load_programs``); without it, it says so and does nothing.
"""

import json
from datetime import datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from patients import figures, measurement, services, work_items
from patients.models import DiaryEntry, Enrollment, Patient, QuestionnaireResponse, StepProgress
from programs.models import ProgramVersion, Step

PAIN = "master-your-pain"
FATIGUE = "master-your-fatigue"


def _version(slug: str) -> ProgramVersion | None:
    return ProgramVersion.objects.filter(program__slug=slug, language="en").order_by("-number").first()


def _at(day, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def _enroll(patient: Patient, version: ProgramVersion, *, days_ago: int) -> Enrollment | None:
    if Enrollment.objects.filter(patient=patient, status__in=Enrollment.OPEN_STATUSES).exists():
        return None
    start = timezone.localdate() - timedelta(days=days_ago)
    # The demo clinics name their teams after the programs (Pain, Fatigue).
    team = patient.clinic.teams.filter(name__iexact=version.program.slug.rsplit("-", 1)[-1]).first()
    return Enrollment.objects.create(
        patient=patient,
        clinic=patient.clinic,
        version=version,
        therapist=patient.therapist,
        team=team,
        status=Enrollment.Status.ACTIVE,
        start_date=start,
        started_at=_at(start, 10),
        created_at=_at(start, 9),
        unlock_mode=Enrollment.Unlock.SEQUENTIAL,
    )


def _steps(version: ProgramVersion, module_number: int) -> list[Step]:
    return list(
        version.steps.filter(module__number=module_number)
        .select_related("module", "diary_type")
        .order_by("position")
    )


def _done(enrollment: Enrollment, steps, *, when: datetime, complete: bool = True) -> None:
    for step in steps:
        StepProgress.objects.get_or_create(
            enrollment=enrollment,
            step=step,
            defaults={"first_seen_at": when, "completed_at": when if complete else None},
        )


def _questionnaires(enrollment: Enrollment, steps, answers_by_code: dict, *, when: datetime) -> None:
    for step in steps:
        if step.kind != Step.Kind.QUESTIONNAIRE or step.questionnaire not in answers_by_code:
            continue
        response = services.questionnaire_submit(
            enrollment=enrollment,
            code=step.questionnaire,
            moment=QuestionnaireResponse.Moment.START,
            answers=answers_by_code[step.questionnaire],
            step=step,
        )
        QuestionnaireResponse.objects.filter(pk=response.pk).update(completed_at=when)


def _check_ins(enrollment: Enrollment, symptoms: list[int]) -> int:
    """The weekly check-ins of every feedback day so far (the symptom from ``symptoms``, the last
    one repeated), each on its own day, so the demo shows the weekly graph and asks nothing that
    is overdue. Returns how many were made."""
    today = timezone.localdate()
    last = measurement.due_day(enrollment, today)
    day, made = measurement.first_due_day(enrollment), 0
    while last is not None and day <= last:
        symptom = symptoms[min(made, len(symptoms) - 1)]
        response = services.check_in_submit(
            enrollment=enrollment, answers={1: symptom, 2: 1, 3: 1, 4: 0}, today=day
        )
        QuestionnaireResponse.objects.filter(pk=response.pk).update(completed_at=_at(day, 19))
        day, made = day + timedelta(days=7), made + 1
    return made


def _diary(
    enrollment: Enrollment, diary_type, day, values: dict, text: dict | None = None, *, reviewed_by=None
) -> None:
    created = _at(day, 20, 30)
    entry = DiaryEntry(
        enrollment=enrollment,
        clinic_id=enrollment.clinic_id,
        diary_type=diary_type,
        entry_date=day,
        per_moment=diary_type.per_moment,
        values=values,
        text=json.dumps(text) if text else "",
        created_at=created,
        updated_at=created,
    )
    if reviewed_by is not None:
        entry.reviewed_at, entry.reviewed_by = created + timedelta(days=2), reviewed_by
    entry.save()


def _pain_patient(patient: Patient, version: ProgramVersion, stdout) -> None:
    enrollment = _enroll(patient, version, days_ago=16)
    if enrollment is None:
        stdout.write(f"  {patient.user.email}: already enrolled, left as it is")
        return
    module1, module2 = _steps(version, 1), _steps(version, 2)
    start = enrollment.start_date
    _questionnaires(
        enrollment,
        module1,
        {
            "pain_nrs": {1: 7},
            "rand36_pf": {n: v for n, v in enumerate([1, 2, 2, 1, 2, 2, 1, 2, 3, 3], start=1)},
            "phq9": {n: v for n, v in enumerate([1, 2, 1, 2, 0, 1, 1, 0, 0], start=1)},
            "gad7": {n: v for n, v in enumerate([1, 1, 2, 1, 0, 1, 1], start=1)},
        },
        when=_at(start, 10, 15),
    )
    _check_ins(enrollment, [7, 6, 6])
    goals = next(s for s in module1 if s.slug == "my-goals")
    services.assignment_submit(
        enrollment=enrollment,
        step=goals,
        answers={
            "goals": [
                "Walk the dog around the block three times a week",
                "Visit my sister once a month",
                "Cook dinner twice a week",
            ],
            "why_it_matters": "I miss seeing my sister. When I cannot visit her, I feel alone.",
            "first_step": "Walk to the corner and back with the dog on Monday.",
            "confidence": 6,
        },
    )
    _done(enrollment, module1, when=_at(start + timedelta(days=3), 11))
    # Module 2: the first pages read, the pattern assignment handed in, energy points a draft.
    reached = [s for s in module2 if s.position <= 7]
    _done(
        enrollment, [s for s in reached if s.kind == Step.Kind.PAGE], when=_at(start + timedelta(days=9), 10)
    )
    pattern = next(s for s in module2 if s.slug == "which-pattern")
    services.assignment_submit(
        enrollment=enrollment,
        step=pattern,
        answers={
            "pattern": "persistence",
            "recent_day": "On Saturday I cleaned the whole house because I felt good. "
            "On Sunday I could not get up.",
            "cost": "I cancel plans with friends after days like that.",
        },
    )
    energy = next(s for s in module2 if s.slug == "energy-points")
    services.assignment_draft_save(
        enrollment=enrollment,
        step=energy,
        answers={
            "points_plan": {
                "budget": 20,
                "items": [
                    {"activity": "Shower and get dressed", "points": 3, "own": False},
                    {"activity": "Make breakfast", "points": 2, "own": False},
                    {"activity": "Walk or exercise", "points": 4, "own": False},
                ],
            }
        },
    )
    diary_type = version.diary_types.get(slug="activity-pain")
    today = timezone.localdate()
    activities = [
        "shopping, cooking",
        "work from home",
        "walk with the dog",
        "housework",
        "visit to my sister",
        "rest, a little gardening",
        "groceries, laundry",
    ]
    for days_back in range(14, 0, -1):
        day = today - timedelta(days=days_back)
        base = 6 if day.weekday() < 5 else 4
        swing = (days_back * 7) % 3
        _diary(
            enrollment,
            diary_type,
            day,
            {
                "pain_morning": min(10, base + swing - 1),
                "pain_afternoon": min(10, base + swing),
                "pain_evening": min(10, base + swing + 1),
                "rest_breaks": 1 + days_back % 4,
            },
            {"main_activities": activities[days_back % len(activities)]},
            reviewed_by=patient.therapist.user if days_back > 7 else None,
        )
    enrollment.current_step = energy
    enrollment.last_activity_at = _at(today - timedelta(days=1), 20, 30)
    enrollment.save(update_fields=["current_step", "last_activity_at"])
    stdout.write(
        f"  {patient.user.email}: in module 2 of {version.title}, 14 diary days, 2 assignments handed in"
    )


def _fatigue_starter(patient: Patient, version: ProgramVersion, stdout) -> None:
    enrollment = _enroll(patient, version, days_ago=0)
    if enrollment is None:
        stdout.write(f"  {patient.user.email}: already enrolled, left as it is")
        return
    first = _steps(version, 1)[0]
    services.step_visit(enrollment=enrollment, step=first)
    stdout.write(f"  {patient.user.email}: just started module 1 of {version.title}")


def _fatigue_active(patient: Patient, version: ProgramVersion, stdout) -> None:
    enrollment = _enroll(patient, version, days_ago=6)
    if enrollment is None:
        stdout.write(f"  {patient.user.email}: already enrolled, left as it is")
        return
    module1 = _steps(version, 1)
    start = enrollment.start_date
    _questionnaires(
        enrollment,
        module1,
        {
            "rand36_pf": {n: v for n, v in enumerate([1, 1, 2, 1, 2, 2, 1, 1, 2, 3], start=1)},
            "fatigue_nrs": {1: 8},
            "phq9": {n: v for n, v in enumerate([1, 1, 1, 3, 1, 0, 2, 0, 0], start=1)},
        },
        when=_at(start, 14),
    )
    _check_ins(enrollment, [8, 8])
    # The licensed CIS is asked by the therapist when the clinic has not loaded its texts.
    upto = next((i for i, s in enumerate(module1) if s.kind == Step.Kind.ASSIGNMENT), len(module1))
    _done(enrollment, module1[:upto], when=_at(start, 14, 30))
    diary_step = next((s for s in module1 if s.kind == Step.Kind.DIARY), None)
    if diary_step is not None:
        _done(enrollment, [diary_step], when=_at(start + timedelta(days=1), 9))
    sleep = version.diary_types.get(slug="sleep-wake")
    for days_back in range(4, 0, -1):
        day = timezone.localdate() - timedelta(days=days_back)
        _diary(
            enrollment,
            sleep,
            day,
            {
                "bedtime": "23:15",
                "woke_time": "07:40",
                "got_up_time": "08:30",
                "napped": days_back % 2 == 0,
                "lying_down_minutes": 30 if days_back % 2 == 0 else 0,
                "sleep_quality": 3 + days_back % 3,
            },
        )
    enrollment.current_step = module1[upto] if upto < len(module1) else module1[-1]
    enrollment.last_activity_at = _at(timezone.localdate() - timedelta(days=1), 9)
    enrollment.save(update_fields=["current_step", "last_activity_at"])
    stdout.write(f"  {patient.user.email}: active in module 1 of {version.title}, 4 sleep-wake diary days")


@transaction.atomic
def seed_patient_demo(stdout) -> None:
    """Enroll the demo patients and give them some history (see the module docstring)."""
    pain, fatigue = _version(PAIN), _version(FATIGUE)
    if pain is None or fatigue is None:
        stdout.write("  Programs are not loaded (run `manage.py load_programs`): no demo enrollments made.")
        return
    patients = {
        p.user.email: p
        for p in Patient.objects.select_related("user", "therapist__user", "clinic").filter(
            user__email__in=[
                "pain.patient@linde.example",
                "fatigue.patient@linde.example",
                "patient@noorderzon.example",
            ]
        )
    }
    if "pain.patient@linde.example" in patients:
        _pain_patient(patients["pain.patient@linde.example"], pain, stdout)
    if "fatigue.patient@linde.example" in patients:
        _fatigue_starter(patients["fatigue.patient@linde.example"], fatigue, stdout)
    if "patient@noorderzon.example" in patients:
        _fatigue_active(patients["patient@noorderzon.example"], fatigue, stdout)
    # The history above is written around the services (back-dated rows): the work-item table is
    # brought in line once, as the services would have kept it.
    work_items.fill(enrollments=Enrollment.objects.filter(patient__in=list(patients.values())))
    # ... and the dashboard's figures counted again from it (``patients.figures``).
    figures.reconcile(repair=True)
