"""Forms built from content definitions: assignments, diaries and questionnaires.

The same forms serve the preview (nothing is saved) and the patient journey (the patients app
saves ``form.answers()`` and binds saved answers back with ``answers=...``). Answers are plain
JSON: ``{field name: value}``; see ``AssignmentForm.answers`` for the shape per field type.

Browser-side ``required`` attributes are off on purpose: a patient must be able to save a draft
of a half-finished form, and every rule is checked on the server with a message next to the
field, keeping everything typed.
"""

from decimal import Decimal

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from icbt.forms import plain_messages
from programs import questionnaires

THINK_FEEL_DO_LABELS = {
    "situation": _("Situation: what happened?"),
    "thought": _("Thought: what went through your mind?"),
    "feeling": _("Feeling: what did you feel?"),
    "behaviour": _("Behaviour: what did you do?"),
    "helpful_thought": _("A more helpful thought"),
}
OWN_ACTIVITY_ROWS = 3


def is_think_feel_do(value) -> bool:
    """Whether a stored value has the shape of a think-feel-do answer (a list of moments keyed
    by the form's parts)."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(row, dict) and row.keys() <= THINK_FEEL_DO_LABELS.keys() for row in value)
    )


def moment_label(number: int) -> str:
    return _("Moment %(number)s") % {"number": number}


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


def _scale_choices(low: int, high: int):
    return [(str(i), str(i)) for i in range(low, high + 1)]


class DefinitionForm(forms.Form):
    """A form whose fields come from a list of content field definitions."""

    use_required_attribute = False

    def __init__(self, *args, definitions: list[dict], answers: dict | None = None, prefix=None, **kwargs):
        self.definitions = definitions
        self.group_errors: dict[str, list] = {}
        super().__init__(
            *args, prefix=prefix, initial=self.initial_from_answers(definitions, answers or {}), **kwargs
        )
        for definition in definitions:
            self._add_fields(definition)
        plain_messages(self)

    # Building -----------------------------------------------------------------------------

    def _add_fields(self, d: dict):
        name, kind, label = d["name"], d["type"], d["label"]
        required = d.get("required", True)
        help_text = d.get("help", "")
        if kind == "short_text":
            self.fields[name] = forms.CharField(
                label=label, help_text=help_text, required=required, max_length=d.get("max_length", 200)
            )
        elif kind == "long_text":
            self.fields[name] = forms.CharField(
                label=label,
                help_text=help_text,
                required=required,
                max_length=d.get("max_length", 5000),
                widget=forms.Textarea(attrs={"rows": 4}),
            )
        elif kind == "choice":
            self.fields[name] = forms.ChoiceField(
                label=label,
                help_text=help_text,
                required=required,
                choices=[(o["value"], o["label"]) for o in d["options"]],
                widget=forms.RadioSelect,
            )
        elif kind == "scale":
            self.fields[name] = forms.TypedChoiceField(
                label=label,
                help_text=help_text,
                required=required,
                choices=_scale_choices(d["min"], d["max"]),
                coerce=int,
                widget=forms.RadioSelect,
            )
        elif kind == "number":
            self.fields[name] = forms.DecimalField(
                label=label,
                help_text=help_text,
                required=required,
                min_value=d["min"],
                max_value=d["max"],
                max_digits=8,
                decimal_places=1,
                widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
            )
        elif kind == "time":
            self.fields[name] = forms.TimeField(
                label=label,
                help_text=help_text,
                required=required,
                widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            )
        elif kind == "yes_no":
            self.fields[name] = forms.ChoiceField(
                label=label,
                help_text=help_text,
                required=required,
                choices=[("yes", _("Yes")), ("no", _("No"))],
                widget=forms.RadioSelect,
            )
        elif kind == "goal_list":
            for i in range(1, d["max_items"] + 1):
                self.fields[f"{name}__{i}"] = forms.CharField(
                    label=_("Goal %(number)s") % {"number": i}, required=False, max_length=300
                )
        elif kind == "energy_points":
            for i, activity in enumerate(d["activities"], start=1):
                self.fields[f"{name}__{i}"] = forms.IntegerField(
                    label=activity,
                    required=False,
                    min_value=0,
                    max_value=d["budget"],
                    widget=forms.NumberInput(attrs={"inputmode": "numeric", "data-energy-points": name}),
                )
            for i in range(1, OWN_ACTIVITY_ROWS + 1):
                self.fields[f"{name}__own{i}_label"] = forms.CharField(
                    label=_("Your own activity %(number)s") % {"number": i}, required=False, max_length=120
                )
                self.fields[f"{name}__own{i}"] = forms.IntegerField(
                    label=_("Points for your own activity %(number)s") % {"number": i},
                    required=False,
                    min_value=0,
                    max_value=d["budget"],
                    widget=forms.NumberInput(attrs={"inputmode": "numeric", "data-energy-points": name}),
                )
        elif kind == "think_feel_do":
            for row in range(1, d["rows"] + 1):
                for column in d.get("columns", THINK_FEEL_DO_LABELS):
                    self.fields[f"{name}__{row}__{column}"] = forms.CharField(
                        label=THINK_FEEL_DO_LABELS[column],
                        required=False,
                        max_length=2000,
                        widget=forms.Textarea(attrs={"rows": 2}),
                    )

    # Answers <-> initial ------------------------------------------------------------------

    @staticmethod
    def initial_from_answers(definitions: list[dict], answers: dict) -> dict:
        initial = {}
        for d in definitions:
            name, kind = d["name"], d["type"]
            value = answers.get(name)
            if value is None:
                continue
            if kind == "goal_list":
                for i, goal in enumerate(value, start=1):
                    initial[f"{name}__{i}"] = goal
            elif kind == "energy_points":
                own = 0
                for item in value.get("items", []):
                    if item.get("own"):
                        own += 1
                        initial[f"{name}__own{own}_label"] = item.get("activity", "")
                        initial[f"{name}__own{own}"] = item.get("points")
                    elif item.get("activity") in d["activities"]:
                        initial[f"{name}__{d['activities'].index(item['activity']) + 1}"] = item.get("points")
            elif kind == "think_feel_do":
                for row, cells in enumerate(value, start=1):
                    for column, text in cells.items():
                        initial[f"{name}__{row}__{column}"] = text
            elif kind == "yes_no":
                initial[name] = "yes" if value else "no"
            else:
                initial[name] = value
        return initial

    def answers(self) -> dict:
        """The cleaned answers as JSON-able values:

        short/long text, choice: str; scale: int; number: int or float; time: "HH:MM";
        yes_no: bool; goal_list: [str]; energy_points: {"budget": n, "items": [{"activity": str,
        "points": int, "own": bool}]}; think_feel_do: [{"situation", "thought", "feeling",
        "behaviour", "helpful_thought"}]. Empty optional answers are left out.
        """
        data = self.cleaned_data
        result = {}
        for d in self.definitions:
            name, kind = d["name"], d["type"]
            if kind == "goal_list":
                goals = [data.get(f"{name}__{i}", "").strip() for i in range(1, d["max_items"] + 1)]
                goals = [g for g in goals if g]
                if goals:
                    result[name] = goals
            elif kind == "energy_points":
                items = [
                    {"activity": a, "points": data.get(f"{name}__{i}") or 0, "own": False}
                    for i, a in enumerate(d["activities"], start=1)
                ]
                for i in range(1, OWN_ACTIVITY_ROWS + 1):
                    label = (data.get(f"{name}__own{i}_label") or "").strip()
                    if label:
                        items.append(
                            {"activity": label, "points": data.get(f"{name}__own{i}") or 0, "own": True}
                        )
                result[name] = {"budget": d["budget"], "items": items}
            elif kind == "think_feel_do":
                rows = []
                for row in range(1, d["rows"] + 1):
                    cells = {c: (data.get(f"{name}__{row}__{c}") or "").strip() for c in d.get("columns", [])}
                    if any(cells.values()):
                        rows.append(cells)
                if rows:
                    result[name] = rows
            else:
                value = data.get(name)
                if value in (None, ""):
                    continue
                if kind == "yes_no":
                    value = value == "yes"
                elif kind == "time":
                    value = value.strftime("%H:%M")
                elif kind == "number" and isinstance(value, Decimal):
                    value = int(value) if value == value.to_integral_value() else float(value)
                result[name] = value
        return result

    # Validation of composite fields -------------------------------------------------------

    def _group_error(self, definition: dict, message):
        self.group_errors.setdefault(definition["name"], []).append(message)
        self.add_error(None, f"{definition['label']}: {message}")

    def _times_in_order(self, data: dict) -> None:
        """A time declared ``not_before`` another (getting up, not before waking up) is not
        earlier than it: said next to the later question, with both answers kept."""
        labels = {d["name"]: d["label"] for d in self.definitions}
        for d in self.definitions:
            earlier = d.get("not_before")
            if d["type"] != "time" or not earlier:
                continue
            value, other = data.get(d["name"]), data.get(earlier)
            if value is not None and other is not None and value < other:
                self.add_error(
                    d["name"],
                    _(
                        "This time (%(time)s) is earlier than your answer to “%(question)s” (%(other)s). "
                        "Please check both times."
                    )
                    % {
                        "time": value.strftime("%H:%M"),
                        "question": labels.get(earlier, earlier),
                        "other": other.strftime("%H:%M"),
                    },
                )

    def clean(self):
        data = super().clean()
        self._times_in_order(data)
        for d in self.definitions:
            name, kind, required = d["name"], d["type"], d.get("required", True)
            if kind == "goal_list":
                filled = sum(
                    1 for i in range(1, d["max_items"] + 1) if (data.get(f"{name}__{i}") or "").strip()
                )
                if (required or filled) and filled < max(d.get("min_items", 1), 1 if required else 0):
                    self._group_error(
                        d, _("Write at least %(n)s goal(s).") % {"n": max(d.get("min_items", 1), 1)}
                    )
            elif kind == "energy_points":
                names = [f"{name}__{i}" for i in range(1, len(d["activities"]) + 1)]
                for i in range(1, OWN_ACTIVITY_ROWS + 1):
                    if data.get(f"{name}__own{i}") and not (data.get(f"{name}__own{i}_label") or "").strip():
                        self._group_error(
                            d, _("Give your own activity %(n)s a name, or set its points to 0.") % {"n": i}
                        )
                    names.append(f"{name}__own{i}")
                total = sum(data.get(n) or 0 for n in names)
                if total > d["budget"]:
                    self._group_error(
                        d,
                        _("You used %(total)s points, but you have %(budget)s. Take away %(extra)s points.")
                        % {"total": total, "budget": d["budget"], "extra": total - d["budget"]},
                    )
                elif required and total == 0:
                    self._group_error(d, _("Give points to at least one activity."))
            elif kind == "think_feel_do":
                columns = d.get("columns", [])
                complete = 0
                for row in range(1, d["rows"] + 1):
                    cells = [(data.get(f"{name}__{row}__{c}") or "").strip() for c in columns]
                    if all(cells):
                        complete += 1
                    elif any(cells):
                        self._group_error(
                            d,
                            _("Moment %(row)s is not finished: fill in every part of a moment you start.")
                            % {"row": row},
                        )
                if required and complete == 0 and not self.group_errors.get(name):
                    self._group_error(d, _("Fill in at least one moment."))
        return data

    # Template support ---------------------------------------------------------------------

    def groups(self) -> list[dict]:
        """One entry per content field, with its bound fields arranged for the templates in
        templates/programs/fields/."""
        result = []
        for d in self.definitions:
            name, kind = d["name"], d["type"]
            group = {
                "definition": d,
                "type": kind,
                "name": name,
                "errors": self.group_errors.get(name, []),
                "html_id": f"id_{self.add_prefix(name)}",
            }
            if kind == "goal_list":
                group["items"] = [self[f"{name}__{i}"] for i in range(1, d["max_items"] + 1)]
            elif kind == "energy_points":
                group["activities"] = [self[f"{name}__{i}"] for i in range(1, len(d["activities"]) + 1)]
                group["own"] = [
                    (self[f"{name}__own{i}_label"], self[f"{name}__own{i}"])
                    for i in range(1, OWN_ACTIVITY_ROWS + 1)
                ]
                group["used"] = self._points_used(d)
                group["remaining"] = d["budget"] - group["used"]
                group["over"] = max(0, -group["remaining"])
            elif kind == "think_feel_do":
                group["rows"] = [
                    [self[f"{name}__{row}__{c}"] for c in d.get("columns", [])]
                    for row in range(1, d["rows"] + 1)
                ]
            else:
                group["field"] = self[name]
            result.append(group)
        return result

    def _points_used(self, d: dict) -> int:
        names = [f"{d['name']}__{i}" for i in range(1, len(d["activities"]) + 1)]
        names += [f"{d['name']}__own{i}" for i in range(1, OWN_ACTIVITY_ROWS + 1)]
        total = 0
        for n in names:
            raw = self[n].value()
            try:
                total += int(raw or 0)
            except (TypeError, ValueError):
                continue
        return total


class AssignmentForm(DefinitionForm):
    """The form of an assignment step."""

    def __init__(self, *args, step, **kwargs):
        self.step = step
        super().__init__(*args, definitions=step.definition.get("fields", []), **kwargs)


class DiaryEntryForm(DefinitionForm):
    """One entry of a diary type."""

    def __init__(self, *args, diary_type, **kwargs):
        self.diary_type = diary_type
        super().__init__(*args, definitions=diary_type.fields, **kwargs)


class QuestionnaireForm(forms.Form):
    """The items of a questionnaire in one language (a ``questionnaires.Presentation``).
    ``score()`` gives the ``questionnaires.Score`` of the cleaned answers."""

    use_required_attribute = False

    def __init__(
        self, *args, presentation: questionnaires.Presentation, answers: dict | None = None, **kwargs
    ):
        self.presentation = presentation
        initial = {f"q{n}": str(v) for n, v in (answers or {}).items()}
        super().__init__(*args, initial=initial, **kwargs)
        for number, text in presentation.items:
            self.fields[f"q{number}"] = forms.TypedChoiceField(
                label=text,
                choices=[(str(v), label) for v, label in presentation.options],
                coerce=int,
                widget=forms.RadioSelect,
                error_messages={"required": _("Please answer this question.")},
            )

    def answers(self) -> dict[int, int]:
        return {int(name[1:]): value for name, value in self.cleaned_data.items() if name.startswith("q")}

    def draft_answers(self) -> dict[int, int]:
        """The items answered so far with one of their options, valid or not as a whole (a
        draft): read from the submitted data, so it works before or without ``is_valid()``."""
        answers = {}
        for number, _text in self.presentation.items:
            raw = self.data.get(self.add_prefix(f"q{number}"), "")
            if raw in {value for value, _label in self.fields[f"q{number}"].choices}:
                answers[number] = int(raw)
        return answers

    def score(self) -> questionnaires.Score:
        return questionnaires.questionnaire_score(
            self.presentation.instrument.code, self.answers(), **self.presentation.scoring_options
        )

    def clean(self):
        data = super().clean()
        if not self.errors and self.presentation.available:
            try:
                self.score()
            except forms.ValidationError as exc:
                self.add_error(None, exc)
        return data

    def items(self):
        return [self[f"q{number}"] for number, _text in self.presentation.items]


class StepMediaUploadForm(forms.Form):
    file = forms.FileField(label=_("Recording"))
    captions = forms.FileField(label=_("Captions (WebVTT, for video)"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _(
            "Audio: mp3, m4a, ogg or wav. Video: mp4 or webm. At most %(size)s."
        ) % {"size": filesizeformat(settings.ICBT_RECORDING_MAX_MB * 1024 * 1024)}


class StepMediaPartForm(forms.Form):
    """One part of an exercise: recorded in the browser (sent by static/js/studio.js) or a file."""

    file = forms.FileField(label=_("Recording of this part"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _(
            "webm, ogg, m4a or mp3 (mp4 or webm for video). At most %(size)s."
        ) % {"size": filesizeformat(settings.ICBT_RECORDING_MAX_MB * 1024 * 1024)}


class LicensedInstrumentUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Questionnaire file (YAML or JSON)"),
        help_text=_("The format is described in LICENSED.md in the program content folder."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.ICBT_LICENSED_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                _("This file is too large for a questionnaire (at most %(size)s).")
                % {"size": filesizeformat(settings.ICBT_LICENSED_UPLOAD_MAX_BYTES)}
            )
        return upload
