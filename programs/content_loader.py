"""Reading and validating program content files (programs/content/FORMAT.md). No database here.

``read_content(root)`` returns every program in every language, parsed and checked, or raises
``ContentErrors`` listing *every* problem found, each naming the file and line (YAML marks give
the lines of manifest entries; Markdown problems are located by line). The caller loads nothing
unless all of it is valid.

Languages other than English must have exactly the structure of English: the same modules,
steps, kinds, slugs, diaries, questionnaires and field names, types and options. Only text may
differ. This is what lets a patient's answers, a clinic's media and tailoring refer to a step by
its key whatever the language.
"""

import hashlib
import json
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.conf import settings

from programs import questionnaires, scripts
from programs.field_types import ASSIGNMENT, DIARY, FIELD_TYPES, Time, field_type, types_for

FORMAT_VERSION = "1"
BASE_LANGUAGE = "en"
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
FEEDBACK_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
FEEDBACK_PLACEHOLDERS = {"first_name", "therapist_name"}
MAX_DIARIES_PER_MODULE = 3

STEP_KINDS = ("page", "video", "audio", "assignment", "diary", "questionnaire")
ASSIGNMENT_FIELD_TYPES = types_for(ASSIGNMENT)
DIARY_FIELD_TYPES = types_for(DIARY)
# Diary fields only: ``day: previous`` for a question about yesterday (the value counts on the day
# before its entry), ``day_part`` for an amount in one part of the day (the activity-spread view).
DIARY_FIELD_KEYS = {"day", "day_part"}
DAY_PARTS = ("morning", "afternoon", "evening")
# A step for one activity pattern only (``route:``): shown to a patient once their therapist has
# confirmed that pattern, and hidden when another one is confirmed. Pain: avoidance or persistence
# (van Koulil); fatigue: relatively active or low active (Knoop and Bleijenberg).
ROUTES = ("avoidance", "persistence", "relatively_active", "low_active")


# --- YAML with line numbers ----------------------------------------------------------------


class LineDict(dict):
    line = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.key_lines: dict = {}

    def line_of(self, key) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):
    line = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.item_lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key, line):
        super().__init__(f"duplicate key {key!r}")
        self.key, self.line = key, line


class _LineLoader(yaml.SafeLoader):
    """A safe loader without anchors and aliases, and with a cap on nesting.

    An alias makes the parser hand out the same list again, so a few hundred bytes of ``&a``
    and ``*a`` describe millions of items ("billion laughs"): whoever walks the result (a
    validator, a JSON dump) is held for minutes. Content and uploads never need them, so any
    anchor or alias is refused while composing, before a single object is built."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None,
                None,
                "anchors and aliases (& and *) are not allowed; write the values out",
                event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_NESTING} levels deep", event.start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_mapping(loader, node):
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a single value, not a list or a mapping", key_node.start_mark
            )
        if key in result:
            raise _DuplicateKey(key, key_node.start_mark.line + 1)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader, node):
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


# Deeper nesting is refused before parsing: PyYAML recurses once per level (a RecursionError past
# about a thousand) and its scanner slows down with every open bracket, so a small uploaded file
# of brackets could hold a worker for minutes. Real content nests a few levels.
MAX_NESTING = 50


def _too_deep(text: str) -> bool:
    depth = 0
    for char in text:
        if char in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return True
        elif char in "]}":
            depth = max(0, depth - 1)
    return False


def load_yaml_with_lines(text: str):
    """Parse YAML; mappings and lists remember the line of each key and item (1-based).
    Raises ``ContentError``-ready ``(line, message)`` via ``YamlProblem``."""
    if _too_deep(text):
        raise YamlProblem(0, f"invalid YAML: nested more than {MAX_NESTING} levels deep")
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise YamlProblem(0, f"invalid YAML: nested more than {MAX_NESTING} levels deep") from None
    except _DuplicateKey as exc:
        raise YamlProblem(exc.line, f"duplicate key '{exc.key}'") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlProblem(mark.line + 1 if mark else 0, f"invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlProblem(0, f"invalid YAML: {exc}") from None


class YamlProblem(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line, self.message = line, message


# --- Errors --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContentError:
    path: str
    line: int
    message: str

    def __str__(self):
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


class ContentErrors(Exception):
    def __init__(self, errors: list[ContentError]):
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


# --- Parsed content ------------------------------------------------------------------------


@dataclass
class ParsedStep:
    kind: str
    slug: str
    title: str
    optional: bool
    source_file: str = ""
    body_markdown: str = ""
    example_markdown: str = ""
    definition: dict = field(default_factory=dict)
    diary: str = ""
    questionnaire: str = ""


@dataclass
class ParsedModule:
    number: int
    slug: str
    title: str
    summary: str
    diaries: list[str]
    steps: list[ParsedStep]


@dataclass
class ParsedDiary:
    slug: str
    title: str
    description: str
    frequency: str
    fields: list[dict]
    chart: list[str]
    entries: str = "one_per_day"


@dataclass
class ParsedFeedback:
    """A starter feedback template (or, ``is_snippet``, a short snippet) for therapists."""

    key: str
    title: str
    body: str
    is_snippet: bool
    line: int = 0


@dataclass
class ParsedLanguage:
    program: str
    language: str
    directory: Path
    title: str = ""
    tagline: str = ""
    public_markdown: str = ""
    questionnaires_start: list[str] = field(default_factory=list)
    questionnaires_end: list[str] = field(default_factory=list)
    # {"weekly_check_in": code or "", "after_module": {"3": [codes]}}
    measurement_schedule: dict = field(default_factory=dict)
    diaries: list[ParsedDiary] = field(default_factory=list)
    modules: list[ParsedModule] = field(default_factory=list)
    feedback: list[ParsedFeedback] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # relative path -> bytes, for the hash
    skeleton: dict[str, tuple] = field(default_factory=dict)  # description -> (value, line)
    content_hash: str = ""
    structure_hash: str = ""


# --- Validation helpers --------------------------------------------------------------------


class _Checker:
    """Collects errors for one file."""

    def __init__(self, path: Path, root: Path, errors: list[ContentError]):
        self.path = path
        self.display = _display_path(path, root)
        self.errors = errors

    def error(self, line: int, message: str):
        self.errors.append(ContentError(self.display, line, message))

    def mapping(self, node, line: int, where: str) -> LineDict | None:
        if not isinstance(node, LineDict):
            self.error(line, f"{where}: expected a mapping (key: value)")
            return None
        return node

    def keys(self, node: LineDict, allowed: set[str], required: set[str], where: str) -> bool:
        ok = True
        for key in node:
            if key not in allowed:
                self.error(
                    node.line_of(key), f"{where}: unknown key '{key}' (allowed: {', '.join(sorted(allowed))})"
                )
                ok = False
        for key in sorted(required - set(node)):
            self.error(node.line, f"{where}: '{key}' is missing")
            ok = False
        return ok

    def text(self, node: LineDict, key: str, where: str, *, required=True, max_length=300) -> str:
        value = node.get(key)
        if value is None:
            if required and key in node:
                self.error(node.line_of(key), f"{where}: '{key}' is empty")
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            self.error(node.line_of(key), f"{where}: '{key}' must be text")
            return ""
        if len(value) > max_length:
            self.error(node.line_of(key), f"{where}: '{key}' is longer than {max_length} characters")
        return value.strip()

    def integer(self, node: LineDict, key: str, where: str, *, default=None, low=None, high=None):
        if key not in node:
            return default
        value = node[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(node.line_of(key), f"{where}: '{key}' must be a whole number")
            return default
        if (low is not None and value < low) or (high is not None and value > high):
            self.error(node.line_of(key), f"{where}: '{key}' must be between {low} and {high}")
            return default
        return value

    def boolean(self, node: LineDict, key: str, where: str, default: bool) -> bool:
        if key not in node:
            return default
        value = node[key]
        if not isinstance(value, bool):
            self.error(node.line_of(key), f"{where}: '{key}' must be true or false")
            return default
        return value

    def slug(self, node: LineDict, key: str, where: str, pattern=SLUG_RE) -> str:
        value = node.get(key)
        if not isinstance(value, str) or not pattern.match(value):
            kind = (
                "lower-case letters, digits and hyphens"
                if pattern is SLUG_RE
                else "lower-case letters, digits and underscores, starting with a letter"
            )
            self.error(node.line_of(key), f"{where}: '{key}' must be {kind} (got {value!r})")
            return str(value or "")
        return value

    def listing(self, node: LineDict, key: str, where: str, *, required=True) -> LineList:
        value = node.get(key)
        if value is None:
            if required:
                self.error(node.line_of(key), f"{where}: '{key}' must be a list")
            return LineList()
        if not isinstance(value, LineList):
            self.error(node.line_of(key), f"{where}: '{key}' must be a list")
            return LineList()
        return value


def _display_path(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(settings.BASE_DIR))
    except ValueError:
        try:
            return str(path.relative_to(root.parent))
        except ValueError:
            return str(path)


# --- Markdown files ------------------------------------------------------------------------

_HTML_TAG = re.compile(r"<\s*[/!?a-zA-Z]")
_IMAGE = re.compile(r"!\[")
_EXTERNAL_LINK = re.compile(r"(?i)\b(?:https?|ftp|javascript|data):")


def check_markdown(text: str, report: Callable[[int, str], None]) -> None:
    """The text rules of FORMAT.md that a loader can check, located by line: no level-1 heading
    (the step title is the page's h1), no raw HTML, no images, no links to other hosts."""
    in_code = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        if re.match(r"^#(?!#)\s*\S", line):
            report(number, "level-1 heading: start headings at '##' (the step title is the page's h1)")
        if _HTML_TAG.search(line):
            report(number, "raw HTML is not allowed in content")
        if _IMAGE.search(line):
            report(number, "images are not allowed in content")
        if _EXTERNAL_LINK.search(line):
            report(number, "links to other hosts (or script links) are not allowed in content")


# --- Reading one language ------------------------------------------------------------------


class _LanguageReader:
    def __init__(self, program: str, directory: Path, root: Path, errors: list[ContentError]):
        self.parsed = ParsedLanguage(program=program, language=directory.name, directory=directory)
        self.root = root
        self.errors = errors
        self.manifest_path = directory / "manifest.yaml"
        self.check = _Checker(self.manifest_path, root, errors)
        self.referenced: set[str] = set()

    # Files --------------------------------------------------------------------------------

    def read_file(self, node: LineDict, key: str, where: str, *, required=True) -> tuple[str, str]:
        """(relative path, text) of a Markdown file named by ``node[key]``; errors are located
        on the manifest line that names the file, and on the file's own lines."""
        rel = node.get(key)
        if rel is None:
            if required:
                self.check.error(node.line, f"{where}: '{key}' is missing")
            return "", ""
        line = node.line_of(key)
        if (
            not isinstance(rel, str)
            or not rel.endswith(".md")
            or rel.startswith("/")
            or ".." in Path(rel).parts
        ):
            self.check.error(line, f"{where}: '{key}' must be a relative path to a .md file in this folder")
            return "", ""
        path = self.parsed.directory / rel
        if not path.is_file():
            self.check.error(line, f"{where}: file {rel} does not exist")
            return rel, ""
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.check.error(line, f"{where}: {rel} is not UTF-8 text ({exc.reason})")
            return rel, ""
        self.parsed.files[rel] = raw
        self.referenced.add(rel)
        file_check = _Checker(path, self.root, self.errors)
        if not text.strip():
            file_check.error(1, "the file is empty")
        check_markdown(text, file_check.error)
        return rel, text

    # Fields -------------------------------------------------------------------------------

    def field_definition(self, node, line: int, where: str, allowed_types: tuple[str, ...]) -> dict | None:
        c = self.check
        node = c.mapping(node, line, where)
        if node is None:
            return None
        ftype = node.get("type")
        if ftype not in allowed_types:
            c.error(
                node.line_of("type"),
                f"{where}: type must be one of {', '.join(allowed_types)} (got {ftype!r})",
            )
            return None
        kind = FIELD_TYPES[ftype]
        diary_keys = DIARY_FIELD_KEYS if allowed_types is DIARY_FIELD_TYPES else set()
        c.keys(
            node,
            {"name", "type", "label", "help", "required"} | kind.keys | diary_keys,
            {"name", "type", "label"} | kind.required_keys,
            where,
        )
        name = c.slug(node, "name", where, pattern=NAME_RE)
        return {
            "name": name,
            "type": ftype,
            "label": c.text(node, "label", where),
            "help": c.text(node, "help", where, required=False),
            "required": c.boolean(node, "required", where, True),
            **kind.check(self, node, where),
            **self.diary_field_keys(node, ftype, where),
        }

    def diary_field_keys(self, node: LineDict, ftype: str, where: str) -> dict:
        result = {}
        if "day" in node:
            if node.get("day") != "previous":
                self.check.error(
                    node.line_of("day"), f"{where}: 'day' can only be 'previous' (a question about yesterday)"
                )
            else:
                result["day"] = "previous"
        if "day_part" in node:
            if ftype not in ("number", "scale") or node.get("day_part") not in DAY_PARTS:
                self.check.error(
                    node.line_of("day_part"),
                    f"{where}: 'day_part' is one of {', '.join(DAY_PARTS)}, on a number or scale field",
                )
            else:
                result["day_part"] = str(node.get("day_part"))
        return result

    def options(self, node: LineDict, where: str) -> list[dict]:
        c = self.check
        items = c.listing(node, "options", where)
        options, seen = [], set()
        for i, option in enumerate(items):
            opt = c.mapping(option, items.line_of(i), f"{where} option {i + 1}")
            if opt is None:
                continue
            c.keys(opt, {"value", "label"}, {"value", "label"}, f"{where} option {i + 1}")
            value = opt.get("value")
            if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
                c.error(opt.line_of("value"), f"{where} option {i + 1}: 'value' must be a short code")
                continue
            value = str(value)
            if value in seen:
                c.error(opt.line_of("value"), f"{where}: option value '{value}' appears twice")
            seen.add(value)
            options.append({"value": value, "label": c.text(opt, "label", f"{where} option {i + 1}")})
        if len(options) < 2 and items:
            c.error(items.line, f"{where}: a choice needs at least two options")
        return options

    def fields(self, node: LineDict, where: str, allowed_types) -> list[dict]:
        items = self.check.listing(node, "fields", where)
        result, names = [], set()
        for i, item in enumerate(items):
            definition = self.field_definition(
                item, items.line_of(i), f"{where} field {i + 1}", allowed_types
            )
            if definition is None:
                continue
            if definition["name"] in names:
                self.check.error(
                    items.line_of(i), f"{where}: field name '{definition['name']}' appears twice"
                )
            earlier = definition.get("not_before")
            if earlier is not None and not any(
                f["name"] == earlier and f["type"] == Time.name for f in result
            ):
                self.check.error(
                    items.line_of(i),
                    f"{where}: 'not_before' must name a time field above this one (got {earlier!r})",
                )
            names.add(definition["name"])
            result.append(definition)
        if not result and items is not None:
            self.check.error(node.line_of("fields"), f"{where}: at least one field is needed")
        return result

    # Manifest -----------------------------------------------------------------------------

    def read(self) -> ParsedLanguage:
        p, c = self.parsed, self.check
        if not self.manifest_path.is_file():
            c.error(0, "manifest.yaml is missing")
            return p
        raw = self.manifest_path.read_bytes()
        p.files["manifest.yaml"] = raw
        try:
            manifest = load_yaml_with_lines(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            c.error(0, f"not UTF-8 text ({exc.reason})")
            return p
        except YamlProblem as exc:
            c.error(exc.line, exc.message)
            return p
        manifest = c.mapping(manifest, 1, "manifest")
        if manifest is None:
            return p
        c.keys(
            manifest,
            {"slug", "language", "title", "tagline", "questionnaires", "measurements", "diaries", "modules"},
            {"slug", "language", "title", "diaries", "modules"},
            "manifest",
        )
        if manifest.get("slug") != p.program:
            c.error(manifest.line_of("slug"), f"slug must be the folder name '{p.program}'")
        if manifest.get("language") != p.language:
            c.error(manifest.line_of("language"), f"language must be the folder name '{p.language}'")
        if p.language not in dict(settings.LANGUAGES):
            c.error(
                manifest.line_of("language"),
                f"language '{p.language}' is not one of {sorted(dict(settings.LANGUAGES))}",
            )
        p.title = c.text(manifest, "title", "manifest", max_length=160)
        p.tagline = c.text(manifest, "tagline", "manifest", required=False)
        self.read_questionnaires(manifest)
        self.read_diaries(manifest)
        self.read_modules(manifest)
        self.read_measurements(manifest)
        public = self.parsed.directory / "public.md"
        if public.is_file():
            _rel, p.public_markdown = self.read_file(LineDict({"file": "public.md"}), "file", "public page")
        else:
            c.error(0, "public.md (the public program page) is missing")
        self.read_feedback()
        self.unreferenced_files()
        self.build_skeleton(manifest)
        return p

    def read_feedback(self):
        """``feedback.yaml``: starter templates and snippets for the therapist's composer. Not part
        of the content hash: they are no published content, and every clinic edits its own copy."""
        path = self.parsed.directory / "feedback.yaml"
        if not path.is_file():
            return
        c = _Checker(path, self.root, self.errors)
        try:
            document = load_yaml_with_lines(path.read_bytes().decode("utf-8"))
        except UnicodeDecodeError as exc:
            c.error(0, f"not UTF-8 text ({exc.reason})")
            return
        except YamlProblem as exc:
            c.error(exc.line, exc.message)
            return
        document = c.mapping(document, 1, "feedback")
        if document is None:
            return
        c.keys(document, {"templates"}, {"templates"}, "feedback")
        seen = set()
        templates = c.listing(document, "templates", "feedback")
        for index, node in enumerate(templates):
            line = templates.line_of(index)
            where = f"template {index + 1}"
            node = c.mapping(node, line, where)
            if node is None:
                continue
            c.keys(node, {"key", "title", "text", "snippet"}, {"key", "title", "text"}, where)
            key = c.slug(node, "key", where)
            if key in seen:
                c.error(node.line_of("key"), f"{where}: key '{key}' is used twice")
            seen.add(key)
            body = c.text(node, "text", where, max_length=4000).strip()
            unknown = sorted(set(FEEDBACK_PLACEHOLDER_RE.findall(body)) - FEEDBACK_PLACEHOLDERS)
            if unknown:
                c.error(
                    node.line_of("text"),
                    f"{where}: unknown placeholder(s) {unknown}; use {{first_name}} and {{therapist_name}}",
                )
            self.parsed.feedback.append(
                ParsedFeedback(
                    key=key,
                    title=c.text(node, "title", where, max_length=120),
                    body=body,
                    is_snippet=c.boolean(node, "snippet", where, False),
                    line=line,
                )
            )

    def read_questionnaires(self, manifest: LineDict):
        c = self.check
        node = manifest.get("questionnaires")
        if node is None:
            return
        node = c.mapping(node, manifest.line_of("questionnaires"), "questionnaires")
        if node is None:
            return
        c.keys(node, {"start", "end"}, set(), "questionnaires")
        for moment in ("start", "end"):
            codes = c.listing(node, moment, f"questionnaires {moment}", required=False)
            valid = []
            for i, code in enumerate(codes):
                if code not in questionnaires.INSTRUMENTS or code in questionnaires.CHECK_IN_CODES:
                    c.error(
                        codes.line_of(i),
                        f"questionnaires {moment}: unknown questionnaire {code!r} "
                        f"(known: {', '.join(questionnaires.INSTRUMENTS)})",
                    )
                else:
                    valid.append(code)
            setattr(self.parsed, f"questionnaires_{moment}", valid)

    def read_measurements(self, manifest: LineDict):
        """The measurement schedule beyond start and end: a weekly check-in (one of the check-in
        instruments) and questionnaires after module N (asked once that module is complete)."""
        c = self.check
        node = manifest.get("measurements")
        if node is None:
            return
        node = c.mapping(node, manifest.line_of("measurements"), "measurements")
        if node is None:
            return
        c.keys(node, {"weekly_check_in", "after_module"}, set(), "measurements")
        schedule = {"weekly_check_in": "", "after_module": {}}
        check_in = node.get("weekly_check_in")
        if check_in is not None:
            if check_in not in questionnaires.CHECK_IN_CODES:
                c.error(
                    node.line_of("weekly_check_in"),
                    "measurements weekly_check_in: must be one of "
                    + ", ".join(questionnaires.CHECK_IN_CODES),
                )
            else:
                schedule["weekly_check_in"] = check_in
        numbers = {m.number for m in self.parsed.modules}
        entries = c.listing(node, "after_module", "measurements after_module", required=False)
        for i, entry in enumerate(entries):
            where = f"measurements after_module {i + 1}"
            entry = c.mapping(entry, entries.line_of(i), where)
            if entry is None:
                continue
            c.keys(entry, {"module", "questionnaires"}, {"module", "questionnaires"}, where)
            number = c.integer(entry, "module", where, low=1)
            if number is not None and number not in numbers:
                c.error(entry.line_of("module"), f"{where}: there is no module {number}")
                continue
            codes = c.listing(entry, "questionnaires", where)
            valid = []
            for j, code in enumerate(codes):
                if code not in questionnaires.INSTRUMENTS or code in questionnaires.CHECK_IN_CODES:
                    c.error(codes.line_of(j), f"{where}: unknown questionnaire {code!r}")
                else:
                    valid.append(code)
            if number is not None:
                schedule["after_module"][str(number)] = valid
        self.parsed.measurement_schedule = schedule

    def read_diaries(self, manifest: LineDict):
        c = self.check
        diaries = c.listing(manifest, "diaries", "manifest")
        for i, node in enumerate(diaries):
            where = f"diary {i + 1}"
            node = c.mapping(node, diaries.line_of(i), where)
            if node is None:
                continue
            c.keys(
                node,
                {"slug", "title", "frequency", "entries", "description", "fields", "chart"},
                {"slug", "title", "frequency", "fields"},
                where,
            )
            slug = c.slug(node, "slug", where)
            where = f"diary '{slug}'"
            if slug in {d.slug for d in self.parsed.diaries}:
                c.error(node.line_of("slug"), f"{where}: slug appears twice")
            frequency = node.get("frequency")
            if frequency not in ("daily", "weekly"):
                c.error(node.line_of("frequency"), f"{where}: frequency must be daily or weekly")
            entries = node.get("entries", "one_per_day")
            if entries not in ("one_per_day", "per_moment"):
                c.error(node.line_of("entries"), f"{where}: entries must be one_per_day or per_moment")
            fields = self.fields(node, where, DIARY_FIELD_TYPES)
            drawable = {f["name"] for f in fields if field_type(f).is_chartable}
            chart = c.listing(node, "chart", where, required=False)
            for j, name in enumerate(chart):
                if name not in drawable:
                    c.error(
                        chart.line_of(j),
                        f"{where}: chart field {name!r} is not a scale, number or time field",
                    )
            self.parsed.diaries.append(
                ParsedDiary(
                    slug=slug,
                    title=c.text(node, "title", where, max_length=160),
                    description=c.text(node, "description", where, required=False, max_length=1000),
                    frequency=str(frequency),
                    entries=str(entries),
                    fields=fields,
                    chart=[str(n) for n in chart],
                )
            )

    def read_modules(self, manifest: LineDict):
        c = self.check
        modules = c.listing(manifest, "modules", "manifest")
        diary_slugs = {d.slug for d in self.parsed.diaries}
        for i, node in enumerate(modules):
            where = f"module {i + 1}"
            node = c.mapping(node, modules.line_of(i), where)
            if node is None:
                continue
            c.keys(
                node,
                {"slug", "number", "title", "summary", "diaries", "steps"},
                {"slug", "number", "title", "steps"},
                where,
            )
            slug = c.slug(node, "slug", where)
            if slug in {m.slug for m in self.parsed.modules}:
                c.error(node.line_of("slug"), f"{where}: module slug '{slug}' appears twice")
            number = node.get("number")
            if number != i + 1:
                c.error(
                    node.line_of("number"), f"{where}: number must be {i + 1} (modules are numbered in order)"
                )
            where = f"module {i + 1} ({slug})"
            diaries = c.listing(node, "diaries", where, required=False)
            for j, diary in enumerate(diaries):
                if diary not in diary_slugs:
                    c.error(diaries.line_of(j), f"{where}: diary {diary!r} is not defined under 'diaries'")
            if len(diaries) > MAX_DIARIES_PER_MODULE:
                c.error(
                    node.line_of("diaries"), f"{where}: at most {MAX_DIARIES_PER_MODULE} diaries at a time"
                )
            module = ParsedModule(
                number=i + 1,
                slug=slug,
                title=c.text(node, "title", where, max_length=160),
                summary=c.text(node, "summary", where, required=False, max_length=1000),
                diaries=[str(d) for d in diaries],
                steps=[],
            )
            steps = c.listing(node, "steps", where)
            if not steps:
                c.error(node.line_of("steps"), f"{where}: a module needs steps")
            for j, step_node in enumerate(steps):
                step = self.read_step(step_node, steps.line_of(j), f"{where} step {j + 1}", module)
                if step is not None:
                    if step.slug in {s.slug for s in module.steps}:
                        c.error(steps.line_of(j), f"{where}: step slug '{step.slug}' appears twice")
                    module.steps.append(step)
            self.parsed.modules.append(module)

    def read_step(self, node, line: int, where: str, module: ParsedModule) -> ParsedStep | None:
        c = self.check
        node = c.mapping(node, line, where)
        if node is None:
            return None
        kind = node.get("kind")
        if kind not in STEP_KINDS:
            c.error(
                node.line_of("kind"), f"{where}: kind must be one of {', '.join(STEP_KINDS)} (got {kind!r})"
            )
            return None
        common = {"kind", "slug", "title", "optional", "route"}
        allowed, required = {
            "page": ({"file"}, {"file"}),
            "assignment": ({"intro", "example", "fields", "file"}, {"intro", "example", "fields"}),
            "diary": ({"diary", "file"}, {"diary"}),
            "audio": ({"transcript", "minutes"}, {"transcript"}),
            "video": ({"transcript", "minutes"}, {"transcript"}),
            "questionnaire": ({"questionnaire", "file"}, {"questionnaire"}),
        }[kind]
        c.keys(node, common | allowed, {"kind", "slug", "title"} | required, where)
        slug = c.slug(node, "slug", where)
        where = f"{where} ({slug})"
        step = ParsedStep(
            kind=kind,
            slug=slug,
            title=c.text(node, "title", where, max_length=200),
            optional=c.boolean(node, "optional", where, False),
        )
        if kind in ("audio", "video"):
            step.source_file, step.body_markdown = self.read_file(node, "transcript", where)
            step.definition = {"minutes": c.integer(node, "minutes", where, default=None, low=1, high=180)}
            self.read_script(step)
        elif "file" in node or kind == "page":
            step.source_file, step.body_markdown = self.read_file(node, "file", where)
        if kind == "assignment":
            step.definition = {
                "intro": c.text(node, "intro", where, max_length=1000),
                "fields": self.fields(node, where, ASSIGNMENT_FIELD_TYPES),
            }
            _rel, step.example_markdown = self.read_file(node, "example", where)
        elif kind == "diary":
            step.diary = str(node.get("diary"))
            if step.diary not in {d.slug for d in self.parsed.diaries}:
                c.error(
                    node.line_of("diary"), f"{where}: diary {step.diary!r} is not defined under 'diaries'"
                )
            elif step.diary not in module.diaries:
                c.error(
                    node.line_of("diary"), f"{where}: diary {step.diary!r} is not in this module's 'diaries'"
                )
            step.definition = {"diary": step.diary}
        elif kind == "questionnaire":
            step.questionnaire = str(node.get("questionnaire"))
            if (
                step.questionnaire not in questionnaires.INSTRUMENTS
                or step.questionnaire in questionnaires.CHECK_IN_CODES
            ):
                c.error(
                    node.line_of("questionnaire"), f"{where}: unknown questionnaire {step.questionnaire!r}"
                )
            step.definition = {"questionnaire": step.questionnaire}
        if "route" in node:
            if node.get("route") not in ROUTES:
                c.error(node.line_of("route"), f"{where}: route must be one of {', '.join(ROUTES)}")
            else:
                step.definition = {**step.definition, "route": str(node.get("route"))}
        return step

    def read_script(self, step: ParsedStep) -> None:
        """Cut an audio or video transcript into its timed parts (programs/scripts.py); the
        transcript readers see loses the marker lines."""
        report = _Checker(self.parsed.directory / step.source_file, self.root, self.errors).error
        step.definition["segments"] = scripts.script_segments(step.body_markdown, report)
        step.body_markdown = scripts.without_markers(step.body_markdown)

    def unreferenced_files(self):
        """Every Markdown file in the folder must be used: a stray file is usually a typo in the
        manifest, and would otherwise be silently left out."""
        for path in sorted(self.parsed.directory.rglob("*.md")):
            rel = path.relative_to(self.parsed.directory).as_posix()
            if rel not in self.referenced:
                _Checker(path, self.root, self.errors).error(0, "this file is not used by manifest.yaml")

    # Structure ----------------------------------------------------------------------------

    def build_skeleton(self, manifest: LineDict):
        """Language-independent facts, each with the manifest line it comes from."""
        p = self.parsed
        skeleton: dict[str, tuple] = {}
        skeleton["questionnaires"] = (
            (tuple(p.questionnaires_start), tuple(p.questionnaires_end)),
            manifest.line_of("questionnaires"),
        )
        schedule = p.measurement_schedule or {}
        skeleton["measurements"] = (
            (
                schedule.get("weekly_check_in", ""),
                tuple(sorted((k, tuple(v)) for k, v in schedule.get("after_module", {}).items())),
            ),
            manifest.line_of("measurements"),
        )
        diary_nodes = manifest.get("diaries") if isinstance(manifest.get("diaries"), LineList) else LineList()
        skeleton["diaries"] = (tuple(d.slug for d in p.diaries), manifest.line_of("diaries"))
        for i, diary in enumerate(p.diaries):
            line = diary_nodes.line_of(i)
            skeleton[f"diary '{diary.slug}'"] = (
                (diary.frequency, diary.entries, tuple(diary.chart), tuple(f["name"] for f in diary.fields)),
                line,
            )
            for f in diary.fields:
                skeleton[f"diary '{diary.slug}' field '{f['name']}'"] = (_field_shape(f), line)
        module_nodes = (
            manifest.get("modules") if isinstance(manifest.get("modules"), LineList) else LineList()
        )
        skeleton["modules"] = (tuple(m.slug for m in p.modules), manifest.line_of("modules"))
        for i, module in enumerate(p.modules):
            mnode = (
                module_nodes[i]
                if i < len(module_nodes) and isinstance(module_nodes[i], LineDict)
                else LineDict()
            )
            line = module_nodes.line_of(i)
            skeleton[f"module {module.number}"] = (
                (module.slug, tuple(module.diaries), tuple(s.slug for s in module.steps)),
                line,
            )
            step_nodes = mnode.get("steps") if isinstance(mnode.get("steps"), LineList) else LineList()
            for j, step in enumerate(module.steps):
                sline = step_nodes.line_of(j) if step_nodes else line
                skeleton[f"module {module.number} step {j + 1}"] = (
                    (
                        step.slug,
                        step.kind,
                        step.optional,
                        step.diary,
                        step.questionnaire,
                        tuple(f["name"] for f in step.definition.get("fields", [])),
                        step.definition.get("route"),
                    ),
                    sline,
                )
                for f in step.definition.get("fields", []):
                    skeleton[f"module {module.number} step '{step.slug}' field '{f['name']}'"] = (
                        _field_shape(f),
                        sline,
                    )
        p.skeleton = skeleton
        p.structure_hash = hashlib.sha256(
            json.dumps(sorted((k, v[0]) for k, v in skeleton.items()), default=list).encode()
        ).hexdigest()


def _field_shape(f: dict) -> tuple:
    """What must be equal between languages: everything but the texts."""
    return (
        f["type"],
        f["required"],
        tuple(o["value"] for o in f.get("options", [])),
        f.get("min"),
        f.get("max"),
        f.get("budget"),
        len(f.get("activities", [])),
        f.get("rows"),
        f.get("min_items"),
        f.get("max_items"),
        f.get("not_before"),
        f.get("day"),
        f.get("day_part"),
    )


def content_hash(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256(f"icbt-content-format-{FORMAT_VERSION}\0".encode())
    for rel in sorted(files):
        digest.update(rel.encode() + b"\0" + files[rel] + b"\0")
    return digest.hexdigest()


def compare_structure(base: ParsedLanguage, other: ParsedLanguage, root: Path) -> list[ContentError]:
    """Differences between ``other`` and the English structure, located in ``other``'s manifest."""
    display = _display_path(other.directory / "manifest.yaml", root)
    errors = []
    for key, (value, _line) in base.skeleton.items():
        if key not in other.skeleton:
            errors.append(
                ContentError(display, 0, f"structure differs from {base.language}: {key} is missing")
            )
        elif other.skeleton[key][0] != value:
            errors.append(
                ContentError(
                    display,
                    other.skeleton[key][1],
                    f"structure differs from {base.language}: {key} "
                    f"is {_shape_text(other.skeleton[key][0])}, "
                    f"in {base.language} {_shape_text(value)}",
                )
            )
    for key, (_value, line) in other.skeleton.items():
        if key not in base.skeleton:
            errors.append(
                ContentError(
                    display, line, f"structure differs from {base.language}: {key} does not exist there"
                )
            )
    return errors


def compare_feedback(base: ParsedLanguage, other: ParsedLanguage, root: Path) -> list[ContentError]:
    """The starter templates of ``other`` must be those of English: same keys, same kinds."""
    display = _display_path(other.directory / "feedback.yaml", root)
    theirs = {f.key: f for f in other.feedback}
    ours = {f.key: f for f in base.feedback}
    errors = [
        ContentError(display, 0, f"starter template '{key}' of {base.language} is missing")
        for key in ours
        if key not in theirs
    ]
    for key, starter in theirs.items():
        if key not in ours:
            errors.append(
                ContentError(display, starter.line, f"starter template '{key}' is not in {base.language}")
            )
        elif ours[key].is_snippet != starter.is_snippet:
            errors.append(
                ContentError(
                    display, starter.line, f"starter template '{key}': 'snippet' differs from {base.language}"
                )
            )
    return errors


def _shape_text(value) -> str:
    return json.dumps(value, default=list, ensure_ascii=False)


# --- Everything ----------------------------------------------------------------------------


def default_root() -> Path:
    return Path(settings.BASE_DIR) / "programs" / "content"


def read_content(
    root: Path | None = None, progress: Callable[[str], None] | None = None
) -> list[ParsedLanguage]:
    """Parse and check every ``<root>/<program>/<language>/``. English first, then the other
    languages in alphabetical order. Raises ``ContentErrors`` with every problem found."""
    root = Path(root or default_root())
    progress = progress or (lambda message: None)
    errors: list[ContentError] = []
    result: list[ParsedLanguage] = []
    programs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not programs:
        raise ContentErrors([ContentError(str(root), 0, "no program folders found")])
    for program_dir in programs:
        if not SLUG_RE.match(program_dir.name):
            errors.append(
                ContentError(_display_path(program_dir, root), 0, "a program folder name must be a slug")
            )
            continue
        languages = sorted(
            (d for d in program_dir.iterdir() if d.is_dir() and not d.name.startswith(".")),
            key=lambda d: (d.name != BASE_LANGUAGE, d.name),
        )
        if not any(d.name == BASE_LANGUAGE for d in languages):
            errors.append(
                ContentError(
                    _display_path(program_dir, root),
                    0,
                    f"the {BASE_LANGUAGE} folder is missing (every program is written in English first)",
                )
            )
            continue
        base = None
        for directory in languages:
            progress(f"Checking {program_dir.name}/{directory.name} ...")
            before = len(errors)
            parsed = _LanguageReader(program_dir.name, directory, root, errors).read()
            parsed.content_hash = content_hash(parsed.files)
            if directory.name == BASE_LANGUAGE:
                base = parsed
            elif base is not None and len(errors) == before:
                errors.extend(compare_structure(base, parsed, root))
            if directory.name != BASE_LANGUAGE and base is not None:
                errors.extend(compare_feedback(base, parsed, root))
            result.append(parsed)
    if errors:
        raise ContentErrors(errors)
    return result
