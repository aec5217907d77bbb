"""One decoder for encrypted JSON text: what cannot be read as JSON is shown as written."""

from icbt.fields import decode_json_text


def test_json_text_gives_its_value():
    assert decode_json_text('{"plan": "walk"}') == {"plan": "walk"}
    assert decode_json_text("[1, 2]", empty=[]) == [1, 2]


def test_empty_text_gives_the_callers_empty_value():
    assert decode_json_text("") is None
    assert decode_json_text(None, empty={}) == {}


def test_text_that_is_not_json_is_given_back_as_written():
    assert decode_json_text("I walked to the shop", empty={}) == "I walked to the shop"
    assert decode_json_text('{"unfinished": ', empty={}) == '{"unfinished": '
