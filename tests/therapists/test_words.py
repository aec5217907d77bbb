"""Words a therapist reads: counts in the singular when there is one, one date style, fields
that are required never marked "optional"."""

import re
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.html import strip_tags

from messaging.models import Conversation, Message
from tests.messaging.composer_week import MONDAY_49, diary_day
from tests.messaging.helpers import enroll
from tests.patients.staff_helpers import referral
from tests.work import settle
from therapists import worklist as worklist_module
from therapists.worklist import worklist

# Dates as Django writes them by default, which must not appear beside ours.
FOREIGN_DATES = re.compile(
    r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2}, \d{4}|\b\d{1,2}/\d{1,2}/\d{4}"
)


def test_one_date_style_per_language():
    day = date(2026, 11, 30)
    assert date_format(day) == "30 Nov 2026"
    assert date_format(day, "SHORT_DATE_FORMAT") == "30 Nov 2026"
    with translation.override("nl"):
        assert date_format(day) == "30 nov 2026"
        assert date_format(day, "SHORT_DATE_FORMAT") == "30 nov 2026"


def test_counts_of_one_are_singular():
    with translation.override("en"):
        assert str(worklist_module._diary_week_text(49, 2026, 1)) == "Week 49 of 2026: 1 entry"
        assert str(worklist_module._diary_week_text(49, 2026, 14)) == "Week 49 of 2026: 14 entries"
        assert str(worklist_module._messages_text(1)) == "1 message waiting for an answer"
        assert str(worklist_module._messages_text(2)) == "2 messages waiting for an answer"
        assert str(worklist_module._quiet_text(1)) == "No activity for 1 day"
        assert (
            str(worklist_module._feedback_due_text(date(2026, 11, 30))) == "Feedback was due on 30 Nov 2026"
        )


@pytest.mark.every_weekday
def test_the_worklist_and_the_composer_write_dates_one_way(world, client_for):
    enrollment = enroll(world.patient_a, start_days_ago=40)
    entry = diary_day(enrollment, MONDAY_49)
    conversation, _ = Conversation.objects.get_or_create(enrollment=enrollment)
    Message(
        clinic_id=conversation.enrollment.clinic_id,
        conversation=conversation,
        author=world.patient_a.user,
        body="Hello",
        created_at=timezone.now() - timedelta(hours=3),
    ).save()
    settle()
    rows = worklist(fetched_by=world.therapist.user)
    assert any(i.label == "Week 49 of 2026: 1 entry" for i in rows.items)
    client = client_for(world.therapist.user)
    for url in (
        reverse("therapists:worklist"),
        reverse("messaging:staff_conversation", args=[world.patient_a.pk]) + f"?attach=week:{entry.pk}",
    ):
        text = " ".join(strip_tags(client.get(url).content.decode()).split())
        assert not FOREIGN_DATES.search(text), FOREIGN_DATES.search(text).group(0)
    assert "30 Nov 2026" in text  # the diary day, in the composer
    assert "1 entries" not in text and "1 entry, 30 Nov 2026" in text


def test_a_required_reason_is_never_marked_optional(world, client_for):
    enrollment = enroll(world.patient_a)
    client = client_for(world.therapist.user)
    url = reverse("patients:staff_enrollment_status", args=[world.patient_a.pk, enrollment.pk])
    stop = " ".join(strip_tags(client.get(url, {"action": "stop"}).content.decode()).split())
    assert "Reason" in stop and "Reason (optional)" not in stop
    pause = " ".join(strip_tags(client.get(url, {"action": "pause"}).content.decode()).split())
    assert "Reason (optional)" in pause  # there it is optional
    response = client.post(url, {"action": "stop", "reason": " "})
    assert "Give the reason." in response.content.decode()

    item = referral(world)
    page = client_for(world.therapist2.user).get(reverse("patients:staff_referral_detail", args=[item.pk]))
    text = " ".join(strip_tags(page.content.decode()).split())
    assert "Reason" in text and "Reason (optional)" not in text


def test_date_fields_show_and_read_the_one_date_style():
    from icbt.dates import DayField

    field = DayField()
    day = date(2026, 11, 30)
    for typed in (
        "30 Nov 2026",
        "30 november 2026",
        "30-11-2026",
        "30/11/2026",
        "2026-11-30",
        " 30 nov. 2026 ",
    ):
        assert field.clean(typed) == day, typed
    with translation.override("nl"):
        assert field.clean("3 mrt. 2026") == date(2026, 3, 3)
        assert field.clean("30 nov 2026") == day
        assert field.widget.format_value(day) == "30 nov 2026"
    assert field.widget.format_value(day) == "30 Nov 2026"
    try:
        field.clean("31 Feb 2026")
    except Exception as exc:  # noqa: BLE001 - the message is what matters
        assert "Write the date like 30 Nov 2026" in " ".join(exc.messages)
    else:
        raise AssertionError("31 Feb was accepted")


def test_a_date_input_shows_the_date_as_the_page_does(world, client_for):
    page = client_for(world.manager.user).get(
        reverse("therapists:dashboard"), {"start": "2026-01-01", "end": "2026-03-31"}
    )
    html = page.content.decode()
    assert 'value="1 Jan 2026"' in html and 'value="31 Mar 2026"' in html
    assert 'type="date"' not in html
    typed = client_for(world.manager.user).get(reverse("therapists:dashboard"), {"start": "not a day"})
    assert 'value="not a day"' in typed.content.decode()  # kept as typed
