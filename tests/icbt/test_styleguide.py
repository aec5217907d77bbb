"""The styleguide page: every component of the design system, rendered here so that it cannot
rot; staff only, and only with DEBUG on."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

COMPONENTS = [
    "colours",
    "type",
    "buttons",
    "form",
    "error-summary",
    "messages",
    "cards",
    "empty-state",
    "badge",
    "table",
    "crisis",
]


def test_the_styleguide_shows_every_component_to_staff_with_debug_on(world, client_for, settings):
    settings.DEBUG = True
    response = client_for(world.therapist.user).get(reverse("styleguide"))
    assert response.status_code == 200
    html = response.content.decode()
    for component in COMPONENTS:
        assert f'data-component="{component}"' in html, component
    # The form's states: an error next to its field, a radio group and a checkbox group with their
    # legends above the options, and a single checkbox with its label after it.
    assert 'class="field field-error"' in html and "This field is required." in html
    for legend, first_option in (("How are you today?", "Good"), ("Tell me about", "Sleep")):
        assert html.index(f"<legend>{legend}") < html.index(first_option, html.index(f"<legend>{legend}"))
    assert 'class="button-secondary"' in html and html.count('class="button" disabled') == 1
    assert "113" in html  # the crisis lines are part of every page's kit


def test_the_styleguide_is_for_staff(world, client_for, settings):
    settings.DEBUG = True
    assert client_for(world.patient_a.user).get(reverse("styleguide")).status_code == 404
    assert client_for(None).get(reverse("styleguide")).status_code == 302


def test_the_styleguide_does_not_exist_without_debug(world, client_for, settings):
    settings.DEBUG = False
    for user in (world.therapist.user, world.admin.user, None):
        assert client_for(user).get(reverse("styleguide")).status_code == 404
