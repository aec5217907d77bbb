"""Diaries: an entry in a minute, corrected the same day and not after, the list of entries and
the pinned query counts."""

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from patients import services, work_items
from patients.models import DiaryEntry, Enrollment, StepProgress, WorkItem
from tests.patients.patient_helpers import enroll, step_of, tiny_version, write_feedback
from tests.work import settle

pytestmark = pytest.mark.django_db

WRITE_URL = "/me/diaries/mood/write/"
ENTRY = {
    "mood": "6",
    "bedtime": "22:30",
    "walked": "yes",
    "minutes": "25",
    "kind": "free",
    "note": "A quiet day in the garden",
}


@pytest.fixture
def setup(world, client_for):
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    StepProgress.objects.create(enrollment=enrollment, step=step_of(version, "start-diary"))
    return world, version, enrollment, client_for(world.patient_a.user)


def test_the_form_defaults_to_today_with_big_scale_buttons_and_a_time_input(setup):
    _world, _version, _enrollment, client = setup
    html = client.get(WRITE_URL).content.decode()
    assert f'value="{timezone.localdate().isoformat()}"' in html and 'type="date"' in html
    assert html.count('class="scale-point"') == 11  # 0-10 as radio buttons in a row that wraps
    assert 'type="time"' in html


def test_writing_an_entry_splits_numbers_and_encrypted_text(setup):
    _world, _version, enrollment, client = setup
    response = client.post(WRITE_URL, dict(ENTRY, entry_date=timezone.localdate().isoformat()))
    assert response.status_code == 302
    entry = DiaryEntry.objects.get(enrollment=enrollment)
    assert entry.values == {"mood": 6, "bedtime": "22:30", "walked": True, "minutes": 25, "kind": "free"}
    assert json.loads(entry.text) == {"note": "A quiet day in the garden"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM patients_diaryentry WHERE id = %s", [entry.pk])
        assert "garden" not in cursor.fetchone()[0]


def test_an_entry_can_be_corrected_the_same_day(setup):
    _world, _version, enrollment, client = setup
    client.post(WRITE_URL, dict(ENTRY, entry_date=timezone.localdate().isoformat()))
    html = client.get(WRITE_URL).content.decode()
    assert "You already kept this diary for this day" in html and "A quiet day in the garden" in html
    client.post(WRITE_URL, dict(ENTRY, mood="3", entry_date=timezone.localdate().isoformat()))
    entry = DiaryEntry.objects.get(enrollment=enrollment)
    assert entry.values["mood"] == 3
    assert DiaryEntry.objects.count() == 1


def test_an_entry_cannot_be_changed_on_a_later_day(setup):
    _world, version, enrollment, client = setup
    diary_type = step_of(version, "start-diary").diary_type
    today = timezone.localdate()
    entry = services.diary_entry_save(
        enrollment=enrollment, diary_type=diary_type, entry_date=today, answers={"mood": 5}, today=today
    )
    with pytest.raises(ValidationError, match="can no longer be changed"):
        services.diary_entry_save(
            enrollment=enrollment,
            diary_type=diary_type,
            entry_date=today,
            answers={"mood": 1},
            today=today + timedelta(days=1),
        )
    # Written yesterday: the page shows it read-only.
    DiaryEntry.objects.filter(pk=entry.pk).update(created_at=timezone.now() - timedelta(days=1))
    settle()
    response = client.get(WRITE_URL + f"?date={today.isoformat()}")
    assert response.status_code == 302 and response["Location"] == reverse(
        "patients:diary_entry", args=[entry.uid]
    )
    html = client.get(response["Location"]).content.decode()
    assert "This one is kept as it is" in html and "Change this entry" not in html
    response = client.post(WRITE_URL, dict(ENTRY, mood="1", entry_date=today.isoformat()))
    assert response.status_code == 200 and "can no longer be changed" in response.content.decode()
    assert DiaryEntry.objects.get(pk=entry.pk).values["mood"] == 5


def test_a_missed_day_can_be_filled_in_but_not_the_future_or_long_ago(setup):
    _world, _version, enrollment, client = setup
    today = timezone.localdate()
    client.post(WRITE_URL, dict(ENTRY, entry_date=(today - timedelta(days=2)).isoformat()))
    assert DiaryEntry.objects.get(enrollment=enrollment).entry_date == today - timedelta(days=2)
    for day, message in (
        (today + timedelta(days=1), "This day has not come yet"),
        (today - timedelta(days=7), "You can fill in today and the six days before"),
    ):
        response = client.post(WRITE_URL, dict(ENTRY, entry_date=day.isoformat()))
        html = response.content.decode()
        assert response.status_code == 200 and message in html
        assert "A quiet day in the garden" in html  # everything typed is kept
    assert DiaryEntry.objects.count() == 1


def test_a_failed_entry_keeps_everything_typed(setup):
    _world, _version, _enrollment, client = setup
    data = dict(ENTRY, note="My careful note", entry_date=timezone.localdate().isoformat())
    del data["mood"]
    response = client.post(WRITE_URL, data)
    html = response.content.decode()
    assert response.status_code == 200
    assert "My careful note" in html and 'value="22:30"' in html
    assert 'id="id_mood_error"' in html
    assert not DiaryEntry.objects.exists()


def test_the_diary_step_saves_todays_entry_and_is_done(setup):
    _world, version, enrollment, client = setup
    response = client.post("/me/steps/first/start-diary/", ENTRY)
    assert response.status_code == 302
    entry = DiaryEntry.objects.get(enrollment=enrollment)
    assert entry.entry_date == timezone.localdate()
    assert StepProgress.objects.get(enrollment=enrollment, step=step_of(version, "start-diary")).completed_at
    assert "You kept this diary today" in client.get("/me/steps/first/start-diary/").content.decode()


def test_feedback_is_shown_next_to_the_entry_and_other_patients_get_404(setup, client_for):
    world, version, enrollment, client = setup
    entry = services.diary_entry_save(
        enrollment=enrollment,
        diary_type=step_of(version, "start-diary").diary_type,
        entry_date=timezone.localdate(),
        answers={"mood": 5, "note": "private"},
    )
    write_feedback(enrollment, author=world.therapist.user, body="Good that you walked.", diary_entry=entry)
    url = reverse("patients:diary_entry", args=[entry.uid])
    html = client.get(url).content.decode()
    assert "Good that you walked." in html and "private" in html
    enroll(world.patient_b)
    for user in (world.patient_b.user, world.therapist.user, world.outsider.user):
        assert client_for(user).get(url).status_code == 404


def _entries(enrollment, diary_type, count):
    today = timezone.localdate()
    for days in range(count):
        entry = DiaryEntry(
            clinic_id=enrollment.clinic_id,
            enrollment=enrollment,
            diary_type=diary_type,
            entry_date=today - timedelta(days=days),
            values={"mood": days % 11, "minutes": 10 * days},
            text=json.dumps({"note": f"day {days}"}),
        )
        entry.save()
    settle()


@pytest.mark.parametrize("page", ["patients:diary_list", "patients:diary_detail"])
def test_diary_pages_do_not_grow_with_the_number_of_entries(
    setup, page, django_assert_max_num_queries, django_assert_num_queries
):
    world, version, enrollment, client = setup
    diary_type = step_of(version, "start-diary").diary_type
    args = [] if page == "patients:diary_list" else ["mood"]
    url = reverse(page, args=args) + ("?period=month" if args else "")
    _entries(enrollment, diary_type, 5)
    write_feedback(enrollment, author=world.therapist.user, diary_entry=DiaryEntry.objects.first())
    client.get(url)  # warm up the session and the content caches
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(conn) as few:
        assert client.get(url).status_code == 200
    DiaryEntry.objects.all().delete()
    _entries(enrollment, diary_type, 50)
    write_feedback(enrollment, author=world.therapist.user, diary_entry=DiaryEntry.objects.first())
    with CaptureQueriesContext(conn) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few)
    with django_assert_max_num_queries(23):
        client.get(url)


def _shown(html):
    import re

    return re.search(r'name="shown_entry" value="([^"]*)"', html).group(1)


@pytest.mark.every_weekday
def test_a_second_tab_or_a_changed_date_never_replaces_an_entry(setup):
    _world, _version, enrollment, client = setup
    today = timezone.localdate().isoformat()
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    first_tab, second_tab = client.get(WRITE_URL).content.decode(), client.get(WRITE_URL).content.decode()
    assert _shown(first_tab) == _shown(second_tab) == "new"
    client.post(WRITE_URL, dict(ENTRY, entry_date=today, shown_entry=_shown(first_tab)))
    response = client.post(
        WRITE_URL,
        dict(ENTRY, note="Written in the other tab", entry_date=today, shown_entry=_shown(second_tab)),
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "This day already has an entry. Open it from your diary to change it" in html
    assert "Written in the other tab" in html  # what was typed is kept on the page
    entry = DiaryEntry.objects.get(enrollment=enrollment)
    assert json.loads(entry.text)["note"] == "A quiet day in the garden"
    # The form showed today's entry; its date changed to a day that already has one: refused too.
    client.post(WRITE_URL, dict(ENTRY, note="Yesterday", entry_date=yesterday, shown_entry="new"))
    shown_today = _shown(client.get(WRITE_URL).content.decode())
    assert shown_today == str(entry.uid)
    response = client.post(
        WRITE_URL, dict(ENTRY, note="Moved", entry_date=yesterday, shown_entry=shown_today)
    )
    assert "This day already has an entry" in response.content.decode()
    notes = sorted(json.loads(e.text)["note"] for e in DiaryEntry.objects.filter(enrollment=enrollment))
    assert notes == ["A quiet day in the garden", "Yesterday"]
    # Correcting the entry the form showed still works.
    client.post(WRITE_URL, dict(ENTRY, note="Corrected", entry_date=today, shown_entry=shown_today))
    entry.refresh_from_db()
    assert json.loads(entry.text)["note"] == "Corrected"


@pytest.mark.every_weekday
def test_the_diary_step_does_not_replace_an_entry_written_in_another_tab(setup):
    _world, _version, enrollment, client = setup
    step_url = "/me/steps/first/start-diary/"
    shown = _shown(client.get(step_url).content.decode())
    assert shown == "new"
    client.post(WRITE_URL, dict(ENTRY, entry_date=timezone.localdate().isoformat(), shown_entry="new"))
    response = client.post(step_url, dict(ENTRY, note="From the step", shown_entry=shown))
    html = response.content.decode()
    assert "This day already has an entry" in html and "From the step" in html
    assert (
        json.loads(DiaryEntry.objects.get(enrollment=enrollment).text)["note"] == "A quiet day in the garden"
    )


# The user (the session comes from the cache), the open enrollment with its version read under
# its lock, once (the diary type comes from the program content kept in the process; the lock's
# row is the rhythm: the quiet spell's item needs no query of its own) and the day's entry under
# it, the write, the notification, the diary steps, the enrollment's last activity, the work items
# (read, the entry's diary week collected, one plain UPDATE of each changed item: the week's and
# the quiet spell's); the savepoints of the request's transaction (the service makes none of its
# own). The confirmation travels in a cookie (icbt.flash): no session write. No query re-checks
# what was just read. A diary week of its own opens a work item instead of changing it and moves
# the therapist's counter and the tally of the treatment's therapist and team (the manager's
# dashboard): two statements more.
DIARY_POST_QUERIES = 15
NEW_WEEK_QUERIES = 2


@pytest.mark.every_weekday
def test_a_diary_entry_is_saved_without_checking_again_what_was_just_read(setup, django_assert_num_queries):
    _world, _version, _enrollment, client = setup
    client.get(WRITE_URL)
    before = timezone.localdate() - timedelta(days=2)
    # The first entry: the data key is read once.
    client.post(WRITE_URL, dict(ENTRY, entry_date=before.isoformat(), shown_entry="new"))
    yesterday = timezone.localdate() - timedelta(days=1)
    new_week = yesterday.isocalendar()[:2] != before.isocalendar()[:2]
    with django_assert_num_queries(DIARY_POST_QUERIES + (NEW_WEEK_QUERIES if new_week else 0)):
        response = client.post(WRITE_URL, dict(ENTRY, entry_date=yesterday.isoformat(), shown_entry="new"))
    assert response.status_code == 302
    assert DiaryEntry.objects.filter(entry_date=yesterday).exists()


# A correction of an entry that waits for review already (the one-a-day diary's usual second
# save): its week's item stays as it is, and the quiet spell's item is moved without being read.
DIARY_CORRECTION_QUERIES = 11


def _written_today(client) -> DiaryEntry:
    client.post(WRITE_URL, dict(ENTRY, entry_date=timezone.localdate().isoformat(), shown_entry="new"))
    return DiaryEntry.objects.get()


def _corrected(client, entry: DiaryEntry, mood: str = "2"):
    data = dict(ENTRY, mood=mood, entry_date=timezone.localdate().isoformat(), shown_entry=str(entry.uid))
    return client.post(WRITE_URL, data)


@pytest.mark.every_weekday
def test_correcting_an_entry_that_waits_reads_no_work_item(setup, clock):
    from django.test.utils import CaptureQueriesContext

    _world, _version, enrollment, client = setup
    entry = _written_today(client)
    week = WorkItem.objects.get(key__startswith="diary:", state=WorkItem.State.OPEN)
    first_seen = WorkItem.objects.get(key__startswith="quiet:", state=WorkItem.State.OPEN).since
    with CaptureQueriesContext(connection) as captured:
        response = _corrected(client, entry)
    assert response.status_code == 302
    assert DiaryEntry.objects.get().values["mood"] == 2
    statements = [q["sql"] for q in captured.captured_queries]
    work = [sql for sql in statements if '"patients_workitem"' in sql]
    assert len(work) == 1 and work[0].startswith('UPDATE "patients_workitem"'), work
    assert not [sql for sql in statements if 'COUNT("patients_diaryentry"' in sql]
    assert len(statements) == DIARY_CORRECTION_QUERIES, statements
    enrollment.refresh_from_db()
    quiet = WorkItem.objects.get(key=f"quiet:{enrollment.pk}", state=WorkItem.State.OPEN)
    assert quiet.since == enrollment.last_activity_at > first_seen
    assert quiet.due == enrollment.last_activity_at + timedelta(days=enrollment.inactivity_days)
    assert WorkItem.objects.get(pk=week.pk).count == week.count == 1
    assert not work_items.reconcile()


@pytest.mark.every_weekday
def test_a_quiet_item_that_is_not_there_is_opened_again_by_the_next_activity(setup, clock):
    _world, _version, enrollment, client = setup
    entry = _written_today(client)
    key = f"quiet:{enrollment.pk}"
    # A write around the services closed the quiet spell's item: nothing to move by its key.
    WorkItem.objects.filter(key=key).update(state=WorkItem.State.CLOSED, closed_at=timezone.now())
    clock.advance(minutes=5)
    assert _corrected(client, entry).status_code == 302
    enrollment.refresh_from_db()
    quiet = WorkItem.objects.get(key=key, state=WorkItem.State.OPEN)
    assert quiet.since == enrollment.last_activity_at >= entry.updated_at + timedelta(minutes=5)
    assert not work_items.reconcile()


def test_a_diary_entry_reads_with_sql_its_process_built_before(setup, monkeypatch, clock):
    """The reads of a save (the enrollment, its lock, the day's entry, the diary steps) and its
    plain writes (the correction, the enrollment, the quiet spell's item) are built by the ORM
    once per process (``icbt.shaped_sql``) or not at all: a second save builds none."""
    from django.db.models.sql import compiler

    _world, _version, _enrollment, client = setup
    today = timezone.localdate()
    client.post(WRITE_URL, dict(ENTRY, entry_date=today.isoformat(), shown_entry="new"))
    built = []

    def recorded(as_sql):
        def as_sql_recorded(self, *args, **kwargs):
            sql, params = as_sql(self, *args, **kwargs)
            built.append(sql)
            return sql, params

        return as_sql_recorded

    for cls in (compiler.SQLCompiler, compiler.SQLUpdateCompiler):
        monkeypatch.setattr(cls, "as_sql", recorded(cls.as_sql))
    response = client.post(WRITE_URL, dict(ENTRY, mood="3", entry_date=today.isoformat()))
    monkeypatch.undo()
    assert response.status_code == 302
    assert DiaryEntry.objects.get().values["mood"] == 3
    tables = ("patients_enrollment", "patients_workitem", "patients_stepprogress", "patients_diaryentry")
    again = [sql for sql in built if any(f'"{table}"' in sql for table in tables)]
    # The correction's own UPDATE too: its encrypted columns' tokens come from their fields.
    assert not again, again


@pytest.mark.every_weekday
def test_a_diary_entry_brings_only_its_own_weeks_work_item_in_line(setup):
    _world, version, enrollment, _client = setup
    diary_type = version.diary_types.get(slug="mood")
    today = timezone.localdate()
    last_week = today - timedelta(days=7)
    for day in (last_week, today):
        services.diary_entry_save(
            enrollment=enrollment, diary_type=diary_type, entry_date=day, answers={"mood": 5}, today=day
        )

    def key(day):
        year, week, _weekday = day.isocalendar()
        return work_items.diary_week_key(enrollment.pk, year, week)

    open_rows = WorkItem.objects.filter(state=WorkItem.State.OPEN)
    # Both weeks' rows say something no source says (a write around the services), and today's
    # entry was reviewed: its correction makes it wait again, which changes its week.
    open_rows.filter(key__in=[key(last_week), key(today)]).update(count=9)
    DiaryEntry.objects.filter(entry_date=today).update(reviewed_at=timezone.now())
    services.diary_entry_save(
        enrollment=enrollment, diary_type=diary_type, entry_date=today, answers={"mood": 6}, today=today
    )
    # The week of the entry is collected again; the other week is not even read.
    assert open_rows.get(key=key(today)).count == 1
    assert open_rows.get(key=key(last_week)).count == 9
    drift = work_items.reconcile(repair=True)
    assert drift.changed == [key(last_week)]
    assert not work_items.reconcile()


@pytest.mark.every_weekday
def test_a_diary_week_counted_from_the_locked_row_is_the_week_the_full_collector_finds(setup, clock):
    """A diary entry counts its week from the entry table alone, taking whose item it is and
    whether the treatment is open from the enrollment's locked row: the same item as the
    collector that joins the enrollment and patient, and none once the treatment has ended."""
    world, version, enrollment, _client = setup
    diary_type = version.diary_types.get(slug="mood")
    today = clock.today()
    monday = today - timedelta(days=today.weekday())
    days = sorted({monday, today, monday - timedelta(days=1)})  # the Sunday before is another week
    for day in days:
        services.diary_entry_save(
            enrollment=enrollment, diary_type=diary_type, entry_date=day, answers={"mood": 5}, today=day
        )
    if monday != today:  # a reviewed entry of the week no longer waits
        DiaryEntry.objects.filter(enrollment=enrollment, entry_date=monday).update(reviewed_at=timezone.now())

    def both():
        enrollments = Enrollment.objects.filter(pk=enrollment.pk)
        [rhythm] = work_items.rhythm_rows(enrollments)
        joined = list(work_items.collect_diary_week(enrollments, today))
        from_row = list(work_items.collect_diary_week(enrollments, today, rhythm=rhythm))
        return joined, from_row

    joined, from_row = both()
    assert len(joined) == 1 and from_row == joined
    assert joined[0].owner_id == world.therapist.pk and joined[0].count == 1
    services.enrollment_status_change(enrollment=enrollment, staff=world.therapist, action="complete")
    assert both() == ([], [])


def test_the_quiet_spell_of_a_diary_entry_follows_the_enrollment_as_it_is_under_the_lock(setup, clock):
    """The page read the enrollment before the therapist changed its rhythm: the service's lock
    reads it again, and the quiet spell's item follows what it is now."""
    world, version, enrollment, _client = setup
    diary_type = version.diary_types.get(slug="mood")
    read_by_the_page = Enrollment.objects.get(pk=enrollment.pk)
    services.enrollment_cadence_change(
        enrollment=enrollment,
        staff=world.therapist,
        feedback_cadence=enrollment.feedback_cadence,
        feedback_weekday=enrollment.feedback_weekday,
        inactivity_days=3,
    )
    services.diary_entry_save(
        enrollment=read_by_the_page, diary_type=diary_type, entry_date=clock.today(), answers={"mood": 5}
    )
    quiet = WorkItem.objects.get(key=f"quiet:{enrollment.pk}", state=WorkItem.State.OPEN)
    assert quiet.due - quiet.since == timedelta(days=3)
    services.enrollment_status_change(enrollment=enrollment, staff=world.therapist, action="pause")
    services.diary_entry_save(
        enrollment=read_by_the_page, diary_type=diary_type, entry_date=clock.today(), answers={"mood": 6}
    )
    assert not WorkItem.objects.filter(key=f"quiet:{enrollment.pk}", state=WorkItem.State.OPEN).exists()
    assert not work_items.reconcile()


def test_a_treatment_ended_while_the_entry_waited_for_its_lock_refuses_it_and_keeps_the_text(
    clock, setup, monkeypatch
):
    """The open check ran before the lock; a treatment ended in between took the entry without a
    work item for the therapist. Now the locked row decides, and the form keeps what was typed."""
    _world, _version, enrollment, client = setup
    locked = work_items.rhythm_locked

    def ended_meanwhile(pk):
        # What the lock reads after another request ended the treatment and committed.
        row = locked(pk)
        row.status = Enrollment.Status.COMPLETED
        return row

    monkeypatch.setattr(work_items, "rhythm_locked", ended_meanwhile)
    with pytest.raises(ValidationError, match="Your program has ended"):
        services.diary_entry_save(
            enrollment=enrollment,
            diary_type=enrollment.version.diary_types.get(slug="mood"),
            entry_date=timezone.localdate(),
            answers={"mood": 5},
        )
    assert not DiaryEntry.objects.exists()


@pytest.mark.django_db(transaction=True)  # each block below is a transaction of its own
def test_a_lock_taken_in_an_earlier_transaction_is_taken_again(clock, setup, monkeypatch):
    """The service trusts the page's lock only inside the transaction that took it: a lock of an
    earlier transaction was released with it, so the save locks the treatment itself."""
    from django.db import transaction

    from patients import selectors

    world, version, enrollment, _client = setup
    with transaction.atomic():
        read = selectors.open_enrollment_locked(world.patient_a)
    taken = []
    rhythm_locked = work_items.rhythm_locked
    monkeypatch.setattr(work_items, "rhythm_locked", lambda pk: taken.append(pk) or rhythm_locked(pk))
    save = {
        "diary_type": step_of(version, "start-diary").diary_type,
        "entry_date": timezone.localdate(),
        "answers": {"mood": 5},
        "locked": True,
    }
    with transaction.atomic():
        services.diary_entry_save(enrollment=read, **save)
    assert taken == [enrollment.pk]
    with transaction.atomic():  # read and saved in one transaction: the lock is the page's
        services.diary_entry_save(enrollment=selectors.open_enrollment_locked(world.patient_a), **save)
    assert taken == [enrollment.pk]


def test_the_diary_page_reads_the_treatment_under_its_lock_and_an_ended_one_refuses_the_entry(
    clock, setup, monkeypatch
):
    """The page reads the open treatment under its lock, once: a treatment that ended while the
    page waited for that lock is read as ended (PostgreSQL reads the row again after the wait;
    here it ends just before), and the form keeps what was typed."""
    from patients import selectors

    world, _version, enrollment, client = setup
    held = []
    open_enrollment_locked = selectors.open_enrollment_locked

    def recorded(*args, **kwargs):
        held.append(open_enrollment_locked(*args, **kwargs))
        return held[-1]

    monkeypatch.setattr(selectors, "open_enrollment_locked", recorded)
    monkeypatch.setattr(
        work_items, "rhythm_locked", lambda pk: pytest.fail("the lock was taken by the page already")
    )
    response = client.post(WRITE_URL, dict(ENTRY, entry_date=timezone.localdate().isoformat()))
    assert response.status_code == 302 and held[-1].pk == enrollment.pk and held[-1].icbt_locked
    assert DiaryEntry.objects.filter(enrollment=enrollment).count() == 1
    assert not work_items.reconcile()

    def ended_meanwhile(*args, **kwargs):
        services.enrollment_status_change(enrollment=enrollment, staff=world.therapist, action="complete")
        return recorded(*args, **kwargs)

    monkeypatch.setattr(selectors, "open_enrollment_locked", ended_meanwhile)
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    response = client.post(WRITE_URL, dict(ENTRY, note="After the end", entry_date=yesterday))
    assert response.status_code == 200 and held[-1] is None
    html = response.content.decode()
    assert "Your program has ended" in html and "After the end" in html
    assert DiaryEntry.objects.filter(enrollment=enrollment).count() == 1


def test_a_refusal_while_the_first_entry_starts_the_treatment_keeps_the_text(clock, setup, monkeypatch):
    """The first entry of an invited patient also starts the treatment, whose own checks come
    after the entry's writes. A refusal there undoes the entry (a savepoint of its own) and the
    form comes back with what was typed: the request's transaction stays usable (without the
    savepoint the next query failed and the patient saw an error page)."""
    from patients.services import work

    _world, _version, enrollment, client = setup
    Enrollment.objects.filter(pk=enrollment.pk).update(status=Enrollment.Status.INVITED)
    settle()

    def refused(**kwargs):
        raise ValidationError("This treatment cannot start yet.")

    monkeypatch.setattr(work, "enrollment_activate", refused)
    response = client.post(WRITE_URL, dict(ENTRY, entry_date=timezone.localdate().isoformat()))
    assert response.status_code == 200
    html = response.content.decode()
    assert "This treatment cannot start yet." in html and "A quiet day in the garden" in html
    assert not DiaryEntry.objects.exists()
    assert Enrollment.objects.get(pk=enrollment.pk).status == Enrollment.Status.INVITED


def _tokens(html):
    import re

    version = re.search(r'name="shown_version" value="([^"]*)"', html)
    return {"shown_entry": _shown(html), "shown_version": version.group(1) if version else ""}


def _note(entry: DiaryEntry) -> str:
    entry.refresh_from_db()
    return json.loads(entry.text)["note"]


@pytest.mark.every_weekday
def test_a_correction_saved_in_another_tab_meanwhile_is_not_overwritten(clock, setup):
    _world, _version, _enrollment, client = setup
    entry = _written_today(client)
    today = timezone.localdate().isoformat()
    tab_a = _tokens(client.get(WRITE_URL).content.decode())
    tab_b = _tokens(client.get(WRITE_URL).content.decode())
    assert tab_a == tab_b and tab_a["shown_version"]
    response = client.post(
        WRITE_URL, dict(ENTRY, **tab_a, mood="4", note="Written in tab A", entry_date=today)
    )
    assert response.status_code == 302
    response = client.post(
        WRITE_URL, dict(ENTRY, **tab_b, mood="8", note="Written in tab B", entry_date=today)
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "This entry was changed somewhere else (perhaps in another window)" in html
    assert "Written in tab B" in html  # what was typed in this tab is kept in the form
    assert "What is saved now" in html and "Written in tab A" in html  # and what is saved is shown
    assert f'href="/me/diaries/entries/{entry.uid}/">Keep the saved one' in html
    assert _note(entry) == "Written in tab A" and entry.values["mood"] == 4
    # The form now carries the saved entry's version: sending it again is the patient's choice.
    again = _tokens(html)
    assert again["shown_entry"] == str(entry.uid) and again["shown_version"] != tab_b["shown_version"]
    response = client.post(
        WRITE_URL, dict(ENTRY, **again, mood="8", note="Written in tab B", entry_date=today)
    )
    assert response.status_code == 302
    assert _note(entry) == "Written in tab B" and entry.values["mood"] == 8
    assert DiaryEntry.objects.count() == 1


@pytest.mark.every_weekday
def test_the_same_correction_sent_twice_is_no_conflict(clock, setup):
    _world, _version, _enrollment, client = setup
    entry = _written_today(client)
    tokens = _tokens(client.get(WRITE_URL).content.decode())
    data = dict(ENTRY, **tokens, note="Clicked twice", entry_date=timezone.localdate().isoformat())
    assert client.post(WRITE_URL, data).status_code == 302
    response = client.post(WRITE_URL, data)  # the same form, the same (now old) version
    assert response.status_code == 302, response.content.decode()
    assert _note(entry) == "Clicked twice"


@pytest.mark.every_weekday
def test_the_diary_step_refuses_a_correction_over_one_made_meanwhile(clock, setup):
    _world, _version, _enrollment, client = setup
    step_url = "/me/steps/first/start-diary/"
    entry = _written_today(client)
    step_tokens = _tokens(client.get(step_url).content.decode())
    assert step_tokens["shown_entry"] == str(entry.uid) and step_tokens["shown_version"]
    today = timezone.localdate().isoformat()
    write_tokens = _tokens(client.get(WRITE_URL).content.decode())
    client.post(WRITE_URL, dict(ENTRY, **write_tokens, note="From My diaries", entry_date=today))
    response = client.post(step_url, dict(ENTRY, **step_tokens, note="From the step"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "This entry was changed somewhere else" in html and "From the step" in html
    assert "From My diaries" in html
    assert _note(entry) == "From My diaries"


@pytest.mark.every_weekday
def test_a_correction_with_its_version_keeps_the_pinned_count(clock, setup):
    from django.test.utils import CaptureQueriesContext

    _world, _version, _enrollment, client = setup
    entry = _written_today(client)
    tokens = _tokens(client.get(WRITE_URL).content.decode())
    data = dict(ENTRY, **tokens, mood="2", entry_date=timezone.localdate().isoformat())
    with CaptureQueriesContext(connection) as captured:
        response = client.post(WRITE_URL, data)
    assert response.status_code == 302
    assert len(captured.captured_queries) == DIARY_CORRECTION_QUERIES
    entry.refresh_from_db()
    assert entry.values["mood"] == 2


PLAIN_REQUIRED = {
    "en": (
        "Please choose a number on the scale.",
        "Please choose the day this entry is about.",
        "Please fill in a time, like 07:30.",
        "Please choose yes or no.",
        "Please fill in a number.",
        "Please choose one of the answers.",
    ),
    "nl": (
        "Kies een getal op de schaal.",
        "Kies over welke dag dit gaat.",
        "Vul een tijd in, zoals 07:30.",
        "Kies ja of nee.",
        "Vul een getal in.",
        "Kies een van de antwoorden.",
    ),
}


@pytest.mark.parametrize("language", ["en", "nl"])
def test_an_answer_left_empty_is_asked_for_in_plain_words(clock, setup, language):
    world, _version, enrollment, client = setup
    world.patient_a.user.language = language
    world.patient_a.user.save(update_fields=["language"])
    empty = dict(ENTRY, mood="", bedtime="", entry_date="", walked="", minutes="", kind="")
    response = client.post(WRITE_URL, empty)
    html = response.content.decode()
    assert response.status_code == 200
    for message in PLAIN_REQUIRED[language]:
        assert message in html, message
    assert "This field is required." not in html and "Dit veld is verplicht." not in html
    assert "A quiet day in the garden" in html  # what was typed is kept
    assert not DiaryEntry.objects.filter(enrollment=enrollment).exists()
