"""Submitted once: a replayed form (double click, re-sent POST, back and send again) writes its
row once and shows the first submission's result."""

import re
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from icbt.models import FormSubmission
from icbt.submissions import form_submissions_purge
from messaging.models import FeedbackLink, Message, StaffNote
from patients.models import IntakeRequest, TreatmentSession
from tests.messaging.helpers import diary_entry, enroll
from tests.patients import staff_helpers as sh

pytestmark = pytest.mark.django_db

KEY = re.compile(r'<input type="hidden" name="submission_key" value="([0-9a-f-]{36})">')


def key_on(page) -> str:
    found = KEY.findall(page.content.decode())
    assert len(found) == 1, "the form carries exactly one submission key"
    return found[0]


def twice(client, url, data):
    """Render the form, then POST the same data with its key twice (a replay)."""
    key = key_on(client.get(url))
    first = client.post(url, {**data, "submission_key": key})
    second = client.post(url, {**data, "submission_key": key})
    return first, second


def assert_replay(first, second, client):
    assert first.status_code == 302
    assert second.status_code == 302 and second["Location"] == first["Location"]
    page = client.get(second["Location"])
    assert "This was sent already. It was saved once; here it is." in page.content.decode()


def test_patient_message_twice_is_one_message(world, client_for):
    enroll(world.patient_a)
    client = client_for(world.patient_a.user)
    first, second = twice(client, reverse("messaging:patient_conversation"), {"body": "Are you there?"})
    assert [m.body for m in Message.objects.all()] == ["Are you there?"]
    assert_replay(first, second, client)


def test_staff_message_and_feedback_twice_are_one_each(world, client_for):
    enrollment = enroll(world.patient_a)
    entry = diary_entry(enrollment)
    client = client_for(world.therapist.user)
    url = reverse("messaging:staff_conversation", args=[world.patient_a.pk])
    first, second = twice(client, url, {"body": "Well done this week.", "attach": [f"diary:{entry.pk}"]})
    assert [m.body for m in Message.objects.all()] == ["Well done this week."]
    assert FeedbackLink.objects.count() == 1
    assert_replay(first, second, client)
    first, second = twice(client, url, {"body": "A plain message.", "send": "message"})
    assert sorted(m.body for m in Message.objects.all()) == ["A plain message.", "Well done this week."]


def test_staff_note_twice_is_one_note(world, client_for):
    enroll(world.patient_a)
    client = client_for(world.therapist.user)
    first, second = twice(
        client, reverse("messaging:notes", args=[world.patient_a.pk]), {"body": "Ask about sleep."}
    )
    assert StaffNote.objects.count() == 1
    assert_replay(first, second, client)


def test_session_record_twice_is_one_session(world, client_for):
    sh.enroll(world.patient_a)
    client = client_for(world.therapist.user)
    url = reverse("patients:staff_session_create", args=[world.patient_a.pk])
    data = {"held_on": timezone.localdate().isoformat(), "kind": "phone", "minutes": "20", "note": ""}
    first, second = twice(client, url, data)
    assert TreatmentSession.objects.count() == 1
    assert_replay(first, second, client)


def test_public_intake_request_twice_is_one_request(world, client_for):
    version = sh.fatigue_version()
    client = client_for(None)
    url = reverse("patients:public_program", args=[version.program.slug])
    data = {
        "name": "Petra Jansen",
        "email": "petra@home.test",
        "phone": "",
        "clinic": world.clinic.pk,
        "message": "",
        "consent": "on",
        "website": "",
    }
    first, second = twice(client, url, data)
    assert IntakeRequest.objects.count() == 1
    assert first["Location"] == reverse("patients:public_intake_sent", args=[version.program.slug])
    assert_replay(first, second, client)


def test_a_form_with_errors_keeps_its_key_and_can_be_sent_corrected(world, client_for):
    enroll(world.patient_a)
    client = client_for(world.therapist.user)
    url = reverse("messaging:notes", args=[world.patient_a.pk])
    key = key_on(client.get(url))
    refused = client.post(url, {"body": "   ", "submission_key": key})
    assert refused.status_code == 200 and key_on(refused) == key
    assert not FormSubmission.objects.exists()
    assert client.post(url, {"body": "Now with words.", "submission_key": key}).status_code == 302
    assert client.post(url, {"body": "Now with words.", "submission_key": key}).status_code == 302
    assert StaffNote.objects.count() == 1


def test_every_render_has_a_new_key(world, client_for):
    enroll(world.patient_a)
    client = client_for(world.therapist.user)
    url = reverse("messaging:notes", args=[world.patient_a.pk])
    assert key_on(client.get(url)) != key_on(client.get(url))
    client.post(url, {"body": "One.", "submission_key": key_on(client.get(url))})
    client.post(url, {"body": "Two.", "submission_key": key_on(client.get(url))})
    assert StaffNote.objects.count() == 2


def test_another_persons_key_is_no_replay_for_them(world, client_for):
    """A key is only a replay for the person (and the form) that used it first."""
    enroll(world.patient_a)
    key = str(uuid.uuid4())
    url = reverse("messaging:notes", args=[world.patient_a.pk])
    client_for(world.therapist.user).post(url, {"body": "First.", "submission_key": key})
    response = client_for(world.therapist2.user).post(url, {"body": "Second.", "submission_key": key})
    assert response.status_code == 403  # handled as a normal POST: the access check answers
    assert StaffNote.objects.count() == 1


def test_a_replay_writes_nothing_and_skips_the_view(world, client_for, django_assert_max_num_queries):
    enroll(world.patient_a)
    client = client_for(world.therapist.user)
    url = reverse("messaging:notes", args=[world.patient_a.pk])
    key = key_on(client.get(url))
    client.post(url, {"body": "Once.", "submission_key": key})
    with django_assert_max_num_queries(11):
        client.post(url, {"body": "Once.", "submission_key": key})
    assert StaffNote.objects.count() == 1


def test_old_keys_are_purged(world):
    old = FormSubmission.objects.create(key=uuid.uuid4(), owner="anonymous", scope="x", result_url="/")
    FormSubmission.objects.filter(pk=old.pk).update(created_at=timezone.now() - timezone.timedelta(days=8))
    recent = FormSubmission.objects.create(key=uuid.uuid4(), owner="anonymous", scope="x", result_url="/")
    assert form_submissions_purge() == 1
    assert list(FormSubmission.objects.all()) == [recent]


@pytest.mark.parametrize("key", ["", "not-a-key", "x" * 5000, "0" * 36])
def test_a_missing_or_malformed_key_is_handled_as_a_normal_post(world, client_for, key):
    enroll(world.patient_a)
    response = client_for(world.therapist.user).post(
        reverse("messaging:notes", args=[world.patient_a.pk]), {"body": "Fine.", "submission_key": key}
    )
    assert response.status_code == 302
    assert StaffNote.objects.count() == 1 and not FormSubmission.objects.exists()


def test_the_same_key_with_other_text_is_not_dropped(world, client_for):
    """A page kept open after sending and then used for new words: the new words are saved."""
    enroll(world.patient_a)
    client = client_for(world.patient_a.user)
    url = reverse("messaging:patient_conversation")
    key = key_on(client.get(url))
    client.post(url, {"body": "First message.", "submission_key": key})
    client.post(url, {"body": "Something else, later.", "submission_key": key})
    assert sorted(m.body for m in Message.objects.all()) == ["First message.", "Something else, later."]
