"""The marker test: every kind of digest e-mail, rendered with marker strings in every clinical
field, in the names of patients and staff and in the clinic's name, must not carry any marker in
its subject, bodies (text and HTML), sender or headers. Nor the program's, module's or diary's
name, nor the questionnaire."""

import json
from email import message_from_bytes, policy

import pytest
from django.core import mail

from icbt.models import Notification
from icbt.notifications import Kind, notify
from messaging.models import Message, StaffNote
from messaging.notifications.digests import digest_round
from patients.models import (
    AssignmentAnswer,
    DiaryEntry,
    Enrollment,
    Intake,
    IntakeRequest,
    QuestionnaireResponse,
    Referral,
    TreatmentSession,
)
from tests.messaging.digest_helpers import PHQ9_SELF_HARM, Treated, conversation, local, prefer
from tests.work import settle

pytestmark = pytest.mark.django_db

MARKERS = {
    "clinic": "MKCLINICNAME",
    "patient first name": "MKPATIENTFIRST",
    "patient last name": "MKPATIENTLAST",
    "therapist first name": "MKTHERAPISTFIRST",
    "therapist last name": "MKTHERAPISTLAST",
    "manager name": "MKMANAGERNAME",
    "diary text": "MKDIARYTEXT",
    "assignment answer": "MKANSWERTEXT",
    "message body": "MKMESSAGEBODY",
    "feedback body": "MKFEEDBACKBODY",
    "intake request name": "MKINTAKENAME",
    "intake request message": "MKINTAKEMESSAGE",
    "referral note": "MKREFERRALNOTE",
    "intake answers (diagnosis)": "MKDIAGNOSIS",
    "status reason": "MKSTATUSREASON",
    "staff note": "MKSTAFFNOTE",
    "session note": "MKSESSIONNOTE",
}
# Names that the tiny program gives its program, modules, diaries, steps and questionnaires.
CONTENT_WORDS = [
    "Tiny Program",
    "tiny-program",
    "The first module",
    "The second module",
    "Mood diary",
    "My plan",
    "phq9",
    "PHQ",
    "Your mood",
    "self_harm",
    "self-harm",
    "harm",
]


def _mark_everything(t):
    w = t.world
    w.clinic.name = MARKERS["clinic"]
    w.clinic.save()
    for user, first, last in (
        (w.patient_a.user, "patient first name", "patient last name"),
        (w.therapist.user, "therapist first name", "therapist last name"),
        (w.manager.user, "manager name", "manager name"),
    ):
        user.first_name, user.last_name = MARKERS[first], MARKERS[last]
        user.save()
    for user in (w.patient_a.user, w.therapist.user, w.manager.user):
        prefer(user, email_enabled=True, urgent_soon=False)
    Enrollment.objects.filter(pk=t.enrollment_a.pk).update(status_reason="")
    settle()
    t.enrollment_a.status_reason = MARKERS["status reason"]
    t.enrollment_a.save(update_fields=["status_reason"])


def _events(t):
    """One notification of every kind, each about an object full of markers."""
    w, e, when = t.world, t.enrollment_a, local(2026, 3, 2, 9)
    therapist, patient, manager = w.therapist.user, w.patient_a.user, w.manager.user
    entry = DiaryEntry.objects.create(
        clinic_id=e.clinic_id,
        enrollment=e,
        diary_type=t.mood,
        entry_date=when.date(),
        values={"mood": 3},
        text=json.dumps({"note": MARKERS["diary text"]}),
    )
    settle()
    content = json.dumps({"story": MARKERS["assignment answer"]})
    answer = AssignmentAnswer.objects.create(
        clinic_id=e.clinic_id,
        enrollment=e,
        step=t.steps["plan"],
        content=content,
        submitted_content=content,
        status="submitted",
        submitted_at=when,
    )
    response = QuestionnaireResponse.objects.create(
        clinic_id=e.clinic_id,
        enrollment=e,
        code="phq9",
        moment="start",
        total=1,
        answers=list(PHQ9_SELF_HARM.values()),
        flags=["self_harm"],
    )
    settle()
    conv = conversation(e)
    from_patient = Message.objects.create(
        clinic_id=conv.enrollment.clinic_id, conversation=conv, author=patient, body=MARKERS["message body"]
    )
    to_patient = Message.objects.create(
        clinic_id=conv.enrollment.clinic_id, conversation=conv, author=therapist, body=MARKERS["message body"]
    )
    feedback = Message.objects.create(
        clinic_id=conv.enrollment.clinic_id,
        conversation=conv,
        author=therapist,
        body=MARKERS["feedback body"],
        is_feedback=True,
    )
    intake_request = IntakeRequest.objects.create(
        clinic=w.clinic,
        program=t.version.program,
        name=MARKERS["intake request name"],
        email="mkintake@example.org",
        message=MARKERS["intake request message"],
    )
    referral = Referral.objects.create(
        clinic=w.clinic,
        patient=w.patient_a,
        referred_by=w.therapist2,
        to_therapist=w.therapist,
        program=t.version.program,
        note=MARKERS["referral note"],
    )
    settle()
    Intake.objects.create(
        clinic_id=w.patient_a.clinic_id,
        patient=w.patient_a,
        program=t.version.program,
        therapist=w.therapist,
        held_on=when.date(),
        answers=json.dumps({"diagnosis": MARKERS["intake answers (diagnosis)"]}),
        decision="indicated",
    )
    StaffNote.objects.create(
        clinic_id=w.patient_a.clinic_id, patient=w.patient_a, author=w.therapist, body=MARKERS["staff note"]
    )
    TreatmentSession.objects.create(
        clinic_id=e.clinic_id,
        patient=w.patient_a,
        enrollment=e,
        held_on=when.date(),
        kind="phone",
        note=MARKERS["session note"],
        recorded_by=w.therapist,
    )
    settle()

    def n(recipient, kind, obj_type, obj_id, **extra):
        notify(
            recipient=recipient,
            kind=kind,
            patient=extra.pop("patient", w.patient_a),
            object_type=obj_type,
            object_id=obj_id,
            now=when,
            **extra,
        )

    n(therapist, Kind.DIARY_ENTRY, "diary_entry", entry.pk)
    n(therapist, Kind.ASSIGNMENT_SUBMITTED, "assignment_answer", answer.pk)
    n(therapist, Kind.QUESTIONNAIRE_COMPLETED, "questionnaire_response", response.pk, urgent=True)
    n(therapist, Kind.MESSAGE_RECEIVED, "message", from_patient.pk)
    n(therapist, Kind.FEEDBACK_DUE, "enrollment", t.enrollment_b.pk, patient=w.patient_b)
    n(therapist, Kind.FEEDBACK_OVERDUE, "enrollment", e.pk)
    n(therapist, Kind.PATIENT_INACTIVE, "enrollment", e.pk)
    n(
        therapist,
        Kind.INTAKE_REQUEST,
        "intake_request",
        intake_request.pk,
        patient=None,
        clinic_id=w.clinic.pk,
    )
    n(therapist, Kind.REFERRAL, "referral", referral.pk)
    n(patient, Kind.FEEDBACK_WAITING, "message", feedback.pk)
    n(patient, Kind.MESSAGE_WAITING, "message", to_patient.pk)
    n(patient, Kind.MODULE_OPENED, "enrollment", e.pk)
    n(patient, Kind.DIARY_DUE, "enrollment", e.pk)
    n(patient, Kind.INACTIVITY_REMINDER, "enrollment", e.pk)
    n(manager, Kind.WEEKLY_SUMMARY, "clinic", w.clinic.pk, patient=None, clinic_id=w.clinic.pk)


def _everything_in(message) -> list[str]:
    """Subject, sender, every header and every body part, both as sent (bytes) and decoded."""
    raw = message.message().as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    texts = [raw.decode("utf-8", "replace"), message.subject, message.from_email, message.body]
    texts += [content for content, _mimetype in message.alternatives]
    texts += [f"{k}: {v}" for k, v in parsed.items()]
    texts += [part.get_content() for part in parsed.walk() if part.get_content_maintype() == "text"]
    return texts


def test_no_marker_and_no_content_name_in_any_email(world):
    t = Treated(world)
    _mark_everything(t)
    _events(t)
    assert set(Notification.objects.values_list("kind", flat=True)) == set(Kind.values)  # every kind
    report = digest_round(now=local(2026, 3, 3, 8))
    assert report.sent == 3 and report.failed == 0
    rendered_kinds = set(Notification.objects.filter(state="sent").values_list("kind", flat=True))
    assert rendered_kinds == set(Kind.values)  # nothing was dropped: every kind was rendered
    assert {m.to[0] for m in mail.outbox} == {
        world.therapist.user.email,
        world.patient_a.user.email,
        world.manager.user.email,
    }
    leaks = []
    for message in mail.outbox:
        for text in _everything_in(message):
            for field, marker in MARKERS.items():
                if marker.lower() in text.lower():
                    leaks.append(f"{message.to[0]}: {field}")
            for word in CONTENT_WORDS:
                if word.lower() in text.lower():
                    leaks.append(f"{message.to[0]}: content name {word!r}")
    assert not sorted(set(leaks))
    therapist_mail = next(m for m in mail.outbox if m.to == [world.therapist.user.email])
    assert world.patient_a.case_reference in therapist_mail.body  # the neutral reference is there instead
