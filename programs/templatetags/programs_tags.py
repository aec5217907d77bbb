from django import template

from programs.field_types import field_type

register = template.Library()


@register.filter
def get_item(mapping, key):
    """``mapping[key]`` or None (templates cannot index a dict with a variable)."""
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.filter
def field_answer(value, definition):
    """A saved answer as read-only HTML, the way its field type shows it."""
    return field_type(definition).display_html(value, definition)
