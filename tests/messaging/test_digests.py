"""Digest rounds: windows, one e-mail per window, the re-check at send time, urgent items, the
lease and the one documented duplicate, errors per recipient, tips, language."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from icbt.models import Digest, Notification, NotificationPreference
from icbt.notifications import Kind, notify
from messaging.notifications import digests, tips
from messaging.notifications.digests import digest_round, windows_for
from patients.models import DiaryEntry, Enrollment, IntakeRequest
from tests.messaging.digest_helpers import Treated, links, local, outbox_for, prefer
from tests.work import settle

pytestmark = pytest.mark.django_db

State = Notification.State


@pytest.fixture
def t(world):
    return Treated(world)


def diary(t, enrollment, when, *, reviewed=False):
    """An entry (on the latest free day up to ``when``) and its notification, as the service
    would write them."""
    day = when.date()
    while DiaryEntry.objects.filter(enrollment=enrollment, diary_type=t.mood, entry_date=day).exists():
        day -= timedelta(days=1)
    entry = DiaryEntry.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        diary_type=t.mood,
        entry_date=day,
        created_at=when,
        reviewed_at=when if reviewed else None,
    )
    settle()
    notify(
        recipient=enrollment.therapist.user,
        kind=Kind.DIARY_ENTRY,
        patient=enrollment.patient,
        object_type="diary_entry",
        object_id=entry.pk,
        now=when,
    )
    return entry


# --- Windows ------------------------------------------------------------------------------------


def test_windows_daily_weekly_soon_and_urgent():
    pref = NotificationPreference(frequency="daily", hour=8, urgent_soon=True)
    main, urgent = windows_for(pref, local(2026, 3, 3, 7, 59))
    assert main.key == "daily:2026-03-02" and main.due_before == local(2026, 3, 2, 8)
    assert urgent.key.startswith("urgent:") and urgent.urgent_only
    assert windows_for(pref, local(2026, 3, 3, 8))[0].key == "daily:2026-03-03"
    weekly = NotificationPreference(frequency="weekly", weekday=5, hour=9, urgent_soon=False)
    assert [w.key for w in windows_for(weekly, local(2026, 3, 6, 12))] == ["weekly:2026-02-28"]
    assert [w.key for w in windows_for(weekly, local(2026, 3, 7, 9))] == ["weekly:2026-03-07"]
    soon = NotificationPreference(frequency="soon")
    (first,) = windows_for(soon, local(2026, 3, 3, 10, 4))
    (second,) = windows_for(soon, local(2026, 3, 3, 10, 6))
    assert first.key != second.key and first.key.startswith("soon:")


# --- One e-mail per window ----------------------------------------------------------------------


def test_daily_digest_waits_for_the_hour_and_sends_once(t):
    therapist = t.world.therapist.user
    diary(t, t.enrollment_a, local(2026, 3, 2, 10))
    assert digest_round(now=local(2026, 3, 2, 10, 5)).sent == 0
    report = digest_round(now=local(2026, 3, 3, 8, 1))
    assert report.sent == 1
    assert digest_round(now=local(2026, 3, 3, 8, 2)).sent == 0  # safe to run twice
    diary(t, t.enrollment_a, local(2026, 3, 3, 9))
    assert digest_round(now=local(2026, 3, 3, 23)).sent == 0  # the day's window is used
    assert digest_round(now=local(2026, 3, 4, 8)).sent == 1
    assert len(outbox_for(therapist.email)) == 2
    assert set(Notification.objects.values_list("state", flat=True)) == {State.SENT}
    assert Digest.objects.filter(recipient=therapist, sent_at__isnull=False).count() == 2


def test_one_email_groups_lines_per_patient_by_case_reference(t):
    a1 = diary(t, t.enrollment_a, local(2026, 3, 2, 9))
    a2 = diary(t, t.enrollment_a, local(2026, 3, 2, 11))
    entry_b = diary(t, t.enrollment_b, local(2026, 3, 2, 12))
    digest_round(now=local(2026, 3, 3, 8))
    (message,) = mail.outbox
    for patient, entries in ((t.world.patient_a, [a1, a2]), (t.world.patient_b, [entry_b])):
        block = message.body.split(f"\n{patient.case_reference} (")[1].split("\n\n")[0]
        assert block.startswith(f"{len(entries)} item")
        assert [f"#item-diary{e.pk}" in block for e in entries] == [True] * len(entries)
        assert block.count("#item-diary") == len(entries)
    assert "3 items are waiting for you" in message.subject
    html = message.alternatives[0][0]
    assert (
        f'href="http://127.0.0.1:8000/staff/patients/{t.world.patient_b.pk}/messages/#item-diary{entry_b.pk}"'
        in html
    )


def test_soon_batches_at_most_every_few_minutes(t, settings):
    settings.ICBT_DIGEST_SOON_MINUTES = 5
    prefer(t.world.therapist.user, email_enabled=True, frequency="soon")
    diary(t, t.enrollment_a, local(2026, 3, 2, 10, 1))
    assert digest_round(now=local(2026, 3, 2, 10, 1)).sent == 1
    diary(t, t.enrollment_a, local(2026, 3, 2, 10, 2))
    diary(t, t.enrollment_b, local(2026, 3, 2, 10, 3))
    assert digest_round(now=local(2026, 3, 2, 10, 4)).sent == 0  # same slot
    report = digest_round(now=local(2026, 3, 2, 10, 5))
    assert report.sent == 1 and report.items == 2


def test_urgent_item_goes_soon_for_a_daily_therapist_and_alone(t):
    from patients.models import QuestionnaireResponse

    quiet = diary(t, t.enrollment_a, local(2026, 3, 2, 10))
    response = QuestionnaireResponse.objects.create(
        clinic_id=t.enrollment_a.clinic_id,
        enrollment=t.enrollment_a,
        code="phq9",
        moment="start",
        total=1,
        flags=["self_harm"],
        completed_at=local(2026, 3, 2, 10),
    )
    settle()
    notify(
        recipient=t.world.therapist.user,
        kind=Kind.QUESTIONNAIRE_COMPLETED,
        patient=t.world.patient_a,
        object_type="questionnaire_response",
        object_id=response.pk,
        urgent=True,
        now=local(2026, 3, 2, 10),
    )
    report = digest_round(now=local(2026, 3, 2, 10, 1))
    assert report.sent == 1
    (message,) = mail.outbox
    assert message.subject.startswith("Urgent:")
    assert f"#item-questionnaire{response.pk}" in message.body
    assert f"#item-diary{quiet.pk}" not in message.body  # the rest waits for the daily digest
    digest_round(now=local(2026, 3, 3, 8))
    assert len(mail.outbox) == 2 and f"#item-diary{quiet.pk}" in mail.outbox[1].body


def test_urgent_soon_can_be_switched_off(t):
    prefer(t.world.therapist.user, email_enabled=True, urgent_soon=False)
    notify(
        recipient=t.world.therapist.user,
        kind=Kind.INTAKE_REQUEST,
        clinic_id=t.world.clinic.pk,
        object_type="intake_request",
        object_id=1,
        urgent=True,
        now=local(2026, 3, 2, 10),
    )
    assert digest_round(now=local(2026, 3, 2, 10, 1)).sent == 0


# --- Re-check at send time ----------------------------------------------------------------------


def test_items_dealt_with_before_the_digest_are_dropped(t):
    from messaging.services import conversation_mark_read, message_send
    from tests.messaging.digest_helpers import conversation

    reviewed = diary(t, t.enrollment_a, local(2026, 3, 2, 9))
    kept = diary(t, t.enrollment_b, local(2026, 3, 2, 9, 30))
    conv = conversation(t.enrollment_a)
    msg = message_send(conversation=conv, author=t.world.patient_a.user, body="hello")
    notify(
        recipient=t.world.therapist.user,
        kind=Kind.MESSAGE_RECEIVED,
        patient=t.world.patient_a,
        object_type="message",
        object_id=msg.pk,
        now=local(2026, 3, 2, 10),
    )
    DiaryEntry.objects.filter(pk=reviewed.pk).update(reviewed_at=local(2026, 3, 2, 11))
    settle()
    conversation_mark_read(conversation=conv, reader=t.world.therapist.user)
    report = digest_round(now=local(2026, 3, 3, 8))
    assert report.sent == 1
    body = mail.outbox[0].body
    assert f"#item-diary{kept.pk}" in body and f"#item-diary{reviewed.pk}" not in body
    assert f"#message-{msg.pk}" not in body
    reasons = dict(
        Notification.objects.filter(state=State.DROPPED).values_list("object_id", "dropped_reason")
    )
    assert reasons == {str(reviewed.pk): "already_reviewed", str(msg.pk): "already_read"}


def test_nothing_left_after_the_recheck_sends_nothing_and_frees_the_window(t):
    entry = diary(t, t.enrollment_a, local(2026, 3, 2, 9))
    Enrollment.objects.filter(pk=t.enrollment_a.pk).update(status=Enrollment.Status.STOPPED)
    settle()
    assert digest_round(now=local(2026, 3, 3, 8)).sent == 0
    assert not mail.outbox and not Digest.objects.exists()
    assert Notification.objects.get(object_id=str(entry.pk)).dropped_reason == "not_in_treatment"
    diary(t, t.enrollment_b, local(2026, 3, 3, 7))
    assert digest_round(now=local(2026, 3, 3, 8, 30)).sent == 1  # the same window is still free


def test_a_therapist_who_no_longer_treats_the_patient_is_not_told(t):
    diary(t, t.enrollment_a, local(2026, 3, 2, 9))
    t.world.patient_a.therapist = t.world.therapist2
    t.world.patient_a.save(update_fields=["therapist"])
    settle()
    digest_round(now=local(2026, 3, 3, 8))
    assert not mail.outbox
    assert Notification.objects.get().dropped_reason == "no_access"


def test_handled_intake_request_is_dropped(t):
    from programs.models import Program

    request = IntakeRequest.objects.create(
        clinic=t.world.clinic,
        program=Program.objects.first(),
        name="N",
        email="n@example.org",
        status=IntakeRequest.Status.CONTACTED,
    )
    settle()
    notify(
        recipient=t.world.therapist.user,
        kind=Kind.INTAKE_REQUEST,
        clinic_id=t.world.clinic.pk,
        object_type="intake_request",
        object_id=request.pk,
        now=local(2026, 3, 2, 9),
    )
    digest_round(now=local(2026, 3, 3, 8))
    assert not mail.outbox
    assert Notification.objects.get().dropped_reason == "handled"


def test_patients_opt_in_and_kinds_can_be_switched_off(t):
    patient = t.world.patient_a.user
    when = local(2026, 3, 2, 9)
    notify(
        recipient=patient,
        kind=Kind.DIARY_DUE,
        patient=t.world.patient_a,
        object_type="enrollment",
        object_id=t.enrollment_a.pk,
        now=when,
    )
    digest_round(now=local(2026, 3, 3, 8))
    assert not mail.outbox  # patients get no e-mail until they opt in
    assert Notification.objects.get().dropped_reason == "email_off"

    prefer(patient, email_enabled=True, kinds_off=[Kind.DIARY_DUE])
    notify(
        recipient=patient,
        kind=Kind.DIARY_DUE,
        patient=t.world.patient_a,
        object_type="enrollment",
        object_id=t.enrollment_a.pk,
        now=local(2026, 3, 3, 9),
    )
    notify(
        recipient=patient,
        kind=Kind.MODULE_OPENED,
        patient=t.world.patient_a,
        object_type="enrollment",
        object_id=t.enrollment_a.pk,
        now=local(2026, 3, 3, 9),
    )
    digest_round(now=local(2026, 3, 4, 8))
    (message,) = mail.outbox
    assert message.subject == "Something new is waiting for you"
    assert "A new part is open for you" in message.body and "diary" not in message.body
    assert t.world.patient_a.case_reference not in message.body  # a patient's own e-mail needs none


def test_inactive_account_gets_nothing(t):
    diary(t, t.enrollment_a, local(2026, 3, 2, 9))
    t.world.therapist.user.is_active = False
    t.world.therapist.user.save(update_fields=["is_active"])
    digest_round(now=local(2026, 3, 3, 8))
    assert not mail.outbox
    assert Notification.objects.get().dropped_reason == "inactive_user"


# --- Leases, crashes and the one duplicate --------------------------------------------------------


def test_crash_between_send_and_commit_resends_with_the_same_message_id(t, monkeypatch, settings):
    settings.ICBT_DIGEST_LEASE_SECONDS = 600
    diary(t, t.enrollment_a, local(2026, 3, 2, 9))
    real_mark = digests._mark_dropped

    def die(*args, **kwargs):
        raise SystemExit("worker killed")  # not an Exception: nothing catches it, like SIGKILL

    monkeypatch.setattr(digests, "_mark_dropped", die)
    with pytest.raises(SystemExit):
        digest_round(now=local(2026, 3, 3, 8))
    monkeypatch.setattr(digests, "_mark_dropped", real_mark)
    assert len(mail.outbox) == 1  # the e-mail had left
    digest = Digest.objects.get()
    assert digest.sent_at is None and digest.lease_until == local(2026, 3, 3, 8, 10)

    assert digest_round(now=local(2026, 3, 3, 8, 5)).sent == 0  # the lease still holds
    report = digest_round(now=local(2026, 3, 3, 8, 11))
    assert report.resumed == 1 and report.sent == 1
    first, second = mail.outbox
    assert first.extra_headers["Message-ID"] == second.extra_headers["Message-ID"] == digest.message_id
    assert Digest.objects.get().sent_at is not None
    assert Notification.objects.get().state == State.SENT


def test_crash_before_sending_sends_after_the_lease_once(t, monkeypatch, settings):
    settings.ICBT_DIGEST_LEASE_SECONDS = 60
    diary(t, t.enrollment_a, local(2026, 3, 2, 9))
    monkeypatch.setattr(digests, "build_email", lambda *a, **k: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        digest_round(now=local(2026, 3, 3, 8))
    monkeypatch.undo()
    assert not mail.outbox
    diary(
        t,
        t.enrollment_b,
        local(
            2026,
            3,
            3,
            8,
            0,
        ),
    )
    assert digest_round(now=local(2026, 3, 3, 8, 0)).sent == 0  # window claimed, lease running
    assert digest_round(now=local(2026, 3, 3, 8, 2)).sent == 1
    assert len(mail.outbox) == 1
    assert Digest.objects.count() == 1


def test_a_failing_recipient_does_not_stop_the_others_and_is_retried(t, monkeypatch, caplog):
    diary(t, t.enrollment_a, local(2026, 3, 2, 9))
    notify(
        recipient=t.world.manager.user,
        kind=Kind.WEEKLY_SUMMARY,
        clinic_id=t.world.clinic.pk,
        object_type="clinic",
        object_id=t.world.clinic.pk,
        now=local(2026, 3, 2, 9),
    )
    real_build = digests.build_email

    def flaky(digest, rows, now, parts=None):
        if digest.recipient_id == t.world.therapist.user.pk:
            raise ConnectionError("smtp down for SECRET-THING")
        return real_build(digest, rows, now, parts)

    monkeypatch.setattr(digests, "build_email", flaky)
    report = digest_round(now=local(2026, 3, 3, 8))
    assert report.sent == 1 and report.failed == 1
    assert outbox_for(t.world.manager.user.email)
    assert "SECRET-THING" not in caplog.text and "ConnectionError" in caplog.text
    monkeypatch.setattr(digests, "build_email", real_build)
    assert digest_round(now=local(2026, 3, 3, 8, 1)).sent == 0  # back-off
    assert digest_round(now=local(2026, 3, 3, 8, 10)).sent == 1
    assert len(outbox_for(t.world.therapist.user.email)) == 1


# --- What the e-mail carries --------------------------------------------------------------------


def test_headers_sender_and_unsubscribe(t, client):
    diary(t, t.enrollment_a, local(2026, 3, 2, 9))
    digest_round(now=local(2026, 3, 3, 8))
    (message,) = mail.outbox
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    headers = message.message()
    assert headers["Message-ID"] == Digest.objects.get().message_id
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = headers["List-Unsubscribe"].strip("<>")
    path = unsubscribe.removeprefix("http://127.0.0.1:8000")
    assert client.get(path).status_code == 200  # no sign-in, and a GET changes nothing
    assert NotificationPreference.objects.filter(user=t.world.therapist.user).first() is None
    response = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert NotificationPreference.objects.get(user=t.world.therapist.user).email_enabled is False
    assert client.post(path + "x/").status_code == 404
    assert client.get("/notifications/unsubscribe/forged:token/").status_code == 404
    assert all(link.startswith("http://127.0.0.1:8000/") for link in links(message))


def test_email_follows_the_recipients_language(t):
    user = t.world.therapist.user
    user.language = "nl"
    user.save(update_fields=["language"])
    diary(t, t.enrollment_a, local(2026, 3, 2, 9))
    digest_round(now=local(2026, 3, 3, 8))
    html = mail.outbox[0].alternatives[0][0]
    assert '<html lang="nl">' in html
    assert timezone.get_current_timezone() is not None


def test_one_tip_a_week_in_rotation(t):
    assert len(tips.TIPS) >= 20 and len({str(tip) for tip in tips.TIPS}) == len(tips.TIPS)
    assert all(len(str(tip)) < 160 for tip in tips.TIPS)
    prefer(t.world.therapist.user, email_enabled=True)
    seen = []
    for day in range(10):
        diary(t, t.enrollment_a if day % 2 else t.enrollment_b, local(2026, 3, 2, 9) + timedelta(days=day))
        digest_round(now=local(2026, 3, 3, 8) + timedelta(days=day))
        seen.append("Tip:" in mail.outbox[-1].body)
    assert seen == [True] + [False] * 6 + [True] + [False] * 2
    numbers = list(
        Digest.objects.filter(tip_number__isnull=False)
        .order_by("sent_at")
        .values_list("tip_number", flat=True)
    )
    assert numbers[1] == (numbers[0] + 1) % len(tips.TIPS)


def test_patients_and_managers_get_no_tips(t):
    notify(
        recipient=t.world.manager.user,
        kind=Kind.WEEKLY_SUMMARY,
        clinic_id=t.world.clinic.pk,
        object_type="clinic",
        object_id=t.world.clinic.pk,
        now=local(2026, 3, 2, 1),
    )
    digest_round(now=local(2026, 3, 2, 8))
    (message,) = mail.outbox
    assert "Tip:" not in message.body
    assert message.subject == "Your weekly overview"
    assert "Patients in treatment: 2" in message.body


def test_send_digests_command_prints_progress(t, capsys):
    diary(t, t.enrollment_a, timezone.now() - timedelta(days=2))
    call_command("send_digests")
    out = capsys.readouterr().out
    assert "scan:" in out and "sent daily:" in out and "done: 1 e-mail(s)" in out
    call_command("send_digests", "--no-scan")
    assert "done: 0 e-mail(s)" in capsys.readouterr().out


def test_purge_keeps_recent_and_pending_rows(t, settings):
    settings.ICBT_NOTIFICATION_RETENTION_DAYS = 30
    diary(t, t.enrollment_a, local(2026, 1, 2, 9))
    digest_round(now=local(2026, 1, 3, 8))
    diary(t, t.enrollment_a, local(2026, 3, 2, 9))
    assert digests.purge_handled(now=local(2026, 3, 2, 10)) == 1
    assert Notification.objects.get().state == State.PENDING
    assert not Digest.objects.exists()
