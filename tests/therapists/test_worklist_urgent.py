"""Safety signals on the worklist: an open urgent item (a self-harm answer) shows under every
filter, order and page, for the viewer's own patients and for the patients shared with them."""

import pytest
from django.urls import reverse
from django.utils import timezone

from icbt.models import AuditEvent
from patients.models import QuestionnaireResponse
from tests.messaging.helpers import diary_entry, enroll, share, submitted_answer
from tests.therapists.test_worklist_flat import _urgent
from therapists.worklist import worklist


@pytest.fixture
def urgent_world(clock, world):
    weekday = timezone.localdate().weekday()
    urgent_enrollment = enroll(world.patient_a, start_days_ago=3, weekday=weekday)
    _urgent(urgent_enrollment)
    submitted_answer(urgent_enrollment)
    other = enroll(world.patient_b, start_days_ago=3, weekday=weekday)
    submitted_answer(other)
    diary_entry(other)
    return world


@pytest.mark.parametrize(
    "query",
    [
        {"kind": "answer"},
        {"kind": "diary"},
        {"kind": "feedback"},
        {"kind": "intake_request"},
        {"kind": "message", "order": "newest"},
        {"patient": "other"},
        {"page": "2"},
    ],
)
def test_the_urgent_item_shows_under_every_filter(clock, urgent_world, client_for, query):
    world = urgent_world
    query = dict(query)
    if query.get("patient") == "other":
        query["patient"] = str(world.patient_b.pk)
    page = client_for(world.therapist.user).get(reverse("therapists:worklist"), query)
    assert page.status_code == 200
    urgent = page.context["worklist"].urgent
    assert [(item.kind, item.patient_id) for item in urgent] == [("questionnaire", world.patient_a.pk)]
    html = page.content.decode()
    assert 'id="worklist-urgent-title"' in html
    assert "Urgent: 1 item" in html
    assert "item 9 answered above 0" in html
    assert urgent[0].url in html
    if "kind" in query or "patient" in query:
        assert "1 of them is not in the list you chose below." in html
    # The patient of the urgent line is in the page's access log.
    searched = AuditEvent.objects.filter(object_type="worklist", action=AuditEvent.Action.SEARCH)
    assert world.patient_a.pk in set(searched.values_list("patient_id", flat=True))


def test_a_covering_colleague_sees_the_shared_patients_urgent_item_and_others_do_not(
    clock, urgent_world, client_for
):
    world = urgent_world
    assert worklist(fetched_by=world.therapist2.user, kind="answer").urgent == []
    share(world)  # patient_a shared with therapist2
    urgent = worklist(fetched_by=world.therapist2.user, kind="answer").urgent
    assert [(item.kind, item.patient_id) for item in urgent] == [("questionnaire", world.patient_a.pk)]
    assert worklist(fetched_by=world.outsider.user).urgent == []


def test_a_reviewed_urgent_item_leaves_the_urgent_section(clock, urgent_world):
    world = urgent_world
    QuestionnaireResponse.objects.filter(urgent=True).update(reviewed_at=timezone.now())
    from patients import work_items

    for enrollment in world.patient_a.enrollments.all():
        work_items.refresh(enrollment=enrollment, kinds=work_items.REVIEW_KINDS)
    assert worklist(fetched_by=world.therapist.user, kind="answer").urgent == []
