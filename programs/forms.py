"""Forms built from content definitions: assignments, diaries and questionnaires.

The same forms serve the preview (nothing is saved) and the patient journey (the patients app
saves ``form.answers()`` and binds saved answers back with ``answers=...``). Answers are plain
JSON: ``{field name: value}``; see ``AssignmentForm.answers`` for the shape per field type.

Browser-side ``required`` attributes are off on purpose: a patient must be able to save a draft
of a half-finished form, and every rule is checked on the server with a message next to the
field, keeping everything typed.
"""

import copy
from collections import OrderedDict

from django import forms
from django.conf import settings
from django.forms.widgets import ChoiceWidget, Widget
from django.template.defaultfilters import filesizeformat
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from icbt.forms import plain_field, plain_messages
from programs import content_cache, questionnaires
from programs.field_types import field_type

# The fields made from a list of definitions, kept per process by the JSON text of that list
# (a diary type's, which never changes: ``programs.content_cache``) and the language (labels are
# made in it). A form gets copies, as Django copies a form's declared fields for each form,
# rather than fields made again: each scale's choices, each number's validators.
_PROTOTYPES: OrderedDict = OrderedDict()
_PROTOTYPES_KEPT = 64


def _made(definitions: list[dict]) -> dict:
    fields = {}
    for d in definitions:
        fields.update(field_type(d).form_fields(d))
    return {name: plain_field(field) for name, field in fields.items()}


def _prototypes(definitions: list[dict], key: str) -> dict:
    return content_cache.kept(
        _PROTOTYPES, (key, translation.get_language()), lambda: _made(definitions), limit=_PROTOTYPES_KEPT
    )


def _copied(field: forms.Field) -> forms.Field:
    """What ``copy.deepcopy`` gives for a field whose copying is Django's own (``Field`` and
    ``ChoiceField`` with a plain or choice widget): a copy with its own widget, attributes,
    messages, validators and list of choices (the choices themselves are immutable pairs),
    without deep-copying each choice. Any other field is deep-copied."""
    widget = field.widget
    own_copying = type(field).__deepcopy__ in (forms.Field.__deepcopy__, forms.ChoiceField.__deepcopy__)
    own_widget = type(widget).__deepcopy__ in (Widget.__deepcopy__, ChoiceWidget.__deepcopy__)
    listed = not isinstance(field, forms.ChoiceField) or isinstance(field._choices, list)
    if not (own_copying and own_widget and listed):
        return copy.deepcopy(field)
    result = copy.copy(field)
    result.widget = copy.copy(widget)
    result.widget.attrs = widget.attrs.copy()
    if isinstance(widget, ChoiceWidget):
        result.widget.choices = copy.copy(widget.choices)
    result.error_messages = field.error_messages.copy()
    result.validators = field.validators[:]
    if isinstance(field, forms.ChoiceField):
        result._choices = list(field._choices)
    return result


class DefinitionForm(forms.Form):
    """A form whose fields come from a list of content field definitions. ``fields_key``: text
    that says everything the definitions say (their JSON as stored): the fields are made once
    per process and language for it, and copied for each form."""

    use_required_attribute = False

    def __init__(
        self,
        *args,
        definitions: list[dict],
        answers: dict | None = None,
        prefix=None,
        fields_key: str | None = None,
        **kwargs,
    ):
        self.definitions = definitions
        self.group_errors: dict[str, list] = {}
        super().__init__(
            *args, prefix=prefix, initial=self.initial_from_answers(definitions, answers or {}), **kwargs
        )
        if fields_key is None:
            for definition in definitions:
                self._add_fields(definition)
        else:
            self.fields.update(
                {name: _copied(field) for name, field in _prototypes(definitions, fields_key).items()}
            )
        plain_messages(self)

    def _add_fields(self, d: dict):
        self.fields.update(field_type(d).form_fields(d))

    # Answers <-> initial ------------------------------------------------------------------

    @staticmethod
    def initial_from_answers(definitions: list[dict], answers: dict) -> dict:
        initial = {}
        for d in definitions:
            value = answers.get(d["name"])
            if value is not None:
                initial.update(field_type(d).initial(d, value))
        return initial

    def answers(self) -> dict:
        """The cleaned answers as JSON-able values:

        short/long text, choice: str; scale: int; number: int or float; time: "HH:MM";
        yes_no: bool; goal_list: [str]; energy_points: {"budget": n, "items": [{"activity": str,
        "points": int, "own": bool}]}; think_feel_do: [{"situation", "thought", "feeling",
        "behaviour", "helpful_thought"}]. Empty optional answers are left out.
        """
        result = {}
        for d in self.definitions:
            value = field_type(d).answer(d, self.cleaned_data)
            if value is not None:
                result[d["name"]] = value
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
            if not earlier:
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
            for message in field_type(d).clean(d, data):
                self._group_error(d, message)
        return data

    # Template support ---------------------------------------------------------------------

    def groups(self) -> list[dict]:
        """One entry per content field, with its bound fields arranged for its type's template
        (templates/programs/fields/)."""
        result = []
        for d in self.definitions:
            kind = field_type(d)
            group = {
                "definition": d,
                "type": d["type"],
                "template": kind.template,
                "name": d["name"],
                "errors": self.group_errors.get(d["name"], []),
                "html_id": f"id_{self.add_prefix(d['name'])}",
            }
            group.update(kind.group(d, self))
            result.append(group)
        return result


class AssignmentForm(DefinitionForm):
    """The form of an assignment step."""

    def __init__(self, *args, step, **kwargs):
        self.step = step
        super().__init__(*args, definitions=step.definition.get("fields", []), **kwargs)


class DiaryEntryForm(DefinitionForm):
    """One entry of a diary type."""

    def __init__(self, *args, diary_type, **kwargs):
        self.diary_type = diary_type
        super().__init__(
            *args,
            definitions=diary_type.fields,
            fields_key=getattr(diary_type, "icbt_fields_text", None),
            **kwargs,
        )


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
