"""The SQL of a query the ORM builds once per process and shape, bound to each call's values.

Building the SQL of a query with subqueries, unions and annotations costs the ORM more Python
than running it costs the database (the worklist: tens of thousands of function calls a
request). A query whose shape is the same on every request (which parts, which filters, which
order) is built here once, with stand-in values (``StandIn``) where a request's own go (the
viewer, their clinic, the day, the moment, a patient, a kind, a language, a limit), and each call
swaps the stand-ins among the parameters for its own values (``bind``). Values stay bind
parameters: the key of a shape never holds an id or a value, and the SQL text never holds
one either.

A stand-in is a value no real one equals (a negative id, a day in 1904, a word with a colon no
kind or language has), so the swap cannot touch a parameter the query holds itself (a kind
named in the query, a state, a flag). ``bind`` refuses a stand-in left without a value.

Even a simple query costs the ORM about a thousand calls to build: the reads every diary entry
and patient page makes are built here too, as rows (``of_queryset``) or as model instances
(``of_model_queryset``, with their ``select_related`` rows), bound with ``bound``; a plain
one-row UPDATE needs no building at all (``update_row``).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from enum import Enum
from uuid import UUID

from django.conf import settings
from django.db import connection as default_connection
from django.db.models import QuerySet

try:
    import psycopg
    import psycopg.sql
    from django.db.backends.postgresql import base as postgresql_base
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.pq import Format
except ImportError:  # SQLite only
    psycopg = None


class StandIn:
    """The stand-in of each kind of value (``bind`` takes the real ones by these names)."""

    staff = -7_919_311
    clinic = -7_919_313
    patient = -7_919_317
    limit = -7_919_329
    offset = -7_919_331
    day = date(1904, 2, 29)
    now = datetime(1904, 2, 29, 13, 17, 19, 310_731, tzinfo=UTC)
    kind = "stand-in:kind"
    language = "stand-in:language"
    # Bound by ``bound`` (not by name): an enrollment, a row of another table, a second moment,
    # a second day, a key, a uuid.
    enrollment = -7_919_341
    row = -7_919_343
    later = datetime(1904, 2, 29, 21, 17, 19, 310_733, tzinfo=UTC)
    last_day = date(1904, 3, 6)
    key = "stand-in:key"
    uid = UUID("00000000-1904-4229-8000-000007919347")


_NAMES = ("staff", "clinic", "patient", "limit", "offset", "day", "now", "kind", "language")


@dataclass(frozen=True)
class Shaped:
    """A query's SQL with stand-in parameters, and how to read its rows as the ORM would: the
    names of its columns and the converters of each (dates on SQLite, JSON, booleans).
    ``locks``: the SQL takes row locks (``select_for_update``)."""

    sql: str
    params: tuple
    names: tuple[str, ...] = ()
    converters: tuple = ()  # ((position, (converter, ...), expression), ...)
    # Stand-ins made of stand-ins (e.g. a counter's key holding the stand-in id), which ``bind``
    # receives as ``derived``.
    derived: tuple = ()
    locks: bool = False
    # Prepared and run on one generic plan (``prepared_cursor``), or planned with the values at
    # every run: for a query whose best plan depends on how many rows a value has (an ordered
    # index walk for a large caseload, a sort of a few rows for a small one).
    prepare: bool = True

    def inlined(self, connection) -> Shaped:
        """The same query with each of its own values written into its SQL (``_inlined``)."""
        sql, params = _inlined(self.sql, self.params, self.derived, connection)
        return replace(self, sql=sql, params=params)

    def rows(self, connection, params: list) -> list[tuple]:
        """The rows of the query with ``params`` (from ``bind``), converted as the ORM converts
        them. On PostgreSQL the statement is prepared on the connection (``prepared_cursor``). A
        query that locks rows is refused outside a transaction, as the ORM refuses it: its locks
        would be released at once."""
        connection = wrapper(connection)
        _check_locks(self, connection)
        with prepared_cursor(connection) if self.prepare else connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if not self.converters:
            return rows
        return [tuple(_converted(row, self.converters, connection)) for row in rows]

    def dicts(self, connection, params: list) -> list[dict]:
        return [dict(zip(self.names, row, strict=True)) for row in self.rows(connection, params)]


if psycopg is not None:

    class _PreparingCursor(psycopg.Cursor):
        """A cursor that binds on the server and prepares every statement it runs: psycopg
        keeps the statement per connection (``prepared_max`` of them), so a later run of the same
        SQL skips parsing and, once PostgreSQL settles on a generic plan, planning."""

        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True, binary=binary)

    class _LoggedPreparedCursor(postgresql_base.CursorDebugWrapper):
        """Django's logging cursor (DEBUG, the tests' query counts), which logs the statement as
        Django's own cursors do: with its values in (psycopg keeps no text of a prepared run)."""

        def execute(self, sql, params=None):
            with self.debug_sql(self.db.ops.compose_sql(sql, params)):
                return self._execute_with_wrappers(sql, params, many=False, executor=self._execute)


def _converted(row, converters, connection) -> list:
    """``row`` as a list with each column of ``converters`` converted as the ORM converts it
    (dates on SQLite, JSON, booleans, encrypted fields)."""
    row = list(row)
    for position, functions, expression in converters:
        value = row[position]
        for function in functions:
            value = function(value, expression, connection)
        row[position] = value
    return row


_PLACEHOLDER = re.compile(r"(%%|%s)")
_END = object()


def _stand_in_values(connection) -> set:
    """Every stand-in of ``StandIn`` (each name it holds, not only those ``bind`` takes by
    name), as it is and as the ORM adapts it for ``connection``: none of them is ever written
    into SQL."""
    raw = {value for name, value in vars(StandIn).items() if not name.startswith("_")}
    return raw | _adapted_stand_ins(connection)


def _inlined(sql: str, params: tuple, derived: tuple, connection) -> tuple[str, tuple]:
    """``sql`` with each of its own values (a state, a kind it names, a flag: every parameter
    that is not a stand-in, nor one of ``derived``) written into it as a literal, quoted by the
    driver as its client-side binding quotes it; the stand-ins stay parameters. A statement
    prepared once is then planned once for all with what it names, as the query is written (a
    partial index on ``state = 'open'`` stays usable), and only the viewer's values are
    parameters."""
    stand_ins = _stand_in_values(connection) | set(derived)
    values = iter(params)
    kept, pieces = [], []
    for piece in _PLACEHOLDER.split(sql):
        if piece != "%s":
            pieces.append(piece)
            continue
        value = next(values)
        if _is_stand_in(value, stand_ins):
            pieces.append(piece)
            kept.append(value)
        else:
            pieces.append(_literal(value, connection).replace("%", "%%"))
    if next(values, _END) is not _END:
        raise ValueError("the query has more parameters than placeholders")
    return "".join(pieces), tuple(kept)


def _is_stand_in(value, stand_ins: set) -> bool:
    try:
        return value in stand_ins
    except TypeError:  # an unhashable parameter (a list) is the query's own
        return False


def _literal(value, connection) -> str:
    return psycopg.sql.Literal(value).as_string(connection.connection)


def wrapper(connection):
    """The database wrapper behind ``connection``: ``django.db.connection`` is a proxy that
    looks the wrapper up again (in a context-local store) at every attribute it is asked for,
    several times a statement here. Each entry point resolves it once."""
    proxied = getattr(connection, "_connections", None)
    return connection if proxied is None else proxied[connection._alias]


def _prepares(connection) -> bool:
    return connection.vendor == "postgresql" and psycopg is not None and settings.ICBT_DB_PREPARE


def generic_plans(sender, connection, **kwargs):
    """``connection_created`` receiver: where statements are prepared (``ICBT_DB_PREPARE``), a
    prepared statement runs on its generic plan from its first run, planned once for all.
    PostgreSQL's default would plan the first five runs, and later every run its estimate favours,
    again with the values; here only the viewer's values are parameters, so the generic plan is the
    one to keep. The setting is the session's: the statements of PL/pgSQL functions (the audit
    trail's triggers) follow it too; they look rows up by key, as a generic plan does. A SET
    rather than a startup parameter, which poolers such as PgBouncer refuse unless configured."""
    if connection.vendor == "postgresql" and settings.ICBT_DB_PREPARE:
        with connection.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_generic_plan")


def prepared_cursor(connection):
    """A cursor of ``connection`` for SQL built once per process: on PostgreSQL (unless
    ``ICBT_DB_PREPARE`` is off, e.g. behind a pooler that cannot keep prepared statements) its
    statements are prepared on the server; elsewhere an ordinary cursor. Either way it goes through
    Django's cursor wrapper, so query logging, counting and error translation see it."""
    connection = wrapper(connection)
    if not _prepares(connection):
        return connection.cursor()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = _PreparingCursor(connection.connection)
    # As Django's own cursors: timestamps read in the connection's time zone.
    loader = connection.connection.adapters.get_loader(postgresql_base.TIMESTAMPTZ_OID, Format.TEXT)
    if connection.timezone != loader.timezone:
        register_tzloader(connection.timezone, raw)
    connection.validate_thread_sharing()
    if connection.queries_logged:
        return _LoggedPreparedCursor(raw, connection)
    return connection.make_cursor(raw)


def of_queryset(queryset: QuerySet, *, using: str = "default") -> Shaped:
    """A ``values()``/``values_list()`` queryset's SQL, column names and converters."""
    query = queryset.query
    compiler = query.get_compiler(using=using)
    sql, params = compiler.as_sql()
    if query.selected:  # as ``ValuesIterable`` names them
        names = tuple(query.selected)
    else:
        names = (*query.extra_select, *query.values_select, *query.annotation_select)
    fields = [selected[0] for selected in compiler.select[: compiler.col_count]]
    converters = tuple(
        (position, tuple(functions), expression)
        for position, (functions, expression) in compiler.get_converters(fields).items()
    )
    return Shaped(
        sql=sql,
        params=tuple(params),
        names=tuple(names),
        converters=converters,
        locks=bool(query.select_for_update),
    )


def _check_locks(shaped_sql, connection) -> None:
    if shaped_sql.locks and connection.features.has_select_for_update and connection.get_autocommit():
        from django.db.transaction import TransactionManagementError

        raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")


def adapt(connection, value):
    """``value`` as the ORM passes it to ``connection`` as a parameter: a day, a moment and a
    uuid as the database's driver takes them (text on SQLite); other values as they are. For
    the ``derived`` stand-ins of ``bind``, and their values."""
    ops = connection.ops
    if isinstance(value, datetime):
        return ops.adapt_datetimefield_value(value)
    if isinstance(value, date):
        return ops.adapt_datefield_value(value)
    if isinstance(value, UUID) and not connection.features.has_native_uuid_field:
        return value.hex
    return value


_shapes: OrderedDict[tuple, Shaped] = OrderedDict()
_lock = threading.Lock()
# Shapes kept per process: a page's shape differs by its filters, order and page depth, a few
# dozen in use; the least recently used is dropped beyond this.
MAX_SHAPES = 512


def shaped(shape: tuple, build: Callable[[], Shaped], *, connection=None) -> Shaped:
    """The ``Shaped`` of ``shape`` (a tuple of names and flags, never an id or a value), built
    by ``build`` (with ``StandIn`` values) on the first call of the process for that shape and
    database."""
    connection = wrapper(connection or default_connection)
    key = (connection.alias, *shape)
    with _lock:
        found = _shapes.get(key)
        if found is not None:
            _shapes.move_to_end(key)
            return found
    found = build()
    if _prepares(connection):
        connection.ensure_connection()
        found = found.inlined(connection)
    with _lock:
        _shapes[key] = found
        while len(_shapes) > MAX_SHAPES:
            _shapes.popitem(last=False)
    return found


def clear() -> None:
    with _lock:
        _shapes.clear()


def bind(connection, shaped_sql: Shaped, *, derived: dict | None = None, **values) -> list:
    """The parameters of ``shaped_sql`` with each stand-in swapped for the value of its name in
    ``values`` (``staff=``, ``now=``, ...), adapted as the ORM adapts it for ``connection``;
    ``derived``: more stand-ins and their values (``{stand-in: value}``, e.g. a key made of an
    id). A stand-in without a value is an error, never sent."""
    connection = wrapper(connection)
    ops = connection.ops
    swap: dict = dict(derived or {})
    stand_ins: set = set(swap)
    for name in _NAMES:
        stand_in = getattr(StandIn, name)
        if name == "day":
            stand_in = ops.adapt_datefield_value(stand_in)
        elif name == "now":
            stand_in = ops.adapt_datetimefield_value(stand_in)
        stand_ins.add(stand_in)
        if name in values:
            value = values.pop(name)
            if name == "day":
                value = ops.adapt_datefield_value(value)
            elif name == "now":
                value = ops.adapt_datetimefield_value(value)
            swap[stand_in] = value
    if values:
        raise TypeError(f"no stand-in for {sorted(values)}")
    bound = []
    for param in shaped_sql.params:
        try:
            known = param in stand_ins
        except TypeError:  # an unhashable parameter is the query's own
            known = False
        if known:
            if param not in swap:
                raise ValueError("a stand-in of the query was given no value")
            param = swap[param]
        bound.append(param)
    return bound


@dataclass(frozen=True)
class ShapedModels:
    """A model queryset's SQL with stand-in parameters, and how to make its rows into instances
    as the ORM's ``ModelIterable`` does (the model's columns, the rows read with
    ``select_related``, annotations, the converters of each column). ``locks``: the SQL takes
    row locks (``select_for_update``), which hold only inside a transaction."""

    sql: str
    params: tuple
    model: type
    columns: tuple[int, int]  # where the model's own columns start and end in a row
    init_list: tuple[str, ...]
    related: tuple  # Django's populators of the ``select_related`` rows
    annotations: tuple[tuple[str, int], ...]
    converters: tuple  # ((position, (converter, ...), expression), ...)
    locks: bool = False

    def inlined(self, connection) -> ShapedModels:
        """The same query with each of its own values written into its SQL (``_inlined``)."""
        sql, params = _inlined(self.sql, self.params, (), connection)
        return replace(self, sql=sql, params=params)

    def instances(self, connection, params: list) -> list:
        """The instances of the query with ``params`` (from ``bind``); on PostgreSQL the statement
        is prepared on the connection (``prepared_cursor``). A query that locks rows is refused
        outside a transaction (as the ORM refuses it): its locks would be released at once."""
        connection = wrapper(connection)
        _check_locks(self, connection)
        with prepared_cursor(connection) as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        start, end = self.columns
        from_db, alias = self.model.from_db, connection.alias
        result = []
        for row in rows:
            if self.converters:
                row = _converted(row, self.converters, connection)
            obj = from_db(alias, self.init_list, row[start:end])
            for populator in self.related:
                populator.populate(row, obj)
            for name, position in self.annotations:
                setattr(obj, name, row[position])
            result.append(obj)
        return result


def of_model_queryset(queryset: QuerySet, *, using: str = "default") -> ShapedModels:
    """A model queryset's SQL and what ``ShapedModels.instances`` needs to read its rows.
    Querysets that need more than one query (``prefetch_related``) are refused."""
    from django.db.models.query import get_related_populators

    if queryset._prefetch_related_lookups:
        raise ValueError("a shaped query is one query: no prefetch_related")
    query = queryset.query
    compiler = query.get_compiler(using=using)
    sql, params = compiler.as_sql()
    select, klass_info = compiler.select, compiler.klass_info
    fields = klass_info["select_fields"]
    start, end = fields[0], fields[-1] + 1
    converters = tuple(
        (position, tuple(functions), expression)
        for position, (functions, expression) in compiler.get_converters(
            [selected[0] for selected in select[: compiler.col_count]]
        ).items()
    )
    return ShapedModels(
        sql=sql,
        params=tuple(params),
        model=klass_info["model"],
        columns=(start, end),
        init_list=tuple(selected[0].target.attname for selected in select[start:end]),
        related=tuple(get_related_populators(klass_info, select, using)),
        annotations=tuple((compiler.annotation_col_map or {}).items()),
        converters=converters,
        locks=bool(query.select_for_update),
    )


def bound(connection, shaped_sql, values: dict) -> list:
    """The parameters of ``shaped_sql`` with each stand-in (a key of ``values``: any of
    ``StandIn``) swapped for its value, both adapted for ``connection`` (``adapt``). As
    ``bind``, a stand-in of the query left without a value is an error."""
    connection = wrapper(connection)
    swap = {adapt(connection, stand_in): adapt(connection, value) for stand_in, value in values.items()}
    every = _adapted_stand_ins(connection)
    result = []
    for param in shaped_sql.params:
        try:
            if param in every:
                param = swap[param]
        except TypeError:  # an unhashable parameter is the query's own
            pass
        except KeyError:
            raise ValueError("a stand-in of the query was given no value") from None
        result.append(param)
    return result


_adapted: dict[str, frozenset] = {}


def _adapted_stand_ins(connection) -> frozenset:
    """Every ``StandIn`` value as ``connection`` receives it."""
    found = _adapted.get(connection.vendor)
    if found is None:
        names = [name for name in vars(StandIn) if not name.startswith("_")]
        found = _adapted[connection.vendor] = frozenset(adapt(connection, getattr(StandIn, n)) for n in names)
    return found


def update_row(connection, model, pk, values: dict) -> int:
    """``model.objects.filter(pk=pk).update(**values)`` for plain values, without building the
    query: each value is prepared by its field exactly as ``QuerySet.update`` prepares it, and
    ``None`` is written as NULL. For the few columns a request writes on every call. Values
    that are expressions or model instances, and fields with a placeholder of their own, are
    refused. Returns the number of rows changed."""
    return update_rows(connection, model, {model._meta.pk.name: pk}, values)


def update_rows(connection, model, where: dict, values: dict, *, constants: dict | None = None) -> int:
    """``model.objects.filter(**where, **constants).update(**values)`` where ``where`` names
    plain columns (each compared with ``=``, never with NULL) and ``values`` plain values:
    ``update_row`` by other columns than the key, such as a work item's key. ``constants``:
    conditions on values the code names (a state), written into the SQL as a literal, so that
    a partial index whose condition names that value serves the statement on its generic plan.
    On PostgreSQL the statement is prepared (``prepared_cursor``): its text is the same on every
    call with the same columns (and the same of them NULL). Returns the number of rows changed."""
    connection = wrapper(connection)
    qn = connection.ops.quote_name
    meta = model._meta
    assignments, params = [], []
    for name, value in values.items():
        field = meta.get_field(name)
        if hasattr(value, "resolve_expression") or hasattr(value, "prepare_database_save"):
            raise TypeError(f"update_row takes plain values, not {type(value).__name__} ({name})")
        if hasattr(field, "get_placeholder"):
            raise TypeError(f"update_row cannot write {name}: its field has a placeholder of its own")
        value = field.get_db_prep_save(value, connection=connection)
        if value is None:
            assignments.append(f"{qn(field.column)} = NULL")
        else:
            assignments.append(f"{qn(field.column)} = %s")
            params.append(value)
    if not assignments:
        return 0
    conditions = []
    for name, value in where.items():
        field = meta.pk if name == "pk" else meta.get_field(name)
        if value is None or hasattr(value, "resolve_expression"):
            raise TypeError(f"update_rows compares plain values, not {value!r} ({name})")
        conditions.append(f"{qn(field.column)} = %s")
        params.append(field.get_db_prep_value(value, connection))
    if not conditions:
        raise TypeError("update_rows needs at least one condition")
    for name, value in (constants or {}).items():
        conditions.append(f"{qn(meta.get_field(name).column)} = {_constant(value, name)}")
    sql = f"UPDATE {qn(meta.db_table)} SET {', '.join(assignments)} WHERE {' AND '.join(conditions)}"  # noqa: S608 (names and the code's own constants)
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


_CONSTANT_TEXT = re.compile(r"[A-Za-z0-9_.:-]*")


def _constant(value, name: str) -> str:
    """A value the code names (a state, a kind, a flag) as an SQL literal: a word or a number,
    never a value from a request."""
    if isinstance(value, Enum):  # Django's choices: their plain value
        value = value.value
    # The exact types only: a subclass could write itself otherwise than it was checked.
    if type(value) is bool:
        return "TRUE" if value else "FALSE"
    if type(value) is int:
        return str(value)
    if type(value) is str and _CONSTANT_TEXT.fullmatch(value):
        return f"'{value}'"
    raise TypeError(f"update_rows takes words and numbers as constants, not {value!r} ({name})")
