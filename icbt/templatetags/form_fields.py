"""``{% form_field field %}``: a form field with its label, its help, its errors and its widget,
written in Python: the markup every form of the application shares.

It was a template included once per field (``includes/field.html``); a page of a few fields
spent more on that template's lookups than on the rest of its form. The markup is the same, byte
for byte (``tests/icbt/test_form_fields.py`` renders fields of every kind both ways):

- a group of radio buttons or checkboxes is a ``<fieldset>`` with the label as its ``<legend>``;
- a single checkbox stands before its label;
- any other field has its label above it, "(optional)" when the field is not required (nor
  ``sometimes_required``: required on a condition its form checks), its help text, and its
  errors, each referred to by an id the widget's ``aria-describedby`` can name.
"""

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from icbt.markup import html_text

register = template.Library()


@register.simple_tag
def form_field(field) -> SafeString:
    """The markup of ``field`` (a bound field), as every form of the application writes it."""
    widget = field.field.widget
    input_type = getattr(widget, "input_type", None)
    errors = field.errors
    error_class = " field-error" if errors else ""
    auto_id = html_text(field.auto_id)
    label = html_text(field.label)
    shown = conditional_escape(str(field))
    help_text = field.help_text
    helps = f'<p class="help" id="{auto_id}_helptext">{help_text}</p>' if help_text else ""
    if errors:
        said = "".join(f"{html_text(error)} " for error in errors)
        errors_html = f'<p class="error" id="{auto_id}_error">{said}</p>'
    else:
        errors_html = ""
    optional = ""
    if not field.field.required and not getattr(field.field, "sometimes_required", False):
        optional = f' <span class="optional">({html_text(gettext("optional"))})</span>'
    if input_type == "radio" or (
        input_type == "checkbox" and getattr(widget, "allow_multiple_selected", False)
    ):
        return SafeString(
            f'<fieldset class="field choice-group{error_class}">\n'
            f"  <legend>{label}{optional}</legend>\n"
            f"  {helps}\n"
            f"  {errors_html}\n"
            f"  {shown}\n"
            "</fieldset>\n"
        )
    for_label = html_text(field.id_for_label)
    if input_type == "checkbox":
        inner = (
            f"\n  {errors_html}\n"
            f'  <div class="check-row">{shown} <label for="{for_label}">{label}</label></div>\n'
            f"  {helps}\n  "
        )
    else:
        inner = (
            f'\n  <label for="{for_label}">{label}{optional}</label>\n'
            f"  {helps}\n"
            f"  {errors_html}\n"
            f"  {shown}\n  "
        )
    return SafeString(f'<div class="field{error_class}">\n  {inner}\n</div>\n')
