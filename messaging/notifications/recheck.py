"""The re-check at send time: which claimed notifications must not be sent any more (already
read, already reviewed, feedback given, patient active again, patient no longer in treatment,
recipient no longer treats the patient, kind switched off).

The facts are read once for a whole batch of rows (``Facts.load``), with ``values()`` on ids,
statuses and dates only, never a column with text a person wrote. Each kind of notification
has one checker, a function of a :class:`Check`; it returns the reason to drop the row, or "".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from icbt.models import Notification
from icbt.roles import Roles
from messaging.models import Message
from messaging.notifications.id_lists import id_in
from patients.access import staff_may_treat
from patients.models import (
    AssignmentAnswer,
    DiaryEntry,
    Enrollment,
    IntakeRequest,
    Patient,
    QuestionnaireResponse,
    Referral,
)

Kind = Notification.Kind

# Kinds about a patient that only make sense while the enrollment is active (not paused).
NEEDS_ACTIVE = {
    Kind.FEEDBACK_DUE,
    Kind.FEEDBACK_OVERDUE,
    Kind.PATIENT_INACTIVE,
    Kind.DIARY_DUE,
    Kind.INACTIVITY_REMINDER,
}


def _ids(rows, object_type: str) -> set[int]:
    return {int(row.object_id) for row in rows if row.object_type == object_type and row.object_id.isdigit()}


def _values(model, ids, *fields_) -> dict[int, dict]:
    if not ids:
        return {}
    return {v["pk"]: v for v in model.objects.filter(id_in("pk", ids)).values("pk", *fields_)}


@dataclass
class Facts:
    """What the re-check knows about the items a batch of rows points at, keyed by id
    (enrollments by patient id)."""

    patients: dict[int, Patient]
    enrollments: dict[int, dict]
    diary: dict[int, dict]
    answers: dict[int, dict]
    questionnaires: dict[int, dict]
    messages: dict[int, dict]
    intakes: dict[int, dict]
    referrals: dict[int, dict]
    overdue: set[tuple[int, str]]

    @classmethod
    def load(cls, rows) -> Facts:
        """One query per kind of item present in ``rows`` (and one for patients, one for their
        open enrollments), each with its ids as one list (``id_in``)."""
        patient_ids = {row.patient_id for row in rows if row.patient_id}
        patients, enrollments = {}, {}
        if patient_ids:
            patients = {
                patient.pk: patient
                for patient in Patient.objects.only(
                    "pk", "clinic_id", "therapist_id", "case_reference"
                ).filter(id_in("pk", patient_ids))
            }
            for enrollment in Enrollment.objects.filter(
                id_in("patient_id", patient_ids), status__in=Enrollment.OPEN_STATUSES
            ).values("pk", "patient_id", "status", "last_activity_at", "last_feedback_at"):
                enrollments[enrollment["patient_id"]] = enrollment
        return cls(
            patients=patients,
            enrollments=enrollments,
            diary=_values(DiaryEntry, _ids(rows, "diary_entry"), "reviewed_at"),
            answers=_values(AssignmentAnswer, _ids(rows, "assignment_answer"), "reviewed_at", "status"),
            questionnaires=_values(
                QuestionnaireResponse, _ids(rows, "questionnaire_response"), "reviewed_at"
            ),
            messages=_values(Message, _ids(rows, "message"), "read_at"),
            intakes=_values(IntakeRequest, _ids(rows, "intake_request"), "status", "clinic_id"),
            referrals=_values(Referral, _ids(rows, "referral"), "status", "to_therapist_id"),
            overdue={(row.patient_id, row.object_id) for row in rows if row.kind == Kind.FEEDBACK_OVERDUE},
        )


@dataclass(frozen=True)
class Check:
    """One row to re-check, with its recipient's roles and the batch's facts."""

    row: Notification
    roles: Roles
    facts: Facts

    @property
    def object_id(self) -> int | None:
        return int(self.row.object_id) if self.row.object_id.isdigit() else None

    @property
    def patient(self) -> Patient | None:
        return self.facts.patients.get(self.row.patient_id)

    @property
    def enrollment(self) -> dict | None:
        return self.facts.enrollments.get(self.row.patient_id)


# --- Checkers ------------------------------------------------------------------------------------


def _weekly_summary(check: Check) -> str:
    staff = check.roles.staff
    ok = staff is not None and staff.is_manager and staff.clinic_id == check.row.clinic_id
    return "" if ok else "no_access"


def _intake_request(check: Check) -> str:
    staff = check.roles.staff
    intake = check.facts.intakes.get(check.object_id)
    if staff is None or intake is None or intake["clinic_id"] != staff.clinic_id:
        return "no_access" if intake else "gone"
    return "" if intake["status"] == IntakeRequest.Status.NEW else "handled"


def _access(check: Check, patient: Patient) -> str:
    """The patient themself, or a therapist who treats them."""
    staff, own_patient = check.roles.staff, check.roles.patient
    if staff is not None:
        return "" if staff_may_treat(staff, patient) else "no_access"
    if own_patient is not None:
        return "" if own_patient.pk == patient.pk else "no_access"
    return "no_access"


def _referral(check: Check) -> str:
    patient = check.patient
    if patient is None:
        return "gone"
    staff = check.roles.staff
    if staff is None:
        return _access(check, patient)
    referral = check.facts.referrals.get(check.object_id)
    if referral is None:
        return "gone"
    if referral["to_therapist_id"] != staff.pk:
        return "no_access"
    return "" if referral["status"] == Referral.Status.PENDING else "handled"


def _in_treatment(check: Check) -> str:
    """Still about a patient the recipient may hear about, in treatment (active when the kind
    needs it)."""
    patient = check.patient
    if patient is None:
        return "gone"
    reason = _access(check, patient)
    if reason:
        return reason
    enrollment = check.enrollment
    if enrollment is None:
        return "not_in_treatment"
    if check.row.kind in NEEDS_ACTIVE and enrollment["status"] != Enrollment.Status.ACTIVE:
        return "not_active"
    return ""


def _reviewed(facts_name: str) -> Callable[[Check], str]:
    def reviewed(check: Check) -> str:
        item = getattr(check.facts, facts_name).get(check.object_id)
        return "gone" if item is None else ("already_reviewed" if item["reviewed_at"] else "")

    return reviewed


def _answer(check: Check) -> str:
    item = check.facts.answers.get(check.object_id)
    if item is None:
        return "gone"
    if item["reviewed_at"]:
        return "already_reviewed"
    return "" if item["status"] == AssignmentAnswer.Status.SUBMITTED else "withdrawn"


def _message(check: Check) -> str:
    item = check.facts.messages.get(check.object_id)
    return "gone" if item is None else ("already_read" if item["read_at"] else "")


def _feedback(check: Check) -> str:
    row = check.row
    if row.kind == Kind.FEEDBACK_DUE and (row.patient_id, row.object_id) in check.facts.overdue:
        return "superseded"
    given = check.enrollment["last_feedback_at"]
    return "feedback_given" if given and given >= row.created_at else ""


def _activity(check: Check) -> str:
    active = check.enrollment["last_activity_at"]
    return "active_again" if active and active > check.row.created_at else ""


def _nothing_more(check: Check) -> str:
    return ""


def _treated(item_check: Callable[[Check], str]) -> Callable[[Check], str]:
    return lambda check: _in_treatment(check) or item_check(check)


CHECKERS: dict[str, Callable[[Check], str]] = {
    Kind.WEEKLY_SUMMARY: _weekly_summary,
    Kind.INTAKE_REQUEST: _intake_request,
    Kind.REFERRAL: _referral,
    Kind.DIARY_ENTRY: _treated(_reviewed("diary")),
    Kind.ASSIGNMENT_SUBMITTED: _treated(_answer),
    Kind.QUESTIONNAIRE_COMPLETED: _treated(_reviewed("questionnaires")),
    Kind.MESSAGE_RECEIVED: _treated(_message),
    Kind.MESSAGE_WAITING: _treated(_message),
    Kind.FEEDBACK_WAITING: _treated(_message),
    Kind.FEEDBACK_DUE: _treated(_feedback),
    Kind.FEEDBACK_OVERDUE: _treated(_feedback),
    Kind.PATIENT_INACTIVE: _treated(_activity),
    Kind.INACTIVITY_REMINDER: _treated(_activity),
    Kind.DIARY_DUE: _treated(_activity),
    Kind.MODULE_OPENED: _treated(_activity),
}


def recheck(rows, *, roles: Roles, preference, facts: Facts) -> dict[int, str]:
    """``{row id: reason}`` for every row of one recipient that must not be sent any more."""
    reasons: dict[int, str] = {}
    for row in rows:
        if not preference.wants(row.kind):
            reasons[row.pk] = "kind_off"
            continue
        reason = CHECKERS.get(row.kind, _treated(_nothing_more))(Check(row, roles, facts))
        if reason:
            reasons[row.pk] = reason
    return reasons
