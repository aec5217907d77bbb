"""Covering: the treating therapist shares a patient with a colleague of the team until a date."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from icbt.models import AuditEvent
from messaging.models import Message
from patients import services as patient_services
from patients.access import patient_for_staff
from patients.models import CareShare, TimelineEvent
from tests.factories import make_staff
from tests.messaging.helpers import diary_entry, share


def staff_url(world):
    return reverse("messaging:staff_conversation", args=[world.patient_a.pk])


def test_share_through_the_page_writes_the_timeline_and_the_audit(world, enrollment, client_for):
    until = timezone.localdate() + timedelta(days=10)
    response = client_for(world.therapist.user).post(
        reverse("messaging:sharing", args=[world.patient_a.pk]),
        {"colleague": world.therapist2.pk, "until": until.isoformat()},
    )
    assert response.status_code == 302
    shared = CareShare.objects.get()
    assert (shared.colleague, shared.shared_by, shared.until) == (world.therapist2, world.therapist, until)
    event = TimelineEvent.objects.get(patient=world.patient_a, kind=TimelineEvent.Kind.SHARED)
    assert event.detail == {"share": shared.pk, "colleague": world.therapist2.pk, "until": until.isoformat()}
    assert event.enrollment == enrollment and event.actor == world.therapist.user
    assert AuditEvent.objects.filter(
        object_type="care_share", action="create", object_id=str(shared.pk)
    ).exists()

    # Sharing again with the same colleague moves the date instead of adding a share.
    patient_services.share_create(
        patient=world.patient_a,
        shared_by=world.therapist,
        colleague=world.therapist2,
        until=until + timedelta(days=3),
    )
    assert CareShare.objects.get().until == until + timedelta(days=3)


def test_colleague_covers_until_the_date_and_is_audited_on_behalf(world, enrollment, client_for):
    entry = diary_entry(enrollment)
    colleague = client_for(world.therapist2.user)
    assert colleague.get(staff_url(world)).status_code == 403

    share(world, until_days=0)  # through today, inclusive
    response = colleague.get(staff_url(world))
    assert response.status_code == 200
    assert "You are covering for Alice Person" in response.content.decode()
    view = AuditEvent.objects.filter(
        user=world.therapist2.user, outcome="ok", object_type="conversation"
    ).get()
    assert view.on_behalf_of == world.therapist.user and view.patient_id == world.patient_a.pk

    response = colleague.post(
        staff_url(world),
        {"body": "Alice is away; I read your diary.", "attach": [f"diary:{entry.pk}"], "send": "feedback"},
    )
    assert response.status_code == 302
    message = Message.objects.get()
    assert message.author == world.therapist2.user and message.on_behalf_of == world.therapist.user
    created = AuditEvent.objects.get(object_type="feedback", object_id=str(message.pk))
    assert created.user == world.therapist2.user and created.on_behalf_of == world.therapist.user
    entry.refresh_from_db()
    assert entry.reviewed_by == world.therapist2.user

    # The patient sees who answers them.
    page = client_for(world.patient_a.user).get(reverse("messaging:patient_conversation")).content.decode()
    assert "<strong>Tom Person</strong> covers for your therapist" in page
    assert "covering for Alice Person" in page


def test_the_treating_therapist_is_audited_without_on_behalf(world, enrollment, client_for):
    share(world)
    client_for(world.therapist.user).get(staff_url(world))
    event = AuditEvent.objects.get(user=world.therapist.user, object_type="conversation")
    assert event.on_behalf_of is None


@pytest.mark.parametrize("how", ["expired", "ended"])
def test_after_the_share_the_colleague_is_refused_again(world, enrollment, client_for, how):
    if how == "expired":
        share(world, until_days=-1)
    else:
        shared = share(world)
        patient_services.share_end(share=shared, ended_by=world.therapist)
    assert client_for(world.therapist2.user).get(staff_url(world)).status_code == 403
    assert (
        client_for(world.therapist2.user)
        .get(reverse("messaging:notes", args=[world.patient_a.pk]))
        .status_code
        == 403
    )
    refused = AuditEvent.objects.get(user=world.therapist2.user, object_type="conversation")
    assert refused.outcome == "denied" and refused.on_behalf_of is None


def test_share_end_through_the_pages(world, enrollment, client_for):
    shared = share(world)
    url = reverse("messaging:share_end", args=[world.patient_a.pk, shared.pk])
    # The colleague may hand the patient back early.
    assert client_for(world.therapist2.user).post(url).status_code == 302
    shared.refresh_from_db()
    assert shared.ended_at is not None
    shared_events = TimelineEvent.objects.filter(kind=TimelineEvent.Kind.SHARED)
    assert len([e for e in shared_events if e.detail.get("ended")]) == 1
    assert (
        "No colleague has shared"
        in client_for(world.therapist2.user).get(reverse("messaging:covering")).content.decode()
    )


def test_covering_list_links_to_the_patients(world, enrollment, client_for):
    share(world)
    page = client_for(world.therapist2.user).get(reverse("messaging:covering")).content.decode()
    assert staff_url(world) in page and "Alice Person" in page
    assert AuditEvent.objects.filter(user=world.therapist2.user, object_type="covered_patient_list").exists()


def test_only_the_treating_therapist_shares_and_only_within_the_team(world, enrollment):
    until = timezone.localdate() + timedelta(days=5)
    with pytest.raises(PermissionDenied):
        patient_services.share_create(
            patient=world.patient_a, shared_by=world.therapist2, colleague=world.therapist, until=until
        )
    stranger = make_staff(world.clinic, "nina@alpha.test", therapist=True, first_name="Nina")  # no team
    with pytest.raises(ValidationError, match="own team"):
        patient_services.share_create(
            patient=world.patient_a, shared_by=world.therapist, colleague=stranger, until=until
        )
    with pytest.raises(ValidationError, match="own team"):
        patient_services.share_create(
            patient=world.patient_a, shared_by=world.therapist, colleague=world.outsider, until=until
        )
    with pytest.raises(ValidationError, match="own team"):
        patient_services.share_create(
            patient=world.patient_a, shared_by=world.therapist, colleague=world.manager, until=until
        )
    with pytest.raises(ValidationError, match="later date"):
        patient_services.share_create(
            patient=world.patient_a,
            shared_by=world.therapist,
            colleague=world.therapist2,
            until=timezone.localdate() - timedelta(days=1),
        )
    with pytest.raises(ValidationError, match="at most"):
        patient_services.share_create(
            patient=world.patient_a,
            shared_by=world.therapist,
            colleague=world.therapist2,
            until=timezone.localdate() + timedelta(days=400),
        )
    assert not CareShare.objects.exists()


def test_a_share_that_names_someone_outside_the_clinic_gives_nothing(world, enrollment, rf):
    CareShare.objects.create(
        patient=world.patient_a,
        colleague=world.outsider,
        shared_by=world.therapist,
        until=timezone.localdate() + timedelta(days=3),
    )
    request = rf.get("/")
    request.user = world.outsider.user
    with pytest.raises(Exception) as refused:
        patient_for_staff(request, world.patient_a.pk)
    assert refused.typename == "Http404"


def test_the_covering_colleague_cannot_pass_the_patient_on(world, enrollment, client_for):
    share(world)
    assert (
        client_for(world.therapist2.user)
        .get(reverse("messaging:sharing", args=[world.patient_a.pk]))
        .status_code
        == 403
    )


def test_only_the_treating_therapist_is_offered_the_sharing_page(clock, world, enrollment, client_for):
    """The covering colleague's composer does not link to a page that refuses them."""
    share(world)
    sharing = reverse("messaging:sharing", args=[world.patient_a.pk])
    assert sharing in client_for(world.therapist.user).get(staff_url(world)).content.decode()
    covering = client_for(world.therapist2.user).get(staff_url(world))
    assert covering.status_code == 200 and sharing not in covering.content.decode()


def test_the_refused_sharing_page_records_only_the_refusal(world, enrollment, client_for):
    """The covering colleague may open the patient's other pages, but not the sharing page: the
    trail must not say they were shown it."""
    share(world)
    client_for(world.therapist2.user).get(reverse("messaging:sharing", args=[world.patient_a.pk]))
    events = AuditEvent.objects.filter(user=world.therapist2.user, object_type="care_share")
    assert [(e.outcome, e.patient_id) for e in events] == [(AuditEvent.Outcome.DENIED, world.patient_a.pk)]


@pytest.mark.parametrize("until", ["1-12-2026", "31-02-2027", "next friday"])
def test_a_refused_share_form_records_a_view_not_a_change(clock, world, enrollment, client_for, until):
    url = reverse("messaging:sharing", args=[world.patient_a.pk])
    response = client_for(world.therapist.user).post(url, {"colleague": world.therapist2.pk, "until": until})
    assert response.status_code == 200
    assert response.context["form"].errors["until"]
    assert not CareShare.objects.exists()
    events = AuditEvent.objects.filter(object_type="care_share", user=world.therapist.user)
    assert [(e.action, e.outcome) for e in events] == [("view", "ok")]


def test_a_share_made_is_one_event(clock, world, enrollment, client_for):
    until = timezone.localdate() + timedelta(days=10)
    response = client_for(world.therapist.user).post(
        reverse("messaging:sharing", args=[world.patient_a.pk]),
        {"colleague": world.therapist2.pk, "until": until.isoformat()},
    )
    assert response.status_code == 302
    events = AuditEvent.objects.filter(object_type="care_share", user=world.therapist.user)
    assert [e.action for e in events] == ["create"]
