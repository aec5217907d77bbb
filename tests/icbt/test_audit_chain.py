"""The audit trail is tamper-evident and out of the application's reach: a hash chain per clinic
sealed by the database (time from the database clock), checked by ``manage.py audit_verify``; on
PostgreSQL the application's role may only INSERT and SELECT audit rows (``manage.py db_roles``)."""

import datetime as dt
import threading
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, connection, connections, transaction

from icbt.audit import Action, audit_record, audit_record_shown
from icbt.audit_chain import ChainBreak, canonical, event_hash, verify_chain
from icbt.models import AuditChainHead, AuditEvent

LONG_AGO = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)


def _record(world, patient, clinic_id=None):
    return audit_record(
        user=world.therapist.user,
        action=Action.VIEW,
        patient_id=patient.pk,
        clinic_id=clinic_id,
        object_type="patient",
    )


def _raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))


def _verify():
    out = StringIO()
    call_command("audit_verify", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_every_event_follows_the_previous_one_of_its_clinic(world):
    first = _record(world, world.patient_a)
    second = _record(world, world.patient_b)
    platform = audit_record(user=None, action=Action.SEARCH, object_type="admin:icbt.user")
    rows = {e.pk: e for e in AuditEvent.objects.filter(pk__in=[first.pk, second.pk, platform.pk])}
    a, b, p = rows[first.pk], rows[second.pk], rows[platform.pk]
    assert a.clinic_id == b.clinic_id == world.clinic.pk and p.clinic_id is None
    assert b.chain_seq == a.chain_seq + 1
    assert b.prev_hash == a.hash and len(a.hash) == 64
    assert p.chain_seq == 1 and p.prev_hash == ""
    assert AuditChainHead.objects.get(chain=world.clinic.pk).hash == b.hash
    assert AuditChainHead.objects.get(chain=0).hash == p.hash
    report = _verify()
    assert f"clinic {world.clinic.pk}: {b.chain_seq} events intact; last {b.hash}" in report
    assert "Audit trail intact" in report


def test_the_time_comes_from_the_database_not_from_the_client(world):
    event = AuditEvent(
        action=Action.VIEW, user_email="forger@example.org", at=LONG_AGO, chain_seq=7, hash="f" * 64
    )
    event.save(force_insert=True)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.at > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    assert stored.chain_seq == 1 and stored.hash != "f" * 64
    verify_chain(0)


def test_the_hashed_text_cannot_be_shifted_between_fields():
    values = dict.fromkeys(
        ("action", "outcome", "user_id", "role", "on_behalf_of_id", "clinic_id", "patient_id", "client_ip")
    )
    one = {**values, "at": LONG_AGO, "user_email": "a|b", "object_type": "", "object_id": ""}
    two = {**values, "at": LONG_AGO, "user_email": "a", "object_type": "b", "object_id": ""}
    assert canonical(chain_seq=1, prev_hash="", values=one) != canonical(
        chain_seq=1, prev_hash="", values=two
    )
    assert event_hash(chain_seq=1, prev_hash="", values=one) != event_hash(
        chain_seq=1, prev_hash="", values=two
    )


def _tamper(sql, params):
    """Change rows behind the application's back, as someone with the owner's rights could."""
    if connection.vendor == "postgresql":
        _raw("ALTER TABLE icbt_auditevent DISABLE TRIGGER icbt_auditevent_append_only")
    _raw(sql, params)
    if connection.vendor == "postgresql":
        _raw("ALTER TABLE icbt_auditevent ENABLE TRIGGER icbt_auditevent_append_only")


@pytest.mark.parametrize(
    "change,reason",
    [
        ("UPDATE icbt_auditevent SET patient_id = 999 WHERE id = %s", "content was changed"),
        ("UPDATE icbt_auditevent SET at = '2001-01-01 00:00:00+00' WHERE id = %s", "content was changed"),
        ("DELETE FROM icbt_auditevent WHERE id = %s", "events before it are missing"),
    ],
)
def test_audit_verify_reports_the_first_break(world, change, reason):
    events = [_record(world, world.patient_a) for _ in range(4)]
    target = events[1]
    _tamper(change, [target.pk])
    out = StringIO()
    with pytest.raises(CommandError, match="broken"):
        call_command("audit_verify", stdout=out, stderr=StringIO())
    report = out.getvalue()
    assert "BROKEN" in report and reason in report
    first_broken = target if change.startswith("UPDATE") else events[2]
    assert f"at event {first_broken.pk} " in report


def test_audit_verify_notices_events_removed_at_the_end(world):
    events = [_record(world, world.patient_a) for _ in range(3)]
    _tamper("DELETE FROM icbt_auditevent WHERE id = %s", [events[-1].pk])
    with pytest.raises(ChainBreak, match="events at the end are missing"):
        verify_chain(world.clinic.pk)


def test_audit_verify_shows_progress(world):
    for _ in range(5):
        _record(world, world.patient_a)
    err = StringIO()
    call_command(
        "audit_verify", "--clinic", str(world.clinic.pk), "--batch-size", "2", stdout=StringIO(), stderr=err
    )
    assert "2 of 5 events checked" in err.getvalue() and "4 of 5 events checked" in err.getvalue()


# --- PostgreSQL: the application's role ----------------------------------------------------------


def _needs_postgres():
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL (DATABASE_URL); without it run with -m 'not postgres'")


ATTACKS = [
    "TRUNCATE icbt_auditevent",
    "ALTER TABLE icbt_auditevent DISABLE TRIGGER ALL",
    "ALTER TABLE icbt_auditevent DISABLE TRIGGER icbt_auditevent_append_only",
    "SET session_replication_role = replica",
    "DROP TRIGGER icbt_auditevent_seal ON icbt_auditevent",
    "DROP TRIGGER icbt_auditevent_seal_head ON icbt_auditevent",
    "DROP TRIGGER icbt_auditevent_append_only ON icbt_auditevent",
    "UPDATE icbt_auditevent SET role = 'changed'",
    "DELETE FROM icbt_auditevent",
    "UPDATE icbt_auditchainhead SET seq = 0",
    "DELETE FROM icbt_auditchainhead",
]


@pytest.mark.postgres
def test_the_application_role_cannot_wipe_change_or_backdate_the_trail(world):
    _needs_postgres()
    event = _record(world, world.patient_a)
    role = f"icbt_app_test_{uuid.uuid4().hex[:8]}"
    call_command("db_roles", app_role=role, create=True, stdout=StringIO())
    try:
        _raw(f'SET ROLE "{role}"')
        for attack in ATTACKS:
            with pytest.raises(DatabaseError), transaction.atomic():
                _raw(attack)
        # What the application does need still works: rows of other tables, and appending.
        with transaction.atomic():
            _raw("UPDATE icbt_user SET first_name = first_name WHERE id = %s", [world.therapist.user.pk])
        _raw(
            "INSERT INTO icbt_auditevent (at, action, outcome, user_email, role, object_type, object_id, "
            "clinic_id, chain_seq, prev_hash, hash) "
            "VALUES (%s, 'view', 'ok', 'forger@example.org', '', '', '', %s, 1, '', %s)",
            [LONG_AGO, world.clinic.pk, "0" * 64],
        )
        _record(world, world.patient_b)
    finally:
        _raw("RESET ROLE")
    forged = AuditEvent.objects.get(user_email="forger@example.org")
    assert forged.at > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    assert forged.chain_seq == event.chain_seq + 1 and forged.prev_hash == event.hash
    assert AuditEvent.objects.filter(pk=event.pk, role=event.role).exists()
    verify_chain(world.clinic.pk)
    _raw(f'DROP OWNED BY "{role}"')
    _raw(f'DROP ROLE "{role}"')


@pytest.mark.postgres
def test_db_roles_refuses_a_role_that_could_wipe_the_trail(world):
    _needs_postgres()
    with pytest.raises(CommandError, match="owns the tables"):
        call_command("db_roles", app_role=connection.settings_dict["USER"], stdout=StringIO())
    superuser = f"icbt_super_test_{uuid.uuid4().hex[:8]}"
    _raw(f'CREATE ROLE "{superuser}" SUPERUSER')
    with pytest.raises(CommandError, match="superuser"):
        call_command("db_roles", app_role=superuser, stdout=StringIO())
    with pytest.raises(CommandError, match="no role"):
        call_command("db_roles", app_role=f"icbt_missing_{uuid.uuid4().hex[:8]}", stdout=StringIO())


@pytest.mark.postgres
def test_a_temporary_table_cannot_stand_in_for_the_chain_heads(world):
    """The sealing function runs with its owner's rights and a fixed search path with pg_temp
    last, so a session's temporary icbt_auditchainhead is never the one it reads and writes."""
    _needs_postgres()
    for function in ("icbt_audit_seal", "icbt_audit_seal_head"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT proconfig, current_schema() FROM pg_proc WHERE proname = %s", [function])
            config, schema = cursor.fetchone()
        assert f"search_path=pg_catalog, {schema}, pg_temp" in config, function
    first = _record(world, world.patient_a, clinic_id=world.clinic.pk)
    _raw("CREATE TEMP TABLE icbt_auditchainhead (chain bigint PRIMARY KEY, seq bigint, hash varchar(64))")
    try:
        _raw("INSERT INTO pg_temp.icbt_auditchainhead VALUES (%s, 0, '')", [world.clinic.pk])
        second = _record(world, world.patient_b, clinic_id=world.clinic.pk)
    finally:
        _raw("DROP TABLE pg_temp.icbt_auditchainhead")
    first, second = AuditEvent.objects.get(pk=first.pk), AuditEvent.objects.get(pk=second.pk)
    assert second.chain_seq == first.chain_seq + 1 and second.prev_hash == first.hash
    verify_chain(world.clinic.pk)


@pytest.mark.postgres
def test_the_application_role_cannot_make_temporary_tables(world):
    _needs_postgres()
    role = f"icbt_app_test_{uuid.uuid4().hex[:8]}"
    call_command("db_roles", app_role=role, create=True, stdout=StringIO())
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT has_database_privilege(%s, current_database(), 'TEMPORARY')", [role])
            assert cursor.fetchone()[0] is False
        _raw(f'SET ROLE "{role}"')
        with pytest.raises(DatabaseError), transaction.atomic():
            _raw("CREATE TEMP TABLE icbt_auditchainhead (chain bigint)")
    finally:
        _raw("RESET ROLE")
    _raw(f'DROP OWNED BY "{role}"')
    _raw(f'DROP ROLE "{role}"')


@pytest.mark.sqlite
def test_db_roles_is_for_postgresql_only(world):
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("db_roles", app_role="icbt_app", stdout=StringIO())


def _head_updates() -> int:
    """How many times this transaction has written a chain head so far."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'icbt_auditchainhead'")
        row = cursor.fetchone()
    return row[0] if row else 0


def _shown(world, count, offset=0):
    return audit_record_shown(
        user=world.therapist.user,
        object_type="worklist",
        patient_ids=range(offset + 1, offset + count + 1),
        clinic_id=world.clinic.pk,
    )


@pytest.mark.postgres
def test_a_list_of_many_patients_moves_the_chain_head_once(world):
    """One INSERT of many events (a list page's) writes its chain's head once, at the end of the
    statement, not once per row; every row still follows the one before it, in the statement and
    across statements of one transaction."""
    _needs_postgres()
    first = _record(world, world.patient_a, clinic_id=world.clinic.pk)
    before = _head_updates()
    assert _shown(world, 60) == 60
    assert _head_updates() - before == 1
    _record(world, world.patient_b, clinic_id=world.clinic.pk)
    _shown(world, 25, offset=100)
    assert _head_updates() - before == 3
    events = list(
        AuditEvent.objects.filter(clinic_id=world.clinic.pk, pk__gte=first.pk).order_by("chain_seq")
    )
    assert [e.chain_seq for e in events] == list(range(first.chain_seq, first.chain_seq + 87))
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:], strict=False))
    checked, head = verify_chain(world.clinic.pk)
    assert AuditChainHead.objects.get(chain=world.clinic.pk).seq == checked == events[-1].chain_seq
    assert head == events[-1].hash


def test_no_event_names_clinic_0_which_would_be_a_second_chain_0(world):
    """Chain 0 holds the events without a clinic; an event naming clinic 0 would share its key
    while the chain is read as the events without a clinic."""
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent(action=Action.VIEW, user_email="a@example.org", clinic_id=0, object_type="x").save(
            force_insert=True
        )


@pytest.mark.postgres
def test_the_sealing_functions_serve_the_audit_table_only(world):
    """The sealing functions run with their owner's rights: attached to another table they would
    move a chain's head wherever that table's rows said. They refuse, and only their owner may
    attach them at all (no EXECUTE for PUBLIC)."""
    _needs_postgres()
    role = f"icbt_app_test_{uuid.uuid4().hex[:8]}"
    call_command("db_roles", app_role=role, create=True, stdout=StringIO())
    try:
        with connection.cursor() as cursor:
            for function in ("icbt_audit_seal()", "icbt_audit_seal_head()"):
                cursor.execute("SELECT has_function_privilege(%s, %s, 'EXECUTE')", [role, function])
                assert cursor.fetchone()[0] is False, function
    finally:
        _raw(f'DROP OWNED BY "{role}"')
        _raw(f'DROP ROLE "{role}"')
    _record(world, world.patient_a, clinic_id=world.clinic.pk)
    head = AuditChainHead.objects.get(chain=world.clinic.pk)
    _raw("CREATE TABLE decoy (clinic_id bigint, chain_seq bigint, hash varchar(64))")
    _raw(
        "CREATE TRIGGER decoy_head AFTER INSERT ON decoy REFERENCING NEW TABLE AS sealed "
        "FOR EACH STATEMENT EXECUTE FUNCTION icbt_audit_seal_head()"
    )
    _raw("CREATE TRIGGER decoy_seal BEFORE INSERT ON decoy FOR EACH ROW EXECUTE FUNCTION icbt_audit_seal()")
    with pytest.raises(DatabaseError, match="icbt_auditevent only"), transaction.atomic():
        _raw("INSERT INTO decoy VALUES (%s, 999, 'forged')", [world.clinic.pk])
    assert AuditChainHead.objects.get(chain=world.clinic.pk) == head
    assert (head.seq, head.hash) == verify_chain(world.clinic.pk)


@pytest.mark.postgres
def test_events_of_two_chains_in_one_statement_each_follow_their_own(world):
    """The events of one statement may belong to several chains: each follows its own chain's
    newest event, and each chain's head ends on its own last event."""
    _needs_postgres()
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(action=Action.VIEW, user_email="a@example.org", clinic_id=clinic, object_type="x")
            for clinic in (
                world.clinic.pk,
                world.other_clinic.pk,
                None,
                world.clinic.pk,
                None,
                world.other_clinic.pk,
            )
        ]
    )
    for chain in (world.clinic.pk, world.other_clinic.pk, 0):
        checked, head = verify_chain(chain)
        assert checked >= 2
        assert AuditChainHead.objects.get(chain=chain).hash == head


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_of_one_clinic_keep_one_chain(world):
    """Writers of one event and of lists of events, at once: one chain, no event twice."""
    _needs_postgres()
    errors = []

    def write(n, shown):
        try:
            for i in range(n):
                with transaction.atomic():
                    if shown:
                        _shown(world, 7, offset=i * 10)
                    _record(world, world.patient_a)
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(15, i % 2 == 1)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    checked, head = verify_chain(world.clinic.pk)
    assert checked == AuditEvent.objects.filter(clinic_id=world.clinic.pk).count() >= 60
    assert AuditChainHead.objects.get(chain=world.clinic.pk).hash == head


@pytest.mark.sqlite
def test_the_sqlite_trigger_comes_back_after_a_table_rebuild(world):
    from icbt.audit_chain import reinstall_sqlite_trigger

    _raw("DROP TRIGGER icbt_auditevent_seal")  # what a table rebuild by a later migration does
    reinstall_sqlite_trigger(sender=None, using="default")
    event = _record(world, world.patient_a)
    assert AuditEvent.objects.get(pk=event.pk).hash
    verify_chain(world.clinic.pk)
