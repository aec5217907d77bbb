from django import template
from django.utils.html import format_html

from icbt.submissions import FIELD, key_for_render

register = template.Library()


@register.simple_tag(takes_context=True)
def submission_key_input(context):
    """The hidden idempotency key of this form render (icbt.submissions)."""
    return format_html(
        '<input type="hidden" name="{}" value="{}">', FIELD, key_for_render(context.get("request"))
    )
