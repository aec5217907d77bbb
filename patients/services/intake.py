"""Getting in: a patient's account and invitation, the public intake request, the intake record
and the goals it carries into the program."""

import json
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from icbt.audit import Action
from icbt.models import Clinic, Invitation, StaffMember, User
from icbt.notifications import Kind as NotificationKind
from icbt.notifications import notify
from icbt.services import invitation_create
from patients import figures, intake_criteria, work_items
from patients.models import AssignmentAnswer, Enrollment, Intake, IntakeRequest, Patient, TimelineEvent
from patients.services.recording import _dump, record_change
from programs.models import Program, ProgramVersion, Step


@transaction.atomic
def patient_invite(
    *,
    therapist: StaffMember,
    email: str,
    first_name: str,
    last_name: str,
    language: str = "en",
) -> Patient:
    """Create a patient account in the therapist's clinic, assigned to them, and send the
    invitation link. Audited as the creation of a patient record."""
    user = User(
        email=User.objects.normalize_email(email).lower(),
        first_name=first_name,
        last_name=last_name,
        language=language,
        is_active=False,
    )
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    patient = Patient(user=user, clinic_id=therapist.clinic_id, therapist=therapist)
    patient.full_clean()
    patient.save()
    invitation_create(user=user, kind=Invitation.Kind.PATIENT, created_by=therapist.user)
    record_change(
        staff=therapist, action=Action.CREATE, object_type="patient", object_id=patient.pk, patient=patient
    )
    return patient


@transaction.atomic
def intake_request_create(
    *,
    clinic: Clinic,
    program: Program,
    name: str,
    email: str,
    phone: str = "",
    message: str = "",
    language: str = "en",
) -> IntakeRequest:
    """A request for an intake from a public program page: it lands in the clinic's queue with
    status *new*. No account is made and nothing is sent: the clinic contacts the person. The
    message is encrypted at rest."""
    intake_request = IntakeRequest(
        clinic=clinic,
        program=program,
        name=name.strip(),
        email=email.strip().lower(),
        phone=phone.strip(),
        message=message.strip(),
        language=language,
    )
    intake_request.full_clean()
    intake_request.save()
    figures.request_added(intake_request)
    work_items.refresh_requests(clinic_id=clinic.pk, kinds=("intake_request",))
    # Every therapist of the clinic hears of it (counts and a link only); once one of them has
    # handled it, the others' notifications are dropped at send time.
    for therapist in StaffMember.objects.filter(
        clinic=clinic, is_therapist=True, user__is_active=True
    ).select_related("user"):
        notify(
            recipient=therapist.user,
            kind=NotificationKind.INTAKE_REQUEST,
            clinic_id=clinic.pk,
            object_type="intake_request",
            object_id=intake_request.pk,
        )
    return intake_request


@transaction.atomic
def intake_request_status_set(
    *, intake_request: IntakeRequest, staff: StaffMember, status: str
) -> IntakeRequest:
    """Mark a request contacted, closed or new again (by a therapist of its clinic)."""
    if status not in (IntakeRequest.Status.NEW, IntakeRequest.Status.CONTACTED, IntakeRequest.Status.CLOSED):
        raise ValidationError(_("Choose contacted, closed or new."))
    _intake_request_handled(intake_request, staff, status)
    return intake_request


def _intake_request_handled(
    intake_request: IntakeRequest, staff: StaffMember, status: str, *, patient: Patient | None = None
) -> None:
    """Who handled the request, when, and how it stands now; its work item follows."""
    intake_request.status = status
    intake_request.handled_by = staff
    intake_request.handled_at = timezone.now()
    intake_request.full_clean()
    intake_request.save(update_fields=["status", "handled_by", "handled_at"])
    work_items.refresh_requests(clinic_id=intake_request.clinic_id, kinds=("intake_request",))
    record_change(
        staff=staff,
        action=Action.CHANGE,
        object_type="intake_request",
        object_id=intake_request.pk,
        patient=patient,
    )


@transaction.atomic
def intake_request_invite(
    *,
    intake_request: IntakeRequest,
    staff: StaffMember,
    first_name: str,
    last_name: str,
    email: str,
    language: str,
) -> Patient:
    """The therapist decided to see this person: create their patient account (assigned to the
    therapist, invitation sent; see ``patient_invite``) and mark the request *intake planned*."""
    if intake_request.status == IntakeRequest.Status.INVITED:
        raise ValidationError(_("This person has already been invited."))
    patient = patient_invite(
        therapist=staff,
        email=email,
        first_name=first_name,
        last_name=last_name,
        language=language,
    )
    _intake_request_handled(intake_request, staff, IntakeRequest.Status.INVITED, patient=patient)
    return patient


@transaction.atomic
def intake_record(
    *,
    patient: Patient,
    program: Program,
    therapist: StaffMember,
    held_on: date,
    answers: dict,
    decision: str,
    decision_reason: str = "",
    activity_pattern: str = "",
) -> Intake:
    """Keep the structured intake (encrypted JSON) and its decision. Pain intakes need at least
    one personal treatment goal; a decision other than *indicated* needs a reason. The summary
    shown as decision support is stored with the answers, as it was when the decision was made."""
    kind = intake_criteria.intake_kind(program.slug)
    goals = [g.strip() for g in answers.get("goals", []) if g and g.strip()]
    errors = {}
    if kind == intake_criteria.PAIN and not goals:
        errors["goal_1"] = _("Write at least one personal treatment goal: the pain program is built on them.")
    if decision != Intake.Decision.INDICATED and not decision_reason.strip():
        errors["decision_reason"] = _("Give the reason for this decision.")
    if held_on > timezone.localdate():
        errors["held_on"] = _("The intake cannot be in the future.")
    if errors:
        raise ValidationError(errors)
    stored = {**answers, "kind": kind, "goals": goals}
    stored["summary"] = intake_criteria.intake_summary(kind, stored).as_dict()
    intake = Intake(
        patient=patient,
        clinic_id=patient.clinic_id,
        program=program,
        therapist=therapist,
        held_on=held_on,
        answers=json.dumps(stored, ensure_ascii=False),
        activity_pattern=activity_pattern or "",
        decision=decision,
        decision_reason=decision_reason.strip(),
    )
    intake.full_clean()
    intake.save()
    figures.intake_added(intake)
    record_change(
        staff=therapist,
        action=Action.CREATE,
        object_type="intake",
        object_id=intake.pk,
        patient=patient,
        kind=TimelineEvent.Kind.INTAKE,
        detail={
            "intake": intake.pk,
            "program": program.slug,
            "decision": decision,
            "held_on": held_on.isoformat(),
        },
    )
    return intake


def intake_answers(intake: Intake) -> dict:
    """The intake's structured answers (decrypted)."""
    return json.loads(intake.answers) if intake.answers else {}


def goals_step(version: ProgramVersion) -> tuple[Step, dict] | None:
    """The program's goals assignment: the first assignment step (in program order) with a
    ``goal_list`` field, and that field's definition."""
    steps = Step.objects.filter(version=version, kind=Step.Kind.ASSIGNMENT).order_by(
        "module__number", "position"
    )
    for step in steps:
        field = next((f for f in step.fields if f.get("type") == "goal_list"), None)
        if field is not None:
            return step, field
    return None


def _goals_from_intake(enrollment: Enrollment, intake: Intake, *, now: datetime) -> AssignmentAnswer | None:
    """Put the goals set at the intake into the patient's goals assignment, as a draft they can
    change and hand in (marked ``from_intake``)."""
    goals = [g.strip() for g in intake_answers(intake).get("goals", []) if g and g.strip()]
    found = goals_step(enrollment.version)
    if not goals or found is None:
        return None
    step, field = found
    answer = AssignmentAnswer(
        enrollment=enrollment,
        clinic_id=enrollment.clinic_id,
        step=step,
        content=_dump({field["name"]: goals[: field.get("max_items", 5)]}),
        status=AssignmentAnswer.Status.DRAFT,
        draft_saved_at=now,
        from_intake=True,
    )
    answer.full_clean()
    answer.save()
    return answer
