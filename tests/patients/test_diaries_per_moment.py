"""Per-moment diaries (a log kept after each exercise): every entry of a day is kept, and one is
corrected only by choosing it. One-per-day diaries keep their single, correctable entry."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from patients import services
from patients.models import DiaryEntry
from programs import content_loader
from programs.models import DiaryType
from tests.patients.patient_helpers import enroll, tiny_version
from tests.programs.helpers import copy_fixture

pytestmark = [pytest.mark.django_db, pytest.mark.every_weekday]

ENTRY = {"mood": "6", "bedtime": "22:30", "walked": "yes", "minutes": "25", "kind": "free", "note": "first"}


@pytest.fixture
def practice(world, client_for):
    version = tiny_version()
    mood = DiaryType.objects.get(version=version, slug="mood")
    diary_type = DiaryType.objects.create(
        version=version,
        slug="practice",
        title="Practice log",
        frequency="daily",
        entries=DiaryType.Entries.PER_MOMENT,
        fields=mood.fields,
    )
    enrollment = enroll(world.patient_a, version)
    return diary_type, enrollment, client_for(world.patient_a.user)


def _answers(note):
    return {"mood": 6, "bedtime": "22:30", "walked": True, "minutes": 25, "kind": "free", "note": note}


def test_every_moment_of_a_day_is_kept(practice):
    diary_type, enrollment, client = practice
    today = timezone.localdate().isoformat()
    for note in ("after breathing", "after the body scan", "before bed"):
        page = client.get("/me/diaries/practice/write/")
        assert 'name="note"' in page.content.decode() and "after breathing" not in page.content.decode()
        assert (
            client.post("/me/diaries/practice/write/", dict(ENTRY, note=note, entry_date=today)).status_code
            == 302
        )
    notes = sorted(
        services.diary_entry_answers(e)["note"] for e in DiaryEntry.objects.filter(enrollment=enrollment)
    )
    assert notes == ["after breathing", "after the body scan", "before bed"]


def test_one_moment_is_corrected_by_choosing_it(practice):
    diary_type, enrollment, client = practice
    today = timezone.localdate()
    first = services.diary_entry_save(
        enrollment=enrollment, diary_type=diary_type, entry_date=today, answers=_answers("first")
    )
    second = services.diary_entry_save(
        enrollment=enrollment, diary_type=diary_type, entry_date=today, answers=_answers("second")
    )
    page = client.get(f"/me/diaries/practice/write/?entry={first.uid}").content.decode()
    assert "first" in page and f'name="entry" value="{first.uid}"' in page
    response = client.post(
        "/me/diaries/practice/write/",
        dict(ENTRY, note="first, corrected", entry=str(first.uid), entry_date=today),
    )
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert services.diary_entry_answers(first)["note"] == "first, corrected"
    assert services.diary_entry_answers(second)["note"] == "second"
    assert DiaryEntry.objects.filter(enrollment=enrollment).count() == 2


def test_the_entry_page_offers_to_change_that_entry(practice):
    diary_type, enrollment, client = practice
    entry = services.diary_entry_save(
        enrollment=enrollment, diary_type=diary_type, entry_date=timezone.localdate(), answers=_answers("x")
    )
    html = client.get(f"/me/diaries/entries/{entry.uid}/").content.decode()
    assert f"/me/diaries/practice/write/?entry={entry.uid}" in html


def test_a_one_per_day_diary_still_holds_one_entry_a_day(practice, world):
    _diary_type, enrollment, _client = practice
    mood = DiaryType.objects.get(version=enrollment.version, slug="mood")
    today = timezone.localdate()
    services.diary_entry_save(enrollment=enrollment, diary_type=mood, entry_date=today, answers=_answers("a"))
    services.diary_entry_save(enrollment=enrollment, diary_type=mood, entry_date=today, answers=_answers("b"))
    assert DiaryEntry.objects.filter(enrollment=enrollment, diary_type=mood).count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        DiaryEntry.objects.create(
            clinic_id=enrollment.clinic_id, enrollment=enrollment, diary_type=mood, entry_date=today
        )


def test_pain_program_logs_are_per_moment_in_both_languages():
    parsed = {(p.program, p.language): p for p in content_loader.read_content()}
    for language in ("en", "nl"):
        entries = {d.slug: d.entries for d in parsed[("master-your-pain", language)].diaries}
        assert entries == {
            "activity-pain": "one_per_day",
            "thoughts": "per_moment",
            "relaxation": "per_moment",
        }
        assert {d.entries for d in parsed[("master-your-fatigue", language)].diaries} == {"one_per_day"}


def test_the_loader_reads_the_declaration_and_refuses_a_typo(tmp_path):
    root = copy_fixture(tmp_path)
    for language in ("en", "nl"):
        manifest = root / "tiny-program" / language / "manifest.yaml"
        text = manifest.read_text()
        manifest.write_text(
            text.replace("    frequency: daily\n", "    frequency: daily\n    entries: per_moment\n", 1)
        )
    parsed = content_loader.read_content(root)
    assert [d.entries for d in parsed[0].diaries] == ["per_moment"]
    manifest = root / "tiny-program" / "en" / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("entries: per_moment", "entries: sometimes"))
    with pytest.raises(content_loader.ContentErrors, match="entries must be one_per_day or per_moment"):
        content_loader.read_content(root)
