"""The audit trail (NEN 7513): who, when, which patient, what; refusals too; never the content.
Rows cannot be changed or deleted; patients see who looked at their file; clinic admins search
their own clinic's trail."""

import datetime as dt
import zoneinfo

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from icbt.audit import Action, Outcome, audit_record, client_ip
from icbt.audit_words import short_name
from icbt.models import AuditEvent
from tests.work import settle

DETAIL = "patients:staff_patient_detail"


def _detail(patient):
    return reverse(DETAIL, args=[patient.pk])


def _only_new_event(before_ids):
    new = list(AuditEvent.objects.exclude(pk__in=before_ids))
    assert len(new) == 1, [(e.action, e.object_type, e.outcome) for e in new]
    return new[0]


def _ids():
    return set(AuditEvent.objects.values_list("pk", flat=True))


def _database_now() -> dt.datetime:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT now()")
            return cursor.fetchone()[0]
        cursor.execute("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")
        return dt.datetime.fromisoformat(cursor.fetchone()[0]).replace(tzinfo=dt.UTC)


def test_opening_a_patient_record_writes_exactly_one_event(world, client):
    client.force_login(world.therapist.user)
    before = _ids()
    response = client.get(_detail(world.patient_a), REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200
    event = _only_new_event(before)
    assert event.action == Action.VIEW
    assert event.outcome == Outcome.OK
    assert event.user == world.therapist.user
    assert event.user_email == world.therapist.user.email
    assert event.role == "therapist"
    assert event.clinic_id == world.clinic.pk
    assert event.patient_id == world.patient_a.pk
    assert event.object_type == "patient"
    assert event.object_id == str(world.patient_a.pk)
    assert event.client_ip == "203.0.113.9"
    assert event.on_behalf_of is None
    assert event.at.utcoffset() == dt.timedelta(0)
    # The time comes from the database's clock (whatever the suite's clock says).
    assert abs((event.at - _database_now()).total_seconds()) < 60
    # Nothing of the record itself is stored.
    patient_user = world.patient_a.user
    stored = " ".join(str(getattr(event, f.attname)) for f in AuditEvent._meta.concrete_fields)
    for content in (
        patient_user.first_name,
        patient_user.last_name,
        patient_user.email,
        world.patient_a.case_reference,
    ):
        assert content not in stored


def test_the_role_lists_every_role_held(world, client):
    world.therapist.is_manager = True
    world.therapist.save(update_fields=["is_manager"])
    client.force_login(world.therapist.user)
    before = _ids()
    client.get(_detail(world.patient_b))
    assert _only_new_event(before).role == "therapist+manager"


@pytest.mark.parametrize(
    "persona, status, insider",
    [("therapist2", 403, True), ("manager", 403, True), ("admin", 403, True), ("outsider", 404, False)],
)
def test_a_refused_access_writes_a_denied_event(persona, status, insider, world, client):
    assert settings.DATABASES["default"]["ATOMIC_REQUESTS"]
    user = world.persona(persona)
    client.force_login(user)
    before = _ids()
    response = client.get(_detail(world.patient_a), REMOTE_ADDR="198.51.100.4")
    assert response.status_code == status
    # The view's transaction was rolled back (the response is an error), the event stays.
    event = _only_new_event(before)
    assert event.outcome == Outcome.DENIED
    assert event.action == Action.VIEW
    assert event.user == user
    assert event.clinic_id == user.staff.clinic_id
    assert event.object_type == "patient"
    assert event.object_id == str(world.patient_a.pk)
    assert event.client_ip == "198.51.100.4"
    # An insider's refusal names the patient; an outsider's does not tie the patient to a
    # clinic that has nothing to do with them.
    assert event.patient_id == (world.patient_a.pk if insider else None)


def test_an_unknown_patient_id_is_a_denied_event_too(world, client):
    client.force_login(world.therapist.user)
    before = _ids()
    assert client.get(reverse(DETAIL, args=[999_999])).status_code == 404
    event = _only_new_event(before)
    assert (event.outcome, event.object_id, event.patient_id) == (Outcome.DENIED, "999999", None)


@pytest.mark.django_db(transaction=True)
def test_a_denied_event_survives_a_real_rollback(client):
    """Without the test's surrounding transaction: the request's own transaction really rolls
    back, and the refusal is still on record."""
    from tests.factories import make_world

    world = make_world()
    client.force_login(world.therapist2.user)
    assert client.get(_detail(world.patient_a)).status_code == 403
    assert (
        AuditEvent.objects.filter(
            user=world.therapist2.user, outcome=Outcome.DENIED, patient_id=world.patient_a.pk
        ).count()
        == 1
    )


def test_an_allowed_access_that_is_rolled_back_is_not_recorded(world):
    """An allowed access is written in the caller's transaction: if that fails, nothing was
    shown, and nothing is recorded."""
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(
            user=world.therapist.user,
            action=Action.VIEW,
            patient_id=world.patient_a.pk,
            object_type="patient",
        )
        raise RuntimeError
    assert not AuditEvent.objects.filter(patient_id=world.patient_a.pk).exists()


def test_creating_a_patient_is_audited(world, client, django_capture_on_commit_callbacks):
    client.force_login(world.therapist.user)
    before = _ids()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("patients:staff_patient_invite"),
            {"first_name": "Petra", "last_name": "Jansen", "email": "petra@home.test", "language": "en"},
        )
    event = _only_new_event(before)
    assert (event.action, event.outcome, event.object_type) == (Action.CREATE, Outcome.OK, "patient")
    assert event.patient_id is not None
    assert "Petra" not in event.object_id


def test_the_patient_list_records_each_patient_it_showed(world, client):
    client.force_login(world.therapist.user)
    before = _ids()
    client.get(reverse("patients:staff_patient_list"))
    new = list(AuditEvent.objects.exclude(pk__in=before))
    shown = {e.patient_id for e in new}
    assert {(e.action, e.object_type, e.user_id) for e in new} == {
        (Action.SEARCH, "patient_list", world.therapist.user.pk)
    }
    assert shown == set(world.therapist.patients.values_list("pk", flat=True))
    assert world.patient_a.pk in shown and len(new) == len(shown)


def test_an_empty_list_still_records_the_search(world, client):
    client.force_login(world.therapist2.user)
    before = _ids()
    client.get(reverse("patients:staff_patient_list"))
    event = _only_new_event(before)
    assert (event.action, event.object_type, event.patient_id) == (Action.SEARCH, "patient_list", None)


LIST_PAGES = [
    ("patients:staff_patient_list", "patient_list"),
    ("therapists:caseload", "caseload"),
    ("therapists:worklist", "worklist"),
    ("patients:staff_referral_list", "referral_list"),
]


@pytest.mark.parametrize("url,object_type", LIST_PAGES)
def test_a_list_that_showed_the_patient_is_in_their_access_log(world, client_for, url, object_type):
    from tests.messaging.helpers import diary_entry, enroll
    from tests.patients.staff_helpers import referral

    enrollment = enroll(world.patient_a)
    diary_entry(enrollment)  # something for the worklist
    viewer = world.therapist
    if object_type == "referral_list":
        referral(world)
        viewer = world.therapist2
    assert client_for(viewer.user).get(reverse(url)).status_code == 200
    log = client_for(world.patient_a.user).get(reverse("patients:access_log"))
    events = [(e.user_id, e.action, e.object_type) for e in log.context["events"]]
    assert events == [(viewer.user.pk, Action.SEARCH, object_type)]
    assert "saw your name in a list." in log.content.decode()
    if object_type in ("worklist", "referral_list"):  # patient_b had nothing there: not shown, not logged
        other = client_for(world.patient_b.user).get(reverse("patients:access_log")).context["events"]
        assert object_type not in {e.object_type for e in other}


def test_the_intake_request_list_records_each_request_it_showed(world, client_for):
    from patients.models import IntakeRequest
    from tests.messaging.helpers import tiny_version

    program = tiny_version().program
    requests = [
        IntakeRequest.objects.create(
            clinic=world.clinic, program=program, name=f"Vera {n}", email=f"vera{n}@example.org"
        )
        for n in range(3)
    ]
    settle()
    before = _ids()
    client_for(world.therapist.user).get(reverse("patients:staff_intake_request_list"))
    new = list(AuditEvent.objects.exclude(pk__in=before))
    assert sorted(e.object_id for e in new) == sorted(str(r.pk) for r in requests)
    assert {(e.action, e.object_type, e.patient_id) for e in new} == {
        (Action.SEARCH, "intake_request_list", None)
    }


# --- client address ---------------------------------------------------------------------------


def test_client_ip_ignores_forwarded_for_without_a_proxy(rf, settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    request = rf.get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert client_ip(request) == "192.0.2.1"


def test_client_ip_behind_the_proxy_takes_the_address_the_proxy_saw(rf, settings):
    settings.ICBT_TRUSTED_PROXIES = ["172.18.0.0/24"]
    # The client sent a forged first entry; the proxy appended the real address.
    request = rf.get("/", REMOTE_ADDR="172.18.0.2", HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.50")
    assert client_ip(request) == "203.0.113.50"


def test_client_ip_believes_forwarded_for_only_from_a_trusted_proxy(rf, settings):
    """Behind a proxy, someone who reaches the application server directly must not choose the
    address the audit trail records."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ICBT_TRUSTED_PROXIES = ["172.18.0.10"]
    direct = rf.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert client_ip(direct) == "127.0.0.1"
    proxied = rf.get("/", REMOTE_ADDR="172.18.0.10", HTTP_X_FORWARDED_FOR="203.0.113.50")
    assert client_ip(proxied) == "203.0.113.50"


def test_forwarded_headers_from_outside_the_proxy_never_reach_the_views(client, settings, db):
    settings.ICBT_TRUSTED_PROXIES = ["172.18.0.10"]
    seen = {}

    from icbt.middleware import TrustedProxyMiddleware

    def view(request):
        seen.update(request.META)
        from django.http import HttpResponse

        return HttpResponse()

    from django.test import RequestFactory

    factory = RequestFactory()
    TrustedProxyMiddleware(view)(
        factory.get(
            "/", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="1.2.3.4", HTTP_X_FORWARDED_PROTO="https"
        )
    )
    assert "HTTP_X_FORWARDED_FOR" not in seen and "HTTP_X_FORWARDED_PROTO" not in seen
    seen.clear()
    TrustedProxyMiddleware(view)(
        factory.get(
            "/", REMOTE_ADDR="172.18.0.10", HTTP_X_FORWARDED_FOR="1.2.3.4", HTTP_X_FORWARDED_PROTO="https"
        )
    )
    assert seen["HTTP_X_FORWARDED_FOR"] == "1.2.3.4" and seen["HTTP_X_FORWARDED_PROTO"] == "https"


def test_client_ip_is_none_for_something_that_is_not_an_address(rf, settings):
    settings.ICBT_TRUSTED_PROXIES = ["127.0.0.1"]
    assert client_ip(rf.get("/", HTTP_X_FORWARDED_FOR="unknown")) is None
    settings.SECURE_PROXY_SSL_HEADER = None
    assert client_ip(rf.get("/", REMOTE_ADDR="")) is None


# --- append-only ------------------------------------------------------------------------------


def _an_event(world):
    return audit_record(
        user=world.therapist.user, action=Action.VIEW, patient_id=world.patient_a.pk, object_type="patient"
    )


def test_an_event_cannot_be_changed_or_deleted_through_the_model(world):
    event = _an_event(world)
    event.action = Action.DELETE
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    event = AuditEvent.objects.get(pk=event.pk)
    assert event.action == Action.VIEW


@pytest.mark.postgres
def test_postgresql_refuses_update_and_delete_for_every_client(world):
    if connection.vendor != "postgresql":
        pytest.fail(
            "this test needs PostgreSQL: set DATABASE_URL to a PostgreSQL database "
            "(without it, run the suite with -m 'not postgres')"
        )
    event = _an_event(world)
    statements = [
        ("UPDATE icbt_auditevent SET action = 'delete' WHERE id = %s", [event.pk]),
        ("UPDATE icbt_auditevent SET user_email = '' WHERE id = %s", [event.pk]),
        ("DELETE FROM icbt_auditevent WHERE id = %s", [event.pk]),
        ("DELETE FROM icbt_auditevent", []),
    ]
    for sql, params in statements:
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(sql, params)
    # Past the queryset's own refusal (a plain QuerySet's bulk paths), the trigger stops them too.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        models.QuerySet.update(AuditEvent.objects.filter(pk=event.pk), action=Action.DELETE)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        models.QuerySet.delete(AuditEvent.objects.filter(pk=event.pk))
    event = AuditEvent.objects.get(pk=event.pk)
    assert (event.action, event.user_email) == (Action.VIEW, world.therapist.user.email)


# --- "who looked at my file" ------------------------------------------------------------------


def test_the_patient_sees_who_looked_at_their_file(world, client_for):
    therapist = client_for(world.therapist.user)
    therapist.get(_detail(world.patient_a))
    therapist.get(_detail(world.patient_b))
    therapist.get(_detail(world.patient_b))
    client_for(world.therapist2.user).get(_detail(world.patient_a))  # refused: saw nothing

    page = client_for(world.patient_a.user).get(reverse("patients:access_log"))
    assert page.status_code == 200
    events = list(page.context["events"])
    assert len(events) == 1
    assert events[0].user == world.therapist.user
    assert events[0].patient_id == world.patient_a.pk
    html = page.content.decode()
    # In plain words, with the short name: "Your therapist T. Jansen opened your file."
    therapist_name = short_name(world.therapist.user)
    assert f"Your therapist {therapist_name} opened your file." in html
    assert short_name(world.therapist2.user) not in html

    page_b = client_for(world.patient_b.user).get(reverse("patients:access_log"))
    assert len(list(page_b.context["events"])) == 2
    assert all(e.patient_id == world.patient_b.pk for e in page_b.context["events"])


def test_a_patient_with_no_accesses_sees_an_empty_log(world, client_for):
    client_for(world.therapist.user).get(_detail(world.patient_b))
    page = client_for(world.patient_a.user).get(reverse("patients:access_log"))
    assert list(page.context["events"]) == []
    assert "Nobody has opened your file yet." in page.content.decode()


# --- the clinic admin's audit search ----------------------------------------------------------


@pytest.fixture
def trail(world, client_for):
    """Accesses in both clinics."""
    client_for(world.therapist.user).get(_detail(world.patient_a))
    client_for(world.therapist.user).get(_detail(world.patient_b))
    client_for(world.therapist2.user).get(_detail(world.patient_a))  # denied
    client_for(world.outsider.user).get(_detail(world.other_patient))
    client_for(world.outsider.user).get(_detail(world.patient_a))  # denied, other clinic
    return world


def _search(client, **params):
    return client.get(reverse("therapists:audit_search"), {"staff_member": "", **params})


def test_admin_search_shows_only_their_clinic(trail, client_for):
    world = trail
    response = _search(client_for(world.admin.user))
    assert response.status_code == 200
    events = list(response.context["events"])
    assert events
    assert {e.clinic_id for e in events} == {world.clinic.pk}
    emails = {e.user_email for e in events}
    assert world.therapist.user.email in emails
    assert world.therapist2.user.email in emails
    assert world.outsider.user.email not in emails
    html = response.content.decode()
    assert world.outsider.user.email not in html
    assert world.other_patient.user.email not in html


def test_admin_search_filters(trail, client_for):
    world = trail
    admin = client_for(world.admin.user)

    events = list(_search(admin, staff_member="ALICE@").context["events"])
    assert events and {e.user_email for e in events} == {world.therapist.user.email}

    events = list(_search(admin, patient=world.patient_b.case_reference).context["events"])
    assert [(e.user_email, e.patient_id) for e in events] == [
        (world.therapist.user.email, world.patient_b.pk)
    ]

    events = list(_search(admin, action="view").context["events"])
    assert events and {e.action for e in events} == {"view"}
    assert {e.outcome for e in events} == {"ok", "denied"}

    events = list(_search(admin, action="search").context["events"])
    assert events and {e.object_type for e in events} == {"audit_log"}  # the admin's own searches

    # Audit times come from the database's clock: "today" is the day of the newest event there.
    today = timezone.localdate(AuditEvent.objects.latest("pk").at)
    events = list(
        _search(admin, date_from=today - dt.timedelta(days=1), date_to=today + dt.timedelta(days=1)).context[
            "events"
        ]
    )
    assert len(events) >= 4
    assert list(_search(admin, date_to=today - dt.timedelta(days=2)).context["events"]) == []


def test_admin_search_shows_local_time_with_utc_for_machines(world, client_for, settings):
    settings.TIME_ZONE = "Pacific/Auckland"  # far from UTC, so the difference shows
    event = AuditEvent.objects.create(
        action=Action.VIEW, user_email="someone@alpha.test", clinic_id=world.clinic.pk
    )
    at = AuditEvent.objects.get(pk=event.pk).at  # set by the database clock
    response = _search(client_for(world.admin.user), staff_member="someone@")
    html = response.content.decode()
    assert "When (UTC)" not in html
    local = at.astimezone(zoneinfo.ZoneInfo("Pacific/Auckland"))
    assert f'<time datetime="{at.astimezone(dt.UTC).isoformat()}">' in html
    assert date_format(local, "DATETIME_FORMAT") in html


def test_admin_search_refuses_bad_input(world, client_for):
    response = _search(client_for(world.admin.user), patient="abc", date_from="yesterday")
    assert response.status_code == 200
    assert response.context["events"] is None
    form = response.context["form"]
    assert form.errors["date_from"]
    assert 'value="yesterday"' in response.content.decode()


def test_admin_search_is_itself_audited(world, client_for):
    before = _ids()
    response = _search(client_for(world.admin.user), patient=world.patient_a.case_reference)
    event = _only_new_event(before)
    assert (event.action, event.outcome, event.object_type) == (Action.SEARCH, Outcome.OK, "audit_log")
    assert event.user == world.admin.user
    assert event.role == "clinic_admin"
    assert event.clinic_id == world.clinic.pk
    # Count and rows agree: the search is part of its own result.
    assert response.context["events"].paginator.count == len(
        list(AuditEvent.objects.filter(clinic_id=world.clinic.pk, patient_id=world.patient_a.pk))
    )


def test_opening_the_search_page_without_a_search_runs_no_search(world, client_for):
    before = _ids()
    response = client_for(world.admin.user).get(reverse("therapists:audit_search"))
    assert response.status_code == 200
    assert response.context["events"] is None
    assert _ids() == before


@pytest.mark.parametrize("persona", ["manager", "therapist", "therapist2", "outsider"])
def test_audit_search_is_for_clinic_admins_only(persona, trail, client_for):
    response = _search(client_for(trail.persona(persona)))
    assert response.status_code == 403
    assert response.context is None or "events" not in response.context or not response.context["events"]
    assert trail.therapist.user.email not in response.content.decode()


def test_a_patient_gets_404_on_the_audit_search(world, client_for):
    assert _search(client_for(world.patient_a.user)).status_code == 404


def test_bulk_update_and_delete_of_audit_events_are_refused_on_every_database(world):
    from icbt.models import AuditEvent

    AuditEvent.objects.create(action="view", user_email="x@example.org")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().update(role="changed")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.filter(user_email="x@example.org").count() == 1


def test_admin_deactivation_ends_the_users_sessions(world, client_for):
    from django.contrib.sessions.models import Session

    from icbt.models import User
    from tests.factories import give_totp

    operator = User.objects.create_superuser(email="op@platform.test", password="an-operator-passw0rd")
    give_totp(operator)
    victim = world.patient_a.user
    patient_client = client_for(victim)
    assert patient_client.get("/me/").status_code == 200
    admin_client = client_for(operator)
    response = admin_client.post(
        f"/admin/icbt/user/{victim.pk}/change/",
        {
            "email": victim.email,
            "first_name": victim.first_name,
            "last_name": victim.last_name,
            "language": "en",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "10:00:00",
        },
    )
    assert response.status_code == 302, response.content[:500]
    victim.refresh_from_db()
    assert not victim.is_active
    assert not any(str(s.get_decoded().get("_auth_user_id")) == str(victim.pk) for s in Session.objects.all())
    assert patient_client.get("/me/").status_code == 302
