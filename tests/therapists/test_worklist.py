"""The therapist's worklist, the caseload and the count in the navigation."""

import json
import re
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse, set_script_prefix
from django.utils import timezone, translation

from icbt.models import AuditEvent
from icbt.roles import roles_of
from messaging.models import Conversation, Message
from patients.models import CareShare, Enrollment, IntakeRequest, QuestionnaireResponse
from tests.factories import make_patient
from tests.messaging.helpers import diary_entry, enroll, questionnaire, submitted_answer
from tests.patients.staff_helpers import intake_request, referral, tiny
from tests.therapists.builders import build_caseload
from tests.work import settle
from therapists import worklist as worklist_module
from therapists.worklist import caseload, pending_count, worklist

# Queries of the whole worklist page (the user with their roles (the session comes from the cache),
# the work items counted per kind (early warnings included: they are rows too), the patients with
# items, the page's rows with the names and program titles they show, the audit event; the
# navigation reuses the count), every open urgent item whatever the filter (a filter never hides a
# self-harm answer: one query more, on the owner's index); the same at 20 and at 500 patients.
WORKLIST_PAGE_QUERIES = 6
CASELOAD_PAGE_QUERIES = 5


def _message(enrollment, author, body="hello", minutes_ago=60):
    conversation, _ = Conversation.objects.get_or_create(enrollment=enrollment)
    conversation.enrollment = enrollment
    message = Message(
        clinic_id=conversation.enrollment.clinic_id,
        conversation=conversation,
        author=author,
        body=body,
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
    )
    message.save()
    settle()
    return message


def _kinds(result):
    return [(item.kind, item.patient_id) for item in result.items]


@pytest.fixture
def enrolled(world):
    return enroll(world.patient_a, start_days_ago=3, weekday=timezone.localdate().weekday())


def test_every_kind_of_item_with_a_link_to_the_composer(world, enrolled):
    answer = submitted_answer(enrolled)
    entry = diary_entry(enrolled, days_ago=1)
    response = questionnaire(enrolled)
    _message(enrolled, world.patient_a.user, "Can we talk?")
    request = intake_request(world.clinic)
    result = worklist(fetched_by=world.therapist.user)
    by_kind = {item.kind: item for item in result.items}
    composer = reverse("messaging:staff_conversation", kwargs={"pk": world.patient_a.pk})
    assert by_kind["answer"].url == f"{composer}?attach=answer:{answer.pk}#composer"
    assert by_kind["diary"].url == f"{composer}?attach=week:{entry.pk}#composer"
    assert by_kind["questionnaire"].url == f"{composer}?attach=questionnaire:{response.pk}#composer"
    assert by_kind["message"].url == f"{composer}#composer"
    assert by_kind["intake_request"].url == reverse(
        "patients:staff_intake_request_detail", kwargs={"pk": request.pk}
    )
    assert by_kind["answer"].patient_name == world.patient_a.user.get_full_name()
    assert all(item.age >= timedelta(0) for item in result.items)


def test_the_composer_opens_with_the_item_attached(world, enrolled, client_for):
    answer = submitted_answer(enrolled)
    item = next(i for i in worklist(fetched_by=world.therapist.user).items if i.kind == "answer")
    page = client_for(world.therapist.user).get(item.url)
    assert page.status_code == 200
    assert f'value="answer:{answer.pk}" id="attach-answer{answer.pk}" checked' in page.content.decode()


@pytest.mark.every_weekday
def test_diary_entries_are_grouped_per_iso_week(world):
    monday = timezone.localdate() - timedelta(days=timezone.localdate().weekday())
    enrollment = enroll(world.patient_a, start_days_ago=30)
    for day in (monday, monday + timedelta(days=1), monday - timedelta(days=1), monday - timedelta(days=3)):
        diary_entry(enrollment, days_ago=(timezone.localdate() - day).days)
    weeks = [i for i in worklist(fetched_by=world.therapist.user).items if i.kind == "diary"]
    assert sorted(w.count for w in weeks) == [2, 2]
    reviewed = enrollment.diary_entries.first()
    reviewed.reviewed_at = timezone.now()
    reviewed.save(update_fields=["reviewed_at"])
    settle()
    weeks = [i for i in worklist(fetched_by=world.therapist.user).items if i.kind == "diary"]
    assert sorted(w.count for w in weeks) == [1, 2]


def test_urgent_questionnaires_come_first_then_the_oldest(world, enrolled):
    submitted_answer(enrolled)
    AnswerAge = timezone.now() - timedelta(days=5)  # noqa: N806
    enrolled.answers.update(submitted_at=AnswerAge)
    urgent = QuestionnaireResponse.objects.create(
        clinic_id=enrolled.clinic_id,
        enrollment=enrolled,
        code="phq9",
        moment="start",
        total=14,
        flags=["self_harm", "possible_depression"],
    )
    settle()
    result = worklist(fetched_by=world.therapist.user)
    assert result.items[0].kind == "questionnaire" and result.items[0].urgent
    assert "item 9" in result.items[0].label
    assert result.items[1].kind == "answer"
    assert urgent.pk


def test_a_message_answered_by_the_clinic_is_not_waiting(world, enrolled):
    _message(enrolled, world.patient_a.user, "first", minutes_ago=120)
    _message(enrolled, world.therapist.user, "answer", minutes_ago=60)
    assert "message" not in [k for k, _ in _kinds(worklist(fetched_by=world.therapist.user))]
    _message(enrolled, world.patient_a.user, "second", minutes_ago=30)
    _message(enrolled, world.patient_a.user, "third", minutes_ago=10)
    item = next(i for i in worklist(fetched_by=world.therapist.user).items if i.kind == "message")
    assert item.count == 2
    assert 29 <= item.age.total_seconds() / 60 <= 32  # the oldest unanswered message


@pytest.mark.every_weekday
def test_feedback_due_and_overdue_by_cadence(world, settings):
    settings.ICBT_FEEDBACK_OVERDUE_WORKING_DAYS = 2
    today = timezone.localdate()
    # Weekly on today's weekday, started three weeks ago, never any feedback: long overdue.
    late = enroll(world.patient_a, start_days_ago=21, weekday=today.weekday())
    # Feedback given today: nothing due for a week.
    enroll(world.patient_b, start_days_ago=21, weekday=today.weekday(), last_feedback_at=timezone.now())
    kinds = _kinds(worklist(fetched_by=world.therapist.user))
    assert ("feedback_overdue", world.patient_a.pk) in kinds
    assert not any(kind.startswith("feedback") and pid == world.patient_b.pk for kind, pid in kinds)
    # Due today (a week after the last feedback), not yet overdue.
    late.last_feedback_at = timezone.now() - timedelta(days=7)
    late.save(update_fields=["last_feedback_at"])
    settle()
    kinds = _kinds(worklist(fetched_by=world.therapist.user))
    assert ("feedback_due", world.patient_a.pk) in kinds


@pytest.mark.every_weekday
def test_patients_who_went_quiet(world):
    quiet = enroll(world.patient_a, start_days_ago=30)
    quiet.last_activity_at = timezone.now() - timedelta(days=8)
    quiet.save(update_fields=["last_activity_at"])
    busy = enroll(world.patient_b, start_days_ago=30)
    busy.last_activity_at = timezone.now() - timedelta(days=1)
    busy.save(update_fields=["last_activity_at"])
    settle()
    kinds = _kinds(worklist(fetched_by=world.therapist.user))
    assert ("quiet", world.patient_a.pk) in kinds
    assert ("quiet", world.patient_b.pk) not in kinds


def test_intake_requests_and_referrals(world):
    intake_request(world.clinic)
    intake_request(world.other_clinic)
    handled = intake_request(world.clinic)
    handled.status = IntakeRequest.Status.CLOSED
    handled.save(update_fields=["status"])
    settle()
    item = referral(world)  # to therapist2
    for_therapist2 = worklist(fetched_by=world.therapist2.user)
    assert [i.kind for i in for_therapist2.items].count("intake_request") == 1
    ref = next(i for i in for_therapist2.items if i.kind == "referral")
    assert ref.url == reverse("patients:staff_referral_detail", kwargs={"pk": item.pk})
    assert "referral" not in [i.kind for i in worklist(fetched_by=world.therapist.user).items]


@pytest.mark.every_weekday
def test_requests_and_referrals_cost_the_page_no_query_more(world, client_for, clock):
    """The program an intake request is for and the colleague who referred come with the page's
    rows: the page costs as many queries with them as without."""
    toms = make_patient(world.clinic, world.therapist2, "tess@patients.test", first_name="Tess")
    submitted_answer(enroll(toms, start_days_ago=3, weekday=timezone.localdate().weekday()))
    client = client_for(world.therapist2.user)
    url = reverse("therapists:worklist")
    before, _elapsed, _response = _measure(client, url)
    intake_request(world.clinic)
    item = referral(world)  # from Alice (patient_a's therapist) to therapist2
    after, _elapsed, response = _measure(client, url)
    assert after == before
    items = {i.kind: i for i in response.context["worklist"].items}
    assert items["intake_request"].label == tiny().title
    assert items["referral"].label == "From Alice Person"
    assert items["referral"].patient_name == "Anna Person"
    assert items["referral"].url == reverse("patients:staff_referral_detail", kwargs={"pk": item.pk})
    # Filtered to one kind, the page asks only for what that kind shows.
    referrals = worklist(fetched_by=world.therapist2.user, kind="referral").items
    assert [i.label for i in referrals] == ["From Alice Person"]
    requests = worklist(fetched_by=world.therapist2.user, kind="intake_request").items
    assert [i.label for i in requests] == [tiny().title]


@pytest.mark.parametrize(
    ("order", "heading"), [("oldest", "then the longest waiting"), ("newest", "then the newest")]
)
def test_the_list_heading_names_the_order_chosen(clock, world, client_for, order, heading):
    build_caseload(world.therapist, 2)
    html = client_for(world.therapist.user).get(reverse("therapists:worklist"), {"order": order}).content
    assert f"Items waiting for you, by patient: urgent first, {heading}" in html.decode()


@pytest.mark.parametrize("order", ["oldest", "newest"])
def test_the_pages_follow_one_another_in_the_worklist_order(world, clock, order):
    """Each page is chosen among the rows first and then joined to the names: the pages
    together are the whole list, in its order, each item once."""
    build_caseload(world.therapist, 20, prefix="pages")
    items = worklist(fetched_by=world.therapist.user, order=order).items
    pages = items[0:100] + items[100:200]
    assert len(pages) == len(items) > 100
    assert len({(i.kind, i.url, i.since) for i in pages}) == len(pages)
    assert pages == list(items)
    sign = 1 if order == "oldest" else -1
    keys = [(not i.urgent, sign * i.since.timestamp()) for i in pages]
    assert keys == sorted(keys)  # urgent first, then by age


def _work_item_scans(node):
    """The nodes of a JSON query plan that read the work-item table."""
    if node.get("Relation Name") == "patients_workitem":
        yield node
    for child in node.get("Plans", ()):
        yield from _work_item_scans(child)


@pytest.mark.postgres
def test_an_index_serves_every_part_of_what_the_worklist_reads(clock, world, enrolled):
    """The worklist's reads (the counts, the patients, the page) search the work-item table's
    indexes for the viewer's rows, the rows of shared patients too: a small caseload in a large
    clinic reads its own rows, not all of the clinic's (``IN (subquery)`` inside the OR left the
    planner no other way than reading the whole table or a whole index)."""
    submitted_answer(enrolled)
    build_caseload(world.therapist2, 300, prefix="colleague")  # the rest of the clinic
    CareShare.objects.create(
        patient=world.patient_b, colleague=world.therapist, shared_by=world.therapist2, until=clock.today()
    )
    with CaptureQueriesContext(connection) as queries:
        result = worklist(fetched_by=world.therapist.user)
        list(result.items)
    reads = [q["sql"] for q in queries.captured_queries if '"patients_workitem"' in q["sql"]]
    assert len(reads) >= 3
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE patients_workitem")
        cursor.execute("SET LOCAL enable_seqscan = off")  # a test's tables are small all the same
        for sql in reads:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0][0]["Plan"]
            assert list(_work_item_scans(plan)), sql
            # Read and thrown away: at most the viewer's own rows that are not due yet, never
            # the colleague's hundreds.
            thrown_away = sum(scan.get("Rows Removed by Filter", 0) for scan in _work_item_scans(plan))
            assert thrown_away < 100, json.dumps(plan, indent=1)


def test_only_the_caseload_and_patients_shared_with_the_viewer(world):
    enrollment = enroll(world.patient_a)
    submitted_answer(enrollment)
    other = enroll(world.other_patient)
    submitted_answer(other)
    assert not worklist(fetched_by=world.therapist2.user).items
    assert [i.patient_id for i in worklist(fetched_by=world.outsider.user).items if i.kind == "answer"] == [
        world.other_patient.pk
    ]
    share = CareShare.objects.create(
        patient=world.patient_a,
        colleague=world.therapist2,
        shared_by=world.therapist,
        until=timezone.localdate() + timedelta(days=3),
    )
    assert {(i.kind, i.patient_id) for i in worklist(fetched_by=world.therapist2.user).items} == {
        ("answer", world.patient_a.pk),
        ("feedback_overdue", world.patient_a.pk),
    }
    share.ended_at = timezone.now()
    share.save(update_fields=["ended_at"])
    assert not worklist(fetched_by=world.therapist2.user).items
    # Managers and patients have no worklist.
    assert worklist(fetched_by=world.manager.user).items == []
    assert worklist(fetched_by=world.patient_a.user).items == []


def test_closed_enrollments_have_no_pending_items(world):
    enrollment = enroll(world.patient_a, status=Enrollment.Status.COMPLETED)
    submitted_answer(enrollment)
    assert worklist(fetched_by=world.therapist.user).items == []


def test_filter_by_kind_and_patient_and_sort(world, client_for):
    a = enroll(world.patient_a, start_days_ago=3, weekday=timezone.localdate().weekday())
    b = enroll(world.patient_b, start_days_ago=3, weekday=timezone.localdate().weekday())
    submitted_answer(a)
    a.answers.update(submitted_at=timezone.now() - timedelta(days=2))
    settle()
    submitted_answer(b)
    diary_entry(b)
    result = worklist(fetched_by=world.therapist.user, kind="answer")
    assert [i.patient_id for i in result.items] == [world.patient_a.pk, world.patient_b.pk]
    assert result.counts["answer"] == 2 and result.counts["diary"] == 1 and result.total == 3
    newest = worklist(fetched_by=world.therapist.user, kind="answer", order="newest")
    assert [i.patient_id for i in newest.items] == [world.patient_b.pk, world.patient_a.pk]
    only_b = worklist(fetched_by=world.therapist.user, patient_id=world.patient_b.pk)
    assert {i.patient_id for i in only_b.items} == {world.patient_b.pk} and len(only_b.items) == 2
    page = client_for(world.therapist.user).get(
        reverse("therapists:worklist"), {"kind": "diary", "patient": str(world.patient_b.pk)}
    )
    assert page.status_code == 200
    assert page.context["worklist"].items[0].kind == "diary"
    bad = client_for(world.therapist.user).get(
        reverse("therapists:worklist"), {"kind": "nonsense", "patient": "x"}
    )
    assert bad.status_code == 200 and len(bad.context["worklist"].items) == 3


def test_the_page_shows_items_and_is_audited(world, enrolled, client_for):
    submitted_answer(enrolled)
    page = client_for(world.therapist.user).get(reverse("therapists:worklist"))
    html = page.content.decode()
    assert page.status_code == 200
    assert world.patient_a.user.get_full_name() in html
    assert "Assignment to review" in html
    assert (
        AuditEvent.objects.filter(
            object_type="worklist", user=world.therapist.user, action=AuditEvent.Action.SEARCH
        ).count()
        == 1
    )


def test_the_patient_filter_offers_those_waiting_longest_and_the_audit_names_only_the_rows_shown(
    world, client_for, monkeypatch
):
    """The filter's list of names comes from the work items with LIMIT; the page's audit names
    the patients of the rows it displayed, not everyone the filter offers."""
    from therapists import views_work
    from therapists import worklist as worklist_module

    monkeypatch.setattr(worklist_module, "FILTER_PATIENTS", 1)
    monkeypatch.setattr(views_work, "WORKLIST_PAGE_SIZE", 1)
    older = enroll(world.patient_b, start_days_ago=3, weekday=timezone.localdate().weekday())
    newer = enroll(world.patient_a, start_days_ago=3, weekday=timezone.localdate().weekday())
    _message(older, world.patient_b.user, minutes_ago=120)
    _message(newer, world.patient_a.user, minutes_ago=10)
    client = client_for(world.therapist.user)
    page = client.get(reverse("therapists:worklist"), {"kind": "message", "order": "newest"})
    assert page.context["worklist"].patients == [
        (world.patient_b.pk, page.context["worklist"].patients[0][1])
    ]
    assert [item.patient_id for item in page.context["page"].object_list] == [world.patient_a.pk]
    searched = AuditEvent.objects.filter(object_type="worklist", action=AuditEvent.Action.SEARCH)
    assert set(searched.values_list("patient_id", flat=True)) == {world.patient_a.pk}


def test_the_navigation_counts_pending_items_in_one_query(
    world, enrolled, client_for, django_assert_num_queries
):
    submitted_answer(enrolled)
    diary_entry(enrolled)
    _message(enrolled, world.patient_a.user)
    intake_request(world.clinic)
    roles_of(world.therapist.user)  # who the user is: loaded once per request, before the navigation
    with django_assert_num_queries(1):
        assert pending_count(fetched_by=world.therapist.user) == 4
    assert pending_count(fetched_by=world.manager.user) is None
    html = client_for(world.therapist.user).get(reverse("personal_settings")).content.decode()
    assert 'Worklist <span class="nav-badge">4<' in html
    manager_html = client_for(world.manager.user).get(reverse("personal_settings")).content.decode()
    assert "Worklist" not in manager_html and "Dashboard" in manager_html


def test_the_worklist_page_gives_the_navigation_its_own_count(world, enrolled, client_for):
    """The worklist counted everything already: its navigation shows the same number as on
    any other page, without the count query."""
    submitted_answer(enrolled)
    diary_entry(enrolled)
    _message(enrolled, world.patient_a.user)
    intake_request(world.clinic)
    client = client_for(world.therapist.user)
    client.get(reverse("therapists:worklist"))
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("therapists:worklist")).content.decode()
    assert 'Worklist <span class="nav-badge">4<' in html
    assert not [q for q in queries.captured_queries if "_count" in q["sql"]]


def test_caseload_rows(world, client_for):
    today = timezone.localdate()
    enrollment = enroll(world.patient_a, start_days_ago=30, weekday=today.weekday())
    first = enrollment.version.steps.select_related("module").get(slug="summary")
    enrollment.current_step = first
    enrollment.last_activity_at = timezone.now()
    enrollment.save(update_fields=["current_step", "last_activity_at"])
    settle()
    shared_patient = make_patient(world.clinic, world.therapist2, "shared@patients.test", first_name="Sharon")
    CareShare.objects.create(
        patient=shared_patient,
        colleague=world.therapist,
        shared_by=world.therapist2,
        until=today + timedelta(days=2),
    )
    rows = {r.patient.pk: r for r in caseload(fetched_by=world.therapist.user)}
    assert set(rows) == {world.patient_a.pk, world.patient_b.pk, shared_patient.pk}
    row = rows[world.patient_a.pk]
    assert row.module_number == 2 and row.module_count == 2
    assert row.next_feedback_due is not None and row.feedback_overdue
    assert rows[shared_patient.pk].shared and rows[world.patient_b.pk].enrollment is None
    page = client_for(world.therapist.user).get(reverse("therapists:caseload"))
    assert page.status_code == 200
    assert "Sharon" in page.content.decode() and "shared with you" in page.content.decode()


@pytest.mark.parametrize("held", [False, True])
def test_the_caseload_names_the_module_the_overview_names(clock, world, held):
    """A diary kept from module 1's step while the patient works in module 2 moves the
    enrollment's current step back to module 1: the caseload still says module 2, as the
    patient's overview does; with module 2 held back, both say module 1."""
    from patients.models import ModuleState, StepProgress
    from patients.progress import progress_for

    enrollment = enroll(world.patient_a, start_days_ago=30, weekday=timezone.localdate().weekday())
    steps = list(enrollment.version.steps.select_related("module").order_by("module__number", "position"))
    first = next(step for step in steps if step.module.number == 1)
    second = next(step for step in steps if step.module.number == 2)
    for step in steps:  # module 1 done (so module 2 opens), module 2 begun
        if step.module.number == 1:
            StepProgress.objects.create(enrollment=enrollment, step=step, completed_at=timezone.now())
    StepProgress.objects.create(enrollment=enrollment, step=second)
    if held:
        ModuleState.objects.create(enrollment=enrollment, module_number=2, state=ModuleState.State.HELD)
    enrollment.current_step = first  # as a diary entry written from module 1's step leaves it
    enrollment.save(update_fields=["current_step"])
    settle()
    row = next(r for r in caseload(fetched_by=world.therapist.user) if r.patient.pk == world.patient_a.pk)
    overview = progress_for(Enrollment.objects.get(pk=enrollment.pk)).current_module()
    assert row.module_number == overview.module.number == (1 if held else 2)


def _measure(client, url):
    client.get(url)  # the first request of a session also writes the session
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    return len(queries), elapsed, response


@pytest.mark.every_weekday
def test_the_bulk_caseload_gives_the_same_work_on_every_weekday(world, client_for):
    """The totals the query pin below relies on hold on every day of the week."""
    intake_request(world.clinic)
    build_caseload(world.therapist, 4, prefix="week")
    response = client_for(world.therapist.user).get(reverse("therapists:worklist"))
    # 4 patients x (message, answer, 2 diary weeks, questionnaire, feedback overdue) + 2 quiet
    # + the intake request.
    assert response.context["worklist"].total == 4 * 6 + 2 + 1


@pytest.mark.parametrize(
    "name,pinned",
    [("therapists:worklist", WORKLIST_PAGE_QUERIES), ("therapists:caseload", CASELOAD_PAGE_QUERIES)],
)
def test_query_count_is_pinned_at_20_and_500_patients(world, client_for, name, pinned, clock):
    client = client_for(world.therapist.user)
    url = reverse(name)
    intake_request(world.clinic)
    referral(world)  # to therapist2: the count must not depend on it
    build_caseload(world.therapist, 20, prefix="small")
    small, small_time, response = _measure(client, url)
    if name == "therapists:worklist":
        # 20 patients x (message, answer, 2 diary weeks, questionnaire, feedback overdue) + 10
        # quiet + the intake request.
        assert response.context["worklist"].total == 20 * 6 + 10 + 1
    build_caseload(world.therapist, 480, prefix="large")
    large, large_time, response = _measure(client, url)
    if name == "therapists:worklist":
        assert response.context["worklist"].total == 500 * 6 + 250 + 1
    print(  # noqa: T201 - the measured figures, shown with -s
        f"\n{name}: {small} queries at 20 patients ({small_time:.2f}s), {large} at 500 ({large_time:.2f}s), "
        f"time ratio {large_time / small_time:.1f}"
    )
    assert small == large == pinned


def test_the_patient_overview_links_to_what_still_needs_feedback(world, enrolled, client_for):
    submitted_answer(enrolled)
    client = client_for(world.therapist.user)
    html = client.get(
        reverse("patients:staff_patient_detail", kwargs={"pk": world.patient_a.pk})
    ).content.decode()
    link = f"{reverse('therapists:worklist')}?patient={world.patient_a.pk}"
    assert "What still needs feedback" in html and link in html
    assert reverse("patients:staff_treatment_summary", kwargs={"pk": world.patient_a.pk}) in html
    items = client.get(link).context["page"].object_list
    assert {i.patient_id for i in items} == {world.patient_a.pk} and "answer" in [i.kind for i in items]


def test_the_patient_filter_lists_patients_escaped_with_the_chosen_one_selected(world, enrolled, client_for):
    user = world.patient_a.user
    user.first_name = '<script>alert("x")</script>'
    user.save(update_fields=["first_name"])
    submitted_answer(enrolled)
    html = (
        client_for(world.therapist.user)
        .get(reverse("therapists:worklist"), {"patient": world.patient_a.pk})
        .content.decode()
    )
    assert '<script>alert("x")</script>' not in html
    assert f'<option value="{world.patient_a.pk}" selected>&lt;script&gt;' in html
    assert re.search(r"<select[^>]*name=\"patient\"", html)


def test_a_patient_without_a_name_is_shown_by_e_mail_address(world, enrolled):
    user = world.patient_a.user
    user.first_name = user.last_name = ""
    user.save(update_fields=["first_name", "last_name"])
    submitted_answer(enrolled)
    result = worklist(fetched_by=world.therapist.user)
    item = next(i for i in result.items if i.kind == "answer")
    assert item.patient_name == user.email
    assert (world.patient_a.pk, f"{user.email} ({world.patient_a.case_reference})") in result.patients


def _page_row(kind, since, *, patient_id=7, count=1, urgent=False, flagged=False, **detail):
    return SimpleNamespace(
        kind=kind,
        patient_id=patient_id,
        object_id=11,
        ref=f"{kind}:11",
        since=since,
        overdue_at=since,
        urgent=urgent,
        flagged=flagged,
        count=count,
        detail=detail,
        first_name="Anna",
        last_name="Person",
        email="anna@patients.test",
        case_reference="C-7",
        referrer="Alice Person",
        program_title="Master your Pain",
    )


def test_labels_are_made_once_each_per_language_and_read_as_made_one_by_one(clock, monkeypatch):
    """Lines with the same label (every patient whose feedback was due that day, diary weeks
    alike) share it: each distinct label is made and translated once per process and language,
    not once per item or per page, and reads as the row's own label."""
    now = timezone.now()
    day = timedelta(days=1)
    rows = [
        *[_page_row("feedback", now - 2 * day, patient_id=p, due_on="2026-11-27") for p in (1, 2, 3)],
        _page_row("feedback", now - 3 * day, patient_id=4, due_on="2026-11-26"),
        *[_page_row("diary", now - 3 * day, patient_id=p, count=3, year=2026, week=48) for p in (1, 2)],
        _page_row("diary", now - 3 * day, count=2, year=2026, week=48),
        *[_page_row("quiet", now - 9 * day, patient_id=p) for p in (1, 2)],
        _page_row("quiet", now - 10 * day),
        *[_page_row("answer", now - day, patient_id=p, module=2, title="Pacing") for p in (1, 2)],
        _page_row("questionnaire", now - day, urgent=True, code="phq9"),
        _page_row("questionnaire", now - day, flagged=True, code="phq9"),
        _page_row("questionnaire", now - day, code="phq9"),
        _page_row("message", now - day, count=2),
        _page_row("referral", now - day),
        _page_row("intake_request", now - day, patient_id=None),
        _page_row(
            "early_warning",
            now - 20 * day,
            flagged=True,
            start=str(timezone.localdate(now) - 40 * day),
            from_week=4,
        ),
    ]
    made = []
    label = worklist_module._label
    monkeypatch.setattr(
        worklist_module, "_label", lambda kind, *a, **k: made.append(kind) or label(kind, *a, **k)
    )
    worklist_module._label_made.cache_clear()

    def own_label(row, kind):
        return label(
            kind,
            row.detail,
            count=row.count,
            urgent=row.urgent,
            flagged=row.flagged,
            days=(now - row.since).days,
            today=timezone.localdate(now),
        )

    with translation.override("en"):
        items = worklist_module._items(rows, now=now)
        for row, item in zip(rows, items, strict=True):
            if item.kind not in worklist_module.REQUEST_KINDS:
                assert item.label == own_label(row, item.kind) != ""
        assert items[-3].label == "From Alice Person" and items[-2].label == "Master your Pain"
        distinct = sorted(
            ["feedback_overdue"] * 2
            + ["diary"] * 2
            + ["quiet"] * 2
            + ["answer"]
            + ["questionnaire"] * 3
            + ["message", "early_warning"]
        )
        assert sorted(made) == distinct
        # The next page (another request) makes none of them again.
        assert [item.label for item in worklist_module._items(rows, now=now)] == [
            item.label for item in items
        ]
        assert sorted(made) == distinct
    with translation.override("nl"):
        dutch = worklist_module._items(rows, now=now)
        assert sorted(made) == sorted(distinct * 2)
        assert dutch[4].label == own_label(rows[4], "diary") != items[4].label
    assert items[-1].url == reverse("patients:staff_patient_detail", kwargs={"pk": 7}) + "#early-warning"
    assert (
        items[0].url
        == reverse("messaging:staff_conversation", kwargs={"pk": 1}) + "?attach=feedback:11#composer"
    )


def test_the_lines_links_follow_the_script_prefix(clock):
    """The links are reversed once per URLconf and script prefix, not once per page: served
    under a prefix, every line's link carries it."""
    now = timezone.now()
    rows = [
        _page_row("answer", now, module=2, title="Pacing"),
        _page_row("early_warning", now, start=str(timezone.localdate(now)), from_week=4),
        _page_row("referral", now),
        _page_row("intake_request", now, patient_id=None),
    ]
    before = [item.url for item in worklist_module._items(rows, now=now)]
    set_script_prefix("/clinic/")
    try:
        prefixed = [item.url for item in worklist_module._items(rows, now=now)]
        assert prefixed[1] == reverse("patients:staff_patient_detail", kwargs={"pk": 7}) + "#early-warning"
    finally:
        set_script_prefix("/")
    assert prefixed == ["/clinic" + url for url in before]
    assert [item.url for item in worklist_module._items(rows, now=now)] == before
