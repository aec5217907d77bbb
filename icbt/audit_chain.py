"""The audit trail's hash chain: every event carries the hash of the previous event of its clinic.

Each clinic has one chain (events without a clinic, such as a platform operator's, form chain 0).
An event's ``hash`` is SHA-256 over its own fields, its number in the chain (``chain_seq``) and
the previous event's hash (``prev_hash``); ``AuditChainHead`` holds the number and hash of the
last event of each chain. Changing, removing or inserting an event anywhere breaks the chain from
there on, and removing events at the end leaves the head pointing past the last one.

The database seals every row, not the application: a trigger sets ``at`` from the database clock,
takes the chain head (on PostgreSQL ``SELECT ... FOR UPDATE`` on the head row, so concurrent
writers of one clinic queue there and writers of different clinics do not wait for each other),
numbers and hashes the row, all inside the INSERT. A client, whatever it sends, cannot choose
``at``, the number or the hashes, and sealing costs no extra query. On PostgreSQL the head moves
once per statement, not once per row: a row follows the newest event its statement sealed before
it (rows of one statement are visible to the trigger of the next; one look-up on the chain's
index), and a trigger at the end of the statement moves the head to the last of them, still
under the head's lock. A list page that records a hundred patients in one INSERT thus writes the
head once: written per row, its hundred versions made every later row of the statement, and the
next statements until the table was vacuumed, walk all of them. Both trigger functions run with
their owner's rights (SECURITY DEFINER), so the application's role may only read the head table.
On SQLite (development) the hash is computed by a Python function registered on every connection
(``register_sqlite_functions``).

``canonical`` is the one definition of what is hashed; the PostgreSQL function below builds the
same text, and ``tests/icbt/test_audit_chain.py`` checks that both agree. A chain rewritten by
someone holding the table owner's rights recomputes consistently: the defence against that is to
keep the head hashes that ``manage.py audit_verify`` prints somewhere the database owner cannot
write, and compare them later (see README, "Audit trail").
"""

from __future__ import annotations

import datetime
import hashlib

# The event fields that are hashed, in order (after chain_seq and prev_hash, before nothing else).
HASHED_FIELDS = (
    "at",
    "action",
    "outcome",
    "user_id",
    "user_email",
    "role",
    "on_behalf_of_id",
    "clinic_id",
    "patient_id",
    "object_type",
    "object_id",
    "client_ip",
)
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _micros(at: datetime.datetime) -> int:
    if at.tzinfo is None:
        at = at.replace(tzinfo=datetime.UTC)
    return (at - _EPOCH) // datetime.timedelta(microseconds=1)


def _part(value) -> str:
    """Length-prefixed, so no choice of text can make two different rows hash the same input."""
    if value is None:
        return "-"
    text = str(value)
    return f"{len(text)}:{text}"


def canonical(*, chain_seq: int, prev_hash: str, values: dict) -> str:
    """The text that is hashed for one event. ``values`` maps ``HASHED_FIELDS`` to what the
    database holds (``at`` as a datetime)."""
    parts = [_part(chain_seq), _part(prev_hash)]
    for name in HASHED_FIELDS:
        value = values[name]
        if name == "at":
            value = _micros(value)
        parts.append(_part(value))
    return "|".join(parts)


def event_hash(*, chain_seq: int, prev_hash: str, values: dict) -> str:
    return hashlib.sha256(
        canonical(chain_seq=chain_seq, prev_hash=prev_hash, values=values).encode()
    ).hexdigest()


# --- SQLite ------------------------------------------------------------------------------------


def _sqlite_hash(chain_seq, prev_hash, at_text, *rest):
    at = datetime.datetime.fromisoformat(at_text)
    values = dict(zip(HASHED_FIELDS, (at, *rest), strict=True))
    return event_hash(chain_seq=chain_seq, prev_hash=prev_hash or "", values=values)


def register_sqlite_functions(sender, connection, **kwargs):
    """``connection_created`` receiver: the SQLite trigger calls ``icbt_audit_hash``."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "icbt_audit_hash", 2 + len(HASHED_FIELDS), _sqlite_hash, deterministic=True
        )


_CHAIN = "COALESCE(NEW.clinic_id, 0)"
SQLITE_CREATE = f"""
CREATE TRIGGER icbt_auditevent_seal AFTER INSERT ON icbt_auditevent
BEGIN
    INSERT OR IGNORE INTO icbt_auditchainhead (chain, seq, hash) VALUES ({_CHAIN}, 0, '');
    UPDATE icbt_auditevent SET
        at = STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW'),
        chain_seq = (SELECT seq + 1 FROM icbt_auditchainhead WHERE chain = {_CHAIN}),
        prev_hash = (SELECT hash FROM icbt_auditchainhead WHERE chain = {_CHAIN})
    WHERE id = NEW.id;
    UPDATE icbt_auditevent SET hash = icbt_audit_hash(
        chain_seq, prev_hash, at, {", ".join(HASHED_FIELDS[1:])}
    ) WHERE id = NEW.id;
    UPDATE icbt_auditchainhead SET
        seq = (SELECT chain_seq FROM icbt_auditevent WHERE id = NEW.id),
        hash = (SELECT hash FROM icbt_auditevent WHERE id = NEW.id)
    WHERE chain = {_CHAIN};
END;
"""  # noqa: S608 (only constants of this module)
SQLITE_DROP = "DROP TRIGGER IF EXISTS icbt_auditevent_seal;"


# --- PostgreSQL --------------------------------------------------------------------------------


def _pg_part(expression: str) -> str:
    return f"icbt_audit_part(({expression})::text)"


_PG_VALUES = {
    "at": "(extract(epoch FROM NEW.at) * 1000000)::bigint",
    "client_ip": "host(NEW.client_ip)",
}
_PG_PAYLOAD = " || '|' || ".join(
    [_pg_part("NEW.chain_seq"), _pg_part("NEW.prev_hash")]
    + [_pg_part(_PG_VALUES.get(name, f"NEW.{name}")) for name in HASHED_FIELDS]
)

# The sealing function runs with its owner's rights. PostgreSQL looks up tables in the session's
# temporary schema first unless the path names pg_temp explicitly, so without a fixed path the
# application's role could hide icbt_auditchainhead behind a temporary table of that name. The
# path is the schema the migration runs in, with pg_temp last.
PG_PIN_SEARCH_PATH = """
DO $pin$ BEGIN
    EXECUTE format(
        'ALTER FUNCTION icbt_audit_seal() SET search_path = pg_catalog, %I, pg_temp', current_schema()
    );
    IF to_regprocedure('icbt_audit_seal_head()') IS NOT NULL THEN
        EXECUTE format(
            'ALTER FUNCTION icbt_audit_seal_head() SET search_path = pg_catalog, %I, pg_temp',
            current_schema()
        );
    END IF;
END $pin$;
"""

PG_CREATE = f"""
CREATE OR REPLACE FUNCTION icbt_audit_part(value text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN value IS NULL THEN '-' ELSE length(value)::text || ':' || value END $$;

CREATE OR REPLACE FUNCTION icbt_audit_seal() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    AS $$
DECLARE
    chain_key bigint := COALESCE(NEW.clinic_id, 0);
    head_seq bigint;
    head_hash varchar(64);
    last_seq bigint;
    last_hash varchar(64);
BEGIN
    IF TG_RELID <> 'icbt_auditevent'::regclass THEN
        RAISE EXCEPTION 'icbt_audit_seal seals icbt_auditevent only';
    END IF;
    SELECT seq, hash INTO head_seq, head_hash FROM icbt_auditchainhead WHERE chain = chain_key FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO icbt_auditchainhead (chain, seq, hash) VALUES (chain_key, 0, '')
            ON CONFLICT (chain) DO NOTHING;
        SELECT seq, hash INTO head_seq, head_hash FROM icbt_auditchainhead WHERE chain = chain_key FOR UPDATE;
    END IF;
    -- Rows this statement sealed before this one are past the head (it moves when the statement ends).
    IF NEW.clinic_id IS NULL THEN
        SELECT chain_seq, hash INTO last_seq, last_hash FROM icbt_auditevent
            WHERE clinic_id IS NULL AND chain_seq > head_seq ORDER BY chain_seq DESC LIMIT 1;
    ELSE
        SELECT chain_seq, hash INTO last_seq, last_hash FROM icbt_auditevent
            WHERE clinic_id = NEW.clinic_id AND chain_seq > head_seq ORDER BY chain_seq DESC LIMIT 1;
    END IF;
    IF FOUND THEN
        head_seq := last_seq;
        head_hash := last_hash;
    END IF;
    NEW.at := clock_timestamp();
    NEW.chain_seq := head_seq + 1;
    NEW.prev_hash := head_hash;
    NEW.hash := encode(sha256(convert_to({_PG_PAYLOAD}, 'UTF8')), 'hex');
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION icbt_audit_seal_head() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    AS $$
BEGIN
    IF TG_RELID <> 'icbt_auditevent'::regclass THEN
        RAISE EXCEPTION 'icbt_audit_seal_head moves the heads of icbt_auditevent only';
    END IF;
    UPDATE icbt_auditchainhead AS head SET seq = last.chain_seq, hash = last.hash
    FROM (
        SELECT DISTINCT ON (COALESCE(clinic_id, 0)) COALESCE(clinic_id, 0) AS chain, chain_seq, hash
        FROM sealed ORDER BY COALESCE(clinic_id, 0), chain_seq DESC
    ) AS last
    WHERE head.chain = last.chain;
    RETURN NULL;
END;
$$;

{PG_PIN_SEARCH_PATH}
-- The look-ups by index whatever the statistics say: a plan made while the table was small
-- (a new clinic, a fresh database) would otherwise scan the whole table for every row sealed.
ALTER FUNCTION icbt_audit_seal() SET enable_seqscan = off;
-- Both run with their owner's rights: no other table's trigger may call them (they refuse it too).
REVOKE EXECUTE ON FUNCTION icbt_audit_seal(), icbt_audit_seal_head() FROM PUBLIC;
CREATE TRIGGER icbt_auditevent_seal
    BEFORE INSERT ON icbt_auditevent
    FOR EACH ROW EXECUTE FUNCTION icbt_audit_seal();
CREATE TRIGGER icbt_auditevent_seal_head
    AFTER INSERT ON icbt_auditevent
    REFERENCING NEW TABLE AS sealed
    FOR EACH STATEMENT EXECUTE FUNCTION icbt_audit_seal_head();
"""  # noqa: S608 (only constants of this module)
PG_DROP = """
DROP TRIGGER IF EXISTS icbt_auditevent_seal_head ON icbt_auditevent;
DROP FUNCTION IF EXISTS icbt_audit_seal_head();
DROP TRIGGER IF EXISTS icbt_auditevent_seal ON icbt_auditevent;
DROP FUNCTION IF EXISTS icbt_audit_seal();
DROP FUNCTION IF EXISTS icbt_audit_part(text);
"""


def install(schema_editor):
    """Create the sealing trigger (used by the migration)."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_CREATE, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_CREATE, params=None)


def reinstall_sqlite_trigger(sender, using="default", **kwargs):
    """``post_migrate``: SQLite drops a table's triggers when a migration rebuilds the table (as
    it does for many column changes); put the sealing trigger back if it is missing."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'icbt_auditevent'")
        if cursor.fetchone() is None:
            return
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name = 'icbt_auditevent_seal'"
        )
        if cursor.fetchone() is None:
            cursor.execute(SQLITE_CREATE)


def reinstall(schema_editor):
    """Replace the PostgreSQL sealing trigger by the one of this module (used by migrations that
    change it; the events and heads stay as they are)."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_DROP + PG_CREATE, params=None)


def uninstall(schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_DROP, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_DROP, params=None)


# --- Verification ------------------------------------------------------------------------------


class ChainBreak(Exception):
    def __init__(self, *, chain: int, event_id: int | None, chain_seq: int | None, reason: str):
        self.chain, self.event_id, self.chain_seq, self.reason = chain, event_id, chain_seq, reason
        super().__init__(f"chain {chain}, event {event_id} (number {chain_seq}): {reason}")


def verify_chain(chain: int, *, batch_size: int = 2000, progress=None) -> tuple[int, str]:
    """Walk one clinic's chain (0: events without a clinic) in order and raise ``ChainBreak`` at
    the first event that does not follow from the one before. Returns (events, head hash).
    ``progress(done)`` is called after every batch."""
    from icbt.models import AuditChainHead, AuditEvent

    events = AuditEvent.objects.order_by("chain_seq", "id")
    events = events.filter(clinic_id__isnull=True) if chain == 0 else events.filter(clinic_id=chain)
    columns = ("id", "chain_seq", "prev_hash", "hash", *HASHED_FIELDS)
    expected_seq, previous, done = 1, "", 0
    last_id = None
    for row in events.values_list(*columns).iterator(chunk_size=batch_size):
        event_id, chain_seq, prev_hash, stored, *rest = row
        values = dict(zip(HASHED_FIELDS, rest, strict=True))
        if chain_seq != expected_seq:
            reason = (
                "not sealed (no number in the chain)"
                if chain_seq is None
                else f"expected number {expected_seq}: events before it are missing or were added"
            )
            raise ChainBreak(chain=chain, event_id=event_id, chain_seq=chain_seq, reason=reason)
        if prev_hash != previous:
            raise ChainBreak(
                chain=chain,
                event_id=event_id,
                chain_seq=chain_seq,
                reason="does not follow the event before it",
            )
        if event_hash(chain_seq=chain_seq, prev_hash=prev_hash, values=values) != stored:
            raise ChainBreak(
                chain=chain,
                event_id=event_id,
                chain_seq=chain_seq,
                reason="its content was changed after writing",
            )
        previous, expected_seq, last_id = stored, expected_seq + 1, event_id
        done += 1
        if progress is not None and done % batch_size == 0:
            progress(done)
    head = AuditChainHead.objects.filter(chain=chain).values_list("seq", "hash").first()
    if head is not None and head != (done, previous):
        raise ChainBreak(
            chain=chain,
            event_id=last_id,
            chain_seq=done,
            reason=f"the chain head says {head[0]} events: events at the end are missing",
        )
    if progress is not None:
        progress(done)
    return done, previous


def chains() -> list[int]:
    """Every chain that has events or a head."""
    from icbt.models import AuditChainHead, AuditEvent

    keys = {
        clinic or 0 for clinic in AuditEvent.objects.order_by().values_list("clinic_id", flat=True).distinct()
    }
    keys.update(AuditChainHead.objects.values_list("chain", flat=True))
    return sorted(keys)
