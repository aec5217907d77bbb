"""Every field type makes the whole round trip: its definition becomes a form, the posted form a
stored JSON value, the stored value binds back to the same form and is shown again as text and
as HTML. A type added to the registry without a case here fails the first test."""

import json

import pytest
from django.template.loader import render_to_string

from programs import content_loader, services
from programs.field_types import ASSIGNMENT, DIARY, FIELD_TYPES, display, field_type, text_names, types_for
from programs.forms import DefinitionForm
from programs.models import ProgramVersion
from tests.programs.test_loader import edit


def _d(name, type_, **extra):
    return {"name": name, "type": type_, "label": f"Label of {name}", "help": "", "required": True, **extra}


OPTIONS = [{"value": "walk", "label": "A walk"}, {"value": "rest", "label": "A rest"}]
TFD = ["situation", "thought", "feeling", "behaviour", "helpful_thought"]

# type: (definition, posted data, stored value, shown as text, in the read-only HTML)
CASES = {
    "short_text": (_d("word", "short_text", max_length=200), {"word": " calm "}, "calm", "calm", "calm"),
    "long_text": (
        _d("story", "long_text", max_length=500),
        {"story": "Line one\nline two"},
        "Line one\nline two",
        "Line one\nline two",
        "Line one<br>line two",
    ),
    "choice": (_d("pick", "choice", options=OPTIONS), {"pick": "rest"}, "rest", "A rest", "A rest"),
    "scale": (_d("pain", "scale", min=0, max=10, min_label="", max_label=""), {"pain": "7"}, 7, "7", "7"),
    "number": (
        _d("minutes", "number", min=0, max=600, unit="minutes"),
        {"minutes": "30"},
        30,
        "30 minutes",
        "30",
    ),
    "time": (_d("woke", "time"), {"woke": "07:15"}, "07:15", "07:15", "07:15"),
    "yes_no": (_d("walked", "yes_no"), {"walked": "no"}, False, "no", "No"),
    "goal_list": (
        _d("goals", "goal_list", min_items=1, max_items=3),
        {"goals__1": "Walk daily", "goals__2": "", "goals__3": "Cook <twice>"},
        ["Walk daily", "Cook <twice>"],
        "Walk daily | Cook <twice>",
        "<ol><li>Walk daily</li><li>Cook &lt;twice&gt;</li></ol>",
    ),
    "energy_points": (
        _d("energy", "energy_points", budget=10, activities=["Shower", "Cook"]),
        {"energy__1": "3", "energy__2": "", "energy__own1_label": "Read", "energy__own1": "2"},
        {
            "budget": 10,
            "items": [
                {"activity": "Shower", "points": 3, "own": False},
                {"activity": "Cook", "points": 0, "own": False},
                {"activity": "Read", "points": 2, "own": True},
            ],
        },
        "budget: 10; items: activity: Shower; points: 3; own: no | activity: Cook; points: 0; own: no | "
        "activity: Read; points: 2; own: yes",
        "<ul><li>Shower: 3</li><li>Read: 2</li></ul>",
    ),
    "think_feel_do": (
        _d("moments", "think_feel_do", rows=2, columns=TFD),
        {f"moments__1__{c}": c.upper() for c in TFD},
        [{c: c.upper() for c in TFD}],
        "situation: SITUATION; thought: THOUGHT; feeling: FEELING; behaviour: BEHAVIOUR; "
        "helpful_thought: HELPFUL_THOUGHT",
        "<dt>Situation: what happened?</dt><dd>SITUATION</dd>",
    ),
}


def _posted_again(form, definition):
    """The form bound to what it shows: what a browser posts back unchanged."""
    return DefinitionForm({key: form[key].value() for key in form.fields}, definitions=[definition])


def test_every_registered_type_has_a_round_trip_case():
    assert set(CASES) == set(FIELD_TYPES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_definition_form_stored_value_and_display_round_trip(name):
    definition, posted, stored, text, html = CASES[name]
    form = DefinitionForm(posted, definitions=[definition])
    assert form.is_valid(), form.errors
    answers = form.answers()
    assert answers == {definition["name"]: stored}
    saved = json.loads(json.dumps(answers))  # as the encrypted JSON column keeps it
    again = DefinitionForm(definitions=[definition], answers=saved)
    rebound = _posted_again(again, definition)
    assert rebound.is_valid(), rebound.errors
    assert rebound.answers() == answers
    assert display(saved[definition["name"]], definition) == text
    assert html in str(field_type(definition).display_html(saved[definition["name"]], definition))
    (group,) = again.groups()
    assert group["template"] == FIELD_TYPES[name].template
    assert definition["label"] in render_to_string("programs/fields/field.html", {"group": group})


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_draft_keeps_what_was_typed(name):
    definition, posted, stored, _text, _html = CASES[name]
    as_typed = {
        "short_text": " calm ",
        "energy_points": {
            "budget": 10,
            "items": [
                {"activity": "Shower", "points": 3, "own": False},
                {"activity": "Cook", "points": None, "own": False},  # left empty
                {"activity": "Read", "points": 2, "own": True},
            ],
        },
    }
    assert field_type(definition).draft(definition, posted.get) == as_typed.get(name, stored)


def test_the_answers_page_shows_every_type_read_only():
    definitions = [case[0] for case in CASES.values()]
    answers = {case[0]["name"]: case[2] for case in CASES.values()}
    page = render_to_string(
        "programs/includes/answers.html", {"definitions": definitions, "answers": answers}
    )
    for _definition, _posted, _stored, _text, html in CASES.values():
        assert html in page


def test_contexts_text_and_numeric_types():
    assert types_for(ASSIGNMENT) == (
        "short_text",
        "long_text",
        "choice",
        "scale",
        "goal_list",
        "energy_points",
        "think_feel_do",
    )
    assert set(types_for(DIARY)) == {"time", "number", "scale", "yes_no", "choice", "short_text", "long_text"}
    assert text_names([case[0] for case in CASES.values()]) == {"word", "story"}
    assert {n for n, t in FIELD_TYPES.items() if t.is_numeric} == {"scale", "number"}


def test_an_over_budget_answer_is_refused_whatever_sent_it():
    definition = CASES["energy_points"][0]
    value = {"budget": 10, "items": [{"activity": "Shower", "points": 12, "own": False}]}
    assert "Take away 2 points" in field_type(definition).answer_error(definition, value)
    assert field_type(definition).answer_error(definition, CASES["energy_points"][2]) is None


@pytest.mark.django_db
def test_the_loader_refuses_an_unknown_type_in_plain_words(content_root):
    edit(
        content_root / "tiny-program/en/manifest.yaml",
        "{name: word, type: short_text",
        "{name: word, type: colour_picker",
    )
    with pytest.raises(content_loader.ContentErrors) as exc:
        services.program_content_load(root=content_root)
    messages = [str(e) for e in exc.value.errors]
    assert any(
        "type must be one of short_text, long_text, choice, scale, goal_list, energy_points, think_feel_do "
        "(got 'colour_picker')" in m
        for m in messages
    ), messages
    assert not ProgramVersion.objects.exists()


@pytest.mark.parametrize("name", types_for(DIARY))
def test_the_example_answer_of_a_diary_type_is_valid(name):
    definition = CASES[name][0]
    example = field_type(definition).example(definition, seed=3)
    form = DefinitionForm(definitions=[definition], answers={definition["name"]: example})
    posted = _posted_again(form, definition)
    assert posted.is_valid(), posted.errors
    assert posted.answers() == {definition["name"]: example}


def test_an_own_activity_named_without_points_is_shown_with_0_points():
    definition = _d("energy", "energy_points", budget=10, activities=["Shower", "Cook"])
    value = {
        "budget": 10,
        "items": [
            {"activity": "Shower", "points": 3, "own": False},
            {"activity": "Cook", "points": 0, "own": False},
            {"activity": "Gardening", "points": 0, "own": True},
        ],
    }
    html = str(field_type(definition).display_html(value, definition))
    assert html == "<ul><li>Shower: 3</li><li>Gardening: 0</li></ul>"
