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
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db import connection as default_connection
from django.db.models import QuerySet


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


_NAMES = ("staff", "clinic", "patient", "limit", "offset", "day", "now", "kind", "language")


@dataclass(frozen=True)
class Shaped:
    """A query's SQL with stand-in parameters, and how to read its rows as the ORM would: the
    names of its columns and the converters of each (dates on SQLite, JSON, booleans)."""

    sql: str
    params: tuple
    names: tuple[str, ...] = ()
    converters: tuple = ()  # ((position, (converter, ...), expression), ...)

    def rows(self, connection, params: list) -> list[tuple]:
        """The rows of the query with ``params`` (from ``bind``), converted as the ORM converts
        them."""
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if not self.converters:
            return rows
        converted = []
        for row in rows:
            row = list(row)
            for position, functions, expression in self.converters:
                value = row[position]
                for function in functions:
                    value = function(value, expression, connection)
                row[position] = value
            converted.append(tuple(row))
        return converted

    def dicts(self, connection, params: list) -> list[dict]:
        return [dict(zip(self.names, row, strict=True)) for row in self.rows(connection, params)]


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
    return Shaped(sql=sql, params=tuple(params), names=tuple(names), converters=converters)


_shapes: OrderedDict[tuple, Shaped] = OrderedDict()
_lock = threading.Lock()
# Shapes kept per process: a page's shape differs by its filters, order and page depth, a few
# dozen in use; the least recently used is dropped beyond this.
MAX_SHAPES = 512


def shaped(shape: tuple, build: Callable[[], Shaped], *, connection=None) -> Shaped:
    """The ``Shaped`` of ``shape`` (a tuple of names and flags, never an id or a value), built
    by ``build`` (with ``StandIn`` values) on the first call of the process for that shape and
    database."""
    connection = connection or default_connection
    key = (connection.alias, *shape)
    with _lock:
        found = _shapes.get(key)
        if found is not None:
            _shapes.move_to_end(key)
            return found
    found = build()
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
