from django import template

register = template.Library()


@register.filter
def code_words(value: str) -> str:
    """A stored code as words: "therapist+clinic_admin" reads "therapist, clinic admin"."""
    return (value or "").replace("+", ", ").replace("_", " ")
