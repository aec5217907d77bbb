"""Enrollment: starting a patient on a program, the status changes it allows, the feedback day,
the cadence and the route."""

from collections import Counter
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from icbt.audit import Action
from icbt.models import Invitation, StaffMember, Team, User
from icbt.services import invitation_ensure
from patients import figures, work_items
from patients.models import Enrollment, Intake, Patient, TimelineEvent
from patients.services.intake import _goals_from_intake
from patients.services.recording import record_change, timeline_record
from programs.models import ProgramVersion, Step

TERMINAL_STATUSES = (Enrollment.Status.COMPLETED, Enrollment.Status.STOPPED, Enrollment.Status.STEPPED_UP)


def enrollment_feedback_given(*, enrollment: Enrollment, at: datetime) -> None:
    """Feedback was sent: the next feedback day counts from ``at``."""
    enrollment.last_feedback_at = at
    enrollment.save(update_fields=["last_feedback_at"])


def _has_password(user: User) -> bool:
    return user.is_active and user.has_usable_password()


@transaction.atomic
def enrollment_create(
    *,
    patient: Patient,
    version: ProgramVersion,
    therapist: StaffMember,
    enrolled_by: StaffMember,
    start_date: date,
    feedback_cadence: str = Enrollment.Cadence.WEEKLY,
    feedback_weekday: int = 0,
    unlock_mode: str = Enrollment.Unlock.SEQUENTIAL,
    inactivity_days: int = 7,
    module_interval_days: int = 7,
    intake: Intake | None = None,
    team: Team | None = None,
) -> Enrollment:
    """Enroll the patient on ``version`` (kept for this patient: content edits make new versions).

    The treatment belongs to ``team`` (one of the clinic's teams), by default to the therapist's
    team when they are in exactly one: the dashboard counts each treatment under one team.

    The status is *invited* until the patient has set a password (then *active*). A patient who
    has not accepted an invitation yet gets one, unless a working one is on its way already (one
    invitation per person at a time; the e-mail goes out after commit and carries no health
    data). One open enrollment per patient: refused otherwise (the database constraint backs
    this up against two clicks at once)."""
    Patient.objects.select_for_update().filter(pk=patient.pk).values_list("pk").first()
    if Enrollment.objects.filter(patient=patient, status__in=Enrollment.OPEN_STATUSES).exists():
        raise ValidationError(_("This patient is already enrolled. End that enrollment first."))
    if therapist.clinic_id != patient.clinic_id or not therapist.is_therapist:
        raise ValidationError({"therapist": _("Choose a therapist of this clinic.")})
    if intake is not None and intake.patient_id != patient.pk:
        raise ValidationError(_("This intake belongs to another patient."))
    if team is not None and team.clinic_id != patient.clinic_id:
        raise ValidationError({"team": _("Choose a team of this clinic.")})
    if team is None:
        teams = list(therapist.teams.all()[:2])
        team = teams[0] if len(teams) == 1 else None
    now = timezone.now()
    active = _has_password(patient.user)
    enrollment = Enrollment(
        patient=patient,
        clinic_id=patient.clinic_id,
        version=version,
        therapist=therapist,
        team=team,
        intake=intake,
        # The pattern the therapist recorded at the intake, until they confirm another one.
        activity_route=intake.activity_pattern if intake and intake.program_id == version.program_id else "",
        status=Enrollment.Status.ACTIVE if active else Enrollment.Status.INVITED,
        feedback_cadence=feedback_cadence,
        feedback_weekday=feedback_weekday,
        start_date=start_date,
        unlock_mode=unlock_mode,
        inactivity_days=inactivity_days,
        module_interval_days=module_interval_days,
        created_at=now,
        started_at=now if active else None,
    )
    enrollment.full_clean()
    enrollment.save()
    figures.enrollment_changed(Counter(), enrollment)
    if intake is not None:
        _goals_from_intake(enrollment, intake, now=now)
    invited = False
    if not active:
        invited = invitation_ensure(
            user=patient.user, kind=Invitation.Kind.PATIENT, created_by=enrolled_by.user
        )
    if patient.therapist_id != therapist.pk:
        previous = patient.therapist_id
        patient.therapist = therapist
        patient.save(update_fields=["therapist"])
        work_items.owner_follow(patient=patient)
        figures.patient_therapist_changed(patient, previous_id=previous)
        timeline_record(
            patient_id=patient.pk,
            clinic_id=patient.clinic_id,
            kind=TimelineEvent.Kind.THERAPIST,
            actor_id=enrolled_by.user_id,
            at=now,
            detail={"from": previous, "to": therapist.pk},
        )
    record_change(
        staff=enrolled_by,
        action=Action.CREATE,
        object_type="enrollment",
        object_id=enrollment.pk,
        patient=patient,
        enrollment=enrollment,
        kind=TimelineEvent.Kind.ENROLLED,
        detail={
            "program": version.program.slug,
            "version": version.number,
            "language": version.language,
            "status": enrollment.status,
            "cadence": feedback_cadence,
            "weekday": feedback_weekday,
            "unlock": unlock_mode,
            "start": start_date.isoformat(),
            "invited": invited,
            "pattern": enrollment.activity_route,
        },
        at=now,
    )
    work_items.refresh(enrollment=enrollment)
    return enrollment


# Allowed status changes: action -> (statuses it may start from, status it leads to).
ENROLLMENT_TRANSITIONS = {
    "activate": ((Enrollment.Status.INVITED,), Enrollment.Status.ACTIVE),
    "pause": ((Enrollment.Status.ACTIVE,), Enrollment.Status.PAUSED),
    "resume": ((Enrollment.Status.PAUSED,), Enrollment.Status.ACTIVE),
    "complete": ((Enrollment.Status.ACTIVE, Enrollment.Status.PAUSED), Enrollment.Status.COMPLETED),
    "stop": (
        (Enrollment.Status.INVITED, Enrollment.Status.ACTIVE, Enrollment.Status.PAUSED),
        Enrollment.Status.STOPPED,
    ),
    "step_up": ((Enrollment.Status.ACTIVE, Enrollment.Status.PAUSED), Enrollment.Status.STEPPED_UP),
}


REASON_REQUIRED = ("stop", "step_up")


def _enrollment_transition(
    *,
    enrollment: Enrollment,
    action: str,
    actor_user_id: int | None,
    reason: str = "",
    detail: dict | None = None,
) -> Enrollment:
    """Lock the row, check the change is allowed from the status it has *now*, and apply it."""
    sources, target = ENROLLMENT_TRANSITIONS[action]
    if action in REASON_REQUIRED and not reason.strip():
        raise ValidationError({"reason": _("Give the reason.")})
    locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    if locked.status not in sources:
        raise ValidationError(
            _("This is not possible while the enrollment is %(status)s.")
            % {"status": locked.get_status_display()}
        )
    now = timezone.now()
    previous = locked.status
    counted = figures.enrollment_keys(locked)
    locked.status = target
    fields = ["status"]
    if reason.strip():
        locked.status_reason = reason.strip()
        fields.append("status_reason")
    if target == Enrollment.Status.ACTIVE and locked.started_at is None:
        locked.started_at = now
        fields.append("started_at")
    if target in TERMINAL_STATUSES:
        locked.ended_at = now
        fields.append("ended_at")
    locked.full_clean()
    locked.save(update_fields=fields)
    figures.enrollment_changed(counted, locked)
    timeline_record(
        patient_id=locked.patient_id,
        enrollment=locked,
        kind=TimelineEvent.Kind.STATUS,
        actor_id=actor_user_id,
        at=now,
        detail={"from": previous, "to": target, **(detail or {})},
    )
    for name in fields:
        setattr(enrollment, name, getattr(locked, name))
    work_items.refresh(enrollment=enrollment)
    return enrollment


@transaction.atomic
def enrollment_activate(*, enrollment: Enrollment) -> Enrollment:
    """The patient signed in and opened the program: *invited* becomes *active* (once; calling
    it again, or on any other status, changes nothing). For the patient's side to call."""
    if enrollment.status != Enrollment.Status.INVITED:
        return enrollment
    locked = Enrollment.objects.select_for_update().only("status").get(pk=enrollment.pk)
    if locked.status != Enrollment.Status.INVITED:
        enrollment.status = locked.status
        return enrollment
    return _enrollment_transition(
        enrollment=enrollment, action="activate", actor_user_id=enrollment.patient.user_id
    )


@transaction.atomic
def enrollment_status_change(
    *, enrollment: Enrollment, staff: StaffMember, action: str, reason: str = ""
) -> Enrollment:
    """Pause, resume, complete, stop (reason required) or step up (reason required), by the
    patient's therapist. Audited and shown in the timeline."""
    if action not in ENROLLMENT_TRANSITIONS or action == "activate":
        raise ValidationError(_("Unknown change."))
    _enrollment_transition(enrollment=enrollment, action=action, actor_user_id=staff.user_id, reason=reason)
    record_change(
        staff=staff,
        action=Action.CHANGE,
        object_type="enrollment",
        object_id=enrollment.pk,
        patient=enrollment.patient,
    )
    return enrollment


def enrollment_complete(*, enrollment: Enrollment, staff: StaffMember, reason: str = "") -> Enrollment:
    return enrollment_status_change(enrollment=enrollment, staff=staff, action="complete", reason=reason)


def _require_open_for_staff(enrollment: Enrollment) -> None:
    if not enrollment.is_open:
        raise ValidationError(_("This enrollment has ended; it can no longer be changed."))


@transaction.atomic
def enrollment_cadence_change(
    *,
    enrollment: Enrollment,
    staff: StaffMember,
    feedback_cadence: str,
    feedback_weekday: int,
    inactivity_days: int | None = None,
) -> Enrollment:
    """Change the feedback rhythm (weekly or every two weeks, on a weekday) and the number of
    quiet days after which the patient counts as inactive."""
    _require_open_for_staff(enrollment)
    locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    before = {
        "cadence": locked.feedback_cadence,
        "weekday": locked.feedback_weekday,
        "inactivity_days": locked.inactivity_days,
    }
    locked.feedback_cadence = feedback_cadence
    locked.feedback_weekday = feedback_weekday
    if inactivity_days is not None:
        locked.inactivity_days = inactivity_days
    after = {
        "cadence": locked.feedback_cadence,
        "weekday": locked.feedback_weekday,
        "inactivity_days": locked.inactivity_days,
    }
    locked.full_clean()
    if before == after:
        return enrollment
    locked.save(update_fields=["feedback_cadence", "feedback_weekday", "inactivity_days"])
    for name in ("feedback_cadence", "feedback_weekday", "inactivity_days"):
        setattr(enrollment, name, getattr(locked, name))
    work_items.refresh(enrollment=enrollment, kinds=("feedback", "quiet", "early_warning"))
    return _enrollment_changed(enrollment, staff, TimelineEvent.Kind.CADENCE, before, after)


@transaction.atomic
def enrollment_route_confirm(*, enrollment: Enrollment, staff: StaffMember, route: str) -> Enrollment:
    """The therapist confirms the patient's activity pattern (or takes it back with ``""``): the
    steps for another pattern are hidden from then on. ``route`` must be a pattern some step of
    the patient's version is written for."""
    _require_open_for_staff(enrollment)
    if route and not Step.objects.filter(version_id=enrollment.version_id, definition__route=route).exists():
        raise ValidationError(_("This activity pattern is not part of the patient's program."))
    locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    before = locked.activity_route
    if before == route:
        return enrollment
    locked.activity_route = enrollment.activity_route = route
    locked.save(update_fields=["activity_route"])
    return _enrollment_changed(enrollment, staff, TimelineEvent.Kind.ROUTE, before, route)


def _enrollment_changed(enrollment: Enrollment, staff: StaffMember, kind: str, before, after) -> Enrollment:
    """The timeline line (what it was, what it is) and the audit event of a setting changed."""
    record_change(
        staff=staff,
        action=Action.CHANGE,
        object_type="enrollment",
        object_id=enrollment.pk,
        enrollment=enrollment,
        kind=kind,
        detail={"before": before, "after": after},
    )
    return enrollment
