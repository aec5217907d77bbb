"""Diary times in order, a text at its maximum length refused with its length (never cut off),
and plain words instead of Django's "Ensure this value is ..." messages."""

import pytest
from django.utils import timezone

from patients.forms_patient import PatientDiaryForm
from patients.forms_staff import TreatmentSessionForm
from patients.models import DiaryEntry
from programs import content_loader
from programs.models import DiaryType
from tests.patients.patient_helpers import enroll, tiny_version

pytestmark = pytest.mark.django_db

SLEEP_FIELDS = [
    {
        "name": "woke_time",
        "type": "time",
        "label": "When did you wake up for the last time?",
        "required": True,
    },
    {
        "name": "got_up_time",
        "type": "time",
        "label": "When did you get up?",
        "required": True,
        "not_before": "woke_time",
    },
    {"name": "hours", "type": "number", "label": "Hours", "min": 0, "max": 24, "required": True},
    {"name": "note", "type": "long_text", "label": "Note", "max_length": 20, "required": False},
]


@pytest.fixture
def sleep(world, client_for):
    version = tiny_version()
    diary_type = DiaryType.objects.create(
        version=version, slug="sleep", title="Sleep", frequency="daily", fields=SLEEP_FIELDS
    )
    enrollment = enroll(world.patient_a, version)
    return diary_type, enrollment, client_for(world.patient_a.user)


def _post(client, **values):
    data = {
        "woke_time": "07:30",
        "got_up_time": "08:00",
        "hours": "2",
        "entry_date": timezone.localdate().isoformat(),
    }
    data.update(values)
    return client.post("/me/diaries/sleep/write/", data)


def test_getting_up_before_waking_up_is_refused_in_plain_words(sleep):
    _diary_type, enrollment, client = sleep
    response = _post(client, woke_time="09:00", got_up_time="07:00")
    html = response.content.decode()
    assert response.status_code == 200
    assert "This time (07:00) is earlier than your answer to" in html and "(09:00)" in html
    assert 'value="07:00"' in html and 'value="09:00"' in html  # both answers kept
    assert not DiaryEntry.objects.filter(enrollment=enrollment).exists()
    assert _post(client).status_code == 302


def test_a_text_over_its_maximum_is_not_cut_and_says_how_long_it_is(sleep):
    _diary_type, enrollment, client = sleep
    page = client.get("/me/diaries/sleep/write/").content.decode()
    assert "maxlength" not in page  # a browser would silently drop what is pasted beyond it
    too_long = "a" * 25
    response = _post(client, note=too_long)
    html = response.content.decode()
    assert "This is 25 characters long, and the most is 20." in html
    assert too_long in html
    assert "Ensure this value" not in html


def test_numbers_out_of_range_get_plain_messages(sleep):
    diary_type, _enrollment, _client = sleep
    form = PatientDiaryForm(
        {"woke_time": "07:00", "got_up_time": "07:10", "hours": "30"},
        diary_type=diary_type,
        today=timezone.localdate(),
    )
    assert not form.is_valid()
    assert form.errors["hours"] == ["Enter a number of 24 or less."]
    form = PatientDiaryForm(
        {"woke_time": "7 o'clock", "got_up_time": "07:10", "hours": "1.25"},
        diary_type=diary_type,
        today=timezone.localdate(),
    )
    assert not form.is_valid()
    assert form.errors["woke_time"] == ["Enter a time, like 07:30."]
    assert "Ensure" not in str(form.errors)


def test_staff_forms_of_the_treatment_use_the_plain_messages_too():
    form = TreatmentSessionForm(
        {"held_on": timezone.localdate().isoformat(), "kind": "phone", "minutes": "900"}
    )
    assert not form.is_valid()
    assert "Ensure" not in str(form.errors["minutes"]) and "or less" in str(form.errors["minutes"])


def test_the_loader_checks_not_before_names_a_time_field_above(tmp_path):
    from tests.programs.helpers import copy_fixture

    root = copy_fixture(tmp_path)
    for language in ("en", "nl"):
        manifest = root / "tiny-program" / language / "manifest.yaml"
        text = manifest.read_text()
        bedtime = next(line for line in text.splitlines() if "name: bedtime" in line)
        manifest.write_text(text.replace(bedtime, bedtime.replace("}", ", not_before: mood}")))
    with pytest.raises(content_loader.ContentErrors, match="'not_before' must name a time field above"):
        content_loader.read_content(root)


def test_the_fatigue_sleep_diary_declares_getting_up_not_before_waking():
    parsed = {(p.program, p.language): p for p in content_loader.read_content()}
    for language in ("en", "nl"):
        sleep = next(d for d in parsed[("master-your-fatigue", language)].diaries if d.slug == "sleep-wake")
        assert next(f for f in sleep.fields if f["name"] == "got_up_time")["not_before"] == "woke_time"


BREAKS_FIELDS = [
    {
        "name": "rest_breaks",
        "type": "number",
        "label": "Rest breaks",
        "min": 0,
        "max": 30,
        "step": 1,
        "unit": "breaks",
    },
    {"name": "hours", "type": "number", "label": "Hours", "min": 0, "max": 24},
]


def test_a_count_of_rest_breaks_takes_whole_numbers_only_and_keeps_what_was_typed(clock, world, client_for):
    version = tiny_version()
    DiaryType.objects.create(
        version=version, slug="breaks", title="Breaks", frequency="daily", fields=BREAKS_FIELDS
    )
    enrollment = enroll(world.patient_a, version)
    client = client_for(world.patient_a.user)
    today = timezone.localdate().isoformat()
    response = client.post(
        "/me/diaries/breaks/write/", {"rest_breaks": "2.5", "hours": "2.5", "entry_date": today}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Please enter a whole number of breaks." in html
    assert 'value="2.5"' in html  # kept as typed
    assert not DiaryEntry.objects.filter(enrollment=enrollment).exists()
    response = client.post(
        "/me/diaries/breaks/write/", {"rest_breaks": "3", "hours": "2.5", "entry_date": today}
    )
    assert response.status_code == 302
    assert DiaryEntry.objects.get(enrollment=enrollment).values == {"rest_breaks": 3, "hours": 2.5}


def test_the_pain_diary_counts_whole_rest_breaks():
    parsed = {(p.program, p.language): p for p in content_loader.read_content()}
    for language in ("en", "nl"):
        diary = next(d for d in parsed[("master-your-pain", language)].diaries if d.slug == "activity-pain")
        fields = {f["name"]: f for f in diary.fields}
        assert fields["rest_breaks"]["step"] == 1
        assert "step" not in fields["active_morning"]  # a number without it keeps its decimal


def test_the_loader_checks_a_number_step(tmp_path):
    from tests.programs.helpers import copy_fixture

    root = copy_fixture(tmp_path)
    for language in ("en", "nl"):
        manifest = root / "tiny-program" / language / "manifest.yaml"
        text = manifest.read_text()
        minutes = next(line for line in text.splitlines() if "name: minutes" in line)
        manifest.write_text(text.replace(minutes, minutes.replace("}", ", step: 0.5}")))
    with pytest.raises(content_loader.ContentErrors, match="'step' must be a whole number"):
        content_loader.read_content(root)
