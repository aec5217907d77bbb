"""A diary's form fields are made once per process and language from the diary type's stored
JSON (``programs.forms``) and copied for each form: the copies write, validate and behave as
fields made afresh, and no form's change reaches another form."""

import pytest
from django.utils import translation

from programs import content_cache
from programs.forms import DiaryEntryForm
from programs.models import DiaryType
from tests.patients.patient_helpers import tiny_version

pytestmark = pytest.mark.django_db

SENT = {"mood": "11", "bedtime": "25:00", "walked": "perhaps", "minutes": "a few", "kind": "x", "note": "n"}


def _written(form) -> str:
    parts = []
    for name, field in form.fields.items():
        bound = form[name]
        parts += [str(bound), str(bound.label), str(field.help_text), str(bound.errors), repr(field.required)]
    return "\n".join(parts)


@pytest.mark.parametrize("language", ["en", "nl"])
@pytest.mark.parametrize("data", [None, SENT], ids=["new", "refused"])
def test_a_form_of_kept_fields_is_the_form_made_afresh(language, data):
    version = tiny_version()
    kept = content_cache.diary_type(version, "mood")
    assert kept.icbt_fields_text
    afresh = DiaryType.objects.get(version=version, slug="mood")
    assert not hasattr(afresh, "icbt_fields_text")
    with translation.override(language):
        for _ in range(2):  # made, then copied from what was kept
            form = DiaryEntryForm(data, diary_type=content_cache.diary_type(version, "mood"))
            same = DiaryEntryForm(data, diary_type=afresh)
            if data is not None:
                assert not form.is_valid() and not same.is_valid()
                assert form.errors == same.errors and len(form.errors) >= 4
            assert _written(form) == _written(same)


def test_each_form_has_fields_of_its_own():
    version = tiny_version()
    first = DiaryEntryForm(diary_type=content_cache.diary_type(version, "mood"))
    second = DiaryEntryForm(diary_type=content_cache.diary_type(version, "mood"))
    for name, field in first.fields.items():
        other = second.fields[name]
        assert field is not other and field.widget is not other.widget
        assert field.widget.attrs is not other.widget.attrs
        assert field.error_messages is not other.error_messages and field.validators is not other.validators
        if hasattr(field, "choices"):
            assert field.choices is not other.choices and field.choices == other.choices
    first.fields["mood"].widget.attrs["data-changed"] = "1"
    first.fields["mood"].error_messages["required"] = "changed"
    first.fields["kind"].choices = [("only", "Only")]
    third = DiaryEntryForm(diary_type=content_cache.diary_type(version, "mood"))
    assert "data-changed" not in third.fields["mood"].widget.attrs
    assert third.fields["mood"].error_messages["required"] != "changed"
    assert ("only", "Only") not in list(third.fields["kind"].choices)
