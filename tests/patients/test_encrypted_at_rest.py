"""Identifying and health data is ciphertext in the database: the intake request's name, e-mail
and phone; questionnaire item answers, band and flags (PHQ-9 item 9 included); diary values;
timeline details; stepped-care advice; feedback template titles and texts; the answers of an
unsent questionnaire. A raw dump of every
table holds none of the markers, and every such column holds tokens. What must be queried stays
in small derived columns (the questionnaire's ``urgent`` and ``flagged``)."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from icbt import crypto
from messaging.models import FeedbackTemplate
from patients import services
from patients.models import (
    DiaryEntry,
    IntakeRequest,
    QuestionnaireDraft,
    QuestionnaireResponse,
    SteppedCareDecision,
    TimelineEvent,
)
from programs.models import DiaryType
from tests.messaging.helpers import enroll, tiny_version
from tests.work import settle

pytestmark = pytest.mark.django_db

MARKERS = {
    "name": "Xq9Name-Vlinder",
    "email": "xq9mail-vlinder@example.org",
    "phone": "0612398771",
    "diary": "Xq9Diary-choice",
    "template title": "Xq9Title-Vlinder",
    "template body": "Xq9Body-Vlinder",
    "advice": "Xq9Advice-Vlinder",
}
# Words that only the encrypted columns could hold.
HEALTH_WORDS = ["self_harm", "possible_depression", "moderately_severe"]
ENCRYPTED_COLUMNS = [
    (IntakeRequest, ["name", "email", "phone"]),
    (QuestionnaireResponse, ["answers", "band", "flags"]),
    (QuestionnaireDraft, ["answers"]),
    (DiaryEntry, ["values"]),
    (TimelineEvent, ["detail"]),
    (SteppedCareDecision, ["advice"]),
    (FeedbackTemplate, ["title", "body"]),
]


def _write_everything(world):
    program = tiny_version().program
    services.intake_request_create(
        clinic=world.clinic,
        program=program,
        name=MARKERS["name"],
        email=MARKERS["email"],
        phone=MARKERS["phone"],
    )
    enrollment = enroll(world.patient_a)
    answers = {str(n): "2" for n in range(1, 9)} | {"9": "3"}  # 19: moderately severe, item 9 > 0
    response = services.questionnaire_submit(
        enrollment=enrollment, code="phq9", moment="start", answers=answers
    )
    services.questionnaire_draft_save(
        enrollment=enrollment, code="phq9", moment="end", answers={"1": "2", "9": "3"}
    )
    diary_type = DiaryType.objects.get(version=enrollment.version, slug="mood")
    DiaryEntry.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        diary_type=diary_type,
        entry_date=timezone.localdate() - dt.timedelta(days=1),
        values={"mood": 3, "label": MARKERS["diary"]},
    )
    settle()
    SteppedCareDecision.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        advice={"advice": "step_up", "note": MARKERS["advice"]},
        decision="step_up",
        reason="because",
        decided_by=world.therapist,
    )
    FeedbackTemplate.objects.create(
        clinic=world.clinic,
        owner=world.therapist,
        title=MARKERS["template title"],
        body=MARKERS["template body"],
    )
    return response


def _dump() -> str:
    """Every row of every table, as the database returns it."""
    seen = []
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names()):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 (names from the db)
            seen.append(repr(cursor.fetchall()))
    return "\n".join(seen)


def test_a_raw_dump_holds_none_of_it(world):
    response = _write_everything(world)
    # It did get in, and reads back: the checks below are not vacuous.
    stored = QuestionnaireResponse.objects.get(pk=response.pk)
    assert stored.answers == [2, 2, 2, 2, 2, 2, 2, 2, 3]
    assert stored.band == "moderately_severe" and "self_harm" in stored.flags
    assert stored.urgent and stored.flagged
    assert IntakeRequest.objects.get().email == MARKERS["email"]
    assert DiaryEntry.objects.get().values["label"] == MARKERS["diary"]
    assert FeedbackTemplate.objects.get().title == MARKERS["template title"]
    event = TimelineEvent.objects.get(kind=TimelineEvent.Kind.QUESTIONNAIRE)
    assert "self_harm" in event.detail["flags"]
    assert QuestionnaireDraft.objects.get().answers == {"1": 2, "9": 3}

    dump = _dump()
    for label, marker in MARKERS.items():
        assert marker not in dump, label
        assert marker.lower() not in dump.lower(), label
    for word in HEALTH_WORDS:
        assert word not in dump, word


def test_every_encrypted_column_holds_tokens(world):
    _write_everything(world)
    prefix = f"{crypto.TOKEN_PREFIX}:"
    for model, fields in ENCRYPTED_COLUMNS:
        columns = ", ".join(connection.ops.quote_name(model._meta.get_field(f).column) for f in fields)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {columns} FROM {connection.ops.quote_name(model._meta.db_table)}")  # noqa: S608
            rows = cursor.fetchall()
        assert rows, model
        for row in rows:
            for name, value in zip(fields, row, strict=True):
                assert value == "" or str(value).startswith(prefix), (model.__name__, name, value)


def test_the_urgent_path_reads_the_derived_column_only(world):
    response = _write_everything(world)
    urgent = QuestionnaireResponse.objects.filter(urgent=True).values_list("pk", flat=True)
    assert list(urgent) == [response.pk]
    calm = services.questionnaire_submit(
        enrollment=response.enrollment,
        code="phq9",
        moment="end",
        answers={str(n): "0" for n in range(1, 10)},
    )
    assert not calm.urgent and not calm.flagged
