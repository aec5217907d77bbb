"""The self-harm answer in the message composer: labelled as urgent (not as a routine flag),
listed first, and marked reviewed only with a record of the contact."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from icbt.models import AuditEvent
from messaging import services
from messaging.models import MessageDraft
from patients import services as patient_services
from patients.models import QuestionnaireResponse, TimelineEvent
from tests.messaging.helpers import share
from tests.work import settle

URGENT = "Urgent: self-harm item answered"


def composer(world, attach=""):
    url = reverse("messaging:staff_conversation", args=[world.patient_a.pk])
    return f"{url}?attach={attach}" if attach else url


def _phq9(enrollment, item9: int, *, days_ago: int = 0) -> QuestionnaireResponse:
    answers = {str(n): "2" for n in range(1, 9)} | {"9": str(item9)}
    response = patient_services.questionnaire_submit(
        enrollment=enrollment, code="phq9", moment="start", answers=answers
    )
    QuestionnaireResponse.objects.filter(pk=response.pk).update(
        completed_at=timezone.now() - timedelta(days=days_ago)
    )
    settle()
    return response


def _flagged(enrollment, *, days_ago: int) -> QuestionnaireResponse:
    """A routine flag (a high GAD-7), no self-harm answer."""
    response = QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        code="gad7",
        moment="module",
        total=18,
        flags=["possible_anxiety"],
        completed_at=timezone.now() - timedelta(days=days_ago),
    )
    settle()
    return response


@pytest.fixture
def urgent(clock, world, enrollment):
    """A routine flagged GAD-7 from long ago, the urgent PHQ-9 after it, a newer routine one."""
    _flagged(enrollment, days_ago=6)
    response = _phq9(enrollment, 2, days_ago=3)
    _flagged(enrollment, days_ago=1)
    return response


def _questionnaire_items(html: str) -> list[str]:
    section = html[html.index("<h3>Questionnaires</h3>") :]
    section = section[: section.index("</ul>")]
    return re.findall(r'<li id="item-(questionnaire\d+)">(.*?)</li>', section, re.S)


def test_the_urgent_questionnaire_is_labelled_urgent_and_listed_first(clock, world, urgent, client_for):
    page = client_for(world.therapist.user).get(composer(world, f"questionnaire:{urgent.pk}"))
    html = page.content.decode()
    items = _questionnaire_items(html)
    assert len(items) == 3
    first_id, first = items[0]
    assert first_id == f"questionnaire{urgent.pk}"
    assert URGENT in first and "needs attention" not in first
    # The routine flags keep their own word, and never the urgent one.
    for _id, rest in items[1:]:
        assert "needs attention" in rest and URGENT not in rest


# --- Marking the self-harm answer reviewed ---------------------------------------------------------


def _review(client, world, item, **data):
    return client.post(reverse("messaging:item_review", args=[world.patient_a.pk]), {"item": item, **data})


def _still_urgent(world, staff=None) -> bool:
    from therapists.worklist import worklist

    return bool(worklist(fetched_by=(staff or world.therapist).user, kind="diary").urgent)


def test_one_click_does_not_clear_the_self_harm_answer(clock, world, urgent, client_for):
    client = client_for(world.therapist.user)
    page = _review(client, world, f"questionnaire:{urgent.pk}", body="Half-written feedback")
    assert page.status_code == 200
    html = page.content.decode()
    assert "The patient was told that their therapist will contact them soon." in html
    assert 'name="method"' in html and 'name="on"' in html and 'name="handed_to"' in html
    urgent.refresh_from_db()
    assert urgent.reviewed_at is None and _still_urgent(world)
    # What was typed in the composer is kept.
    assert MessageDraft.objects.get(author=world.therapist.user).body == "Half-written feedback"


def test_the_confirmation_step_is_audited_as_a_view_and_the_confirmed_review_as_a_review(
    clock, world, urgent, client_for
):
    """The patient's "Who looked at my file" says "reviewed" only once the answer was."""
    client = client_for(world.therapist.user)
    pages = AuditEvent.objects.filter(object_type="review", patient_id=world.patient_a.pk)
    _review(client, world, f"questionnaire:{urgent.pk}")
    _review(client, world, f"questionnaire:{urgent.pk}", confirm="1")  # refused: no contact
    assert list(pages.order_by("id").values_list("action", flat=True)) == [AuditEvent.Action.VIEW] * 2
    today = timezone.localdate().isoformat()
    _review(client, world, f"questionnaire:{urgent.pk}", confirm="1", method="phone", on=today)
    assert pages.order_by("id").last().action == AuditEvent.Action.REVIEW


@pytest.mark.parametrize(
    "data,error",
    [
        ({}, "Choose how you contacted the patient."),
        ({"method": "phone", "on": "2999-01-01"}, "The day of the contact cannot be in the future."),
        ({"method": "handover"}, "Choose the colleague who took it over."),
    ],
)
def test_the_confirmation_needs_a_record_of_the_contact(clock, world, urgent, client_for, data, error):
    client = client_for(world.therapist.user)
    page = _review(client, world, f"questionnaire:{urgent.pk}", confirm="1", **data)
    assert page.status_code == 400
    assert error in page.content.decode()
    urgent.refresh_from_db()
    assert urgent.reviewed_at is None and _still_urgent(world)
    assert not TimelineEvent.objects.filter(kind=TimelineEvent.Kind.URGENT_CONTACT).exists()


def test_the_confirmed_contact_is_recorded_audited_and_shown_on_the_overview(
    clock, world, urgent, client_for
):
    client = client_for(world.therapist.user)
    today = timezone.localdate()
    page = _review(
        client, world, f"questionnaire:{urgent.pk}", confirm="1", method="phone", on=today.isoformat()
    )
    assert page.status_code == 302
    urgent.refresh_from_db()
    assert urgent.reviewed_at is not None and urgent.reviewed_by == world.therapist.user
    assert not _still_urgent(world)
    event = TimelineEvent.objects.get(kind=TimelineEvent.Kind.URGENT_CONTACT)
    assert event.detail["method"] == "phone" and event.detail["on"] == today.isoformat()
    assert event.actor == world.therapist.user
    audit = AuditEvent.objects.get(object_type="questionnaire_response", object_id=str(urgent.pk))
    assert audit.action == AuditEvent.Action.REVIEW and audit.user == world.therapist.user
    html = client.get(reverse("patients:staff_patient_detail", args=[world.patient_a.pk])).content.decode()
    assert 'id="urgent-banner-title"' not in html
    assert "PHQ-9): self-harm answer reviewed, the patient was contacted by phone on" in html


def test_a_handover_names_the_colleague(clock, world, urgent, client_for):
    client = client_for(world.therapist.user)
    page = _review(
        client,
        world,
        f"questionnaire:{urgent.pk}",
        confirm="1",
        method="handover",
        on=timezone.localdate().isoformat(),
        handed_to=str(world.therapist2.pk),
    )
    assert page.status_code == 302
    html = client.get(reverse("patients:staff_patient_detail", args=[world.patient_a.pk])).content.decode()
    assert "self-harm answer reviewed, handed over to Tom" in html


def test_no_handover_to_a_colleague_who_can_no_longer_sign_in(clock, world, urgent, client_for):
    world.therapist2.user.is_active = False
    world.therapist2.user.save(update_fields=["is_active"])
    client = client_for(world.therapist.user)
    offered = _review(client, world, f"questionnaire:{urgent.pk}").content.decode()
    assert f'value="{world.therapist2.pk}"' not in offered
    contact = services.UrgentContact(method="handover", on=timezone.localdate(), handed_to=world.therapist2)
    with pytest.raises(ValidationError):
        services.item_mark_reviewed(
            enrollment=urgent.enrollment,
            item=f"questionnaire:{urgent.pk}",
            reviewed_by=world.therapist.user,
            contact=contact,
        )
    urgent.refresh_from_db()
    assert urgent.reviewed_at is None and _still_urgent(world)


def test_a_second_contact_after_a_colleagues_review_is_recorded_too(clock, world, urgent):
    """Two people called the patient: both calls go on the timeline; the first marks it reviewed."""
    share(world)
    for user, method in ((world.therapist.user, "phone"), (world.therapist2.user, "video")):
        services.item_mark_reviewed(
            enrollment=urgent.enrollment,
            item=f"questionnaire:{urgent.pk}",
            reviewed_by=user,
            contact=services.UrgentContact(method=method, on=timezone.localdate()),
        )
    events = TimelineEvent.objects.filter(kind=TimelineEvent.Kind.URGENT_CONTACT).order_by("pk")
    assert [(e.actor_id, e.detail["method"], e.detail["to"]) for e in events] == [
        (world.therapist.user.pk, "phone", None),
        (world.therapist2.user.pk, "video", None),
    ]
    urgent.refresh_from_db()
    assert urgent.reviewed_by == world.therapist.user


def test_a_routine_questionnaire_keeps_the_one_click_review(clock, world, enrollment, client_for):
    routine = _flagged(enrollment, days_ago=1)
    page = _review(client_for(world.therapist.user), world, f"questionnaire:{routine.pk}")
    assert page.status_code == 302
    routine.refresh_from_db()
    assert routine.reviewed_at is not None


def test_no_other_action_clears_the_self_harm_answer(clock, world, urgent, enrollment):
    # The service itself refuses without a record, for the therapist and a covering colleague.
    share(world)
    for user in (world.therapist.user, world.therapist2.user):
        with pytest.raises(ValidationError) as refused:
            services.item_mark_reviewed(
                enrollment=enrollment, item=f"questionnaire:{urgent.pk}", reviewed_by=user
            )
        assert refused.value.code == "contact_required"
    # Feedback about it is no record of the contact: it stays open.
    conversation = services.conversation_get_or_create(enrollment=enrollment)
    services.feedback_send(
        conversation=conversation,
        author=world.therapist.user,
        body="Thank you for filling this in.",
        items=[f"questionnaire:{urgent.pk}"],
    )
    urgent.refresh_from_db()
    assert urgent.reviewed_at is None and _still_urgent(world) and _still_urgent(world, world.therapist2)
    # Pausing, then ending the treatment leaves it waiting.
    for action, reason in (("pause", ""), ("stop", "Moved away")):
        enrollment.refresh_from_db()
        patient_services.enrollment_status_change(
            enrollment=enrollment, staff=world.therapist, action=action, reason=reason
        )
        settle()
        urgent.refresh_from_db()
        assert urgent.reviewed_at is None and _still_urgent(world)
