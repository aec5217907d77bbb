"""``{% form_field %}`` writes a field as the included template ``includes/field.html`` wrote
it, byte for byte: every kind of field, with and without errors and help, required or not, in
English and in Dutch, and the application's own forms."""

import pytest
from django import forms
from django.template import engines
from django.utils import translation
from django.utils.safestring import mark_safe

# The template every field was written with before the tag (as it was, newline and all).
FIELD_TEMPLATE = """{% load i18n %}{% if field.field.widget.input_type == "radio" or field.field.widget.input_type == "checkbox" and field.field.widget.allow_multiple_selected %}<fieldset class="field choice-group{% if field.errors %} field-error{% endif %}">
  <legend>{{ field.label }}{% if not field.field.required and not field.field.sometimes_required %} <span class="optional">({% trans "optional" %})</span>{% endif %}</legend>
  {% if field.help_text %}<p class="help" id="{{ field.auto_id }}_helptext">{{ field.help_text|safe }}</p>{% endif %}
  {% if field.errors %}<p class="error" id="{{ field.auto_id }}_error">{% for e in field.errors %}{{ e }} {% endfor %}</p>{% endif %}
  {{ field }}
</fieldset>{% else %}<div class="field{% if field.errors %} field-error{% endif %}">
  {% if field.field.widget.input_type == "checkbox" %}
  {% if field.errors %}<p class="error" id="{{ field.auto_id }}_error">{% for e in field.errors %}{{ e }} {% endfor %}</p>{% endif %}
  <div class="check-row">{{ field }} <label for="{{ field.id_for_label }}">{{ field.label }}</label></div>
  {% if field.help_text %}<p class="help" id="{{ field.auto_id }}_helptext">{{ field.help_text|safe }}</p>{% endif %}
  {% else %}
  <label for="{{ field.id_for_label }}">{{ field.label }}{% if not field.field.required and not field.field.sometimes_required %} <span class="optional">({% trans "optional" %})</span>{% endif %}</label>
  {% if field.help_text %}<p class="help" id="{{ field.auto_id }}_helptext">{{ field.help_text|safe }}</p>{% endif %}
  {% if field.errors %}<p class="error" id="{{ field.auto_id }}_error">{% for e in field.errors %}{{ e }} {% endfor %}</p>{% endif %}
  {{ field }}
  {% endif %}
</div>{% endif %}
"""  # noqa: E501


class EveryKind(forms.Form):
    name = forms.CharField(label="Name <b>&</b>", help_text="Your <em>own</em> name")
    note = forms.CharField(label="Note", required=False, widget=forms.Textarea)
    sometimes = forms.CharField(label="Reason", required=False)
    agree = forms.BooleanField(label="I agree", help_text="Needed to go on")
    maybe = forms.BooleanField(label="Maybe", required=False)
    mood = forms.ChoiceField(
        label="Mood", choices=[("1", "Low"), ("2", "High & fine")], widget=forms.RadioSelect
    )
    days = forms.MultipleChoiceField(
        label="Days",
        choices=[("mo", "Monday"), ("tu", "Tuesday")],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    kind = forms.ChoiceField(label="Kind", choices=[("a", "A"), ("b", "B")], required=False)
    safe = forms.CharField(label=mark_safe("Safe <i>label</i>"), required=False)  # noqa: S308 - a test
    when = forms.DateField(label="Day", required=False, help_text="dd-mm-yyyy")
    secret = forms.CharField(label="Password", widget=forms.PasswordInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sometimes"].sometimes_required = True

    def clean(self):
        data = super().clean()
        self.add_error("note", "A second <error> & more")
        return data


def _both(form):
    old = engines["django"].from_string(FIELD_TEMPLATE)
    new = engines["django"].from_string("{% load form_fields %}{% form_field field %}")
    for field in form.visible_fields():
        yield field.name, old.render({"field": field}), new.render({"field": field})


@pytest.mark.parametrize("language", ["en", "nl"])
@pytest.mark.parametrize(
    "data", [None, {}, {"name": "<script>", "mood": "9", "days": ["xx"], "when": "not a day", "kind": "c"}]
)
def test_every_kind_of_field_is_written_as_the_template_wrote_it(language, data):
    with translation.override(language):
        form = EveryKind(data)
        if data is not None:
            assert not form.is_valid()
        fields = list(_both(form))
        assert len(fields) == len(EveryKind.base_fields)
        for name, old, new in fields:
            assert new == old, name


def test_a_form_without_ids_is_written_as_the_template_wrote_it():
    for name, old, new in _both(EveryKind({}, auto_id=False)):
        assert new == old, name


@pytest.mark.django_db
def test_the_applications_forms_are_written_as_the_template_wrote_them(world, clock):
    from patients.forms_intake import FatigueIntakeForm, IntakeRequestForm
    from therapists.forms_work import DashboardFilterForm, WorklistFilterForm

    shown = [
        WorklistFilterForm({"patient": "12", "kind": "nothing"}, patients=[(12, "Anna (C-1)")]),
        WorklistFilterForm(patients=[(12, "Anna <C-1>")]),
        DashboardFilterForm({"start": "2026-12-01", "end": "2026-01-01"}),
        FatigueIntakeForm(),
        FatigueIntakeForm({}),
        IntakeRequestForm({"email": "not an address"}, clinics=[world.clinic]),
    ]
    for form in shown:
        form.is_valid()
        for name, old, new in _both(form):
            assert new == old, (type(form).__name__, name)
