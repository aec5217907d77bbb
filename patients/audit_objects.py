"""What audit rows point at, looked up for a whole page of rows at once: the day of a diary
entry, questionnaire, assignment or appointment ("your diary of 3 Mar"), and the case reference
of each patient. One query per kind of object on the page, however many rows it has."""

from collections.abc import Iterable
from datetime import date

from django.db.models import F, Q
from django.db.models.functions import TruncDate

from patients.models import AssignmentAnswer, DiaryEntry, Patient, QuestionnaireResponse, TreatmentSession

# object_type -> (model, the expression of its day)
DAYS = {
    "diary_entry": (DiaryEntry, F("entry_date")),
    "treatment_session": (TreatmentSession, F("held_on")),
    "questionnaire_response": (QuestionnaireResponse, TruncDate("completed_at")),
    "assignment_answer": (AssignmentAnswer, TruncDate("submitted_at")),
}


def object_days(events: Iterable, *, clinic_id: int) -> dict[tuple[str, str], date]:
    """``{(object_type, object_id): day}`` for the events whose object has a day of its own."""
    wanted: dict[str, set[int]] = {}
    for event in events:
        if event.object_type in DAYS and str(event.object_id).isdigit():
            wanted.setdefault(event.object_type, set()).add(int(event.object_id))
    days = {}
    for object_type, ids in wanted.items():
        model, day = DAYS[object_type]
        rows = model.objects.filter(clinic_id=clinic_id, pk__in=ids).annotate(day=day)
        days.update({(object_type, str(pk)): value for pk, value in rows.values_list("pk", "day") if value})
    return days


def day_of(days: dict[tuple[str, str], date], event) -> date | None:
    return days.get((event.object_type, str(event.object_id)))


def case_references(patient_ids: Iterable[int | None], *, clinic_id: int) -> dict[int, str]:
    ids = {pk for pk in patient_ids if pk is not None}
    if not ids:
        return {}
    return dict(Patient.objects.filter(clinic_id=clinic_id, pk__in=ids).values_list("pk", "case_reference"))


def patients_matching(text: str, *, clinic_id: int):
    """The clinic's patients whose case reference is ``text`` or whose name holds every word of
    it, as a subquery of ids (names are not stored in audit rows)."""
    words = text.split()
    by_name = Patient.objects.filter(clinic_id=clinic_id)
    for word in words:
        by_name = by_name.filter(Q(user__first_name__icontains=word) | Q(user__last_name__icontains=word))
    by_reference = Patient.objects.filter(clinic_id=clinic_id, case_reference__iexact=text.strip())
    return (by_name | by_reference).values("pk")
