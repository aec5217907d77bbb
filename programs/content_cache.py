"""Program content kept in the process, so that the pages of a treatment do not read it again
on every request.

A ``ProgramVersion`` never changes once it is loaded: changed content becomes a new version with
its own id and hashes (``programs.services.program_content_load``), and the version's modules,
steps and diary types are written in the same transaction as the version. So the outline of one
version (its modules and the list fields of its steps) and its diary types are each read once per
process, keyed by the version's id *and* its ``content_hash`` and ``structure_hash`` (an id used
again for other content, as SQLite may do after a delete, misses the cache). Every call hands out
fresh model instances built from the rows kept: callers may set attributes on them
(``patients.progress`` does) without touching another request's objects.

Which version is the newest of each program can change while the process runs (``load_programs``
in another process). That list is kept under a *generation* token in the shared cache (Redis,
or the file cache under ``make run``): a load that wrote a version sets a new token once its
transaction has committed, and a process whose list was read under another token reads it
again. Without the shared cache (an outage) the list is read from the database every time;
a list kept here is read again after ``LATEST_MAX_AGE`` seconds whatever the token says.
"""

import copy
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS

from programs.models import DiaryType, Module, ProgramVersion, Step
from programs.selectors import STEP_LIST_FIELDS

logger = logging.getLogger(__name__)

# The step fields that lists of steps need (programs.selectors.STEP_LIST_FIELDS and the diary
# type's id), and every field of the module but its diary types.
STEP_FIELDS = (*STEP_LIST_FIELDS, "diary_type_id")
MODULE_FIELDS = ("id", "version_id", "number", "slug", "title", "summary")

# Versions whose outline is kept (a clinic has a few programs in two languages, each with a few
# versions that patients are still on).
MAX_VERSIONS = 64
LATEST_MAX_AGE = 300
GENERATION_KEY = "icbt:programs:generation"


def _in_model_order(model, names) -> list[str]:
    """``names`` in the order of the model's concrete fields: ``Model.from_db`` reads the values
    of a partial row in that order."""
    wanted = set(names)
    return [f.attname for f in model._meta.concrete_fields if f.attname in wanted]


_STEP_COLUMNS = _in_model_order(Step, STEP_FIELDS)
_MODULE_COLUMNS = _in_model_order(Module, MODULE_FIELDS)

_DIARY_COLUMNS = [f.attname for f in DiaryType._meta.concrete_fields]
# Kept as JSON text and parsed for every caller: each gets lists and dicts of its own.
_DIARY_JSON = frozenset({"fields", "chart_fields"})
_FIELDS_AT = _DIARY_COLUMNS.index("fields")

_lock = threading.Lock()
_outlines: "OrderedDict[tuple, tuple[list, list]]" = OrderedDict()
_diary_types: "OrderedDict[tuple, dict[str, tuple]]" = OrderedDict()
_latest: dict = {"generation": None, "read_at": 0.0, "versions": None}


def clear() -> None:
    """Forget everything kept in this process (tests; after loading content in-process)."""
    with _lock:
        _outlines.clear()
        _diary_types.clear()
        _latest.update(generation=None, read_at=0.0, versions=None)


def _outline_key(version: ProgramVersion) -> tuple:
    return (version.pk, version.content_hash, version.structure_hash)


def _kept(store: OrderedDict, version: ProgramVersion, read):
    """What ``store`` keeps for ``version`` (by its id and hashes), else ``read(version)`` kept
    there, the least recently used dropped beyond ``MAX_VERSIONS``."""
    return kept(store, _outline_key(version), lambda: read(version), limit=MAX_VERSIONS)


def kept(store: OrderedDict, key, make, *, limit: int):
    """What ``store`` keeps for ``key``, else ``make()`` kept there, the least recently used
    dropped beyond ``limit`` (one lock for every store of this module and its callers)."""
    with _lock:
        found = store.get(key)
        if found is not None:
            store.move_to_end(key)
            return found
    found = make()
    with _lock:
        store[key] = found
        while len(store) > limit:
            store.popitem(last=False)
    return found


def _outline_rows(version: ProgramVersion) -> tuple[list, list]:
    """The rows of the version's modules and steps: from this process, else one query."""
    return _kept(_outlines, version, _read_outline_rows)


def _read_outline_rows(version: ProgramVersion) -> tuple[list, list]:
    from programs.selectors import STEP_ROUTE

    module_paths = [f"module__{name}" for name in _MODULE_COLUMNS]
    queryset = (
        Step.objects.filter(version_id=version.pk)
        .order_by("module__number", "position")
        .values_list(*_STEP_COLUMNS, *module_paths, STEP_ROUTE)
    )
    modules: dict[int, tuple] = {}
    steps: list[tuple] = []
    width = len(_STEP_COLUMNS)
    for row in queryset:
        step_values, module_values, route = row[:width], row[width:-1], row[-1]
        modules.setdefault(module_values[0], module_values)
        steps.append((step_values, route))
    return (list(modules.values()), steps)


def version_outline(version: ProgramVersion) -> list[tuple[Module, list[Step]]]:
    """The modules of ``version`` in order, each with its steps in order: fresh instances with
    the fields of ``STEP_FIELDS`` and ``MODULE_FIELDS`` (others load on access, as with
    ``only()``), ``step.module`` set and the ``route`` annotation of ``programs.selectors``.
    One query the first time in a process, none after."""
    module_rows, step_rows = _outline_rows(version)
    modules = {values[0]: Module.from_db(DEFAULT_DB_ALIAS, _MODULE_COLUMNS, values) for values in module_rows}
    grouped: dict[int, list[Step]] = {pk: [] for pk in modules}
    for values, route in step_rows:
        step = Step.from_db(DEFAULT_DB_ALIAS, _STEP_COLUMNS, values)
        step.route = route
        step.module = modules[step.module_id]
        grouped[step.module_id].append(step)
    return [(module, grouped[pk]) for pk, module in modules.items()]


# --- Diary types ----------------------------------------------------------------------------------


def _diary_type_rows(version: ProgramVersion) -> dict[str, tuple]:
    """The rows of the version's diary types by slug: from this process, else one query. A
    version's diary types are written with it, in its transaction, and never change after."""
    return _kept(_diary_types, version, _read_diary_type_rows)


def _read_diary_type_rows(version: ProgramVersion) -> dict[str, tuple]:
    rows = {}
    for values in DiaryType.objects.filter(version_id=version.pk).order_by().values_list(*_DIARY_COLUMNS):
        row = tuple(
            json.dumps(value) if name in _DIARY_JSON else value
            for name, value in zip(_DIARY_COLUMNS, values, strict=True)
        )
        rows[row[_DIARY_COLUMNS.index("slug")]] = row
    return rows


def diary_type(version: ProgramVersion, slug: str) -> DiaryType | None:
    """The diary type ``slug`` of ``version``, or None when it has none of that name: a fresh
    instance with every field (its ``fields`` and ``chart_fields`` parsed for this caller alone,
    ``version`` set to the one given). One query the first time in a process, none after."""
    row = _diary_type_rows(version).get(slug)
    if row is None:
        return None
    values = [
        json.loads(value) if name in _DIARY_JSON else value
        for name, value in zip(_DIARY_COLUMNS, row, strict=True)
    ]
    found = DiaryType.from_db(DEFAULT_DB_ALIAS, _DIARY_COLUMNS, values)
    found.version = version
    # The fields' JSON as kept here (the same text object on every call): the diary's form
    # fields are made once per process for it (``programs.forms.DefinitionForm``).
    found.icbt_fields_text = row[_FIELDS_AT]
    return found


# --- The newest versions -------------------------------------------------------------------------


def _generation() -> str | None:
    """The shared token of the programs' content, None when the shared cache cannot answer."""
    try:
        token = cache.get(GENERATION_KEY)
        if token is None:
            cache.add(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
            token = cache.get(GENERATION_KEY)
        return token
    except Exception:  # noqa: BLE001 - an unreachable cache: read from the database
        logger.warning("program content: the shared cache did not answer; reading versions from the database")
        return None


def content_changed() -> None:
    """A version was written: every process reads the newest versions again. Call it once the
    writing transaction has committed (``transaction.on_commit``)."""
    clear()
    try:
        cache.set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:  # noqa: BLE001 - other processes catch up after LATEST_MAX_AGE
        logger.exception("program content: could not tell other processes that content changed")


def latest_versions() -> list[ProgramVersion]:
    """``programs.selectors.latest_versions()`` as a list of fresh instances (program loaded):
    from this process while the shared generation token is unchanged, else one query."""
    from programs.selectors import latest_versions as read_latest

    generation = _generation()
    now = time.monotonic()
    with _lock:
        kept = _latest["versions"]
        if (
            generation is not None
            and kept is not None
            and _latest["generation"] == generation
            and now - _latest["read_at"] < LATEST_MAX_AGE
        ):
            return copy.deepcopy(kept)
    versions = list(read_latest())
    if generation is not None:
        with _lock:
            _latest.update(generation=generation, read_at=now, versions=copy.deepcopy(versions))
    return versions
