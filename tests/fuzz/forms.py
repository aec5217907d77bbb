"""Reads the forms of a rendered page, and fills one in the way a careful person would.

The fuzz tests start from what the page really offers (field names, choices, hidden values),
so they follow the templates as they change, and mutate from a submission that is plausible.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from html.parser import HTMLParser

from django.utils import timezone

TEXT_TYPES = {"text", "email", "tel", "search", "url", None, ""}
_counter = itertools.count(1)


@dataclass
class Field:
    tag: str  # input, textarea, select, button
    name: str
    type: str = ""
    value: str = ""
    checked: bool = False
    options: list[str] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)
    attrs: dict = field(default_factory=dict)


@dataclass
class Form:
    method: str
    action: str
    enctype: str
    id: str = ""
    fields: list[Field] = field(default_factory=list)

    def names(self) -> set[str]:
        return {f.name for f in self.fields}

    def by_name(self, name: str) -> list[Field]:
        return [f for f in self.fields if f.name == name]


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._textarea: Field | None = None
        self._select: Field | None = None
        self._option: tuple[str | None, list[str], bool] | None = None
        self._owned: list[tuple[str, Field]] = []  # fields with a form="..." attribute

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = Form(
                (a.get("method") or "get").lower(),
                a.get("action") or "",
                a.get("enctype") or "",
                a.get("id") or "",
            )
            self.forms.append(self._form)
            return
        if tag not in ("input", "textarea", "select", "option", "button"):
            return
        if self._form is None and not a.get("form") and not (tag == "option" and self._select is not None):
            return
        if tag == "option" and self._select is not None:
            self._option = (a.get("value"), [], "selected" in a)
            return
        name = a.get("name")
        if not name:
            return
        item = Field(tag, name, (a.get("type") or "").lower(), a.get("value") or "", "checked" in a, attrs=a)
        if tag == "button" and item.type not in ("", "submit"):
            return
        if a.get("form"):
            self._owned.append((a["form"], item))
        else:
            self._form.fields.append(item)
        if tag == "textarea":
            self._textarea = item
        elif tag == "select":
            self._select = item

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.value += data
        if self._option is not None:
            self._option[1].append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "option" and self._option is not None and self._select is not None:
            value, text, selected = self._option
            value = "".join(text).strip() if value is None else value
            self._select.options.append(value)
            if selected:
                self._select.selected.append(value)
            self._option = None
        elif tag == "select":
            self._select = None


def parse_forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    by_id = {f.id: f for f in parser.forms if f.id}
    for form_id, item in parser._owned:
        if form_id in by_id:
            by_id[form_id].fields.append(item)
    return parser.forms


def pick_form(forms: list[Form], *, has: str = "", action: str = "") -> Form:
    """The form with field ``has``; among several, the one that posts to ``action``."""
    candidates = [f for f in forms if not has or has in f.names()]
    if not candidates:
        raise AssertionError(
            f"no form with field {has!r} on the page: {[(f.action, sorted(f.names())) for f in forms]}"
        )
    matching = [f for f in candidates if action and f.action.split("#")[0] == action]
    return (matching or candidates)[0]


def token() -> str:
    """A distinctive valid text: if the form is shown again, it must be there."""
    return f"Kept{next(_counter)}x"


def baseline(
    form: Form,
    *,
    overrides: dict | None = None,
    skip: set[str] = frozenset(),
    buttons: set[str] = frozenset(),
) -> dict:
    """Plausible values for every field (first choices, defaults, a token in each text field).

    Returns ``{name: value or [values]}``; a button contributes its value when its name is in
    ``buttons`` (the first such button) or ``overrides``."""
    overrides = overrides or {}
    data: dict[str, object] = {}
    today = timezone.localdate().isoformat()
    for f in form.fields:
        if f.name in skip:
            continue
        if f.name in overrides:
            continue
        if f.tag == "button" or f.type in ("submit", "image", "reset", "file"):
            if f.name in buttons and f.name not in data:
                data[f.name] = f.value
            continue
        if f.tag == "select":
            multiple = "multiple" in f.attrs
            choice = f.selected or [o for o in f.options if o][:1] or f.options[:1]
            if choice:
                data[f.name] = choice if multiple else choice[0]
        elif f.tag == "textarea":
            data[f.name] = f.value.strip() or token()
        elif f.type == "hidden":
            data.setdefault(f.name, f.value)
        elif f.type == "checkbox":
            if f.name not in data:
                data[f.name] = f.value or "on"
        elif f.type == "radio":
            if f.checked or f.name not in data:
                data[f.name] = f.value
        elif f.type == "number":
            low = f.attrs.get("min")
            data[f.name] = f.value or (low if low not in (None, "") else "1")
        elif f.type == "date":
            data[f.name] = f.value or today
        elif f.type == "time":
            data[f.name] = f.value or "21:30"
        elif f.type == "password":
            data[f.name] = "a-Long-fuzz-passw0rd-XY"
        elif f.type == "email":
            data[f.name] = f"fuzz{next(_counter)}@example.org"
        elif f.type == "tel":
            data[f.name] = "020 123 4567"
        elif f.type in TEXT_TYPES:
            data[f.name] = f.value or token()
    for name, value in overrides.items():
        data[name] = value() if callable(value) else value
    return data


def text_fields(form: Form) -> set[str]:
    """Fields whose typed value a re-rendered form shows again (not passwords, not hidden)."""
    return {
        f.name
        for f in form.fields
        if (f.tag == "textarea" or (f.tag == "input" and f.type in TEXT_TYPES | {"number", "date", "time"}))
        and f.type != "hidden"
    }
