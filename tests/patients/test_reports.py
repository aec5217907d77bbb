"""The treatment summary PDF (therapist) and the patient's own data as PDF and JSON (GDPR)."""

import io
import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from icbt.models import AuditEvent
from messaging.models import Conversation, FeedbackLink, Message, MessageDraft, StaffNote
from patients.models import (
    CareShare,
    Enrollment,
    Intake,
    QuestionnaireResponse,
    SteppedCareDecision,
    StepProgress,
    TimelineEvent,
    TreatmentSession,
)
from programs.models import Step
from tests.messaging.helpers import diary_entry, enroll, submitted_answer
from tests.work import settle


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def _fill(world, patient, marker: str) -> dict:
    """One of every kind of data for ``patient``, each carrying ``marker``."""
    enrollment = enroll(patient)
    enrollment.status_reason = f"{marker}-status"
    enrollment.save(update_fields=["status_reason"])
    answer = submitted_answer(enrollment, word=f"{marker}-word", story=f"{marker}-answer")
    entry = diary_entry(enrollment, note=f"{marker}-diary")
    QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        code="phq9",
        moment="start",
        total=7,
        band="mild",
        answers=[{"item": 1, "score": 1}],
    )
    conversation = Conversation.objects.create(enrollment=enrollment)
    Message(
        clinic_id=conversation.enrollment.clinic_id,
        conversation=conversation,
        author=patient.user,
        body=f"{marker}-my-message",
    ).save()
    feedback = Message(
        clinic_id=conversation.enrollment.clinic_id,
        conversation=conversation,
        author=world.therapist.user,
        body=f"{marker}-feedback",
        is_feedback=True,
    )
    feedback.save()
    FeedbackLink.objects.create(message=feedback, answer=answer)
    MessageDraft(
        clinic_id=conversation.enrollment.clinic_id,
        conversation=conversation,
        author=patient.user,
        body=f"{marker}-draft",
    ).save()
    TreatmentSession(
        clinic_id=enrollment.clinic_id,
        patient=patient,
        enrollment=enrollment,
        held_on=timezone.localdate(),
        kind="face_to_face",
        minutes=50,
        note=f"{marker}-session",
        recorded_by=world.therapist,
    ).save()
    Intake(
        clinic_id=patient.clinic_id,
        patient=patient,
        program=enrollment.version.program,
        therapist=world.therapist,
        held_on=timezone.localdate() - timedelta(days=20),
        answers=json.dumps({"goals": [f"{marker}-goal"]}),
        decision=Intake.Decision.INDICATED,
        decision_reason=f"{marker}-intake-reason",
    ).save()
    SteppedCareDecision(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        advice={"advice": "finish"},
        decision="finish",
        reason=f"{marker}-stepped",
        decided_by=world.therapist,
    ).save()
    StepProgress.objects.create(
        enrollment=enrollment, step=Step.objects.filter(version=enrollment.version).first()
    )
    TimelineEvent.objects.create(
        clinic_id=enrollment.clinic_id,
        patient=patient,
        enrollment=enrollment,
        kind=TimelineEvent.Kind.ENROLLED,
        detail={"marker": f"{marker}-timeline"},
    )
    StaffNote(
        clinic_id=patient.clinic_id, patient=patient, author=world.therapist, body=f"{marker}-staffnote"
    ).save()
    settle()
    return {"enrollment": enrollment, "answer": answer, "entry": entry}


MARKERS = [
    "status",
    "word",
    "answer",
    "diary",
    "my-message",
    "feedback",
    "draft",
    "session",
    "goal",
    "intake-reason",
    "stepped",
    "timeline",
]


@pytest.fixture
def filled(world):
    a = _fill(world, world.patient_a, "AAMARK")
    b = _fill(world, world.patient_b, "BBMARK")
    return a, b


# --- The patient's own data -------------------------------------------------------------------------


def test_own_data_json_holds_all_of_theirs_and_nothing_of_anyone_else(world, filled, client_for):
    response = client_for(world.patient_a.user).get(reverse("patients:my_data_json"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="my-data-')
    text = response.content.decode()
    data = json.loads(text)
    for marker in MARKERS:
        assert f"AAMARK-{marker}" in text, marker
    assert "BBMARK" not in text
    assert "AAMARK-staffnote" not in text  # internal notes are left out, and the export says so
    assert data["left_out"]
    assert data["profile"]["email"] == world.patient_a.user.email
    enrollment = data["enrollments"][0]
    assert enrollment["assignment_answers"][0]["answer"]["word"] == "AAMARK-word"  # decrypted and parsed
    assert enrollment["questionnaires"][0]["total"] == 7.0
    assert enrollment["messages"][1]["about"] == ["Assignment “My plan”"]
    assert [m["from_you"] for m in enrollment["messages"]] == [True, False]
    assert data["sessions"][0]["note"] == "AAMARK-session"


def test_own_data_pdf_holds_all_of_theirs_and_nothing_of_anyone_else(world, filled, client_for):
    response = client_for(world.patient_a.user).get(reverse("patients:my_data_pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    for marker in [m for m in MARKERS if m != "timeline"]:  # timeline details are structured facts
        assert f"AAMARK-{marker}" in text, marker
    assert "BBMARK" not in text and "AAMARK-staffnote" not in text
    assert "Your data" in text


def test_own_data_pdf_says_scores_and_intake_answers_in_words(world, client_for):
    enrollment = enroll(world.patient_a)
    QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        code="cis_fatigue",
        moment="start",
        total=30,
        band="not_severe",
        answers=[],
    )
    settle()
    answers = {
        "kind": "pain",
        "duration_months": 8,
        "locations": ["lower_back", "neck"],
        "intensity_now": 6,
        "goals": ["Walk to the shop again"],
    }
    Intake(
        clinic_id=world.patient_a.clinic_id,
        patient=world.patient_a,
        program=enrollment.version.program,
        therapist=world.therapist,
        held_on=timezone.localdate(),
        answers=json.dumps(answers),
        decision=Intake.Decision.INDICATED,
    ).save()
    settle()
    text = pdf_text(client_for(world.patient_a.user).get(reverse("patients:my_data_pdf")).content)
    assert "(not severe)" in text and "not_severe" not in text
    assert "neck, lower back" in text and "lower_back" not in text
    assert "8 months" in text and "Goal 1" in text and "Walk to the shop again" in text
    assert "duration_months" not in text


def test_text_the_patient_typed_is_shown_as_text_and_never_fetched(world, client_for, caplog):
    enrollment = enroll(world.patient_a)
    conversation = Conversation.objects.create(enrollment=enrollment)
    Message(
        clinic_id=conversation.enrollment.clinic_id,
        conversation=conversation,
        author=world.patient_a.user,
        body='<img src="file:///etc/passwd"> <link rel="stylesheet" href="http://169.254.169.254/x">',
    ).save()
    settle()
    response = client_for(world.patient_a.user).get(reverse("patients:my_data_pdf"))
    text = pdf_text(response.content)
    assert '<img src="file:///etc/passwd">' in text
    assert "root:" not in text
    assert "refused" not in caplog.text  # escaped by the template: nothing was even asked for


def test_own_data_export_is_audited_for_the_patient(world, filled, client_for):
    client = client_for(world.patient_a.user)
    client.get(reverse("patients:my_data_json"))
    client.get(reverse("patients:my_data_pdf"))
    events = AuditEvent.objects.filter(object_type="own_data").order_by("at", "id")
    assert [(e.action, e.object_id, e.patient_id) for e in events] == [
        ("export", "json", world.patient_a.pk),
        ("export", "pdf", world.patient_a.pk),
    ]


def test_staff_have_no_own_data_page(world, client_for):
    for user in (world.therapist.user, world.manager.user):
        assert client_for(user).get(reverse("patients:my_data_json")).status_code == 404
    page = client_for(world.patient_a.user).get(reverse("patients:my_data"))
    assert page.status_code == 200 and reverse("patients:my_data_pdf") in page.content.decode()


def test_access_log_and_covering_colleagues_are_in_the_export(world, filled, client_for):
    CareShare.objects.create(
        patient=world.patient_a,
        colleague=world.therapist2,
        shared_by=world.therapist,
        until=timezone.localdate() + timedelta(days=3),
    )
    client_for(world.therapist.user).get(
        reverse("patients:staff_patient_detail", kwargs={"pk": world.patient_a.pk})
    )
    data = json.loads(client_for(world.patient_a.user).get(reverse("patients:my_data_json")).content)
    assert any(e["who"] == world.therapist.user.email for e in data["access_log"])
    assert data["care_shares"][0]["colleague"] == world.therapist2.user.get_full_name()


# --- The treatment summary ---------------------------------------------------------------------------


def test_treatment_summary_pdf(world, filled, client_for):
    enrollment = filled[0]["enrollment"]
    QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        code="phq9",
        moment="end",
        total=3,
        band="minimal",
    )
    Enrollment.objects.filter(pk=enrollment.pk).update(started_at=timezone.now() - timedelta(days=10))
    settle()
    response = client_for(world.therapist.user).get(
        reverse("patients:staff_treatment_summary", kwargs={"pk": world.patient_a.pk})
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="treatment-summary-{world.patient_a.case_reference}.pdf"'
    )
    text = pdf_text(response.content)
    for expected in (
        "Treatment summary",
        world.patient_a.case_reference,
        "Tiny Program",
        "version 1",
        "Modules",
        "0 of 2 modules completed",
        "Questionnaire scores",
        "Mood (PHQ-9)",
        "Start",
        "End",
        "Stepped care",
        "finish the program",
        "AAMARK-stepped",
        "Sessions",
        "face to face",
        "50",
        "Written feedback messages",
    ):
        assert expected in text, expected
    assert "7" in text and "3" in text
    assert "AAMARK-session" not in text  # session notes stay in the file, not in the summary
    assert "BBMARK" not in text and "AAMARK-my-message" not in text


def test_treatment_summary_is_audited_as_an_export(world, filled, client_for):
    client_for(world.therapist.user).get(
        reverse("patients:staff_treatment_summary", kwargs={"pk": world.patient_a.pk})
    )
    event = AuditEvent.objects.get(object_type="treatment_summary")
    assert (event.action, event.patient_id, event.outcome) == ("export", world.patient_a.pk, "ok")


def test_treatment_summary_refused_for_colleagues_and_managers(world, filled, client_for):
    url = reverse("patients:staff_treatment_summary", kwargs={"pk": world.patient_a.pk})
    assert client_for(world.therapist2.user).get(url).status_code == 403
    assert client_for(world.manager.user).get(url).status_code == 403
    assert client_for(world.outsider.user).get(url).status_code == 404
    assert client_for(world.patient_a.user).get(url).status_code == 404
    refused = AuditEvent.objects.filter(object_type="treatment_summary", outcome="denied")
    assert refused.count() == 3


def test_treatment_summary_without_an_enrollment(world, client_for):
    response = client_for(world.therapist.user).get(
        reverse("patients:staff_treatment_summary", kwargs={"pk": world.patient_b.pk})
    )
    assert response.status_code == 200
    assert "not enrolled" in pdf_text(response.content)


def test_treatment_summary_charts_scores_in_treatment_order_on_the_instruments_range(world):
    """Scores typed in end first (48), then start (50): the chart reads start 50, end 48, as
    the table beside it does, and its axis runs over the whole CIS range."""
    from icbt.charts import _ticks
    from patients.reports import treatment_summary

    enrollment = enroll(world.patient_a, start_days_ago=60)
    typed = timezone.now() - timedelta(days=1)
    for minutes, moment, total in ((0, "end", 48), (5, "start", 50)):
        QuestionnaireResponse.objects.create(
            clinic_id=enrollment.clinic_id,
            enrollment=enrollment,
            code="cis_fatigue",
            moment=moment,
            total=total,
            band="severe",
            entered_by=world.therapist.user,
            completed_at=typed + timedelta(minutes=minutes),
        )
    settle()
    row = next(r for r in treatment_summary(patient=world.patient_a)["scores"] if r["code"] == "cis_fatigue")
    assert (row["start"].total, row["end"].total) == (50, 48)
    chart = row["chart"]
    assert chart.series[0].values == [50.0, 48.0]
    assert chart.x_labels[0].startswith("Start") and chart.x_labels[1].startswith("End")
    assert "50; " in chart.description and chart.description.index("50") < chart.description.index("48")
    assert (chart.y_min, chart.y_max) == (8.0, 56.0)
    assert _ticks(8.0, 56.0) == [8.0, 20.0, 30.0, 40.0, 50.0, 56.0]
    assert _ticks(0.0, 10.0) == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    # Each point's title names its moment, left to right: start then end.
    titles = re.findall(r"<title>([^<]*): Score (\d+)</title>", str(chart.svg))
    assert [(label.split()[0], score) for label, score in titles] == [("Start", "50"), ("End", "48")]


def test_patient_score_chart_orders_by_moment(world):
    from patients.charts import questionnaire_charts

    enrollment = enroll(world.patient_a, start_days_ago=60)
    end = QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        code="phq9",
        moment="end",
        total=3,
        band="minimal",
    )
    start = QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        code="phq9",
        moment="start",
        total=12,
        band="moderate",
    )
    settle()
    (chart,) = questionnaire_charts([end, start])
    assert chart["chart"].series[0].values == [12.0, 3.0]
    assert chart["responses"] == [start, end]
