"""load_programs on the tiny fixture program (tmp copies; never the real content)."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, transaction

from programs import content_loader, services
from programs.models import DiaryType, Module, Program, ProgramVersion, Step

pytestmark = pytest.mark.django_db


def run(root):
    out, err = io.StringIO(), io.StringIO()
    call_command("load_programs", "--content", str(root), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fail(root):
    err = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("load_programs", "--content", str(root), stdout=io.StringIO(), stderr=err)
    return err.getvalue(), str(exc.value)


def edit(path, old, new):
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def test_loads_every_language_with_progress(content_root):
    out, _err = run(content_root)
    assert "Checking tiny-program/en" in out and "Checking tiny-program/nl" in out
    assert "tiny-program/en: loaded version 1 (2 modules, 8 steps)" in out
    assert ProgramVersion.objects.filter(program__slug="tiny-program").count() == 2
    en = ProgramVersion.objects.get(program__slug="tiny-program", language="en")
    assert en.title == "Tiny Program" and en.questionnaires_start == ["phq9", "pain_nrs"]
    assert "<p>The tiny program helps you test things.</p>" in en.public_html
    assert Module.objects.filter(version=en).count() == 2
    plan = Step.objects.get(version=en, slug="plan")
    assert plan.kind == "assignment" and "Sam" in plan.example_html
    assert [f["type"] for f in plan.fields] == [
        "short_text",
        "long_text",
        "choice",
        "scale",
        "goal_list",
        "energy_points",
        "think_feel_do",
    ]
    diary_step = Step.objects.get(version=en, slug="start-diary")
    assert diary_step.diary_type.slug == "mood" and diary_step.diary_type.chart_fields == ["mood", "minutes"]
    assert list(Module.objects.get(version=en, number=1).diary_types.values_list("slug", flat=True)) == [
        "mood"
    ]
    breathing = Step.objects.get(version=en, slug="breathing")
    assert breathing.definition == {
        "minutes": 5,
        "segments": [
            {"html": "<p>Breathe in.</p>", "text": "Breathe in.", "pause": 2},
            {
                "html": "<p>Breathe out. Take your time.</p>",
                "text": "Breathe out. Take your time.",
                "pause": 0,
            },
        ],
    }
    assert "pause" not in breathing.body_html and "Breathe out" in breathing.body_html
    assert Step.objects.get(version=en, slug="story").optional is True
    intro = Step.objects.get(version=en, slug="intro")
    assert intro.key == "tiny-program/first/intro" and intro.reading_minutes == 1 and intro.word_count > 5
    nl = ProgramVersion.objects.get(program__slug="tiny-program", language="nl")
    assert nl.structure_hash == en.structure_hash and nl.content_hash != en.content_hash


def test_running_twice_loads_nothing(content_root):
    run(content_root)
    counts = (ProgramVersion.objects.count(), Step.objects.count(), DiaryType.objects.count())
    out, _err = run(content_root)
    assert "tiny-program/en: unchanged (version 1)" in out
    assert "0 new version(s), 2 unchanged" in out
    assert (ProgramVersion.objects.count(), Step.objects.count(), DiaryType.objects.count()) == counts


def test_changed_file_makes_a_new_version_and_keeps_the_old(content_root):
    run(content_root)
    old = ProgramVersion.objects.get(program__slug="tiny-program", language="en")
    old_html = Step.objects.get(version=old, slug="intro").body_html
    edit(content_root / "tiny-program/en/m1/01-intro.md", "It is short.", "It is very short.")
    out, _err = run(content_root)
    assert "tiny-program/en: loaded version 2" in out
    assert "tiny-program/nl: unchanged (version 1)" in out
    new = ProgramVersion.objects.get(program__slug="tiny-program", language="en", number=2)
    assert "very short" in Step.objects.get(version=new, slug="intro").body_html
    assert Step.objects.get(version=old, slug="intro").body_html == old_html
    assert new.structure_hash == old.structure_hash
    assert Program.objects.count() == 1


def test_validation_error_names_file_and_line_and_loads_nothing(content_root):
    # A good program next to a broken one: the good one must not be loaded either.
    manifest = content_root / "tiny-program/en/manifest.yaml"
    edit(manifest, "{kind: audio, slug: breathing", "{kind: audoi, slug: breathing")
    lines = manifest.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, start=1) if "audoi" in text)
    err, message = fail(content_root)
    assert f"tiny-program/en/manifest.yaml:{line}: " in err
    assert "kind must be one of" in err and "'audoi'" in err
    assert "nothing was loaded" in message
    assert not ProgramVersion.objects.exists()


@pytest.mark.parametrize(
    "marker,problem",
    [
        ("[pause 20]", "malformed pause marker '[pause 20]'"),
        ("[pause 2 min]", "malformed pause marker"),
        ("[Pause 0s]", "malformed pause marker"),
        ("[pause 301s]", "malformed pause marker"),
        ("Breathe in. [pause 5s]", "malformed pause marker"),
        ("[pause 5s]\n\n[pause 5s]", "a pause marker needs text before it"),
    ],
)
def test_a_malformed_pause_marker_is_refused_on_its_line(content_root, marker, problem):
    path = content_root / "tiny-program/en/m1/t-breathing.md"
    path.write_text(f"Breathe in.\n\n{marker}\n\nBreathe out.\n")
    err, _message = fail(content_root)
    line = 5 if marker.count("[") == 2 else 3
    assert f"tiny-program/en/m1/t-breathing.md:{line}: {problem}" in err
    assert "write a pause as a line of its own: [pause 20s]" in err or "text before it" in err
    assert not ProgramVersion.objects.exists()


def test_markdown_problems_name_the_markdown_line(content_root):
    path = content_root / "tiny-program/en/m1/01-intro.md"
    path.write_text("Fine first line.\n\n<script>alert(1)</script>\n\nSee [this](https://example.com).\n")
    err, _message = fail(content_root)
    assert "tiny-program/en/m1/01-intro.md:3: raw HTML is not allowed" in err
    assert "tiny-program/en/m1/01-intro.md:5: links to other hosts" in err
    assert not ProgramVersion.objects.exists()


@pytest.mark.parametrize(
    "old,new,expected",
    [
        ("file: m1/01-intro.md", "file: m1/missing.md", "file m1/missing.md does not exist"),
        ("diary: mood, file", "diary: sleep, file", "diary 'sleep' is not defined"),
        ("questionnaire: phq9}", "questionnaire: beck}", "unknown questionnaire 'beck'"),
        ("budget: 10", "budget: ten", "'budget' must be a whole number"),
        ("number: 2", "number: 3", "number must be 2"),
        (
            "chart: [mood, minutes]",
            "chart: [mood, note]",
            "chart field 'note' is not a scale, number or time field",
        ),
        ('label: "Did you walk?"}', 'label: "Did you walk?", day: tomorrow}', "'day' can only be 'previous'"),
        (
            'label: "Did you walk?"}',
            'label: "Did you walk?", day_part: morning}',
            "on a number or scale field",
        ),
        (
            'unit: minutes, label: "How many minutes?"}',
            'unit: minutes, label: "x", day_part: night}',
            "'day_part' is one of",
        ),
        (
            "{name: word, type: short_text,",
            "{name: word, day: previous, type: short_text,",
            "unknown key 'day'",
        ),
        ("  - slug: second", "  - slug: first", "module slug 'first' appears twice"),
        ("title: Tiny Program", "title: Tiny Program\ntitle: Again", "duplicate key 'title'"),
        ("{name: word, type: short_text", "{name: word, type: short_txt", "type must be one of"),
        ("min_items: 1, max_items: 3", "min_items: 4, max_items: 3", "'min_items' is more than 'max_items'"),
        ("example: m1/ex-plan.md", "example: ../../secret.md", "must be a relative path to a .md file"),
        (
            "intro: Fill in your plan.",
            "intro: Fill in your plan.\n        extra: nope",
            "unknown key 'extra'",
        ),
    ],
)
def test_manifest_errors(content_root, old, new, expected):
    edit(content_root / "tiny-program/en/manifest.yaml", old, new)
    with pytest.raises(content_loader.ContentErrors) as exc:
        services.program_content_load(root=content_root)
    assert any(expected in str(e) for e in exc.value.errors), exc.value
    assert all(e.path.endswith(".yaml") or e.path.endswith(".md") for e in exc.value.errors)
    assert not ProgramVersion.objects.exists()


def test_yaml_syntax_error_has_a_line(content_root):
    edit(content_root / "tiny-program/en/manifest.yaml", "title: Tiny Program", "title: [Tiny Program")
    with pytest.raises(content_loader.ContentErrors) as exc:
        services.program_content_load(root=content_root)
    assert exc.value.errors[0].line > 0 and "invalid YAML" in exc.value.errors[0].message


def test_more_than_three_diaries_per_module_is_refused(content_root):
    manifest = content_root / "tiny-program/en/manifest.yaml"
    text = manifest.read_text()
    diary = text[text.index("  - slug: mood") : text.index("modules:")]
    extra = "".join(diary.replace("slug: mood", f"slug: mood{i}") for i in (2, 3, 4))
    text = text.replace("modules:", extra + "modules:").replace(
        "diaries: [mood]\n    steps:\n      - {kind: page, slug: intro",
        "diaries: [mood, mood2, mood3, mood4]\n    steps:\n      - {kind: page, slug: intro",
    )
    manifest.write_text(text)
    with pytest.raises(content_loader.ContentErrors) as exc:
        services.program_content_load(root=content_root)
    assert any("at most 3 diaries" in str(e) for e in exc.value.errors)


def test_unused_markdown_file_is_refused(content_root):
    (content_root / "tiny-program/en/m1/99-stray.md").write_text("Nobody links to me.\n")
    with pytest.raises(content_loader.ContentErrors) as exc:
        services.program_content_load(root=content_root)
    assert any("99-stray.md" in e.path and "not used" in e.message for e in exc.value.errors)


@pytest.mark.parametrize(
    "old,new,expected",
    [
        ("transcript: m1/t-story.md, optional: true}", "transcript: m1/t-story.md}", "module 1 step 6"),
        (
            '{kind: audio, slug: breathing, title: "Breathing", transcript: m1/t-breathing.md, minutes: 5}',
            '{kind: page, slug: breathing, title: "Breathing", file: m1/t-breathing.md}',
            "module 1 step 5",
        ),
        ("{name: kind, type: choice", "{name: day_kind, type: choice", "diary 'mood'"),
        ('{value: a, label: "Pattern A"}', '{value: x, label: "Pattern A"}', "field 'pattern'"),
        ("budget: 10", "budget: 12", "field 'energy'"),
        ("  - slug: second", "  - slug: tweede", "modules"),
    ],
)
def test_dutch_structure_must_match_english(content_root, old, new, expected):
    manifest = content_root / "tiny-program/nl/manifest.yaml"
    edit(manifest, old, new)
    with pytest.raises(content_loader.ContentErrors) as exc:
        services.program_content_load(root=content_root)
    errors = [e for e in exc.value.errors if "structure differs from en" in e.message]
    assert errors, exc.value
    assert all(e.path.endswith("tiny-program/nl/manifest.yaml") for e in errors)
    assert any(expected in e.message for e in errors), [str(e) for e in errors]
    assert not ProgramVersion.objects.exists()


def test_dutch_text_may_differ(content_root):
    edit(
        content_root / "tiny-program/nl/manifest.yaml",
        'label: "How was your mood?"',
        'label: "Hoe was je stemming?"',
    )
    results = services.program_content_load(root=content_root)
    assert [r.status for r in results] == ["loaded", "loaded"]


def test_a_program_without_english_is_refused(content_root):
    (content_root / "tiny-program/en").rename(content_root / "tiny-program/de")
    with pytest.raises(content_loader.ContentErrors) as exc:
        services.program_content_load(root=content_root)
    assert "the en folder is missing" in str(exc.value)


def test_published_content_cannot_be_updated(content_root):
    run(content_root)
    step = Step.objects.first()
    with pytest.raises(DatabaseError), transaction.atomic():
        Step.objects.filter(pk=step.pk).update(title="changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        ProgramVersion.objects.filter(pk=step.version_id).update(title="changed")
    step.refresh_from_db()
    assert step.title != "changed"


def test_check_only_loads_nothing(content_root):
    out = io.StringIO()
    call_command("load_programs", "--content", str(content_root), "--check", stdout=out)
    assert "All content is valid" in out.getvalue()
    assert not ProgramVersion.objects.exists()


def test_program_content_with_an_alias_is_refused(content_root):
    edit(content_root / "tiny-program/en/manifest.yaml", "title: Tiny Program", "title: &t Tiny Program")
    with pytest.raises(content_loader.ContentErrors) as exc:
        services.program_content_load(root=content_root)
    assert "anchors and aliases" in exc.value.errors[0].message
    assert not ProgramVersion.objects.exists()


def test_the_measurement_schedule_is_loaded_and_checked(content_root):
    schedule = (
        "measurements:\n  weekly_check_in: checkin_pain\n"
        "  after_module:\n    - {module: 1, questionnaires: [phq9]}\ndiaries:"
    )
    for language in ("en", "nl"):
        edit(content_root / f"tiny-program/{language}/manifest.yaml", "\ndiaries:", "\n" + schedule)
    run(content_root)
    version = ProgramVersion.objects.get(program__slug="tiny-program", language="en")
    assert version.measurement_schedule == {
        "weekly_check_in": "checkin_pain",
        "after_module": {"1": ["phq9"]},
    }


def test_a_wrong_measurement_schedule_is_refused_with_its_line(content_root):
    path = content_root / "tiny-program/en/manifest.yaml"
    edit(
        path,
        "\ndiaries:",
        "\nmeasurements:\n  weekly_check_in: phq9\n  after_module:\n"
        "    - {module: 9, questionnaires: [phq9]}\n"
        "    - {module: 1, questionnaires: [checkin_pain]}\ndiaries:",
    )
    edit(path, "start: [phq9, pain_nrs]", "start: [phq9, pain_nrs, checkin_pain]")
    err, _message = fail(content_root)
    assert "measurements weekly_check_in: must be one of checkin_fatigue, checkin_pain" in err
    assert "there is no module 9" in err
    assert "unknown questionnaire 'checkin_pain'" in err
    assert "questionnaires start: unknown questionnaire 'checkin_pain'" in err
