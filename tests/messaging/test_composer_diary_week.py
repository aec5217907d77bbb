"""A diary week from the worklist: the whole week is attached, and every day reads in full
with its own "comment on this day"."""

from datetime import timedelta

import pytest
from django.urls import reverse

from messaging.models import Message
from patients.models import DiaryEntry
from tests.messaging.composer_week import MONDAY_49, diary_day
from tests.messaging.helpers import enroll
from tests.work import settle
from therapists.worklist import worklist


@pytest.mark.every_weekday
def test_a_diary_week_from_the_worklist_attaches_every_day_of_that_week(world, client_for):
    enrollment = enroll(world.patient_a, start_days_ago=60)
    earlier = diary_day(enrollment, MONDAY_49 - timedelta(days=3))  # week 48: its own row
    week = [diary_day(enrollment, MONDAY_49 + timedelta(days=n)) for n in range(7)]
    week[2].reviewed_at = week[2].created_at  # reviewed already: not waiting, not attached
    week[2].save(update_fields=["reviewed_at"])
    settle()
    waiting = [e for e in week if e.reviewed_at is None]

    rows = [i for i in worklist(fetched_by=world.therapist.user).items if i.kind == "diary"]
    row = next(i for i in rows if "Week 49" in i.label)
    assert row.count == 6 and len(rows) == 2

    client = client_for(world.therapist.user)
    page = client.get(row.url).content.decode()
    for entry in waiting:
        assert f'value="diary:{entry.pk}" id="attach-diary{entry.pk}" checked' in page
    assert f'value="diary:{earlier.pk}" id="attach-diary{earlier.pk}">' in page  # shown, not ticked
    assert f'value="diary:{week[2].pk}"' not in page  # reviewed before: not new work
    assert page.count("Comment on this day") == 7
    assert "table-scroll" not in page  # no box that scrolls inside the work panel

    composer = reverse("messaging:staff_conversation", args=[world.patient_a.pk])
    client.post(
        composer,
        {"body": "A good week of walks.", "send": "feedback", "attach": [f"diary:{e.pk}" for e in waiting]},
    )
    feedback = Message.objects.get(conversation__enrollment=enrollment, is_feedback=True)
    assert {link.diary_entry_id for link in feedback.links.all()} == {e.pk for e in waiting}
    assert not DiaryEntry.objects.filter(pk__in=[e.pk for e in waiting], reviewed_at__isnull=True).exists()
    assert [i.label for i in worklist(fetched_by=world.therapist.user).items if i.kind == "diary"] == [
        rows[0].label if rows[0] is not row else rows[1].label
    ]


def test_a_week_of_another_patient_attaches_nothing(world, client_for):
    mine = enroll(world.patient_a, start_days_ago=60)
    theirs = enroll(world.patient_b, start_days_ago=60)
    other = diary_day(theirs, MONDAY_49)
    diary_day(mine, MONDAY_49 + timedelta(days=1))
    composer = reverse("messaging:staff_conversation", args=[world.patient_a.pk])
    page = client_for(world.therapist.user).get(f"{composer}?attach=week:{other.pk}").content.decode()
    assert " checked" not in page.split('id="composer"')[0]
    assert f"diary:{other.pk}" not in page


def test_each_day_reads_in_full(world, client_for):
    enrollment = enroll(world.patient_a, start_days_ago=60)
    entry = diary_day(enrollment, MONDAY_49, minutes=60)
    composer = reverse("messaging:staff_conversation", args=[world.patient_a.pk])
    page = client_for(world.therapist.user).get(f"{composer}?attach=diary:{entry.pk}").content.decode()
    day = page.split(f'id="item-diary{entry.pk}"')[1].split("</article>")[0]
    assert "Monday 30 Nov" in day
    assert "<dd>60</dd>" in day or "<dd>60 minutes</dd>" in day
    assert f"Walked with the dog on {MONDAY_49.isoformat()}" in day
