from django import template

from programs.forms import think_feel_do_moments

register = template.Library()


@register.filter
def get_item(mapping, key):
    """``mapping[key]`` or None (templates cannot index a dict with a variable)."""
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.filter
def tfd_moments(value):
    """A think-feel-do answer as moments of ``(label, text)`` in the order the form asks them."""
    return think_feel_do_moments(value)


@register.filter
def option_label(value, definition):
    """The label of a choice answer, from the field definition."""
    for option in definition.get("options", []):
        if option["value"] == value:
            return option["label"]
    return value
