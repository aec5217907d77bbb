"""The audit trail in plain words: *Who looked at my file* for the patient and the clinic
admin's audit log name the object and its day ("your diary of 3 Mar"), never codes; the admin
searches by case reference, patient name, staff member, action and dates, in a query count that
does not grow with the page."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from icbt.audit import Action, Outcome
from icbt.models import AuditEvent
from patients.models import DiaryEntry
from tests.patients.patient_helpers import enroll, step_of, tiny_version
from tests.work import settle

pytestmark = pytest.mark.django_db
SEARCH = "therapists:audit_search"
# The user and their roles (the session comes from the cache), the search's own event, the count,
# the page of events, the diary days and the case references: the same for one row or fifty.
AUDIT_LOG_QUERIES = 8


@pytest.fixture
def diary(world):
    """Two diary entries of patient A: 3 March this year and 20 December two years ago."""
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    diary_type = step_of(version, "start-diary").diary_type
    this_year = timezone.localdate().year
    entries = []
    for day in (date(this_year, 3, 3), date(this_year - 2, 12, 20)):
        entry = DiaryEntry(
            clinic_id=enrollment.clinic_id, enrollment=enrollment, diary_type=diary_type, entry_date=day
        )
        entry.save()
        entries.append(entry)
    settle()
    return entries


def _event(
    staff, patient, *, object_type="diary_entry", object_id="", action=Action.VIEW, outcome=Outcome.OK
):
    roles = "+".join(
        r for r, on in (("therapist", staff.is_therapist), ("clinic_admin", staff.is_clinic_admin)) if on
    )
    return AuditEvent.objects.create(
        user=staff.user,
        user_email=staff.user.email,
        role=roles,
        action=action,
        outcome=outcome,
        clinic_id=staff.clinic_id,
        patient_id=patient.pk if patient else None,
        object_type=object_type,
        object_id=str(object_id),
    )


def test_the_patient_reads_which_diary_day_their_therapist_opened(world, diary, client_for):
    recent, old = diary
    _event(world.therapist, world.patient_a, object_id=recent.pk)
    _event(world.therapist, world.patient_a, object_id=old.pk, action=Action.CHANGE)
    html = client_for(world.patient_a.user).get(reverse("patients:access_log")).content.decode()
    assert "Your therapist A. Person opened your diary of 3 Mar." in html
    assert f"Your therapist A. Person changed your diary of 20 Dec {old.entry_date.year}." in html


def test_an_object_that_is_gone_is_named_without_a_day(world, client_for):
    _event(world.therapist, world.patient_a, object_id=987654)
    html = client_for(world.patient_a.user).get(reverse("patients:access_log")).content.decode()
    assert "Your therapist A. Person opened your diary." in html


def test_the_admin_reads_events_in_words_with_case_reference_and_refusals(world, diary, client_for):
    _event(world.therapist, world.patient_a, object_id=diary[0].pk)
    _event(
        world.therapist2,
        world.patient_b,
        object_type="patient",
        object_id=world.patient_b.pk,
        outcome=Outcome.DENIED,
    )
    AuditEvent.objects.create(
        action=Action.LOGIN,
        user=world.manager.user,
        user_email="mary@alpha.test",
        role="manager",
        clinic_id=world.clinic.pk,
    )
    _event(world.therapist, world.patient_b, object_type="worklist", action=Action.SEARCH)
    response = client_for(world.admin.user).get(reverse(SEARCH), {"staff_member": ""})
    html = response.content.decode()
    assert "Therapist A. Person opened the diary of 3 Mar." in html
    assert "Therapist T. Person opened the file." in html
    assert "Manager M. Person: signed in." in html
    assert "Therapist A. Person opened the worklist." in html
    assert "Clinic admin A. Person searched the audit log." in html
    assert world.patient_a.case_reference in html and world.patient_b.case_reference in html
    assert html.count("No, refused") == 1
    for code in ("diary_entry", "clinic_admin", "audit_log", "module_state", ">view<"):
        assert code not in html


def _found(client, **criteria):
    response = client.get(reverse(SEARCH), {"staff_member": "", **criteria})
    assert response.status_code == 200, response.context["form"].errors
    return [(e.user_id, e.patient_id) for e in response.context["events"] if e.object_type != "audit_log"]


def test_the_admin_searches_by_case_reference_name_staff_member_action_and_dates(world, diary, client_for):
    _event(world.therapist, world.patient_a, object_id=diary[0].pk)
    _event(world.therapist, world.patient_b, object_type="patient", object_id=world.patient_b.pk)
    _event(world.therapist2, world.patient_b, object_type="patient", action=Action.CHANGE)
    _event(world.outsider, world.other_patient, object_type="patient")
    admin = client_for(world.admin.user)
    alice, tom = world.therapist.user.pk, world.therapist2.user.pk
    a, b = world.patient_a.pk, world.patient_b.pk

    assert _found(admin, patient=world.patient_a.case_reference.lower()) == [(alice, a)]
    assert _found(admin, patient="anna") == [(alice, a)]
    assert _found(admin, patient="Bob Person") == [(tom, b), (alice, b)]
    assert _found(admin, patient="Olga") == []  # a patient of another clinic
    assert _found(admin, staff_member="tom") == [(tom, b)]
    assert _found(admin, staff_member="Alice Person", patient="bob") == [(alice, b)]
    assert _found(admin, staff_member="alice@alpha") == [(alice, b), (alice, a)]
    assert _found(admin, action="change") == [(tom, b)]
    today = timezone.localdate(AuditEvent.objects.latest("pk").at)
    assert len(_found(admin, date_from=today.isoformat(), date_to=today.isoformat())) == 3
    assert _found(admin, date_to=(today - timedelta(days=1)).isoformat()) == []


def test_the_search_form_speaks_plainly(world, client_for):
    html = client_for(world.admin.user).get(reverse(SEARCH)).content.decode()
    for label in (
        "Patient",
        "Case reference or name",
        "Staff member",
        "Name or e-mail address",
        "What they did",
    ):
        assert label in html
    assert "Patient number" not in html


def _queries(client, criteria):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse(SEARCH), criteria).status_code == 200
    return len(queries)


def test_the_audit_log_page_costs_the_same_queries_for_few_or_many_rows(
    world, diary, client_for, django_assert_num_queries
):
    admin = client_for(world.admin.user)
    criteria = {"patient": "anna", "staff_member": "alice"}
    _event(world.therapist, world.patient_a, object_id=diary[0].pk)
    _event(world.therapist, world.patient_a, object_type="patient")
    _queries(admin, criteria)  # the first page of a session also loads the session's caches
    few = _queries(admin, criteria)
    assert few == AUDIT_LOG_QUERIES
    for entry in diary * 20:
        _event(world.therapist, world.patient_a, object_id=entry.pk)
    with django_assert_num_queries(few):
        response = admin.get(reverse(SEARCH), criteria)
    assert len(response.context["rows"]) == 42
