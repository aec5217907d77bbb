"""Forms built from content definitions: validation of the composite widgets and the round
trip answers -> form -> answers that the patient journey relies on."""

import pytest

from programs.forms import AssignmentForm, DiaryEntryForm, QuestionnaireForm
from programs.presentation import questionnaire_presentation_for
from tests.programs.helpers import tiny_step

pytestmark = pytest.mark.django_db

VALID = {
    "word": "calm",
    "story": "A story.",
    "pattern": "a",
    "sure": "7",
    "goals__1": "Walk daily",
    "goals__2": "",
    "energy__1": "3",
    "energy__2": "4",
    "energy__own1_label": "Read",
    "energy__own1": "2",
    "moments__1__situation": "s",
    "moments__1__thought": "t",
    "moments__1__feeling": "f",
    "moments__1__behaviour": "b",
    "moments__1__helpful_thought": "h",
}


def test_valid_assignment_answers(tiny):
    form = AssignmentForm(VALID, step=tiny_step("plan"))
    assert form.is_valid(), form.errors
    answers = form.answers()
    assert answers["sure"] == 7 and answers["goals"] == ["Walk daily"]
    assert answers["energy"]["budget"] == 10
    assert {"activity": "Read", "points": 2, "own": True} in answers["energy"]["items"]
    assert answers["moments"] == [
        {"situation": "s", "thought": "t", "feeling": "f", "behaviour": "b", "helpful_thought": "h"}
    ]


def test_answers_bind_back_to_the_form(tiny):
    step = tiny_step("plan")
    answers = AssignmentForm(VALID, step=step)
    assert answers.is_valid()
    saved = answers.answers()
    again = AssignmentForm(step=step, answers=saved)
    assert again["word"].value() == "calm"
    assert again["goals__1"].value() == "Walk daily"
    assert again["energy__2"].value() == 4
    assert again["energy__own1_label"].value() == "Read"
    assert again["moments__1__helpful_thought"].value() == "h"
    groups = {g["name"]: g for g in again.groups()}
    assert groups["energy"]["remaining"] == 1


def test_energy_points_over_budget_is_refused(tiny):
    form = AssignmentForm({**VALID, "energy__1": "9"}, step=tiny_step("plan"))
    assert not form.is_valid()
    assert "Take away 5 points" in " ".join(form.group_errors["energy"])


def test_own_activity_needs_a_name(tiny):
    form = AssignmentForm({**VALID, "energy__own1_label": ""}, step=tiny_step("plan"))
    assert not form.is_valid()
    assert form.group_errors["energy"]


def test_think_feel_do_rows_must_be_finished(tiny):
    form = AssignmentForm({**VALID, "moments__2__situation": "half a row"}, step=tiny_step("plan"))
    assert not form.is_valid()
    assert "Moment 2 is not finished" in " ".join(form.group_errors["moments"])
    empty = {k: v for k, v in VALID.items() if not k.startswith("moments")}
    form = AssignmentForm(empty, step=tiny_step("plan"))
    assert not form.is_valid() and form.group_errors["moments"]


def test_goal_list_needs_its_minimum(tiny):
    form = AssignmentForm({**VALID, "goals__1": ""}, step=tiny_step("plan"))
    assert not form.is_valid() and form.group_errors["goals"]


def test_scale_out_of_range_is_refused(tiny):
    form = AssignmentForm({**VALID, "sure": "11"}, step=tiny_step("plan"))
    assert not form.is_valid() and "sure" in form.errors


def test_invalid_form_keeps_every_typed_value(tiny):
    form = AssignmentForm({**VALID, "energy__1": "99"}, step=tiny_step("plan"))
    assert not form.is_valid()
    assert form["story"].value() == "A story." and form["energy__1"].value() == "99"


def test_diary_entry(tiny):
    step = tiny_step("start-diary")
    form = DiaryEntryForm(
        {"mood": "6", "bedtime": "23:15", "walked": "yes", "minutes": "12.5", "kind": "work"},
        diary_type=step.diary_type,
    )
    assert form.is_valid(), form.errors
    assert form.answers() == {"mood": 6, "bedtime": "23:15", "walked": True, "minutes": 12.5, "kind": "work"}
    again = DiaryEntryForm(diary_type=step.diary_type, answers=form.answers())
    assert again["walked"].value() == "yes" and again["mood"].value() == 6
    bad = DiaryEntryForm(
        {"mood": "6", "bedtime": "25:00", "walked": "maybe", "minutes": "-1", "kind": "x"},
        diary_type=step.diary_type,
    )
    assert not bad.is_valid()
    assert set(bad.errors) >= {"bedtime", "walked", "minutes", "kind"}


def test_questionnaire_form_scores(tiny):
    step = tiny_step("mood-start")
    presentation = questionnaire_presentation_for(step, clinic_id=None)
    form = QuestionnaireForm({f"q{n}": "3" for n in range(1, 10)}, presentation=presentation)
    assert form.is_valid()
    assert form.score().total == 27 and "self_harm" in form.score().flag_codes
    missing = QuestionnaireForm({"q1": "3"}, presentation=presentation)
    assert not missing.is_valid() and "q9" in missing.errors


def test_saved_answers_render_read_only(tiny):
    from django.template.loader import render_to_string

    step = tiny_step("plan")
    form = AssignmentForm(VALID, step=step)
    assert form.is_valid()
    html = render_to_string(
        "programs/includes/answers.html", {"definitions": step.fields, "answers": form.answers()}
    )
    assert "Pattern A" in html and "Walk daily" in html and "Read: 2" in html
    assert "A more helpful thought" in html and "<input" not in html
