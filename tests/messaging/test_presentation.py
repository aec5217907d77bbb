"""How the composer shows a patient's stored work: every field readable, nothing hidden."""

from types import SimpleNamespace

from messaging.presentation import answer_lines
from programs.field_types import display as plain


def test_plain_values_of_every_field_kind():
    assert plain(None) == "–" and plain("") == "–" and plain([]) == "–"
    assert plain(True) == "yes" and plain(False) == "no"
    assert plain("yes", {"type": "yes_no"}) == "yes"
    assert (
        plain(
            "b",
            {
                "type": "choice",
                "options": [{"value": "a", "label": "Pattern A"}, {"value": "b", "label": "Pattern B"}],
            },
        )
        == "Pattern B"
    )
    assert plain(30, {"type": "number", "unit": "minutes"}) == "30 minutes"
    assert plain(["Walk daily", "Sleep at 23:00"]) == "Walk daily | Sleep at 23:00"
    assert plain({"Shower": 2, "Cook": 3}) == "Shower: 2; Cook: 3"
    moments = [{"situation": "Work", "thought": "I can't", "feeling": "tired", "action": ""}]
    assert plain(moments) == "situation: Work; thought: I can't; feeling: tired"


def test_answer_lines_follow_the_assignment_and_keep_unknown_fields():
    step = SimpleNamespace(
        fields=[{"name": "word", "label": "One word"}, {"name": "story", "label": "Your story"}]
    )
    answer = SimpleNamespace(
        step=step, submitted_content='{"story": "Long day", "word": "calm", "extra": 1}', content=""
    )
    assert [(line.label, line.value) for line in answer_lines(answer)] == [
        ("One word", "calm"),
        ("Your story", "Long day"),
        ("extra", "1"),
    ]


def test_text_that_is_not_json_is_shown_as_it_is():
    answer = SimpleNamespace(step=SimpleNamespace(fields=[]), submitted_content="just text", content="")
    assert [line.value for line in answer_lines(answer)] == ["just text"]


def test_an_answer_that_is_not_json_is_shown_as_written():
    answer = SimpleNamespace(step=SimpleNamespace(fields=[]), submitted_content="Plain words", content="")
    assert [(line.label, line.value) for line in answer_lines(answer)] == [("", "Plain words")]
