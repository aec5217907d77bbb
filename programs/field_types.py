"""The field types of assignments and diaries: one class per type, and the registry of them.

A content field definition (``{"name", "type", "label", "help", "required", ...}``) is read by
the content loader, shown as a form, stored as JSON and shown again as an answer. Everything
that depends on the type lives in its class here:

* ``check`` reads and checks the type's own keys of a manifest definition (content loader);
* ``form_fields`` builds the Django form fields, ``group`` arranges them for ``template``
  (a template under templates/programs/fields/);
* ``initial`` turns a stored answer back into form initial values, ``answer`` turns cleaned
  form data into the stored JSON value and ``draft`` does the same for raw typed data
  (everything typed is kept, valid or not);
* ``clean`` gives the messages of the rules that span several form fields, ``answer_error``
  the rule a stored answer must meet whatever sent it;
* ``display`` is the answer as one line of plain text, ``display_html`` as read-only HTML.

Adding a type is adding one class to ``FIELD_TYPES``. Type names are the manifest's ``type``
values and are stored with every definition, so they never change.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from django import forms
from django.template.defaultfilters import linebreaksbr
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

THINK_FEEL_DO_LABELS = {
    "situation": _("Situation: what happened?"),
    "thought": _("Thought: what went through your mind?"),
    "feeling": _("Feeling: what did you feel?"),
    "behaviour": _("Behaviour: what did you do?"),
    "helpful_thought": _("A more helpful thought"),
}
THINK_FEEL_DO_COLUMNS = tuple(THINK_FEEL_DO_LABELS)


def is_think_feel_do(value) -> bool:
    """Whether a stored value has the shape of a think-feel-do answer (a list of moments keyed
    by the form's parts)."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(row, dict) and row.keys() <= THINK_FEEL_DO_LABELS.keys() for row in value)
    )


def moment_label(number: int) -> str:
    return gettext("Moment %(number)s") % {"number": number}


def think_feel_do_moments(value) -> list[list[tuple[str, str]]]:
    """A think-feel-do answer as its moments, each a list of ``(label, text)`` in the order the
    form asks them (situation, thought, feeling, behaviour, helpful thought), whatever order the
    stored JSON has. Empty parts are left out; an unknown key is kept, after the known ones."""
    moments = []
    for row in value if isinstance(value, list) else []:
        if not isinstance(row, dict):
            continue
        cells = [(str(label), str(row[key])) for key, label in THINK_FEEL_DO_LABELS.items() if row.get(key)]
        cells += [(str(k), str(text)) for k, text in row.items() if k not in THINK_FEEL_DO_LABELS and text]
        if cells:
            moments.append(cells)
    return moments


OWN_ACTIVITY_ROWS = 3
NEGATIVE_POINTS = _("Points can't be below 0.")
ASSIGNMENT = "assignment"
DIARY = "diary"

RawReader = Callable[[str], object]


def typed_number(raw):
    """A typed number as int or float; the text as typed when it is not a number; None if empty."""
    if raw is None or str(raw).strip() == "":
        return None
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        return str(raw)
    if not value.is_finite():
        return str(raw)
    return int(value) if value == value.to_integral_value() else float(value)


def _yes_no_text(value) -> str:
    return gettext("yes") if value else gettext("no")


class FieldType:
    """A type with one form field named like the content field (the common case)."""

    name = ""
    template = "programs/fields/input.html"
    used_in: frozenset[str] = frozenset({ASSIGNMENT, DIARY})
    keys: frozenset[str] = frozenset()  # the type's own manifest keys
    required_keys: frozenset[str] = frozenset()
    is_text = False  # a diary keeps it in the encrypted free text, not in the plain values
    is_numeric = False  # a number or scale: counted and averaged
    is_chartable = False  # a diary can chart it (numbers, scales and clock times)

    # Content loader ------------------------------------------------------------------------

    def check(self, loader, node, where: str) -> dict:
        """The type's own keys of the definition ``node``, checked (errors go to the loader)."""
        return {}

    # Form ----------------------------------------------------------------------------------

    def form_field(self, d: dict, **common) -> forms.Field:
        raise NotImplementedError

    # What a required answer left empty says, in plain words for the kind of question (rather
    # than Django's "This field is required.").
    required_message = _("Please answer this question.")

    def form_fields(self, d: dict) -> dict[str, forms.Field]:
        common = {"label": d["label"], "help_text": d.get("help", ""), "required": d.get("required", True)}
        field = self.form_field(d, **common)
        field.error_messages["required"] = self.required_message
        return {d["name"]: field}

    def group(self, d: dict, form) -> dict:
        return {"field": form[d["name"]]}

    def clean(self, d: dict, data: dict) -> list:
        return []

    # Stored answer <-> form ----------------------------------------------------------------

    def initial(self, d: dict, value) -> dict:
        return {d["name"]: value}

    def to_json(self, value):
        return value

    def answer(self, d: dict, data: dict):
        value = data.get(d["name"])
        return None if value in (None, "") else self.to_json(value)

    def from_raw(self, raw):
        return raw

    def draft(self, d: dict, raw: RawReader):
        value = raw(d["name"])
        return None if value in (None, "") else self.from_raw(value)

    def answer_error(self, d: dict, value) -> str | None:
        return None

    def example(self, d: dict, seed: int = 0):
        """A valid stored answer (for generated data, e.g. the benchmark); None: left empty."""
        return None

    # Display -------------------------------------------------------------------------------

    def display(self, value, d: dict) -> str:
        """Called by :func:`display` for a value that is neither empty nor a bool."""
        if isinstance(value, dict):
            return "; ".join(f"{k}: {display(v)}" for k, v in value.items() if v not in (None, ""))
        if isinstance(value, list):
            return " | ".join(display(v, d) for v in value)
        return str(value)

    def display_html(self, value, d: dict) -> str:
        return linebreaksbr(value)


class ShortText(FieldType):
    name = "short_text"
    required_message = _("Please write a few words here.")
    keys = frozenset({"max_length"})
    is_text = True
    default_length = 200

    def check(self, loader, node, where):
        length = loader.check.integer(
            node, "max_length", where, default=self.default_length, low=1, high=20000
        )
        return {"max_length": length}

    def form_field(self, d, **common):
        return forms.CharField(max_length=d.get("max_length", self.default_length), **common)

    def example(self, d, seed=0):
        return f"Shopping and a short walk with the dog ({seed})."


class LongText(ShortText):
    name = "long_text"
    default_length = 5000

    def form_field(self, d, **common):
        return forms.CharField(
            max_length=d.get("max_length", self.default_length),
            widget=forms.Textarea(attrs={"rows": 4}),
            **common,
        )


class Choice(FieldType):
    name = "choice"
    required_message = _("Please choose one of the answers.")
    template = "programs/fields/choice.html"
    keys = required_keys = frozenset({"options"})

    def check(self, loader, node, where):
        return {"options": loader.options(node, where)}

    def form_field(self, d, **common):
        return forms.ChoiceField(
            choices=[(o["value"], o["label"]) for o in d["options"]], widget=forms.RadioSelect, **common
        )

    def label_of(self, value, d) -> str:
        for option in d.get("options", []):
            if isinstance(option, dict) and str(option.get("value")) == str(value):
                return option.get("label", value)
        return value

    def display(self, value, d):
        return super().display(value, d) if isinstance(value, list | dict) else str(self.label_of(value, d))

    def display_html(self, value, d):
        return format_html("{}", self.label_of(value, d))

    def example(self, d, seed=0):
        return d["options"][0]["value"]


class YesNo(FieldType):
    name = "yes_no"
    required_message = _("Please choose yes or no.")
    template = "programs/fields/choice.html"
    used_in = frozenset({DIARY})

    def form_field(self, d, **common):
        return forms.ChoiceField(
            choices=[("yes", _("Yes")), ("no", _("No"))], widget=forms.RadioSelect, **common
        )

    def initial(self, d, value):
        return {d["name"]: "yes" if value else "no"}

    def to_json(self, value):
        return value == "yes"

    from_raw = to_json

    def display(self, value, d):
        if value in ("yes", "no", 1, 0, "1", "0", "true", "false"):
            return _yes_no_text(str(value) in ("yes", "1", "true"))
        return super().display(value, d)

    def display_html(self, value, d):
        return gettext("Yes") if value else gettext("No")

    def example(self, d, seed=0):
        return True


class _Ranged(FieldType):
    """A number between ``min`` and ``max`` (both required in the manifest)."""

    required_keys = frozenset({"min", "max"})
    is_numeric = True
    is_chartable = True

    def check(self, loader, node, where):
        c = loader.check
        low = c.integer(node, "min", where, default=0)
        high = c.integer(node, "max", where, default=10)
        if low is not None and high is not None and low >= high:
            c.error(node.line_of("max"), f"{where}: 'max' must be greater than 'min'")
        return {"min": low, "max": high}

    def from_raw(self, raw):
        return typed_number(raw)


class Scale(_Ranged):
    name = "scale"
    required_message = _("Please choose a number on the scale.")
    template = "programs/fields/scale.html"
    keys = frozenset({"min", "max", "min_label", "max_label"})

    def check(self, loader, node, where):
        result = super().check(loader, node, where)
        low, high = result["min"], result["max"]
        if high is not None and low is not None and high - low > 20:
            loader.check.error(node.line_of("max"), f"{where}: a scale has at most 21 points")
        result["min_label"] = loader.check.text(node, "min_label", where, required=False)
        result["max_label"] = loader.check.text(node, "max_label", where, required=False)
        return result

    def form_field(self, d, **common):
        return forms.TypedChoiceField(
            choices=[(str(i), str(i)) for i in range(d["min"], d["max"] + 1)],
            coerce=int,
            widget=forms.RadioSelect,
            **common,
        )

    def example(self, d, seed=0):
        return d["min"] + seed % (d["max"] - d["min"] + 1)


class Number(_Ranged):
    """A number between ``min`` and ``max``; with ``step`` (a whole number, 1 for counts such as
    rest breaks) only whole numbers in that step are taken, without it up to one decimal."""

    name = "number"
    keys = frozenset({"min", "max", "unit", "step"})
    required_message = _("Please fill in a number.")
    used_in = frozenset({DIARY})

    def check(self, loader, node, where):
        result = super().check(loader, node, where)
        result["unit"] = loader.check.text(node, "unit", where, required=False, max_length=40)
        if "step" in node:  # only when declared: the definitions of other numbers stay as they were
            result["step"] = loader.check.integer(node, "step", where, default=1, low=1, high=1000)
        return result

    def form_field(self, d, **common):
        step = d.get("step")
        if step:
            unit = d.get("unit")
            whole = (
                _("Please enter a whole number of %(unit)s.") % {"unit": unit}
                if unit
                else _("Please enter a whole number.")
            )
            return forms.IntegerField(
                min_value=d["min"],
                max_value=d["max"],
                step_size=step if step > 1 else None,
                widget=forms.NumberInput(attrs={"step": str(step), "inputmode": "numeric"}),
                error_messages={"invalid": whole},
                **common,
            )
        return forms.DecimalField(
            min_value=d["min"],
            max_value=d["max"],
            max_digits=8,
            decimal_places=1,
            widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
            **common,
        )

    def example(self, d, seed=0):
        return min(d["max"], d["min"] + 2)

    def to_json(self, value):
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        return value

    def display(self, value, d):
        unit = d.get("unit")
        return f"{value} {unit}" if unit and isinstance(value, int | float) else super().display(value, d)


class Time(FieldType):
    name = "time"
    required_message = _("Please fill in a time, like 07:30.")
    is_chartable = True
    keys = frozenset({"not_before"})
    used_in = frozenset({DIARY})

    def check(self, loader, node, where):
        return {"not_before": str(node.get("not_before"))} if "not_before" in node else {}

    def form_field(self, d, **common):
        return forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"), **common)

    def to_json(self, value):
        return value.strftime("%H:%M")

    def example(self, d, seed=0):
        return "22:30"


class GoalList(FieldType):
    name = "goal_list"
    template = "programs/fields/goal_list.html"
    keys = frozenset({"min_items", "max_items"})
    used_in = frozenset({ASSIGNMENT})

    def check(self, loader, node, where):
        c = loader.check
        low = c.integer(node, "min_items", where, default=1, low=0, high=10)
        high = c.integer(node, "max_items", where, default=5, low=1, high=10)
        if low is not None and high is not None and low > high:
            c.error(node.line_of("min_items"), f"{where}: 'min_items' is more than 'max_items'")
        return {"min_items": low, "max_items": high}

    def _names(self, d):
        return [f"{d['name']}__{i}" for i in range(1, d["max_items"] + 1)]

    def form_fields(self, d):
        return {
            name: forms.CharField(label=_("Goal %(number)s") % {"number": i}, required=False, max_length=300)
            for i, name in enumerate(self._names(d), start=1)
        }

    def group(self, d, form):
        return {"items": [form[name] for name in self._names(d)]}

    def initial(self, d, value):
        return {f"{d['name']}__{i}": goal for i, goal in enumerate(value, start=1)}

    def _goals(self, d, read):
        return [goal for goal in ((read(name) or "") for name in self._names(d)) if goal.strip()]

    def answer(self, d, data):
        return [goal.strip() for goal in self._goals(d, data.get)] or None

    def draft(self, d, raw):
        return self._goals(d, raw) or None

    def clean(self, d, data):
        required = d.get("required", True)
        filled = len(self._goals(d, data.get))
        least = max(d.get("min_items", 1), 1)
        if (required or filled) and filled < max(d.get("min_items", 1), 1 if required else 0):
            return [_("Write at least %(n)s goal(s).") % {"n": least}]
        return []

    def display_html(self, value, d):
        return format_html("<ol>{}</ol>", format_html_join("", "<li>{}</li>", ((goal,) for goal in value)))


class EnergyPoints(FieldType):
    name = "energy_points"
    template = "programs/fields/energy_points.html"
    keys = required_keys = frozenset({"budget", "activities"})
    used_in = frozenset({ASSIGNMENT})

    def check(self, loader, node, where):
        c = loader.check
        budget = c.integer(node, "budget", where, default=20, low=1, high=200)
        activities = c.listing(node, "activities", where)
        labels = []
        for i, activity in enumerate(activities):
            if not isinstance(activity, str) or not activity.strip():
                c.error(activities.line_of(i), f"{where}: every activity must be text")
            else:
                labels.append(activity.strip())
        if not labels:
            c.error(node.line_of("activities"), f"{where}: list at least one activity")
        return {"budget": budget, "activities": labels}

    def _points(self, d, label):
        attrs = {"inputmode": "numeric", "data-energy-points": d["name"]}
        return forms.IntegerField(
            label=label,
            required=False,
            min_value=0,
            max_value=d["budget"],
            widget=forms.NumberInput(attrs=attrs),
            error_messages={"min_value": NEGATIVE_POINTS},
        )

    def _point_names(self, d):
        name = d["name"]
        return [f"{name}__{i}" for i in range(1, len(d["activities"]) + 1)] + [
            f"{name}__own{i}" for i in range(1, OWN_ACTIVITY_ROWS + 1)
        ]

    def form_fields(self, d):
        name = d["name"]
        fields = {f"{name}__{i}": self._points(d, a) for i, a in enumerate(d["activities"], start=1)}
        for i in range(1, OWN_ACTIVITY_ROWS + 1):
            fields[f"{name}__own{i}_label"] = forms.CharField(
                label=_("Your own activity %(number)s") % {"number": i}, required=False, max_length=120
            )
            fields[f"{name}__own{i}"] = self._points(
                d, _("Points for your own activity %(number)s") % {"number": i}
            )
        return fields

    def group(self, d, form):
        name = d["name"]
        used = 0
        for field_name in self._point_names(d):
            try:
                used += int(form[field_name].value() or 0)
            except (TypeError, ValueError):
                continue
        return {
            "activities": [form[f"{name}__{i}"] for i in range(1, len(d["activities"]) + 1)],
            "own": [
                (form[f"{name}__own{i}_label"], form[f"{name}__own{i}"])
                for i in range(1, OWN_ACTIVITY_ROWS + 1)
            ],
            "used": used,
            "remaining": d["budget"] - used,
            "over": max(0, used - d["budget"]),
        }

    def initial(self, d, value):
        name, initial, own = d["name"], {}, 0
        for item in value.get("items", []):
            if item.get("own"):
                own += 1
                initial[f"{name}__own{own}_label"] = item.get("activity", "")
                initial[f"{name}__own{own}"] = item.get("points")
            elif item.get("activity") in d["activities"]:
                initial[f"{name}__{d['activities'].index(item['activity']) + 1}"] = item.get("points")
        return initial

    def _items(self, d, read, points, keep_own):
        name = d["name"]
        items = [
            {"activity": a, "points": points(read(f"{name}__{i}")), "own": False}
            for i, a in enumerate(d["activities"], start=1)
        ]
        for i in range(1, OWN_ACTIVITY_ROWS + 1):
            label, typed = read(f"{name}__own{i}_label") or "", points(read(f"{name}__own{i}"))
            if keep_own(label, typed):
                items.append({"activity": label, "points": typed, "own": True})
        return {"budget": d["budget"], "items": items}

    def answer(self, d, data):
        value = self._items(d, data.get, lambda p: p or 0, lambda label, _p: bool(label.strip()))
        for item in value["items"]:
            item["activity"] = item["activity"].strip()
        return value

    def draft(self, d, raw):
        """Points left empty are None; points that are not numbers are kept as typed."""
        return self._items(d, raw, typed_number, lambda label, typed: bool(label.strip() or typed))

    def _over_budget(self, d, total):
        budget = d["budget"]
        return _("You used %(total)s points, but you have %(budget)s. Take away %(extra)s points.") % {
            "total": total,
            "budget": budget,
            "extra": total - budget,
        }

    def clean(self, d, data):
        name, errors = d["name"], []
        for i in range(1, OWN_ACTIVITY_ROWS + 1):
            if data.get(f"{name}__own{i}") and not (data.get(f"{name}__own{i}_label") or "").strip():
                errors.append(_("Give your own activity %(n)s a name, or set its points to 0.") % {"n": i})
        total = sum(data.get(n) or 0 for n in self._point_names(d))
        if total > d["budget"]:
            errors.append(self._over_budget(d, total))
        elif d.get("required", True) and total == 0:
            errors.append(_("Give points to at least one activity."))
        return errors

    def answer_error(self, d, value):
        points = [int(item.get("points") or 0) for item in (value or {}).get("items", [])]
        if any(p < 0 for p in points):
            return NEGATIVE_POINTS
        used = sum(points)
        return self._over_budget(d, used) if used > d["budget"] else None

    def _shown(self, value) -> list[tuple[str, int]]:
        """``(activity, points)`` of the activities given points, and of every own activity the
        patient named, also at 0 points (the form says an empty number counts as 0): what they
        wrote is never hidden."""
        return [
            (str(item.get("activity") or ""), item.get("points") or 0)
            for item in value.get("items", [])
            if isinstance(item, dict)
            and (item.get("points") or (item.get("own") and str(item.get("activity") or "").strip()))
        ]

    def display_html(self, value, d):
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: {}</li>", self._shown(value)))


class ThinkFeelDo(FieldType):
    name = "think_feel_do"
    template = "programs/fields/think_feel_do.html"
    keys = frozenset({"rows"})
    used_in = frozenset({ASSIGNMENT})

    def check(self, loader, node, where):
        rows = loader.check.integer(node, "rows", where, default=3, low=1, high=10)
        return {"rows": rows, "columns": list(THINK_FEEL_DO_COLUMNS)}

    def _rows(self, d):
        columns = d.get("columns", THINK_FEEL_DO_COLUMNS)
        return [[(c, f"{d['name']}__{row}__{c}") for c in columns] for row in range(1, d["rows"] + 1)]

    def form_fields(self, d):
        return {
            name: forms.CharField(
                label=THINK_FEEL_DO_LABELS[column],
                required=False,
                max_length=2000,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
            for row in self._rows(d)
            for column, name in row
        }

    def group(self, d, form):
        return {"rows": [[form[name] for _c, name in row] for row in self._rows(d)]}

    def initial(self, d, value):
        return {
            f"{d['name']}__{row}__{column}": text
            for row, cells in enumerate(value, start=1)
            for column, text in cells.items()
        }

    def _filled(self, d, read, strip):
        rows = []
        for row in self._rows(d):
            cells = {column: (read(name) or "") for column, name in row}
            if strip:
                cells = {column: text.strip() for column, text in cells.items()}
            if any(text.strip() for text in cells.values()):
                rows.append(cells)
        return rows or None

    def answer(self, d, data):
        return self._filled(d, data.get, strip=True)

    def draft(self, d, raw):
        return self._filled(d, raw, strip=False)

    def clean(self, d, data):
        errors, complete = [], 0
        for number, row in enumerate(self._rows(d), start=1):
            cells = [(data.get(name) or "").strip() for _c, name in row]
            if all(cells):
                complete += 1
            elif any(cells):
                errors.append(
                    _("Moment %(row)s is not finished: fill in every part of a moment you start.")
                    % {"row": number}
                )
        if d.get("required", True) and complete == 0 and not errors:
            errors.append(_("Fill in at least one moment."))
        return errors

    def display_html(self, value, d):
        """Grouped per moment, each in the order the form asks its parts."""
        moments = think_feel_do_moments(value)
        if not moments:
            return super().display_html(value, d)
        return format_html(
            '<ol class="tfd-answers">{}</ol>',
            format_html_join(
                "",
                '<li><p class="tfd-moment">{}</p><dl class="tfd-answer">{}</dl></li>',
                (
                    (
                        moment_label(number),
                        format_html_join(
                            "", "<dt>{}</dt><dd>{}</dd>", ((lbl, linebreaksbr(t)) for lbl, t in moment)
                        ),
                    )
                    for number, moment in enumerate(moments, start=1)
                ),
            ),
        )


FIELD_TYPES: dict[str, FieldType] = {
    t.name: t
    for t in (
        ShortText(),
        LongText(),
        Choice(),
        Scale(),
        Number(),
        Time(),
        YesNo(),
        GoalList(),
        EnergyPoints(),
        ThinkFeelDo(),
    )
}
_UNTYPED = FieldType()


def field_type(definition: dict | str) -> FieldType:
    """The type of a definition (or a type name); a definition of no known type is shown as
    plain values and has no form fields of its own."""
    name = definition if isinstance(definition, str) else (definition or {}).get("type")
    return FIELD_TYPES.get(name, _UNTYPED)


def types_for(context: str) -> tuple[str, ...]:
    """The type names a step of ``context`` (``ASSIGNMENT`` or ``DIARY``) may use, in order."""
    return tuple(name for name, t in FIELD_TYPES.items() if context in t.used_in)


def text_names(definitions: list[dict]) -> set[str]:
    """The names of the free-text fields among ``definitions``."""
    return {d["name"] for d in definitions if field_type(d).is_text}


def display(value, definition: dict | None = None) -> str:
    """One answer as a short line of plain text ("–" when empty)."""
    if value is None or value == "" or value == [] or value == {}:
        return "–"
    if isinstance(value, bool):
        return _yes_no_text(value)
    return field_type(definition).display(value, definition or {})
