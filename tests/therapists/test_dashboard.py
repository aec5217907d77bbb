"""The manager's dashboard: the figures, the filters, the pinned query count, and the proof
that a manager opens no patient data anywhere."""

import re
import time
from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from messaging.models import Conversation, Message
from patients.models import Enrollment, StepProgress, TreatmentSession
from programs.models import Step
from tests.factories import make_patient, make_staff
from tests.matrix import LOGIN
from tests.messaging import matrix as messaging_matrix
from tests.messaging.helpers import diary_entry, enroll, submitted_answer
from tests.patients import matrix as patients_matrix
from tests.patients.staff_helpers import intake_request
from tests.therapists.builders import MARKER, build_caseload
from tests.work import settle
from therapists.dashboard import Period, clinic_dashboard, default_period
from therapists.dashboard_presentation import dashboard_charts, dashboard_tables

DASHBOARD_PAGE_QUERIES = 12  # the user (the session comes from the cache); the waiting work per
# therapist: its tallies (patients.WorkTally); the program flow, the funnel and the contacts: one
# grouped sum each over the daily figures


def _at(day: date, hour=12) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time())) + timedelta(hours=hour)


def _row(dashboard, staff):
    return next(r for r in dashboard.therapists if r.staff_id == staff.pk)


def test_default_period_is_the_last_twelve_months():
    period = default_period(date(2026, 3, 15))
    assert period.start == date(2025, 4, 1) and period.end == date(2026, 3, 15)
    assert len(period.months) == 12


@pytest.mark.every_weekday
def test_caseload_pending_and_overdue_per_therapist(world):
    today = timezone.localdate()
    a = enroll(world.patient_a, start_days_ago=30, weekday=today.weekday())  # active, feedback overdue
    submitted_answer(a)
    diary_entry(a, days_ago=1)
    enroll(world.patient_b, status=Enrollment.Status.PAUSED)
    extra = make_patient(world.clinic, world.therapist, "cid@patients.test")
    enroll(extra, status=Enrollment.Status.INVITED)
    d = clinic_dashboard(fetched_by=world.manager.user)
    row = _row(d, world.therapist)
    assert (row.active, row.paused, row.invited) == (1, 1, 1)
    assert row.pending == 2 and row.overdue == 1
    assert _row(d, world.therapist2).active == 0
    assert world.outsider.pk not in [r.staff_id for r in d.therapists]
    assert d.totals["active"] == 1
    assert clinic_dashboard(fetched_by=world.therapist.user) is None
    assert clinic_dashboard(fetched_by=world.patient_a.user) is None


def test_open_treatments_and_overdue_feedback_equal_the_rhythm_per_enrollment(world, clock):
    """The grouped count in the database gives what ``rhythm.feedback_state`` says per enrollment,
    per therapist and per team, over every weekday, both cadences, a start date or a last
    feedback early or late in the day, and the open statuses."""
    from patients import rhythm

    build_caseload(world.therapist, 28, prefix="alpha")
    build_caseload(world.therapist2, 14, prefix="beta")
    today = timezone.localdate()
    statuses = [Enrollment.Status.ACTIVE] * 3 + [Enrollment.Status.PAUSED, Enrollment.Status.INVITED]
    for i, enrollment in enumerate(Enrollment.objects.order_by("pk")):
        enrollment.feedback_weekday = i % 7
        enrollment.feedback_cadence = Enrollment.Cadence.values[i % 2]
        enrollment.start_date = today - timedelta(days=3 * (i % 11))
        enrollment.last_feedback_at = (
            None if i % 3 == 0 else _at(today - timedelta(days=i % 23), hour=(i % 2) * 23)
        )
        enrollment.status = statuses[i % len(statuses)]
        enrollment.team = world.team if i % 4 else None
        enrollment.save()
    settle()  # written around the services: the work items follow the new rhythm
    expected_rows, expected_teams = {}, {}
    for enrollment in Enrollment.objects.filter(status__in=Enrollment.OPEN_STATUSES):
        overdue = (
            enrollment.status == Enrollment.Status.ACTIVE
            and rhythm.feedback_state(enrollment, today).is_overdue
        )
        for table, key in ((expected_rows, enrollment.therapist_id), (expected_teams, enrollment.team_id)):
            counts = table.setdefault(key, {"active": 0, "paused": 0, "invited": 0, "overdue": 0})
            counts[enrollment.status] += 1
            counts["overdue"] += overdue
    d = clinic_dashboard(fetched_by=world.manager.user, today=today)
    keys = ("active", "paused", "invited", "overdue")
    rows = {
        r.staff_id: {k: getattr(r, k) for k in keys} for r in d.therapists if any(getattr(r, k) for k in keys)
    }
    assert rows == expected_rows
    assert {
        team: {k: counts.get(k, 0) for k in keys} for team, counts in d.team_counts.items()
    } == expected_teams
    assert 0 < d.totals["overdue"] < d.totals["active"]


def test_median_time_to_feedback(world):
    """The same median on SQLite (sample in Python) and PostgreSQL (percentile_cont)."""
    now = timezone.now()
    enrollment = None
    for index, hours in enumerate((2, 4, 10)):
        patient = make_patient(world.clinic, world.therapist, f"median{index}@patients.test")
        enrollment = enroll(patient)
        answer = submitted_answer(enrollment)
        answer.submitted_at = now - timedelta(days=1)
        answer.reviewed_at = answer.submitted_at + timedelta(hours=hours)
        answer.save(update_fields=["submitted_at", "reviewed_at"])
    entry = diary_entry(enrollment, days_ago=2)
    entry.created_at = now - timedelta(days=2)
    entry.reviewed_at = entry.created_at + timedelta(hours=30)
    entry.save(update_fields=["created_at", "reviewed_at"])
    settle()
    d = clinic_dashboard(fetched_by=world.manager.user)
    row = _row(d, world.therapist)
    # Four items: 2, 4, 10, 30 hours: the median is 7 (percentile_cont interpolates; so does
    # statistics.median).
    assert row.reviewed == 4 and row.median_hours == pytest.approx(7.0, abs=0.05)
    assert d.median_hours == pytest.approx(7.0, abs=0.05)
    assert d.median_method == ("percentile_cont" if connection.vendor == "postgresql" else "sample")


def _program_flow(world):
    """Starts, endings and intake requests in two months."""
    today = timezone.localdate()
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    patients = [make_patient(world.clinic, world.therapist, f"p{i}@flow.test") for i in range(4)]
    statuses = [
        Enrollment.Status.COMPLETED,
        Enrollment.Status.STOPPED,
        Enrollment.Status.STEPPED_UP,
        Enrollment.Status.ACTIVE,
    ]
    enrollments = []
    for patient, status in zip(patients, statuses, strict=True):
        e = enroll(patient, status=status)
        e.started_at = _at(last_month + timedelta(days=2))
        e.ended_at = _at(this_month) if status != Enrollment.Status.ACTIVE else None
        e.save(update_fields=["started_at", "ended_at"])
        enrollments.append(e)
    for _ in range(3):
        request = intake_request(world.clinic, program=enrollments[0].version.program)
        request.created_at = _at(last_month + timedelta(days=5))
        request.save(update_fields=["created_at"])
    settle()
    return enrollments, this_month, last_month


def test_starts_endings_and_intake_requests_per_program_and_month(world):
    enrollments, this_month, last_month = _program_flow(world)
    d = clinic_dashboard(fetched_by=world.manager.user)
    rows = {r.month: r for r in d.program_months}
    assert rows[last_month].starts == 4 and rows[last_month].intake_requests == 3
    ended = rows[this_month]
    assert (ended.completions, ended.dropouts, ended.step_ups) == (1, 1, 1)
    assert rows[last_month].program == "Tiny Program"
    # Outside the chosen period nothing is counted.
    early = Period(start=date(2000, 1, 1), end=date(2000, 12, 31))
    assert clinic_dashboard(fetched_by=world.manager.user, period=early).program_months == []


def test_module_funnel(world):
    enrollments, _this, _last = _program_flow(world)
    version = enrollments[0].version
    first = Step.objects.filter(version=version, module__number=1).first()
    second = Step.objects.filter(version=version, module__number=2).first()
    StepProgress.objects.create(enrollment=enrollments[0], step=first)
    StepProgress.objects.create(enrollment=enrollments[0], step=second)
    StepProgress.objects.create(enrollment=enrollments[1], step=first)
    settle()  # written around the services: the daily figures are counted again
    d = clinic_dashboard(fetched_by=world.manager.user)
    funnel = {r.stage: r for r in d.funnel}
    assert funnel["Started the program"].patients == 4
    assert funnel["Reached module 1"].patients == 2 and funnel["Reached module 1"].share == 50.0
    assert funnel["Reached module 2"].patients == 1
    assert funnel["Completed the program"].patients == 1


def test_share_of_treatment_contacts_delivered_online(clock, world):
    enrollment = enroll(world.patient_a)
    conversation = Conversation.objects.create(enrollment=enrollment)
    for is_feedback, author in (
        (True, world.therapist.user),
        (True, world.therapist.user),
        (False, world.therapist.user),
        (False, world.patient_a.user),
    ):
        Message(
            clinic_id=conversation.enrollment.clinic_id,
            conversation=conversation,
            author=author,
            body="x",
            is_feedback=is_feedback,
        ).save()
    settle()
    for kind in ("face_to_face", "video"):
        TreatmentSession(
            clinic_id=enrollment.clinic_id,
            patient=world.patient_a,
            enrollment=enrollment,
            held_on=timezone.localdate(),
            kind=kind,
            recorded_by=world.therapist,
        ).save()
    settle()  # written around the services: the daily figures are counted again
    d = clinic_dashboard(fetched_by=world.manager.user)
    total = d.contacts_total
    assert (total.feedback, total.other_messages, total.in_person) == (2, 1, 2)
    assert total.share_online == 60.0  # 3 messages of 5 contacts; the patient's own message is no contact


def test_trained_therapists_without_a_patient(world):
    world.therapist2.training_date = date(2026, 1, 10)
    world.therapist2.save(update_fields=["training_date"])
    world.therapist.training_date = date(2025, 6, 1)
    world.therapist.save(update_fields=["training_date"])
    untrained = make_staff(world.clinic, "new@alpha.test", therapist=True)
    d = clinic_dashboard(fetched_by=world.manager.user)
    assert [s.pk for s in d.trained_idle] == [world.therapist2.pk]  # therapist has patients
    assert untrained.pk not in [s.pk for s in d.trained_idle]


def test_team_filter(world):
    from icbt.models import Team

    fatigue = Team.objects.create(clinic=world.clinic, name="Fatigue")
    other_team_member = make_staff(world.clinic, "fay@alpha.test", therapist=True, teams=[fatigue])
    make_patient(world.clinic, other_team_member, "f1@patients.test")
    enroll(world.patient_a)
    d = clinic_dashboard(fetched_by=world.manager.user, team_id=fatigue.pk)
    assert [r.staff_id for r in d.therapists] == [other_team_member.pk]
    assert d.team == fatigue
    pain = clinic_dashboard(fetched_by=world.manager.user, team_id=world.team.pk)
    assert {r.staff_id for r in pain.therapists} == {world.therapist.pk, world.therapist2.pk}
    assert pain.totals["active"] == 1
    # A team of another clinic is ignored: the whole clinic is shown.
    foreign = Team.objects.create(clinic=world.other_clinic, name="Elsewhere")
    assert clinic_dashboard(fetched_by=world.manager.user, team_id=foreign.pk).team is None


def test_the_page_with_filters(world, client_for):
    client = client_for(world.manager.user)
    page = client.get(reverse("therapists:dashboard"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Share of treatment contacts delivered online" in html
    assert '<svg class="chart"' in html and "<title" in html and "<desc" in html
    chosen = client.get(
        reverse("therapists:dashboard"),
        {"start": "2025-01-01", "end": "2025-03-31", "team": str(world.team.pk)},
    )
    assert chosen.context["dashboard"].period == Period(date(2025, 1, 1), date(2025, 3, 31))
    assert chosen.context["dashboard"].team == world.team


@pytest.mark.parametrize(
    "query",
    [
        {"start": "7-12-2026", "end": "1-11-2026"},
        {"start": "banana"},
        {"start": "2025-05-01", "end": "2025-01-01"},
    ],
)
def test_a_refused_period_shows_no_figures_and_offers_no_exports(clock, world, client_for, query):
    """No figures of another period pass for the ones asked for, and no export carries it."""
    client = client_for(world.manager.user)
    bad = client.get(reverse("therapists:dashboard"), query)
    assert bad.status_code == 200
    html = bad.content.decode()
    assert bad.context["dashboard"] is None and bad.context["form"].errors
    assert "No figures are shown until the period is right." in html
    assert "Figures from" not in html and "active patients" not in html
    assert reverse("therapists:dashboard_pdf") not in html and ".csv" not in html
    for url in (
        reverse("therapists:dashboard_pdf"),
        reverse("therapists:dashboard_csv", args=["therapists"]),
    ):
        refused = client.get(url, query)
        assert refused.status_code == 400
        assert refused["Content-Type"].startswith("text/html")
        assert "No figures are shown until the period is right." in refused.content.decode()


def test_no_clinical_content_on_the_dashboard(world, client_for):
    build_caseload(world.therapist, 3)
    html = client_for(world.manager.user).get(reverse("therapists:dashboard")).content.decode()
    assert MARKER not in html
    assert world.patient_a.user.get_full_name() not in html
    for table in dashboard_tables(clinic_dashboard(fetched_by=world.manager.user)).values():
        assert MARKER not in str(table.rows)


def _measure(client, url):
    client.get(url)  # the first request of a session also writes the session
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    return len(queries), elapsed


@pytest.mark.every_weekday
def test_the_bulk_caseload_counts_the_same_on_every_weekday(world):
    """The figures the query pin below relies on hold on every day of the week."""
    build_caseload(world.therapist, 4, prefix="week")
    d = clinic_dashboard(fetched_by=world.manager.user)
    assert _row(d, world.therapist).active == 4 and _row(d, world.therapist).pending == 4 * 5


def test_query_count_is_pinned_at_20_and_500_patients(world, client_for, clock):
    client = client_for(world.manager.user)
    url = reverse("therapists:dashboard")
    intake_request(world.clinic)
    build_caseload(world.therapist, 20, prefix="small")
    build_caseload(world.therapist2, 1, prefix="other")
    small, small_time = _measure(client, url)
    build_caseload(world.therapist, 480, prefix="large")
    large, large_time = _measure(client, url)
    d = clinic_dashboard(fetched_by=world.manager.user)
    assert _row(d, world.therapist).active == 500 and _row(d, world.therapist).pending == 500 * 5
    print(  # noqa: T201 - the measured figures, shown with -s
        f"\ndashboard: {small} queries at 20 patients ({small_time:.2f}s), "
        f"{large} at 500 ({large_time:.2f}s), time ratio {large_time / small_time:.1f}"
    )
    assert small == large == DASHBOARD_PAGE_QUERIES


# --- A manager opens no patient page, message, diary or answer -------------------------------------

PUBLIC = 200


def _patient_data_routes():
    """Every route of the patients and messaging matrices that shows or changes one patient's
    data (public program pages, template lists and notification settings are not patient data)."""
    not_patient_data = {
        "messaging:template_list",
        "messaging:template_create",
        "messaging:template_update",
        "messaging:template_delete",
        "messaging:notifications:preferences",
        "messaging:notifications:first_choice",
        "messaging:notifications:unsubscribe",
        "messaging:covering",
    }
    routes = []
    for route in [*patients_matrix.ROUTES, *messaging_matrix.ROUTES]:
        if route.expect.get("anonymous") == PUBLIC or route.name in not_patient_data:
            continue
        routes.append(route)
    return routes


ROUTES = _patient_data_routes()


def test_the_list_covers_patient_pages_messages_diaries_and_answers():
    names = {r.name for r in ROUTES}
    for name in (
        "patients:staff_patient_detail",
        "patients:diary_entry",
        "patients:step",
        "patients:staff_treatment_summary",
        "patients:my_data_json",
        "messaging:staff_conversation",
        "messaging:patient_conversation",
        "messaging:notes",
    ):
        assert name in names


@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.name}[{r.method}]" for r in ROUTES])
def test_a_manager_opens_no_patient_data(route, world, client_for):
    extra = route.setup(world) if route.setup else None
    kwargs = {}
    if route.kwargs:
        kwargs = route.kwargs(world, extra) if route.kwargs.__code__.co_argcount == 2 else route.kwargs(world)
    url = reverse(route.name, kwargs=kwargs)
    data = route.data(world) if route.data else {}
    response = getattr(client_for(world.manager.user), route.method)(url, data)
    assert response.status_code in (403, 404), f"{route.name}: {response.status_code}"
    assert LOGIN != response.status_code


def test_the_face_to_face_intake_is_a_treatment_contact(clock, world):
    """Intakes are always face to face: only messages and an intake is not 100 % online. An
    intake also recorded as a face-to-face session that day counts once."""
    from tests.patients.staff_helpers import intake

    enrollment = enroll(world.patient_a)
    conversation = Conversation.objects.create(enrollment=enrollment)
    for _n in range(3):
        Message(
            clinic_id=conversation.enrollment.clinic_id,
            conversation=conversation,
            author=world.therapist.user,
            body="x",
            is_feedback=True,
        ).save()
    settle()
    intake(world)
    settle()  # written around the services: the daily figures are counted again
    total = clinic_dashboard(fetched_by=world.manager.user).contacts_total
    assert (total.online, total.in_person, total.sessions.get("intake")) == (3, 1, 1)
    assert total.share_online == 75.0
    TreatmentSession(
        clinic_id=world.patient_a.clinic_id,
        patient=world.patient_a,
        held_on=timezone.localdate(),
        kind="face_to_face",
        recorded_by=world.therapist,
    ).save()
    settle()
    d = clinic_dashboard(fetched_by=world.manager.user)
    assert d.contacts_total.in_person == 1 and d.contacts_total.sessions == {"face_to_face": 1}
    assert "intake (face to face)" in dashboard_tables(d)["contacts"].headers


def _label_boxes(svg: str) -> list[tuple[float, float]]:
    """(left, right) of every category label under a chart, from the widest of its lines,
    at 7.5 px per character of the 12 px axis font."""
    boxes = []
    for x, inner in re.findall(r'<text class="category" x="([\d.]+)"[^>]*>(.*?)</text>', svg):
        lines = re.findall(r"<tspan[^>]*>([^<]*)</tspan>", inner) or [inner]
        half = max(len(line) for line in lines) * 7.5 / 2
        boxes.append((float(x) - half, float(x) + half))
    return boxes


@pytest.mark.parametrize("months", [12, 24, 60])
def test_month_labels_under_the_charts_never_overlap(world, months):
    end = date(2026, 12, 6)
    start = date(end.year - (months // 12), end.month, 1) + timedelta(days=31)
    period = Period(start=start.replace(day=1), end=end)
    d = clinic_dashboard(fetched_by=world.manager.user, period=period, today=end)
    for name in ("flow", "contacts"):
        boxes = _label_boxes(str(dashboard_charts(d)[name].svg))
        assert len(boxes) >= min(6, len(period.months)), name
        for (_l1, right), (left, _r2) in zip(boxes, boxes[1:], strict=False):
            assert right <= left, (name, months, boxes)
        assert boxes[0][0] >= 0 and boxes[-1][1] <= 640


def test_a_patient_counts_under_one_team_only(world, client_for):
    """A therapist in two teams: each treatment counts under its own team, never under both,
    and the team rows add up to the clinic's total."""
    from icbt.models import Team
    from tests.patients import staff_helpers as sh

    fatigue = Team.objects.create(clinic=world.clinic, name="Fatigue")
    world.therapist.teams.add(fatigue)  # now in Pain and Fatigue
    client = client_for(world.therapist.user)
    url = reverse("patients:staff_enrollment_create", args=[world.patient_a.pk])
    data = {
        "version": sh.tiny().pk,
        "therapist": world.therapist.pk,
        "start_date": timezone.localdate().isoformat(),
        "feedback_cadence": "weekly",
        "feedback_weekday": "0",
        "unlock_mode": "sequential",
        "module_interval_days": "7",
        "inactivity_days": "7",
    }
    page = client.post(url, data).content.decode()
    assert "more than one team: choose the team" in page  # not guessed
    assert client.post(url, {**data, "team": world.team.pk}).status_code == 302
    url_b = reverse("patients:staff_enrollment_create", args=[world.patient_b.pk])
    assert client.post(url_b, {**data, "team": fatigue.pk}).status_code == 302
    other = make_patient(world.clinic, world.therapist, "noteam@patients.test")
    enroll(other)  # a treatment from before teams were chosen: no team

    d = clinic_dashboard(fetched_by=world.manager.user)
    rows = {r["team"]: r for r in d.team_rows()}
    opened = {name: r["active"] + r["invited"] for name, r in rows.items()}
    assert opened == {"Pain": 1, "Fatigue": 1, "No team chosen": 1}
    assert sum(opened.values()) == d.totals["active"] + d.totals["invited"] == 3
    only_fatigue = clinic_dashboard(fetched_by=world.manager.user, team_id=fatigue.pk)
    assert [(r["team"], r["active"] + r["invited"]) for r in only_fatigue.team_rows()] == [("Fatigue", 1)]
