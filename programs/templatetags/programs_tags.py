from django import template

from programs.forms import THINK_FEEL_DO_LABELS

register = template.Library()


@register.filter
def get_item(mapping, key):
    """``mapping[key]`` or None (templates cannot index a dict with a variable)."""
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.filter
def tfd_label(column):
    return THINK_FEEL_DO_LABELS.get(column, column)


@register.filter
def option_label(value, definition):
    """The label of a choice answer, from the field definition."""
    for option in definition.get("options", []):
        if option["value"] == value:
            return option["label"]
    return value
