"""The worklist's reads stay flat as a caseload grows (issue 16): its counts come from counters
per owner and kind, its page and its patient filter are walked on indexes with LIMIT, part by
part. Each is compared here with the plain definition over ``visible_items`` (every row read):
the same counts, the same patients, the same rows in the same order, page after page."""

import json
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Min
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from icbt import shaped_sql
from messaging import pending
from patients import work_items
from patients.models import CareShare, QuestionnaireResponse, WorkCount, WorkItem
from tests.factories import make_patient
from tests.messaging.helpers import diary_entry, enroll, questionnaire, submitted_answer
from tests.patients.staff_helpers import intake_request, referral
from tests.therapists.builders import build_caseload
from tests.work import settle
from therapists import worklist as worklist_module
from therapists.worklist import FILTER_KINDS, FILTER_PATIENTS, worklist

pytestmark = pytest.mark.django_db


def _urgent(enrollment) -> QuestionnaireResponse:
    response = QuestionnaireResponse.objects.create(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        code="phq9",
        moment="start",
        total=14,
        flags=["self_harm"],
    )
    settle()
    return response


@pytest.fixture
def every_arm(world, clock):
    """therapist2 sees every part: their own caseload (more patients than the filter offers,
    with ties in age), urgent rows, a patient shared with them by a colleague, a referral about
    a patient who is not theirs, the clinic's intake requests."""
    build_caseload(world.therapist2, FILTER_PATIENTS + 10, prefix="flat")
    own = make_patient(world.clinic, world.therapist2, "own@patients.test", first_name="Own")
    own_enrollment = enroll(own, start_days_ago=3, weekday=clock.today().weekday())
    _urgent(own_enrollment)
    submitted_answer(own_enrollment)
    shared = enroll(world.patient_a, start_days_ago=3, weekday=clock.today().weekday())
    submitted_answer(shared)
    diary_entry(shared, days_ago=2)
    _urgent(shared)
    CareShare.objects.create(
        patient=world.patient_a, colleague=world.therapist2, shared_by=world.therapist, until=clock.today()
    )
    referral(world)  # about patient_a, to therapist2
    intake_request(world.clinic)
    intake_request(world.clinic, name="Second Request", email="second@home.test")
    return world.therapist2


def _reference(staff, now, *, kind="", patient_id=None, order="oldest"):
    """The worklist by its definition: every visible row read, counted, grouped, sorted."""
    rows = pending.visible_items(staff=staff, now=now)
    counts = {key: 0 for key in FILTER_KINDS}
    counts.update(Counter(rows.values_list("kind", flat=True)))
    selected = rows.filter(worklist_module._selection(kind, patient_id))
    direction = "since" if order == "oldest" else "-since"
    ordered = list(selected.order_by("-urgent", direction, "pk").values_list("pk", "patient_id", "since"))
    longest_waiting = list(
        rows.filter(patient__isnull=False)
        .values("patient_id")
        .annotate(oldest=Min("since"))
        .order_by("oldest", "patient_id")
        .values_list("patient_id", flat=True)[:FILTER_PATIENTS]
    )
    return counts, ordered, sorted(longest_waiting)


def _lines(items) -> list[tuple]:
    return [(item.patient_id, item.since) for item in items]


def _page_ids(result, start, stop) -> list[int]:
    rows = result.items.rows
    if rows is None:
        return []
    return list(
        WorkItem.objects.filter(pk__in=rows.chosen(start, stop))
        .order_by(*rows.order_by)
        .values_list("pk", flat=True)
    )


def _same_as_the_definition(staff, now, **selection):
    result = worklist(fetched_by=staff.user, now=now, **selection)
    counts, ordered, longest_waiting = _reference(staff, now, **selection)
    assert result.counts == counts, selection
    assert len(result.items) == len(ordered), selection
    for start, stop in ((0, 100), (100, 200), (37, 137), (0, len(ordered))):
        assert _page_ids(result, start, stop) == [pk for pk, *_ in ordered[start:stop]], (
            selection,
            start,
            stop,
        )
        # The page's lines, read by the page's own query.
        assert _lines(result.items[start:stop]) == [tuple(row[1:]) for row in ordered[start:stop]], (
            selection,
            start,
            stop,
        )
    chosen = sorted(pk for pk, _name in result.patients if pk != selection.get("patient_id"))
    assert chosen == [pk for pk in longest_waiting if pk != selection.get("patient_id")], selection
    return result


@pytest.mark.parametrize("order", ["oldest", "newest"])
def test_counts_pages_and_patients_are_those_of_the_definition_across_every_part(every_arm, clock, order):
    staff = every_arm
    now = timezone.now()
    result = _same_as_the_definition(staff, now, order=order)
    assert len(result.items) > 200 and len(result.patients) == FILTER_PATIENTS
    assert result.items[0].urgent and result.items[1].urgent  # the own and the shared patient's
    for kind in FILTER_KINDS:
        _same_as_the_definition(staff, now, kind=kind, order=order)
    patient_ids = [pk for pk, _name in result.patients][:2]
    for patient_id in (*patient_ids, every_arm_patient(staff)):
        _same_as_the_definition(staff, now, patient_id=patient_id, order=order)
        _same_as_the_definition(staff, now, patient_id=patient_id, kind="answer", order=order)
        _same_as_the_definition(staff, now, patient_id=patient_id, kind="intake_request", order=order)
    # Days later the rhythm's rows (feedback, quiet spells) show without a write.
    later = now + timedelta(days=9)
    _same_as_the_definition(staff, later, order=order)
    _same_as_the_definition(staff, later, kind="quiet", order=order)


def every_arm_patient(staff) -> int:
    """The shared patient (patient_a): their rows come from the shared part, the referral about
    them from the viewer's own."""
    return CareShare.objects.get(colleague=staff).patient_id


def test_the_counters_are_per_owner_and_kind(world, clock):
    enrollment = enroll(world.patient_a, start_days_ago=3, weekday=clock.today().weekday())
    submitted_answer(enrollment)
    questionnaire(enrollment)
    questionnaire(enrollment, code="gad7")
    intake_request(world.clinic)
    counters = dict(WorkCount.objects.values_list("key", "n"))
    assert counters == {
        f"owner:{world.therapist.pk}:answer": 1,
        f"owner:{world.therapist.pk}:questionnaire": 2,
        f"clinic:{world.clinic.pk}:intake_request": 1,
    }
    result = worklist(fetched_by=world.therapist.user)
    assert (result.counts["answer"], result.counts["questionnaire"], result.counts["intake_request"]) == (
        1,
        2,
        1,
    )
    assert not work_items.reconcile()


def test_reconcile_repairs_a_counter_of_one_kind(world, clock):
    enrollment = enroll(world.patient_a, start_days_ago=3, weekday=clock.today().weekday())
    submitted_answer(enrollment)
    questionnaire(enrollment)
    key = f"owner:{world.therapist.pk}:questionnaire"
    WorkCount.objects.filter(key=key).update(n=3)  # no service
    assert worklist(fetched_by=world.therapist.user).counts["questionnaire"] == 3  # read from the counter
    assert work_items.reconcile(repair=True).changed == [f"count:{key}"]
    assert worklist(fetched_by=world.therapist.user).counts["questionnaire"] == 1
    assert not work_items.reconcile()


def _work_item_scans(node):
    if node.get("Relation Name") == "patients_workitem":
        yield node
    for child in node.get("Plans", ()):
        yield from _work_item_scans(child)


def _counts_the_rhythms_rows(scan) -> bool:
    """The scan searches the owner's index by kind and day for the rhythm's kinds alone."""
    searches = [scan, *scan.get("Plans", ())]
    return any(
        node.get("Index Name") == "work_item_owner_kind"
        and any(f"'{kind}'" in node.get("Index Cond", "") for kind in pending.ROW_COUNTED_KINDS)
        for node in searches
    )


@pytest.mark.postgres
def test_the_worklist_reads_a_page_of_rows_not_the_caseload(clock, world):
    """With 1,950 rows waiting, the counts, the patient filter and the page read the rows they
    show and the viewer's rows of the rhythm's kinds that are due (counted on the index alone),
    never every row: the counted kinds come from the counters."""
    build_caseload(world.therapist, 300, prefix="many")
    with CaptureQueriesContext(connection) as queries:
        result = worklist(fetched_by=world.therapist.user)
        list(result.items[:100])
    assert len(result.items) == 300 * 6 + 150  # as in the query pin of test_worklist
    reads = [q["sql"] for q in queries.captured_queries if '"patients_workitem"' in q["sql"]]
    assert len(reads) == 4  # the counts, the filter's patients, the page, the urgent items
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE patients_workitem")
        # A test's tables are small all the same: the planner would read them whole (or join
        # the page's ids to the whole key index) as cheaply as their few rows.
        for setting in ("enable_seqscan", "enable_mergejoin", "enable_hashjoin"):
            cursor.execute(f"SET LOCAL {setting} = off")
        for sql in reads:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0][0]["Plan"]
            # Rows read from the table, besides the count of the rhythm's due rows (one entry
            # each of the owner's index by kind and day; on the index alone once vacuumed).
            read = sum(
                scan["Actual Rows"] * scan.get("Actual Loops", 1)
                for scan in _work_item_scans(plan)
                if not _counts_the_rhythms_rows(scan)
            )
            assert read < 400, json.dumps(plan, indent=1)


# The worklist's own queries (the counts, the patients of the filter, the page's rows, and every
# open urgent item whatever the filter: no filter hides a self-harm answer), filtered or not, in
# either order: the same at 20 and at 500 patients.
WORKLIST_QUERIES = 4


@pytest.mark.parametrize(
    "selection",
    [
        {},
        {"order": "newest"},
        {"kind": "diary"},
        {"kind": "feedback", "order": "newest"},
        {"kind": "intake_request"},
    ],
)
def test_the_worklists_queries_are_pinned_at_20_and_500_patients(world, clock, selection):
    intake_request(world.clinic)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            result = worklist(fetched_by=world.therapist.user, **selection)
            list(result.items[:100])
        return len(captured)

    build_caseload(world.therapist, 20, prefix="small")
    queries()  # the viewer's roles are read once, then kept with the user
    small = queries()
    build_caseload(world.therapist, 480, prefix="large")
    assert small == queries() == WORKLIST_QUERIES


def test_a_patient_filter_costs_the_same_at_20_and_500_patients(world, clock):
    """Filtered to one patient: their rows counted too, in the same query; one query more for
    the patient's name when they are not among the patients the filter offers."""
    enrollments = build_caseload(world.therapist, 20, prefix="small")
    patient_id = enrollments[0].patient_id

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            result = worklist(fetched_by=world.therapist.user, patient_id=patient_id)
            assert {item.patient_id for item in result.items} == {patient_id}
        return len(captured)

    queries()  # the viewer's roles are read once, then kept with the user
    small = queries()
    build_caseload(world.therapist, 480, prefix="large")
    assert small == queries() == WORKLIST_QUERIES  # the patient is among those the filter offers


def _shown(staff, now, selection) -> tuple:
    """Everything the first page of the worklist shows for ``selection``: counts, patients, and
    each line."""
    result = worklist(fetched_by=staff.user, now=now, **selection)
    lines = [
        (item.kind, item.patient_id, item.since, item.url, item.label, item.patient_name, item.urgent)
        for item in result.items[:100]
    ]
    return result.counts, result.patients, lines


def test_sql_built_once_per_shape_never_mixes_two_shapes_or_two_viewers(every_arm, world, clock):
    """The worklist's SQL is built once per process and shape (``icbt.shaped_sql``) and bound to
    each viewer's values. Asked in turns (two therapists, every kind, both orders, with and
    without a patient filter), each answer is the definition's, and every line (its link, its
    label, the referrer's name, the program's title) is what the same question shows with its
    SQL built for it alone: no shape ever answers for another, and no viewer's values stay
    behind for the next."""
    build_caseload(world.therapist, 30, prefix="other")
    shared_patient = every_arm_patient(every_arm)
    own_patient = build_caseload(world.therapist, 1, prefix="one")[0].patient_id
    now = timezone.now()
    turns = []
    for selection in (
        {},
        {"order": "newest"},
        *({"kind": kind} for kind in FILTER_KINDS),
        {"kind": "diary", "order": "newest"},
        {"patient_id": "mine"},
        {"patient_id": "mine", "kind": "answer"},
        {"patient_id": "mine", "kind": "intake_request"},
        {"patient_id": "mine", "order": "newest"},
    ):
        # The viewer without a referral first: a shape without the referrer's name comes first.
        for staff in (world.therapist, every_arm):
            if selection.get("patient_id") == "mine":
                patient_id = shared_patient if staff == every_arm else own_patient
                selection = {**selection, "patient_id": patient_id}
            turns.append((staff, selection))
    alone = []
    for staff, selection in turns:
        shaped_sql.clear()
        alone.append(_shown(staff, now, selection))
    assert any(label.startswith("From ") for *_, lines in alone for _k, _p, _s, _u, label, *_rest in lines)
    shaped_sql.clear()
    for _round in ("cold", "warm"):
        for (staff, selection), shown in zip(turns, alone, strict=True):
            assert _shown(staff, now, selection) == shown, (staff, selection)
            _same_as_the_definition(staff, now, **selection)
    # Another moment, bound to the same shapes: the rhythm's rows due by then show.
    later = now + timedelta(days=9)
    for staff in (every_arm, world.therapist):
        _same_as_the_definition(staff, later)


def test_a_stand_in_without_a_value_is_never_sent():
    shaped = shaped_sql.Shaped(sql="SELECT %s, %s", params=(shaped_sql.StandIn.staff, "open"))
    assert shaped_sql.bind(connection, shaped, staff=7) == [7, "open"]
    with pytest.raises(ValueError, match="no value"):
        shaped_sql.bind(connection, shaped)
    with pytest.raises(TypeError, match="no stand-in"):
        shaped_sql.bind(connection, shaped, staff=7, therapist=8)
