"""The clinic admin's audit log as rows in plain words: when (local time), what happened
("Therapist J. de Vries opened the diary of 3 Mar."), which patient (case reference), allowed
or refused, from where. The objects' days and the case references come in one query per kind
for the whole page."""

from dataclasses import dataclass
from datetime import datetime

from icbt.audit_words import event_for_admin
from icbt.models import AuditEvent
from icbt.selectors import audit_event_search
from patients.audit_objects import case_references, day_of, object_days, patients_matching


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    words: str
    case_reference: str
    refused: bool
    client_ip: str


def audit_search(*, fetched_by, clinic_id: int, patient: str = "", **criteria):
    """The search of the audit log, with ``patient`` (a case reference or words of a name)
    resolved to the clinic's patients first: audit rows hold no names."""
    patient_ids = patients_matching(patient, clinic_id=clinic_id) if patient else None
    return audit_event_search(fetched_by=fetched_by, patient_ids=patient_ids, **criteria)


def audit_rows(events, *, clinic_id: int) -> list[AuditRow]:
    events = list(events)
    days = object_days(events, clinic_id=clinic_id)
    references = case_references((event.patient_id for event in events), clinic_id=clinic_id)
    return [
        AuditRow(
            at=event.at,
            words=event_for_admin(event, day=day_of(days, event)),
            case_reference=references.get(event.patient_id, ""),
            refused=event.outcome == AuditEvent.Outcome.DENIED,
            client_ip=event.client_ip or "",
        )
        for event in events
    ]
