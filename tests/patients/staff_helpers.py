"""Helpers for the tests of getting in and of the therapist's side of one patient."""

import datetime

from django.db import connection
from django.utils import timezone

from icbt.models import AuditEvent
from patients.models import Enrollment, Intake, IntakeRequest, Referral, TimelineEvent
from programs.models import Program, ProgramVersion
from tests.programs.helpers import load_tiny
from tests.work import settle

FATIGUE_START = ["cis_fatigue", "rand36_pf", "fatigue_nrs", "phq9"]
FATIGUE_END = ["cis_fatigue", "rand36_pf", "fatigue_nrs", "phq9"]


def tiny() -> ProgramVersion:
    version = (
        ProgramVersion.objects.filter(program__slug="tiny-program", language="en").order_by("-number").first()
    )
    return version or load_tiny()


def bare_version(
    slug: str,
    *,
    title: str,
    language: str = "en",
    start=(),
    end=(),
    tagline: str = "",
    public_html: str = "",
    measurement_schedule=None,
) -> ProgramVersion:
    """A published version without modules (enough for intake, enrollment and end-of-program
    rules). Inserting versions is allowed; only updates are refused by the content triggers."""
    program, _created = Program.objects.get_or_create(slug=slug)
    number = ProgramVersion.objects.filter(program=program, language=language).count() + 1
    return ProgramVersion.objects.create(
        program=program,
        language=language,
        number=number,
        content_hash=f"test-{slug}-{number}",
        structure_hash=f"test-{slug}",
        title=title,
        tagline=tagline,
        public_html=public_html,
        questionnaires_start=list(start),
        questionnaires_end=list(end),
        measurement_schedule=measurement_schedule or {},
        published_at=timezone.now(),
    )


def fatigue_version(**kwargs) -> ProgramVersion:
    return bare_version(
        "master-your-fatigue", title="Master your Fatigue", start=FATIGUE_START, end=FATIGUE_END, **kwargs
    )


def pain_version(**kwargs) -> ProgramVersion:
    return bare_version(
        "master-your-pain",
        title="Master your Pain",
        start=["pain_nrs", "phq9"],
        end=["pain_nrs", "phq9"],
        **kwargs,
    )


def enroll(patient, version=None, *, status=Enrollment.Status.ACTIVE, **fields) -> Enrollment:
    defaults = {
        "clinic": patient.clinic,
        "therapist": patient.therapist,
        "start_date": timezone.localdate(),
        "status": status,
    }
    defaults.update(fields)
    enrollment = Enrollment.objects.create(patient=patient, version=version or tiny(), **defaults)
    settle()
    return enrollment


def intake_request(clinic, program=None, **fields) -> IntakeRequest:
    program = program or tiny().program
    request = IntakeRequest(
        clinic=clinic,
        program=program,
        name=fields.pop("name", "Petra Jansen"),
        email=fields.pop("email", "petra@home.test"),
        **fields,
    )
    request.save()
    settle()
    return request


def referral(world, *, note="Would this patient suit the online program?") -> Referral:
    """patient_a, from their therapist to therapist2 (given a training date)."""
    world.therapist2.training_date = datetime.date(2025, 3, 1)
    world.therapist2.save(update_fields=["training_date"])
    item = Referral(
        clinic=world.clinic,
        patient=world.patient_a,
        referred_by=world.therapist,
        to_therapist=world.therapist2,
        program=tiny().program,
        note=note,
    )
    item.save()
    settle()
    return item


def intake(world, *, decision=Intake.Decision.INDICATED) -> Intake:
    item = Intake(
        clinic_id=world.patient_a.clinic_id,
        patient=world.patient_a,
        program=tiny().program,
        therapist=world.therapist,
        held_on=timezone.localdate(),
        answers='{"kind": "general", "goals": ["walk"]}',
        decision=decision,
    )
    item.save()
    settle()
    return item


def audit_actions(*, object_type: str, patient=None) -> list[str]:
    events = AuditEvent.objects.filter(object_type=object_type, outcome=AuditEvent.Outcome.OK)
    if patient is not None:
        events = events.filter(patient_id=patient.pk)
    return list(events.order_by("at", "id").values_list("action", flat=True))


def timeline_kinds(patient) -> list[str]:
    return list(
        TimelineEvent.objects.filter(patient=patient).order_by("at", "pk").values_list("kind", flat=True)
    )


def raw_column(model, field: str, pk) -> str:
    """The value exactly as stored in the database."""
    table = model._meta.db_table
    column = model._meta.get_field(field).column
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 - names from the model
        return cursor.fetchone()[0]


def add_patients(clinic, therapist, count, prefix="extra"):
    """Many patients at once, without password hashing."""
    from icbt.models import User
    from patients.models import Patient

    users = User.objects.bulk_create(
        User(email=f"{prefix}{i}@patients.test", first_name="Zebulon", last_name=f"{prefix.title()}{i}")
        for i in range(count)
    )
    return Patient.objects.bulk_create(Patient(user=u, clinic=clinic, therapist=therapist) for u in users)


def measured_version(program: str = "master-your-pain", *, after_module=None) -> ProgramVersion:
    """A bare version with a weekly check-in and, optionally, questionnaires after a module."""
    check_in = "checkin_pain" if program == "master-your-pain" else "checkin_fatigue"
    symptom = "pain_nrs" if program == "master-your-pain" else "fatigue_nrs"
    return bare_version(
        program,
        title=program,
        start=[symptom, "phq9"],
        end=[symptom, "phq9"],
        measurement_schedule={"weekly_check_in": check_in, "after_module": after_module or {}},
    )
