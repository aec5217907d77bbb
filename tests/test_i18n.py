"""Dutch throughout.

(a) The Dutch catalogue (locale/nl/LC_MESSAGES/django.po) is complete: no untranslated or fuzzy
    entry, placeholders kept, the compiled .mo says the same as the .po, and every string the
    code marks for translation today is in it (makemessages is run on a temporary copy).
(b) Templates hold no user-visible text that is not marked for translation (text, visible
    attributes, the data attributes our JavaScript shows, literal strings in tags).
(c) Python code marks its user-visible strings: messages, validation errors, labels, help
    texts, verbose names, choice labels, model field names, e-mail subjects.
(d) A Dutch patient, therapist and manager see Dutch pages; the public pages follow the browser
    and the switch in the footer; invitation and digest e-mails follow the recipient's language.

After adding or changing strings: ``make messages``, translate the new entries in the .po (no
``#, fuzzy`` left), and run ``make messages`` again to compile.
"""

import ast
import gettext
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "locale"
PO_PATH = LOCALE / "nl" / "LC_MESSAGES" / "django.po"
MO_PATH = LOCALE / "nl" / "LC_MESSAGES" / "django.mo"
APPS = ("icbt", "programs", "therapists", "patients", "messaging")
TEMPLATE_DIRS = [ROOT / "templates"] + sorted(
    d for app in APPS for d in [ROOT / app / "templates"] if d.is_dir()
)
# The server-error page is rendered without the database or translations: static text in
# both languages, checked on its own below.
STATIC_BILINGUAL_TEMPLATES = {ROOT / "templates" / "500.html"}

# --- A small PO reader (the standard library has none) -------------------------------------


class PoEntry:
    def __init__(self):
        self.flags: list[str] = []
        self.msgctxt: str | None = None
        self.msgid: str | None = None
        self.msgid_plural: str | None = None
        self.msgstr: str | None = None
        self.msgstr_plural: dict[int, str] = {}
        self.obsolete = False

    @property
    def key(self) -> str:
        return f"{self.msgctxt}\x04{self.msgid}" if self.msgctxt is not None else self.msgid

    @property
    def translations(self) -> list[str]:
        if self.msgid_plural is not None:
            return [self.msgstr_plural[n] for n in sorted(self.msgstr_plural)]
        return [self.msgstr or ""]

    def __str__(self):
        return repr(self.msgid if self.msgctxt is None else f"{self.msgctxt}|{self.msgid}")


_PO_LINE = re.compile(r'(msgctxt|msgid_plural|msgid|msgstr\[(\d+)\]|msgstr)\s+(".*")$')


def _po_string(quoted: str) -> str:
    return ast.literal_eval(quoted)


def parse_po(text: str) -> list[PoEntry]:
    """Entries of a PO file (the header is the entry with an empty msgid)."""
    entries: list[PoEntry] = []
    entry, field = PoEntry(), None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            if entry.msgid is not None:
                entries.append(entry)
            entry, field = PoEntry(), None
            continue
        if line.startswith("#~"):
            entry.obsolete = True
            line = line[2:].strip()
            if not line or line.startswith("|"):
                continue
        if line.startswith("#,"):
            entry.flags += [f.strip() for f in line[2:].split(",") if f.strip()]
            continue
        if line.startswith("#"):
            continue
        match = _PO_LINE.match(line)
        if match:
            keyword, index, value = match.group(1), match.group(2), _po_string(match.group(3))
            if index is not None:
                field = int(index)
                entry.msgstr_plural[field] = value
            else:
                field = keyword
                setattr(entry, keyword, value)
            continue
        if line.startswith('"') and field is not None:
            if isinstance(field, int):
                entry.msgstr_plural[field] += _po_string(line)
            else:
                setattr(entry, field, getattr(entry, field) + _po_string(line))
            continue
        raise AssertionError(f"{PO_PATH.name} line {number}: cannot read {raw!r}")
    if entry.msgid is not None:
        entries.append(entry)
    return entries


def _catalogue(path: Path = PO_PATH) -> tuple[dict[str, str], list[PoEntry]]:
    entries = [e for e in parse_po(path.read_text(encoding="utf-8")) if not e.obsolete]
    header = next(e for e in entries if e.msgid == "")
    headers = dict(line.split(":", 1) for line in (header.msgstr or "").splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in headers.items()}, [e for e in entries if e.msgid]


# --- (a) The catalogue ----------------------------------------------------------------------


def test_the_dutch_catalogue_has_the_right_header():
    headers, entries = _catalogue()
    assert headers.get("Language") == "nl"
    assert headers.get("Plural-Forms") == "nplurals=2; plural=(n != 1);"
    assert "charset=UTF-8" in headers.get("Content-Type", "")
    assert len(entries) > 1000


def test_every_entry_is_translated_and_none_is_fuzzy():
    _headers, entries = _catalogue()
    untranslated = [str(e) for e in entries if not all(t.strip() for t in e.translations)]
    fuzzy = [str(e) for e in entries if "fuzzy" in e.flags]
    plural_count = [str(e) for e in entries if e.msgid_plural is not None and len(e.msgstr_plural) != 2]
    assert not untranslated, f"Untranslated entries in {PO_PATH}:\n" + "\n".join(untranslated)
    assert not fuzzy, f"Fuzzy entries in {PO_PATH} (check and remove the flag):\n" + "\n".join(fuzzy)
    assert not plural_count, "Plural entries need exactly two forms:\n" + "\n".join(plural_count)


_PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%%|%[sdif]|\{\w+\}")


def test_translations_keep_their_placeholders():
    """%(name)s, %s, %% and {first_name}-style placeholders survive translation, so formatting
    never fails and no value goes missing. A singular form may write the number out ("1")."""
    _headers, entries = _catalogue()
    problems = []
    for e in entries:
        if e.msgid_plural is None:
            if sorted(_PLACEHOLDER.findall(e.msgid)) != sorted(_PLACEHOLDER.findall(e.msgstr or "")):
                problems.append(f"{e}: {e.msgstr!r}")
            continue
        wanted = set(_PLACEHOLDER.findall(e.msgid_plural))
        for n, text in e.msgstr_plural.items():
            found = set(_PLACEHOLDER.findall(text))
            if (n > 0 and found != wanted) or not found <= wanted | set(_PLACEHOLDER.findall(e.msgid)):
                problems.append(f"{e} [{n}]: {text!r}")
    assert not problems, "Placeholders changed in translation:\n" + "\n".join(problems)


def test_the_compiled_catalogue_is_up_to_date():
    """The committed .mo (a fresh checkout shows Dutch without compiling) holds exactly the
    translations of the .po. Run ``make messages`` after editing the .po."""
    assert MO_PATH.exists(), f"{MO_PATH} is missing: run make messages"
    with MO_PATH.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)._catalog  # noqa: SLF001 - the stdlib's parsed .mo
    _headers, entries = _catalogue()
    expected: dict = {}
    for e in entries:
        if e.msgid_plural is None:
            expected[e.key] = e.msgstr
        else:
            for n, text in e.msgstr_plural.items():
                expected[(e.key, n)] = text
    compiled = {k: v for k, v in compiled.items() if k != ""}
    stale = sorted(str(k) for k in set(expected) ^ set(compiled))
    stale += sorted(str(k) for k in set(expected) & set(compiled) if expected[k] != compiled[k])
    assert not stale, f"{MO_PATH} differs from the .po (run make messages):\n" + "\n".join(stale[:30])


def _fresh_extraction(tmp_path: Path) -> Path:
    """makemessages, as ``make messages`` runs it, on a temporary tree of links to our code, so
    the real catalogue is not touched. Returns the new .po."""
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in (*APPS, "templates", "manage.py"):
        (tree / name).symlink_to(ROOT / name)
    (tree / "locale").mkdir()
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "nl", "--no-location", "--symlinks"],
        cwd=tree,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return tree / "locale" / "nl" / "LC_MESSAGES" / "django.po"


def test_the_catalogue_holds_every_string_marked_in_the_code(tmp_path):
    if shutil.which("xgettext") is None:
        pytest.fail("GNU gettext (xgettext) is needed to check the catalogue: apt-get install gettext")
    _headers, fresh = _catalogue(_fresh_extraction(tmp_path))
    _headers, ours = _catalogue()
    known = {e.key for e in ours}
    missing = sorted(str(e) for e in fresh if e.key not in known)
    assert not missing, (
        "Strings marked for translation but not in the Dutch catalogue. Run `make messages`, "
        "translate the new entries, and run `make messages` again:\n" + "\n".join(missing)
    )


# --- (b) Templates --------------------------------------------------------------------------

# Names and symbols that read the same in both languages.
TEMPLATE_ALLOWED = re.compile(
    r"\b(icbt|ICBT|CBT|PHQ-9|GAD-7|RAND-36|CIS|PDF|CSV|JSON)\b|(?<![\w+])A\+{0,2}(?![\w+])|"
    r"[\w.+-]+@[\w-]+\.[\w.]+|https?://\S+"
)
VISIBLE_ATTRIBUTES = {
    "alt",
    "title",
    "placeholder",
    "aria-label",
    "aria-description",
    "aria-roledescription",
    "aria-valuetext",
    "label",
}
# Attributes whose text our JavaScript shows (static/js reads them with getAttribute).
JS_TEXT_ATTRIBUTE = re.compile(r"^data-(label-[\w-]+|[\w-]*-template|[\w-]*-text)$")
_COMMENT_BLOCK = re.compile(r"{%\s*comment\b.*?%}.*?{%\s*endcomment\s*%}", re.S)
_BLOCKTRANS = re.compile(
    r"{%\s*(blocktrans|blocktranslate)\b.*?%}.*?{%\s*(endblocktrans|endblocktranslate)\s*%}", re.S
)
_DJANGO_TAG = re.compile(r"{%.*?%}|{{.*?}}|{#.*?#}", re.S)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TAG_LITERAL = re.compile(r"""(_\()?("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")
_NOT_TRANSLATED_TAGS = re.compile(
    r"{%\s*(trans|translate|blocktrans|blocktranslate|load|url|static|extends|now)\b"
)


def _has_words(text: str) -> bool:
    return bool(re.search(r"[^\W\d_]", TEMPLATE_ALLOWED.sub(" ", text)))


class _TextFinder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        attributes = dict(attrs)
        for name, value in attrs:
            if value and (name in VISIBLE_ATTRIBUTES or JS_TEXT_ATTRIBUTE.match(name)) and _has_words(value):
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag == "input" and attributes.get("type") in ("submit", "button", "reset"):
            if _has_words(attributes.get("value") or ""):
                self.found.append(f"<input value={attributes['value']!r}>")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if self._skip:
            return
        for chunk in re.split(r"\n|\s{2,}", data):
            if _has_words(chunk.strip()):
                self.found.append(chunk.strip())


def unmarked_template_text(source: str) -> list[str]:
    """User-visible text in a template that is not inside {% trans %} / {% blocktrans %}."""
    source = _COMMENT_BLOCK.sub("", source)
    problems = []
    for tag in _DJANGO_TAG.finditer(source):
        if _NOT_TRANSLATED_TAGS.match(tag.group(0)):
            continue
        for literal in _TAG_LITERAL.finditer(tag.group(0)):
            text = literal.group(2)[1:-1]
            if not literal.group(1) and re.search(r"[^\W\d_]{2,}\s+[^\W\d_]{2,}", text):
                problems.append(f"literal in {tag.group(0)!r}")
    stripped = _HTML_COMMENT.sub("", _DJANGO_TAG.sub("", _BLOCKTRANS.sub("", source)))
    finder = _TextFinder()
    finder.feed(stripped)
    finder.close()
    return problems + finder.found


def _templates():
    for directory in TEMPLATE_DIRS:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and path.suffix in (".html", ".txt"):
                yield path


def test_the_template_scanner_finds_unmarked_text():
    assert unmarked_template_text("<p>Hello there</p>") == ["Hello there"]
    assert unmarked_template_text('<img alt="A dog" src="x.png">') == ["<img alt='A dog'>"]
    assert unmarked_template_text('<span data-label-saved="Saved">') == ["<span data-label-saved='Saved'>"]
    assert unmarked_template_text('{{ value|default:"Nothing yet" }}')
    assert not unmarked_template_text(
        '{% load i18n %}<p title="{% trans \'Hi\' %}">{% trans "Hello" %} icbt · {{ name }}</p>'
        "{% blocktrans %}Hello {{ name }}{% endblocktrans %}{% comment %}Not shown{% endcomment %}"
        '<script>var a = "Not user text";</script><span aria-hidden="true">A+</span>'
    )


def test_every_template_marks_its_text_for_translation():
    problems = []
    for path in _templates():
        if path in STATIC_BILINGUAL_TEMPLATES:
            continue
        for text in unmarked_template_text(path.read_text(encoding="utf-8")):
            problems.append(f"{path.relative_to(ROOT)}: {text}")
    assert not problems, "Text not marked for translation:\n" + "\n".join(problems)


def test_templates_that_translate_load_i18n():
    problems = []
    for path in _templates():
        source = path.read_text(encoding="utf-8")
        if re.search(r"{%\s*(trans|translate|blocktrans|blocktranslate)\b", source) and not re.search(
            r"{%\s*load\s[^%]*\bi18n\b", source
        ):
            problems.append(str(path.relative_to(ROOT)))
    assert not problems, "Templates that use {% trans %} without {% load i18n %}:\n" + "\n".join(problems)


def test_the_server_error_page_is_bilingual_static_text():
    """Static text in both languages; the only template code is the crisis block (national lines
    in the active language, no database, no request), which must be on every error page."""
    source = (ROOT / "templates" / "500.html").read_text(encoding="utf-8")
    allowed = (
        "{% load i18n crisis_tags %}",
        "{% get_current_language as LANGUAGE_CODE %}",
        "{{ LANGUAGE_CODE }}",
        "{% crisis_block %}",
    )
    for tag in allowed:
        source = source.replace(tag, "")
    assert "{%" not in source and "{{" not in source
    assert "Er ging iets mis" in source and "Something went wrong" in source


def test_javascript_shows_only_texts_the_templates_translate():
    """static/js keeps no user-visible text of its own: what it shows comes from attributes or
    hidden elements that a template fills with {% trans %}; its literals are fallbacks only."""
    scripts = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "static" / "js").glob("*.js")))
    templates = "\n".join(p.read_text(encoding="utf-8") for p in _templates())
    attributes = set(re.findall(r'getAttribute\("(data-(?:label-[\w-]+|[\w-]*-template))"\)', scripts))
    element_ids = set(re.findall(r'text\("([\w-]+-text)"', scripts))
    assert attributes and element_ids
    for name in sorted(attributes):
        assert re.search(name + r"""=["']{% trans""", templates), f"{name} is not rendered with {{% trans %}}"
    for element_id in sorted(element_ids):
        assert re.search(r'id="' + element_id + r'"[^>]*>{% trans', templates), (
            f"#{element_id} is not translated"
        )


# --- (c) Python -----------------------------------------------------------------------------

TRANSLATING_CALLS = {
    "_",
    "gettext",
    "gettext_lazy",
    "pgettext",
    "pgettext_lazy",
    "ngettext",
    "ngettext_lazy",
    "npgettext",
    "npgettext_lazy",
}
MESSAGE_FUNCTIONS = {"debug", "info", "success", "warning", "error", "add_message"}
TEXT_KEYWORDS = {"label", "help_text", "verbose_name", "verbose_name_plural", "empty_label", "subject"}
RELATION_FIELDS = {"ForeignKey", "OneToOneField", "ManyToManyField"}
# Language names are shown in their own language in a language menu.
AUTONYMS = {"English", "Nederlands"}


def _name(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _is_text(node) -> bool:
    """A literal with words that is not wrapped in a translation call (f-strings and %-/format
    strings count by their literal parts)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(re.search(r"[^\W\d_]", node.value)) and node.value not in AUTONYMS
    if isinstance(node, ast.JoinedStr):
        return any(_is_text(part) for part in node.values if isinstance(part, ast.Constant))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return _is_text(node.left) or (isinstance(node.op, ast.Add) and _is_text(node.right))
    if isinstance(node, ast.Call) and _name(node.func) == "format" and isinstance(node.func, ast.Attribute):
        return _is_text(node.func.value)
    return False


def _choice_labels(node):
    if isinstance(node, ast.List | ast.Tuple):
        for element in node.elts:
            if isinstance(element, ast.Tuple) and len(element.elts) == 2:
                label = element.elts[1]
                if isinstance(label, ast.List | ast.Tuple):
                    yield from _choice_labels(label)
                else:
                    yield label


def unmarked_python_strings(source: str) -> list[tuple[int, str]]:
    """(line, what) for each user-visible literal in ``source`` that is not marked."""
    found = []

    def check(node, what):
        if _is_text(node):
            found.append((node.lineno, f"{what}: {ast.unparse(node)[:90]}"))

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            if name in TRANSLATING_CALLS:
                continue
            if name in MESSAGE_FUNCTIONS and isinstance(node.func, ast.Attribute):
                if _name(node.func.value) == "messages":
                    for arg in node.args[1:] + [k.value for k in node.keywords if k.arg == "message"]:
                        check(arg, f"messages.{name}")
            if name in ("ValidationError", "PermissionDenied"):
                for arg in node.args[:1] + [k.value for k in node.keywords if k.arg == "message"]:
                    check(arg, name)
                    if isinstance(arg, ast.Dict):
                        for value in arg.values:
                            check(value, name)
                            if isinstance(value, ast.List | ast.Tuple):
                                for item in value.elts:
                                    check(item, name)
                    if isinstance(arg, ast.List | ast.Tuple):
                        for item in arg.elts:
                            check(item, name)
            if name == "add_error" and len(node.args) > 1:
                check(node.args[1], "add_error")
            if (
                isinstance(node.func, ast.Attribute)
                and _name(node.func.value) == "models"
                and name.endswith("Field")
                and name not in RELATION_FIELDS
                and node.args
            ):
                check(node.args[0], f"models.{name} verbose name")
            for keyword in node.keywords:
                if keyword.arg in TEXT_KEYWORDS:
                    check(keyword.value, f"{keyword.arg}=")
                elif keyword.arg == "choices":
                    for label in _choice_labels(keyword.value):
                        check(label, "choices=")
                elif keyword.arg == "error_messages" and isinstance(keyword.value, ast.Dict):
                    for value in keyword.value.values:
                        check(value, "error_messages=")
        elif isinstance(node, ast.ClassDef):
            if {_name(b) for b in node.bases} & {"TextChoices", "IntegerChoices", "Choices"}:
                for statement in node.body:
                    if (
                        isinstance(statement, ast.Assign)
                        and isinstance(statement.value, ast.Tuple)
                        and len(statement.value.elts) >= 2
                    ):
                        check(statement.value.elts[-1], f"{node.name} label")
            for statement in node.body:
                if isinstance(statement, ast.ClassDef) and statement.name == "Meta":
                    for item in statement.body:
                        if isinstance(item, ast.Assign) and any(
                            _name(t) in ("verbose_name", "verbose_name_plural") for t in item.targets
                        ):
                            check(item.value, "Meta.verbose_name")
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id.upper().endswith("CHOICES"):
                    for label in _choice_labels(node.value):
                        check(label, target.id)
    return found


def _python_files():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_the_python_scanner_finds_unmarked_strings():
    source = """
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

class Kind(models.TextChoices):
    A = "a", "Apple"
    B = "b", _("Banana")

class Thing(models.Model):
    name = models.CharField("name", max_length=9)
    size = models.CharField(_("size"), max_length=9, help_text="How big")
    class Meta:
        verbose_name = "thing"

def view(request, n):
    messages.success(request, "Saved.")
    messages.info(request, _("Fine."))
    raise ValidationError({"name": f"Too long: {n}"})
    raise ValidationError(_("Fine %(n)s") % {"n": n})
"""
    lines = [what.split(":")[0] for _line, what in unmarked_python_strings(source)]
    assert sorted(lines) == sorted(
        [
            "Kind label",
            "models.CharField verbose name",
            "help_text=",
            "Meta.verbose_name",
            "messages.success",
            "ValidationError",
        ]
    )


def test_python_marks_its_user_visible_strings():
    problems = []
    for path in _python_files():
        for line, what in unmarked_python_strings(path.read_text(encoding="utf-8")):
            problems.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert not problems, "Strings not marked for translation:\n" + "\n".join(problems)


# --- Questionnaires ---------------------------------------------------------------------------


def test_dutch_questionnaires_where_the_licence_allows():
    from programs import questionnaires as q

    for code in ("phq9", "gad7", "pain_nrs", "fatigue_nrs"):
        presentation = q.questionnaire_presentation(code, "nl")
        assert presentation.translated, code
        assert all(
            text and text == q.get_instrument(code).items[n - 1].text["nl"] for n, text in presentation.items
        )
    phq9 = q.questionnaire_presentation("phq9", "nl")
    assert phq9.instructions.startswith("Hoe vaak heb je in de afgelopen 2 weken")
    assert [label for _value, label in phq9.options][0] == "Helemaal niet"
    # Our rendering is not presented as the official Dutch version.
    assert "nog te vervangen door de officiële Nederlandse versie" in phq9.licence_note
    assert "Pfizer" in q.questionnaire_presentation("gad7", "nl").licence_note
    # RAND-36: the Dutch version is not ours to ship; English items with the notice.
    rand = q.questionnaire_presentation("rand36_pf", "nl")
    assert not rand.translated and rand.items[0][1].startswith("Vigorous activities")
    assert rand.title == "RAND-36 lichamelijk functioneren"
    assert not q.questionnaire_presentation("cis_fatigue", "nl").available


@pytest.mark.django_db
def test_a_clinic_can_load_its_dutch_rand36_texts(world):
    from programs import questionnaires as q
    from programs import selectors, services

    document = {
        "instrument": "rand36_pf",
        "language": "nl",
        "title": "Lichamelijk functioneren",
        "licence": "Nederlandse RAND-36, gebruikt met toestemming van de rechthebbende.",
        "instructions": "Instructies van het formulier van de praktijk.",
        "options": [{"value": v, "label": f"Antwoord {v}"} for v in (1, 2, 3)],
        "reverse_scored": [],
        "items": [f"Vraag {n}" for n in range(1, 11)],
    }
    services.licensed_instrument_load(
        clinic=world.clinic, data=json.dumps(document).encode(), uploaded_by=world.admin.user
    )
    licensed = selectors.licensed_instrument_for(clinic_id=world.clinic.pk, code="rand36_pf", language="nl")
    dutch = q.questionnaire_presentation("rand36_pf", "nl", licensed=licensed)
    assert dutch.translated and dutch.items[0] == (1, "Vraag 1") and dutch.options[0] == (1, "Antwoord 1")
    assert dutch.licence_note.startswith("Nederlandse RAND-36") and dict(dutch.scoring_options) == {}
    assert q.questionnaire_score("rand36_pf", {n: 3 for n in range(1, 11)}).total == 100.0
    english = q.questionnaire_presentation("rand36_pf", "en", licensed=licensed)
    assert english.items[0][1].startswith("Vigorous activities")


# --- (d) Journeys in Dutch ------------------------------------------------------------------


@pytest.fixture
def pain_nl(tmp_path, db):
    """Master your Pain (both languages, as in programs/content/), loaded; its Dutch version."""
    from programs import services
    from programs.models import ProgramVersion

    root = tmp_path / "content"
    root.mkdir()
    shutil.copytree(ROOT / "programs" / "content" / "master-your-pain", root / "master-your-pain")
    services.program_content_load(root=root)
    return ProgramVersion.objects.get(program__slug="master-your-pain", language="nl")


def _dutch(user):
    user.language = "nl"
    user.save(update_fields=["language"])
    return user


def _page(client, url, **extra) -> str:
    response = client.get(url, **extra)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def test_a_dutch_patient_sees_home_step_and_diary_in_dutch(world, pain_nl, client_for):
    from tests.patients.patient_helpers import enroll

    enroll(world.patient_a, pain_nl)
    client = client_for(_dutch(world.patient_a.user))
    home = _page(client, reverse("patients:home"))
    assert "Grip op je pijn" in home
    assert 'lang="nl"' in home and "Wat je nu kunt doen" in home and "Uitloggen" in home
    step = _page(client, reverse("patients:step", args=["your-goals", "intro"]))
    assert "Module 1 van 6" in step and "Voorlezen" in step and "Tekstgrootte" in step
    diaries = _page(client, reverse("patients:diary_list"))
    assert "Mijn dagboeken" in diaries
    diary = _page(client, reverse("patients:diary_write", args=["activity-pain"]))
    assert "Dagboek activiteit en pijn" in diary and "Hoeveel pijn had je vanochtend?" in diary
    assert "Over welke dag gaat deze invulling?" in diary
    for html in (home, step, diaries, diary):
        assert "Sign out" not in html and "Skip to content" not in html


def _chrome_is_dutch(html, where):
    assert '<html lang="nl"' in html, f"{where}: html lang"
    assert "Naar de inhoud" in html and "Skip to content" not in html, f"{where}: skip link"
    assert "Uitloggen" in html and "Sign out" not in html, f"{where}: menu"
    assert "Bel 113 via" in html and "Call 113 on" not in html, f"{where}: crisis footer"


def test_a_dutch_patient_in_the_english_version_gets_dutch_pages_with_english_content(
    clock, world, pain_nl, client_for
):
    """The page (menu, skip link, crisis footer, buttons, html lang) follows the patient's
    language; the program's content stays in the version's language, marked lang="en" for
    screen readers."""
    from programs.models import ProgramVersion
    from tests.patients.patient_helpers import enroll

    english = ProgramVersion.objects.get(program__slug="master-your-pain", language="en")
    today = clock.today()
    # Started ten days ago, today the feedback day: the check-in is due.
    enroll(world.patient_a, english, start_date=today - timedelta(days=10), feedback_weekday=today.weekday())
    client = client_for(_dutch(world.patient_a.user))

    step = _page(client, reverse("patients:step", args=["your-goals", "intro"]))
    _chrome_is_dutch(step, "step")
    assert "Module 1 van 6" in step and "Voorlezen" in step
    assert re.search(r'<h1 id="step-title" lang="en">', step)
    assert 'class="step-text" id="step-text" lang="en"' in step

    questionnaire = _page(client, reverse("patients:step", args=["your-goals", "mood-start"]))
    _chrome_is_dutch(questionnaire, "questionnaire")
    assert 'id="questionnaire-form" lang="en"' in questionnaire
    buttons = r'<div class="form-buttons" lang="nl">\s*<button[^>]*>Mijn antwoorden versturen'
    assert re.search(buttons, questionnaire)

    module = _page(client, reverse("patients:module", args=["your-goals"]))
    _chrome_is_dutch(module, "module")
    assert re.search(r'<h1 lang="en">[^<]+</h1>', module)
    diary = _page(client, reverse("patients:diary_write", args=["activity-pain"]))
    _chrome_is_dutch(diary, "diary")
    assert re.search(r'<h1 lang="en">[^<]+</h1>', diary)

    check_in = _page(client, reverse("patients:check_in"))
    _chrome_is_dutch(check_in, "check-in")
    assert "Je weken tot nu toe" in check_in and "Verstuur mijn check-in" in check_in
    assert re.search(r'<div lang="en">\s*<ol class="questionnaire-items">', check_in)


def test_an_english_patient_in_the_dutch_version_gets_english_pages_with_dutch_content(
    clock, world, pain_nl, client_for
):
    from tests.patients.patient_helpers import enroll

    enroll(world.patient_a, pain_nl)
    user = world.patient_a.user
    user.language = "en"
    user.save(update_fields=["language"])
    step = _page(client_for(user), reverse("patients:step", args=["your-goals", "intro"]))
    assert '<html lang="en"' in step and "Skip to content" in step and "Module 1 of 6" in step
    assert 'class="step-text" id="step-text" lang="nl"' in step
    assert re.search(r'<h1 id="step-title" lang="nl">', step)


def test_numbers_in_dutch_have_a_decimal_comma():
    from django.utils import translation

    from icbt.charts import fmt

    with translation.override("nl"):
        assert (fmt(2.5), fmt(Decimal("6.5")), fmt(3)) == ("2,5", "6,5", "3")
    with translation.override("en"):
        assert fmt(2.5) == "2.5"


def test_a_dutch_therapist_and_manager_see_their_pages_in_dutch(world, pain_nl, client_for):
    from tests.patients.patient_helpers import enroll

    enroll(world.patient_a, pain_nl)
    therapist = client_for(_dutch(world.therapist.user))
    patients = _page(therapist, reverse("patients:staff_patient_list"))
    assert "Patiënten die je behandelt" in patients and "Een patiënt uitnodigen" in patients
    detail = _page(therapist, reverse("patients:staff_patient_detail", args=[world.patient_a.pk]))
    assert "Grip op je pijn" in detail and "Wat je kunt doen" in detail and "Tijdlijn" in detail
    worklist = _page(therapist, reverse("therapists:worklist"))
    assert "Werklijst" in worklist and "Worklist" not in worklist
    manager = client_for(_dutch(world.manager.user))
    dashboard = _page(manager, reverse("therapists:dashboard"))
    assert "Dashboard van Alpha Clinic" in dashboard and "Hoe deze cijfers worden geteld" in dashboard
    assert "How these figures are counted" not in dashboard


def test_the_dashboard_speaks_dutch_numbers_and_plurals(clock, world, client_for):
    """One intake request and one treatment contact: singular in both languages, step-ups as
    "Opschalingen" (not "Doorverwijzingen": those are referrals), decimals as the page's
    language writes them in the tables, the CSV keeps a point; the period's end is "Tot"."""
    from django.utils import translation

    from messaging.models import Conversation, Message
    from tests.messaging.helpers import enroll
    from tests.patients.staff_helpers import intake_request
    from tests.work import settle
    from therapists.dashboard import clinic_dashboard
    from therapists.dashboard_presentation import dashboard_charts, dashboard_tables

    intake_request(world.clinic)
    enrollment = enroll(world.patient_a)
    conversation = Conversation.objects.create(enrollment=enrollment)
    Message(
        clinic_id=enrollment.clinic_id,
        conversation=conversation,
        author=world.therapist.user,
        body="x",
        is_feedback=True,
    ).save()
    settle()
    d = clinic_dashboard(fetched_by=world.manager.user)
    with translation.override("en"):
        charts = dashboard_charts(d)
        assert "1 intake request," in charts["flow"].description
        assert "100.0% of 1 contact was online." in charts["contacts"].description
    with translation.override("nl"):
        charts = dashboard_charts(d)
        tables = dashboard_tables(d)
        assert "1 intakeaanvraag," in charts["flow"].description
        assert "100,0% van 1 contact online." in charts["contacts"].description
        assert "<td>100,0</td>" in tables["contacts"].body_html()
    manager = client_for(_dutch(world.manager.user))
    dashboard = _page(manager, reverse("therapists:dashboard"))
    assert "Opschalingen" in dashboard and "Doorverwijzingen" not in dashboard
    assert "100.0" not in dashboard
    assert re.search(r">Tot <span class=\"optional\">\(optioneel\)</span>", dashboard)
    csv_text = manager.get(reverse("therapists:dashboard_csv", args=["contacts"])).content.decode("utf-8-sig")
    assert '"100.0"' in csv_text and "100,0" not in csv_text
    audit_log = _page(client_for(_dutch(world.admin.user)), reverse("therapists:audit_search"))
    assert re.search(r">Tot <span class=\"optional\">\(optioneel\)</span>", audit_log)


def test_public_pages_follow_the_browser_and_the_switch(pain_nl, client):
    url = reverse("patients:public_program", args=["master-your-pain"])
    dutch = _page(client, url, HTTP_ACCEPT_LANGUAGE="nl-NL,nl;q=0.9,en;q=0.5")
    assert "Grip op je pijn" in dutch and "Vraag een intake aan" in dutch
    english = _page(client, url, HTTP_ACCEPT_LANGUAGE="en")
    assert "Master your Pain" in english and "Ask for an intake" in english
    response = client.post(
        reverse("set_language"), {"language": "en", "next": url}, HTTP_ACCEPT_LANGUAGE="nl"
    )
    assert response.status_code == 302 and response["Location"] == url
    switched = _page(client, url, HTTP_ACCEPT_LANGUAGE="nl")
    assert "Master your Pain" in switched and "Ask for an intake" in switched


def test_the_footer_switch_also_saves_a_signed_in_persons_choice(world, client_for):
    user = world.patient_b.user
    client = client_for(user)
    response = client.post(reverse("set_language"), {"language": "nl", "next": "/settings/"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.language == "nl"
    assert "Instellingen" in _page(client, reverse("personal_settings"))


def test_the_settings_message_is_in_the_chosen_language(world, client_for):
    client = client_for(world.patient_b.user)
    response = client.post(reverse("personal_settings"), {"language": "nl"}, follow=True)
    assert "Je instellingen zijn bewaard." in response.content.decode()


def test_the_invitation_email_follows_the_recipients_language(world, django_capture_on_commit_callbacks):
    from django.core import mail

    from icbt import services

    user = _dutch(world.patient_b.user)
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(user=user, kind="patient", created_by=world.therapist.user)
    message = mail.outbox[-1]
    assert message.subject == "Je account is klaar"
    assert "Stel je wachtwoord in met deze link" in message.body
    html = message.alternatives[0][0]
    assert "Stel je wachtwoord in" in html and 'lang="nl"' in html


def test_digest_emails_follow_the_recipients_language(world):
    from django.core import mail

    from icbt.notifications import Kind, notify
    from messaging.models import Message
    from messaging.notifications.digests import digest_round
    from tests.messaging.digest_helpers import Treated, conversation, local, outbox_for, prefer
    from tests.work import settle

    treated = Treated(world)
    patient, therapist = _dutch(world.patient_a.user), world.therapist.user
    prefer(patient, email_enabled=True, urgent_soon=False)
    prefer(therapist, email_enabled=True, urgent_soon=False)
    feedback = Message.objects.create(
        clinic_id=treated.enrollment_a.clinic_id,
        conversation=conversation(treated.enrollment_a),
        author=therapist,
        body="Goed gedaan",
        is_feedback=True,
    )
    settle()
    when = local(2026, 3, 2, 9)
    notify(
        recipient=patient,
        kind=Kind.FEEDBACK_WAITING,
        patient=world.patient_a,
        object_type="message",
        object_id=feedback.pk,
        now=when,
    )
    notify(
        recipient=therapist,
        kind=Kind.PATIENT_INACTIVE,
        patient=world.patient_b,
        object_type="enrollment",
        object_id=treated.enrollment_b.pk,
        now=when,
    )
    mail.outbox.clear()
    digest_round(now=local(2026, 3, 3, 8))
    [dutch] = outbox_for(patient.email)
    assert dutch.subject == "Er wacht iets nieuws op je"
    assert "Je behandelaar heeft feedback voor je geschreven" in dutch.body
    assert "Stop deze e-mails" in dutch.body and "Stop deze e-mails" in dutch.alternatives[0][0]
    [english] = outbox_for(therapist.email)
    assert english.subject == "1 item is waiting for you" and "No activity for a while" in english.body
