"""The client address travels with the request being served, not through the services; the
audit idiom for staff lists refuses a page that forgot its event."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.urls import reverse

from icbt.audit import Action, audit_context, audit_record, current_client_ip
from icbt.models import AuditEvent
from patients.access import audited


def test_a_service_records_the_address_of_the_request_it_serves(world, client):
    client.force_login(world.therapist.user)
    response = client.post(
        reverse("patients:staff_patient_invite"),
        {"first_name": "Nina", "last_name": "Vos", "email": "nina@example.test", "language": "en"},
        REMOTE_ADDR="203.0.113.77",
    )
    assert response.status_code == 302
    created = AuditEvent.objects.get(action=Action.CREATE, object_type="patient")
    assert created.client_ip == "203.0.113.77"


def test_outside_a_request_there_is_no_address(world, client):
    client.force_login(world.therapist.user)
    client.get(reverse("patients:staff_patient_list"), REMOTE_ADDR="203.0.113.78")
    assert current_client_ip() is None  # reset after the response
    event = audit_record(user=world.therapist.user, action=Action.VIEW, object_type="patient")
    assert event.client_ip is None


def test_refusals_wait_for_the_end_of_the_request(world, rf):
    with audit_context(rf.get("/", REMOTE_ADDR="198.51.100.9")):
        queued = audit_record(
            user=world.therapist2.user, action=Action.VIEW, outcome=AuditEvent.Outcome.DENIED
        )
        assert queued is None
        assert not AuditEvent.objects.exists()
    refusal = AuditEvent.objects.get()
    assert (refusal.outcome, refusal.client_ip) == (AuditEvent.Outcome.DENIED, "198.51.100.9")


def test_an_audited_page_without_its_event_is_an_error(world, rf):
    @audited("patient_list", "therapist")
    def forgetful(request):
        return HttpResponse("a list of patients")

    request = rf.get("/")
    request.user = world.therapist.user
    with pytest.raises(ImproperlyConfigured):
        forgetful(request)
