"""Think-feel-do answers read per moment, in the order the form asks them, on every side: the
patient's read-only answers, the therapist's composer and the own-data PDF. The stored JSON keeps
its keys in alphabetical order (behaviour, feeling, helpful thought, situation, thought)."""

import json
from types import SimpleNamespace

from django.template.loader import render_to_string
from django.utils.html import strip_tags

from messaging.presentation import answer_lines
from patients.reports import lines
from programs.field_types import think_feel_do_moments

# As the encrypted JSON gives it back: keys sorted, not in the form's order.
STORED = [
    {
        "behaviour": "Stayed in bed",
        "feeling": "Scared",
        "helpful_thought": "It eased before",
        "situation": "Sharp pain",
        "thought": "Something is wrong",
    },
    {
        "behaviour": "Said yes",
        "feeling": "Tense",
        "helpful_thought": "I can say no",
        "situation": "Boss asked",
        "thought": "He'll think I'm lazy",
    },
]
DEFINITION = {"name": "situations", "type": "think_feel_do", "label": "Three moments", "rows": 3}
ORDER = ["Sharp pain", "Something is wrong", "Scared", "Stayed in bed", "It eased before"]


def test_moments_follow_the_form_order_whatever_the_stored_order():
    moments = think_feel_do_moments(STORED)
    assert [text for _label, text in moments[0]] == ORDER
    assert [label for label, _text in moments[0]][0].startswith("Situation")
    assert [label for label, _text in moments[0]][-1] == "A more helpful thought"
    assert len(moments) == 2


def test_the_patient_and_therapist_page_groups_answers_per_moment():
    html = render_to_string(
        "programs/includes/answers.html", {"definitions": [DEFINITION], "answers": {"situations": STORED}}
    )
    assert (
        html.index("Moment 1") < html.index("Sharp pain") < html.index("Moment 2") < html.index("Boss asked")
    )
    positions = [html.index(text) for text in ORDER]
    assert positions == sorted(positions)


def test_the_composer_shows_one_line_per_moment_in_the_form_order():
    step = SimpleNamespace(fields=[DEFINITION])
    answer = SimpleNamespace(step=step, submitted_content=json.dumps({"situations": STORED}), content="")
    result = answer_lines(answer)
    assert [line.label for line in result] == ["Three moments · Moment 1", "Three moments · Moment 2"]
    positions = [result[0].value.index(text) for text in ORDER]
    assert positions == sorted(positions)
    assert "Boss asked" not in result[0].value


def test_the_pdf_lines_group_per_moment_in_the_form_order():
    result = lines({"situations": STORED}, labels={"situations": "Three moments"})
    assert [text for _label, text in result[:5]] == ORDER
    assert result[0][0].startswith("Three moments · Moment 1 · Situation")
    assert result[5][0].startswith("Three moments · Moment 2 · Situation")


def test_the_form_help_speaks_of_moments_not_rows_or_columns():
    from programs.forms import AssignmentForm

    columns = ["situation", "thought", "feeling", "behaviour", "helpful_thought"]
    definition = DEFINITION | {"columns": columns, "required": True, "help": ""}
    form = AssignmentForm(
        {"situations__1__situation": "Work"}, step=SimpleNamespace(definition={"fields": [definition]})
    )
    assert not form.is_valid()
    html = render_to_string("programs/fields/field.html", {"group": form.groups()[0]})
    assert "Moment 1" in html
    assert "Moment 1 is not finished" in html
    words = strip_tags(html).lower()
    assert " row" not in words and "column" not in words
