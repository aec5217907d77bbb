"""R8's week, replayed through the real services with a moving clock.

The study's therapist got an e-mail for every diary entry and every page a patient read: around
30 e-mails in five days. Here a patient writes three diary entries a day and reads three pages a
day for five days (Monday to Friday), while a digest round runs every 30 minutes (beat: every
minute) and the scanners every three hours (beat: every 15 minutes). The therapist on a daily
digest gets at most five e-mails, on a weekly digest one; every line links straight to its item.
"""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail

from messaging.notifications.digests import digest_round
from messaging.notifications.scans import notifications_scan
from patients.models import Enrollment
from patients.services import diary_entry_save, step_visit
from tests.messaging.digest_helpers import Clock, Treated, local, outbox_for, prefer
from tests.work import settle

pytestmark = pytest.mark.django_db

LINE = re.compile(r"^- (?P<label>.+) \(.+\)\n  (?P<url>\S+)$", re.MULTILINE)


def replay_week(world, monkeypatch):
    t = Treated(world)
    diaries = t.extra_diaries()
    pages = [t.steps["intro"], t.steps["breathing"], t.steps["story"]]
    Enrollment.objects.filter(pk=t.enrollment_b.pk).update(status=Enrollment.Status.COMPLETED)
    Enrollment.objects.filter(pk=t.enrollment_a.pk).update(
        feedback_weekday=4, last_feedback_at=local(2026, 2, 27, 10), last_activity_at=local(2026, 2, 27, 10)
    )
    settle()
    enrollment = Enrollment.objects.select_related("patient__user", "therapist__user", "version").get(
        pk=t.enrollment_a.pk
    )

    clock = Clock(monkeypatch, local(2026, 3, 2, 0, 0))
    entries, reads = [], 0
    end = local(2026, 3, 7, 9, 0)  # Saturday morning, after the last daily and the weekly digest
    while clock.now <= end:
        now = clock.now
        if now.weekday() < 5 and (now.hour, now.minute) in ((9, 0), (13, 0), (21, 0)):
            step_visit(enrollment=enrollment, step=pages[now.hour % 3], complete=True)
            reads += 1
            diary = diaries[(9, 13, 21).index(now.hour)]
            entries.append(
                diary_entry_save(
                    enrollment=enrollment,
                    diary_type=diary,
                    entry_date=now.date(),
                    answers={"score": 5, "note": "a hard day"}
                    if diary != t.mood
                    else {"mood": 5, "note": "a hard day"},
                )
            )
        if now.minute == 0 and now.hour % 3 == 0:
            notifications_scan(now=now)
        digest_round(now=now)
        clock.set(now + timedelta(minutes=30))
    return t, entries, reads


def item_links(message) -> list[tuple[str, str]]:
    return [(m["label"], m["url"]) for m in LINE.finditer(message.body)]


@pytest.mark.parametrize("rhythm, expected", [("daily", 5), ("weekly", 1)])
def test_r8_week(world, monkeypatch, rhythm, expected):
    therapist = world.therapist.user
    prefer(therapist, email_enabled=True, frequency=rhythm, hour=8, weekday=5)
    t, entries, reads = replay_week(world, monkeypatch)

    before = len(entries) + reads  # the old system: one e-mail per entry and per page read
    assert len(entries) == 15 and before == 30

    received = outbox_for(therapist.email)
    assert len(received) == expected
    if rhythm == "daily":  # one each morning, Tuesday to Saturday, for the day before
        assert [m.extra_headers["Message-ID"] for m in received] != [] and len(
            {m.extra_headers["Message-ID"] for m in received}
        ) == 5

    conversation = f"{settings.SITE_URL}/staff/patients/{world.patient_a.pk}/messages/"
    lines = [line for message in received for line in item_links(message)]
    diary_links = [url for label, url in lines if label == "New diary entry"]
    assert sorted(diary_links) == sorted(f"{conversation}#item-diary{entry.pk}" for entry in entries)
    for label, url in lines:  # every line goes straight to its item
        assert url.startswith(conversation + "#"), (label, url)
    assert ("Feedback due", f"{conversation}#work") in lines  # Friday was the feedback day
    assert not [m for m in mail.outbox if m.to == [world.patient_a.user.email]]  # patients opt in
